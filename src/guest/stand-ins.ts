import type { VirtualFS } from '../vfs/vfs.js';
import type { StockProfile } from './profile.js';

/**
 * What a stock interpreter and its libc look for on every start, answered by the sandbox itself so
 * that a plain run meets no denial: a refusal of one of these would say nothing about the program.
 * The directories they live in still refuse every other name (/etc/shadow stays a denial).
 */

/** Names libc probes for and does fine without: shown as missing (ENOENT). */
const LIBC_PROBES = [
  // preloaded libraries: none
  '/etc/ld.so.preload',
  // compiled locales: the C.UTF-8 locale is built into libc
  '/usr/lib/locale',
];

/** A TZif file (RFC 8536, version 2) for UTC: one type, no transitions, footer "UTC0". */
function utcZoneFile(): Buffer {
  const header = (): Buffer => {
    const b = Buffer.alloc(44);
    b.write('TZif2', 0, 'latin1');
    // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
    [0, 0, 0, 0, 1, 4].forEach((n, k) => b.writeUInt32BE(n, 20 + 4 * k));
    return b;
  };
  // ttinfo: utoff 0, isdst 0, desigidx 0; then the designation "UTC\0"
  const data = Buffer.from([0, 0, 0, 0, 0, 0, 0x55, 0x54, 0x43, 0]);
  return Buffer.concat([header(), data, header(), data, Buffer.from('\nUTC0\n', 'latin1')]);
}

/** The stand-ins of a stock guest's tree: local time is UTC, the probes are missing. */
export function addStandIns(vfs: VirtualFS, stock: StockProfile): void {
  vfs.addStandIn('/etc/localtime', utcZoneFile());
  for (const p of [...LIBC_PROBES, ...(stock.missing ?? [])]) vfs.addAbsent(p);
}

/** A stock guest's environment: HOME (/tmp) unless given, so start-up never asks libc for the user's home. */
export function stockEnv(env: Record<string, string> | undefined): Record<string, string> {
  return env && Object.hasOwn(env, 'HOME') ? { ...env } : { HOME: '/tmp', ...env };
}
