import type { Session } from '../kernel/session.js';
import { LIMITS, RELAY } from './contract/contract.js';
import type { Delegation } from './delegation.js';

/**
 * What the supervisor does for a sandboxed PyPy whose conversation it relays (`--relay-calls`;
 * src/supervisor/native/protocol_relay.h): the calls whose path arguments it reads from the guest
 * at once and sends along (kind 's'), and the clock calls it answers itself and reports.
 */

/**
 * Our handlers of these read the arguments marked 's' with `readPath` and nothing else, so the
 * path the supervisor sends along (read with the same bound) is exactly what a 'Z' would bring.
 */
const INLINE_PATHS: Readonly<Record<string, string>> = {
  'open(pii)i': 'open(sii)i',
  'stat64(pp)i': 'stat64(sp)i',
  'lstat64(pp)i': 'lstat64(sp)i',
  'access(pi)i': 'access(si)i',
  'opendir(p)p': 'opendir(s)p',
  'readlink(ppi)i': 'readlink(spi)i',
  'mkdir(pi)i': 'mkdir(si)i',
  'rmdir(p)i': 'rmdir(s)i',
  'unlink(p)i': 'unlink(s)i',
  'rename(pp)i': 'rename(ss)i',
  'chdir(p)i': 'chdir(s)i',
};

/**
 * Answered from the names handed over (src/supervisor/delegation.ts) as local.c answers a stock
 * guest's stat and access: the same handlers (handlers/pypy/files.ts) serve both tables. open only
 * when it fails (a read-only open of a name that is not there): a descriptor is the controller's.
 */
const PATH_CALLS = Object.values(RELAY.pathCalls);

/**
 * Directory streams: opendir's answer carries the stream's whole listing ('L', as dirent records;
 * handlers/pypy/dirs.ts), and the supervisor answers readdir from it until closedir or rewinddir.
 */
const DIR_CALLS = Object.values(RELAY.dirCalls);

/**
 * Read-only host files: open's answer names the host file behind the descriptor ('H';
 * handlers/pypy/files.ts), and the supervisor answers read, lseek, fstat64 and close of it, until
 * any other call names the descriptor. The controller moves its own position for each report.
 */
const FILE_CALLS = Object.values(RELAY.fileCalls);

/** The longest path limit the supervisor reads paths for (its --relay-max-path). */
const MAX_INLINE_PATH = 65536;

/** Answered from the controller's clock as handlers/pypy/time.ts would (see Clock.forSupervisor). */
const CLOCK_CALLS = Object.values(RELAY.clockCalls);

export interface RelayConfiguration {
  /** The supervisor's configuration words. */
  words: string[];
  /** Signatures it may report answering itself. */
  reportable: ReadonlySet<string>;
  /** Whether opendir sends the stream's listing along (session.relayListings). */
  listings: boolean;
  /** Whether open names the read-only host file it returns (session.relayFiles). */
  files: boolean;
}

/**
 * The relay's configuration; `replaced`: signatures the caller gave handlers of its own (left
 * alone); `names`: the part of the filesystem handed over (none: no path call is answered).
 */
export function relayConfiguration(
  replaced: ReadonlySet<string>,
  session: Session,
  limits: { pathLength: number; stallMs: number },
  names: Delegation | undefined,
): RelayConfiguration {
  const { clock, platform } = session;
  const { direntSize } = platform;
  const { maxIoBytes } = session.limits;
  const owner = session.files.vfs.owner;
  const { pathLength: maxPath, stallMs } = limits;
  // The same bound on a guest that owes a reply or leaves an answer unread as the controller's.
  const words: string[] = ['--stall-ms', String(stallMs)];
  const reportable = new Set<string>();
  // Past the supervisor's bound its reads would not be the handlers' (their calls keep their 'Z').
  if (maxPath <= MAX_INLINE_PATH) {
    for (const [sig, relayed] of Object.entries(INLINE_PATHS))
      if (!replaced.has(sig)) words.push('--inline', sig, relayed);
    words.push('--relay-max-path', String(maxPath));
    // Answered here only with their paths read at once (the same bound as the handlers').
    const paths = names?.grants.length ? PATH_CALLS.filter((sig) => !replaced.has(sig)) : [];
    if (paths.length) {
      words.push('--path-calls', paths.join(','), ...names!.args);
      for (const sig of paths) reportable.add(sig);
    }
  }
  const clocks = CLOCK_CALLS.filter((sig) => !replaced.has(sig));
  if (clocks.length) {
    const { offsetNs, startNs } = clock.forSupervisor();
    words.push('--clock-calls', clocks.join(','), '--clock', `${offsetNs}:${startNs}`);
    for (const sig of clocks) reportable.add(sig);
  }
  const listings = DIR_CALLS.every((sig) => !replaced.has(sig));
  if (listings) {
    words.push('--dir-streams', String(direntSize));
    reportable.add(RELAY.dirCalls.readdir);
  }
  // The supervisor reads at most one chunk (the contract's bound) a call.
  const files = FILE_CALLS.every((sig) => !replaced.has(sig)) && maxIoBytes <= LIMITS.maxChunk;
  if (files) {
    words.push('--host-files', String(maxIoBytes), '--owner', `${owner.uid}:${owner.gid}`);
    for (const sig of FILE_CALLS) if (sig !== RELAY.fileCalls.open) reportable.add(sig);
  }
  return { words, reportable, listings, files };
}
