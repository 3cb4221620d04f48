/*
 * Seeded fuzzing of the supervisor's relay (src/supervisor/native/protocol_relay.c), with the C test
 * guest behind its walls, so that every byte it sends goes through the relay:
 *   - random sequences of well-formed calls of every kind the relay answers or changes (stat,
 *     access, the clock, paths sent along, host files read by the supervisor, directory streams),
 *     with good and bad arguments, run with and without the relay: the guest must see exactly the
 *     same results, errnos and bytes;
 *   - malformed and hostile bytes (cut calls, bad framing, replies longer than asked, guests that
 *     end mid-call): each run ends within its time, never with a sanitizer report, and afterwards
 *     the controller works and nothing is left behind.
 * PYPY_BOX_FUZZ_SEED=N replays another seed; a failure names its seed and case.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Controller, Policy, SandboxError } from '../src/index.js';
import { GUEST, healthy, openFds } from './helpers.js';
import { rng, type Rng } from './rng.js';

const SEED = Number(process.env.PYPY_BOX_FUZZ_SEED ?? 20_261_201);
const SEQUENCES = 120;
const HOSTILE = 200;

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pypy-box-relay-fuzz-'));
  for (const d of ['sub', 'secret', 'sub/deeper']) fs.mkdirSync(path.join(dir, d));
  fs.writeFileSync(path.join(dir, 'a.txt'), 'alpha '.repeat(500));
  fs.writeFileSync(path.join(dir, 'b.key'), 'hidden by the filter');
  fs.writeFileSync(path.join(dir, 'sub/d.txt'), 'delta');
  fs.writeFileSync(path.join(dir, 'secret/e.txt'), 'secret');
  fs.writeFileSync(path.join(dir, 'empty'), '');
  fs.writeFileSync(path.join(dir, '.dot'), 'dot');
  fs.symlinkSync('a.txt', path.join(dir, 'link'));
  fs.symlinkSync('/etc/passwd', path.join(dir, 'out'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function options(localAnswers: boolean) {
  const policy = new Policy().allowRead(dir, { at: '/data', exclude: ['**/secret', '**/*.key'] });
  return { policy, localAnswers, limits: { stallMs: 2000 }, timeout: 20_000 };
}

const NAMES = [
  '/data',
  '/data/a.txt',
  '/data/b.key',
  '/data/sub',
  '/data/sub/d.txt',
  '/data/sub/deeper',
  '/data/secret',
  '/data/secret/e.txt',
  '/data/empty',
  '/data/.dot',
  '/data/link',
  '/data/out',
  '/data/nope',
  '/data/a.txt/x',
  '/data/a.txt/x.key',
  '/data/nope/x.key',
  '/data/link/x.key',
  '/data/sub/secret/x',
  '/data/sub/../a.txt',
  '//data//a.txt',
  '/data/./a.txt',
  '/data/sub/',
  '/',
  '/tmp',
  '/proc',
  '/etc/passwd',
  '/nowhere/x',
  'a.txt',
  '',
  `/data/${'n'.repeat(300)}`,
  `/data/${'d/'.repeat(2100)}x`,
];

/** One random well-formed call (a script line or a few), with its arguments good or bad. */
function step(r: Rng): string[] {
  const name = () => `s:${r.pick(NAMES).replace(/\\/g, '\\\\').replace(/ /g, '\\s')}`;
  const fd = () => r.pick(['v:f', 'v:f', 'v:g', '0', '1', '2', '-1', '99', '0x7fffffff', '0x100000000']);
  const count = () => String(r.pick([0, 1, 7, 100, 4096, -1, 2 ** 40]));
  const ptr = (buf: string) => r.pick([`b:${buf}`, `b:${buf}`, `b:${buf}`, 'null']);
  switch (r.int(14)) {
    case 0:
      // (no times: /tmp's are the run's own)
      return [`call stat64(pp)i ${name()} ${ptr('st')}`, 'u64 st 8', 'u32 st 24', 'u64 st 48', 'u64 st 0'];
    case 1:
      return [`call lstat64(pp)i ${name()} ${ptr('st')}`, 'u32 st 24', 'u64 st 48'];
    case 2:
      return [`call access(pi)i ${name()} ${r.pick([0, 1, 2, 4, 5, 7, 8, -1])}`];
    case 3:
      return [`call open(pii)i ${name()} ${r.pick([0, 0, 0, 1, 0x10000, 0o1000, 0x800])} 0`, 'save f'];
    case 4:
      return [`call read(ipi)i ${fd()} ${ptr('io')} ${count()}`, 'text io 12'];
    case 5:
      return [
        `call lseek(iii)i ${fd()} ${r.pick([0, 3, -3, 10_000, -(2 ** 40), 2 ** 53, 2 ** 62])} ${r.pick([0, 1, 2, 3, -1])}`,
      ];
    case 6:
      return [`call fstat64(ip)i ${fd()} ${ptr('st')}`, 'u32 st 24', 'u64 st 48', 'u64 st 8'];
    case 7:
      return [`call close(i)i ${fd()}`];
    case 8:
      return [r.pick([`call dup(i)i ${fd()}`, `call dup2(ii)i ${fd()} ${fd()}`]), 'save g'];
    case 9:
      return [`call opendir(p)p ${name()}`, 'save d'];
    case 10:
      return [
        r.pick(['call readdir(p)p v:d', 'call readdir(p)p v:d', 'call rewinddir(p)v v:d', 'call closedir(p)i v:d']),
      ];
    case 11:
      return [`call clock_gettime(ip)i ${r.pick([0, 1, 2, 4, 5, 7, 8, 11, 12, -1, 2 ** 33])} ${ptr('ts')}`];
    case 12:
      return [`call gettimeofday(pp)i ${ptr('ts')} null`];
    default:
      return [`call chdir(p)i ${name()}`];
  }
}

function script(r: Rng): string[] {
  const lines = ['buf st 144', 'buf ts 16', 'buf io 4096', 'call getpid()i', 'save f', 'save g', 'save d'];
  for (let k = 0, n = 8 + r.int(30); k < n; k++) lines.push(...step(r));
  return lines;
}

async function runScript(lines: string[], localAnswers: boolean) {
  const res = await new Controller({ executable: GUEST, args: lines, ...options(localAnswers) })
    .run()
    .catch((e: unknown) => (e instanceof SandboxError ? e.result : Promise.reject(e)));
  // Pointers the guest's allocator gave (opendir's DIR) differ from run to run.
  const stderr = res.guestStderr.replace(/^= \d{12,} /gm, '= PTR ');
  return { outcome: res.outcome, exitCode: res.exitCode, stderr, calls: res.calls };
}

describe('the relay, fuzzed', () => {
  it(`gives a guest the same answers as the controller alone (seed ${SEED}, ${SEQUENCES} sequences)`, async () => {
    for (let k = 0; k < SEQUENCES; k++) {
      const r = rng((SEED + k * 0x9e3779b1) >>> 0);
      const lines = script(r);
      const [alone, relayed] = [await runScript(lines, false), await runScript(lines, true)];
      const shown = `seed ${SEED} sequence ${k}:\n${lines.join('\n')}`;
      expect(relayed.stderr, shown).toBe(alone.stderr);
      expect([relayed.outcome, relayed.exitCode, relayed.calls], shown).toEqual([
        alone.outcome,
        alone.exitCode,
        alone.calls,
      ]);
    }
  }, 240_000);

  it(`ends hostile byte streams cleanly, with nothing left behind (seed ${SEED}, ${HOSTILE} cases)`, async () => {
    const before = openFds();
    const call = (sig: string, words: (number | bigint)[]) => {
      const args = Buffer.alloc(8 * words.length);
      words.forEach((w, i) => args.writeBigUInt64LE(BigInt.asUintN(64, BigInt(w)), 8 * i));
      return Buffer.concat([Buffer.of(sig.length), Buffer.from(sig, 'latin1'), args]);
    };
    for (let k = 0; k < HOSTILE; k++) {
      const r = rng((SEED ^ (k * 0x85ebca6b)) >>> 0);
      const sig = r.pick([
        'stat64(pp)i',
        'open(pii)i',
        'rename(pp)i',
        'readdir(p)p',
        'read(ipi)i',
        'time(p)i',
        'clock_gettime(ip)i',
        'getpid()i',
      ]);
      const words = Array.from({ length: (sig.match(/[ifp]/g)?.length ?? 1) - 1 }, () =>
        r.pick([0n, 1n, 0x1000n, r.u64()]),
      );
      let bytes = call(sig, words);
      switch (r.int(6)) {
        case 0: // cut anywhere
          bytes = bytes.subarray(0, r.int(bytes.length));
          break;
        case 1: // a byte changed
          bytes = Buffer.from(bytes);
          bytes[r.int(bytes.length)] = r.int(256);
          break;
        case 2: // a reply to a Z sent ahead, longer than any bound
          bytes = Buffer.concat([call(sig, [...words.map(() => 0x1000n)]), Buffer.from('ffffffffffffff7f', 'hex')]);
          break;
        case 3: // garbage after a good call
          bytes = Buffer.concat([bytes, r.bytes(r.int(64))]);
          break;
        case 4: // a forged report
          bytes = Buffer.concat([Buffer.of(0), call('time(p)i', [0]), r.bytes(28)]);
          break;
        default: // random bytes
          bytes = r.bytes(1 + r.int(300));
      }
      const lines = [`raw ${bytes.toString('hex') || '00'} -`, r.pick(['exit 0', 'sleep 50', 'crash segv'])];
      const end = async (localAnswers: boolean) => {
        const err = await new Controller({ executable: GUEST, args: lines, ...options(localAnswers), timeout: 10_000 })
          .run()
          .catch((e: unknown) => (e instanceof SandboxError ? e : Promise.reject(e)));
        const res = err instanceof SandboxError ? err.result : err;
        return { res, ending: [res.outcome, res.exitCode, res.signal, err instanceof SandboxError ? err.kind : ''] };
      };
      const [relayed, alone] = [await end(true), await end(false)];
      const shown = `seed ${SEED} case ${k}: ${lines.join(' | ')}`;
      expect(relayed.res.guestStderr, shown).not.toMatch(/AddressSanitizer|runtime error:|LeakSanitizer/);
      expect(relayed.res.outcome, shown).not.toBe('timeout');
      // Ended as the guest would have been without the relay: the same outcome, status and kind.
      expect(relayed.ending, shown).toEqual(alone.ending);
    }
    await healthy(before);
  }, 240_000);
});
