/*
 * Seeded fuzzing of everything the native supervisor reads from its controller: the command
 * line, the start message of a spare (--standby), the configuration (--config-stdin) and the
 * answers to a forwarded call. Each case starts the supervisor as the controller does (stdin,
 * stdout, stderr and the notes descriptor as pipes) with a guest that makes exactly two forwarded
 * calls (test/guest/syscall-guest.c), feeds it the case's bytes, ends its input and checks how it
 * ended: a documented exit status with its message, or going on correctly; never a sanitizer
 * report, a signal, a hang or a process left behind.
 *
 * Runs against the sanitizer build when there is one (npm run build:native-asan), or whatever
 * PYPY_BOX_SUPERVISOR names. PYPY_BOX_FUZZ_SEED=N replays another seed; a failure names its seed
 * and case.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { supervisorAvailable, supervisorPath } from '../src/supervisor/locate.js';
import { MAX_FRAME } from '../src/supervisor/words.js';
import { processes, ROOT } from './helpers.js';
import { rng, type Rng } from './rng.js';

const SEED = Number(process.env.PYPY_BOX_FUZZ_SEED ?? 20_261_130);
const GUEST = path.join(ROOT, 'build/test/syscall-guest');
const CASE_TIMEOUT_MS = 10_000;
const MAX_CHUNK = 1 << 20;
const PATH_MAX = 4096;
const U64_MAX = (1n << 64n) - 1n;
const STAT_HEX = 2 * 144; // struct stat on x86-64, as hex

/** Exit statuses of the supervisor itself (src/supervisor/native/end.h). */
const EXIT = { usage: 2, controllerGone: 125, protocol: 126, cannotStart: 127 } as const;

/** The sanitizer build when present and newer than the sources, unless PYPY_BOX_SUPERVISOR chooses. */
let fuzzed: string | undefined;
function fuzzedSupervisor(): string {
  return (fuzzed ??= chooseSupervisor());
}

function chooseSupervisor(): string {
  const asan = path.join(ROOT, 'build/native-asan/pypy-box-supervisor');
  if (process.env.PYPY_BOX_SUPERVISOR !== undefined || !fs.existsSync(asan)) return supervisorPath();
  const native = path.join(ROOT, 'src/supervisor/native');
  const sources = Math.max(...fs.readdirSync(native).map((f) => fs.statSync(path.join(native, f)).mtimeMs));
  return fs.statSync(asan).mtimeMs >= sources ? asan : supervisorPath();
}

// ---- deterministic randomness ----

/** One case's own seed: replayable alone, from the run's seed, the group and the case number. */
function caseSeed(group: number, k: number): number {
  return (Math.imul(SEED ^ Math.imul(group, 0x9e3779b1), 0x85ebca6b) + k * 0xc2b2ae35) >>> 0;
}

// ---- bytes on the wire ----

const u32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
};
const u64 = (v: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt.asUintN(64, v));
  return b;
};
const i32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v | 0);
  return b;
};
const frame = (words: string[]): Buffer => {
  const body = Buffer.from(words.map((w) => `${w}\0`).join(''));
  return Buffer.concat([u32(body.length), body]);
};

// ---- one run of the supervisor ----

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  timedOut: boolean;
  /** Processes of the supervisor's process group still there after it ended. */
  left: number[];
}

/** A forwarded call as the supervisor sends it: its signature and integer arguments. */
interface Call {
  sig: string;
  args: bigint[];
}

/** Reads the supervisor's stdout as it comes, so its writes never block on a full pipe. */
class Reader {
  private buf = Buffer.alloc(0);
  private ended = false;
  private wake: (() => void) | undefined;

  constructor(stream: Readable) {
    stream.on('data', (b: Buffer) => {
      this.buf = Buffer.concat([this.buf, b]);
      this.wake?.();
    });
    stream.on('close', () => {
      this.ended = true;
      this.wake?.();
    });
  }

  /** n bytes, or undefined at the end of the stream. */
  async take(n: number): Promise<Buffer | undefined> {
    while (this.buf.length < n && !this.ended) await new Promise<void>((r) => (this.wake = r));
    if (this.buf.length < n) return undefined;
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** The next forwarded call (no local answers are configured here, so no reports come first). */
  async call(): Promise<Call | undefined> {
    const len = await this.take(1);
    if (!len) return undefined;
    const sig = (await this.take(len[0]!))?.toString('latin1');
    if (!sig) return undefined;
    const kinds = sig.slice(sig.indexOf('(') + 1, sig.indexOf(')'));
    const args: bigint[] = [];
    for (let k = 0; k < kinds.length; k++) {
      const a = await this.take(8);
      if (!a) return undefined;
      args.push(a.readBigUInt64LE());
    }
    for (const kind of kinds) {
      if (kind !== 's') continue;
      const status = await this.take(1);
      if (!status) return undefined;
      if (status[0] !== 0x2b) continue; // '!': nothing follows
      const n = await this.take(8);
      if (!n || !(await this.take(Number(n.readBigUInt64LE())))) return undefined;
    }
    return { sig, args };
  }
}

interface Io {
  write(b: Buffer): void;
  reader: Reader;
}

/** Processes whose process group or session is `leader` (the supervisor started in its own). */
function groupMembers(leader: number): number[] {
  return processes()
    .filter((p) => p.pgrp === leader || p.session === leader)
    .map((p) => p.pid);
}

/**
 * Starts the supervisor in a session of its own, lets `feed` talk to it, then ends its input and
 * waits for its end (SIGKILL to the whole session after CASE_TIMEOUT_MS: a hang).
 */
async function runSupervisor(args: string[], feed: (io: Io) => Promise<void>): Promise<Outcome> {
  const child = spawn(fuzzedSupervisor(), args, { stdio: ['pipe', 'pipe', 'pipe', 'pipe'], detached: true, env: {} });
  const pid = child.pid!;
  const stdin = child.stdin as Writable;
  stdin.on('error', () => undefined); // a supervisor that has ended leaves EPIPE
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => {
    if (stderr.length < 16_384) stderr += b.toString('latin1');
  });
  (child.stdio[3] as Readable).resume();
  const reader = new Reader(child.stdout!);
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    for (const p of groupMembers(pid)) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }, CASE_TIMEOUT_MS);
  await Promise.race([feed({ write: (b) => void stdin.write(b), reader }), ended]);
  stdin.end();
  const end = await ended;
  clearTimeout(timer);
  let left = groupMembers(pid);
  for (let k = 0; k < 20 && left.length; k++) {
    await new Promise((r) => setTimeout(r, 50));
    left = groupMembers(pid);
  }
  for (const p of left) process.kill(p, 'SIGKILL'); // never leave them to the next case
  return { ...end, stderr, timedOut, left };
}

/** What every case must show, whatever it fed: a clean end, a message for an error status. */
function expectCleanEnd(o: Outcome, what: string, allowed: readonly number[]): void {
  const tag = `${what} (PYPY_BOX_FUZZ_SEED=${SEED}); stderr: ${o.stderr.slice(0, 2000)}`;
  expect(o.timedOut, `hang: ${tag}`).toBe(false);
  expect(o.stderr, `sanitizer report: ${tag}`).not.toMatch(/Sanitizer|runtime error:/);
  expect(o.signal, `killed by a signal: ${tag}`).toBeNull();
  expect(allowed, `exit status ${o.code}: ${tag}`).toContain(o.code);
  if (o.code === EXIT.usage || o.code === EXIT.protocol || o.code === EXIT.cannotStart)
    expect(o.stderr, `no message: ${tag}`).toMatch(/pypy-box-supervisor/);
  expect(o.left, `processes left behind: ${tag}`).toEqual([]);
}

// ---- options, valid and not: what the command line and the configuration carry ----

/** An option with its values, and whether the supervisor must take it. */
interface Item {
  words: string[];
  valid: boolean;
}

const hex = (r: Rng, n: number): string => r.bytes(n).toString('hex');
const absPath = (r: Rng): string => `/${r.letters(1 + r.int(8))}/${r.letters(1 + r.int(8))}`;
const tooLongPath = (): string => `/${'a'.repeat(PATH_MAX)}`;
const LOCAL_CALLS = [
  'open',
  'openat',
  'stat',
  'lstat',
  'newfstatat',
  'access',
  'getuid',
  'geteuid',
  'getcwd',
  'uname',
  'getrandom',
  'close',
  'getdents64',
  'access(si)i',
  'uname(p)i',
];

/** A value for a numeric field: valid (within max) or not, with boundaries first. */
function number(r: Rng, max: bigint, min = 0n): { text: string; valid: boolean } {
  const good = [String(min), String(max), String(min + (BigInt(r.int(1000)) % (max - min + 1n))), `00${min}`];
  const bad = [
    '',
    'abc',
    '-1',
    '+5',
    ' 5',
    '5 ',
    '1.5',
    '0x10',
    '5k',
    String(max + 1n),
    '18446744073709551616',
    '99999999999999999999999',
  ];
  if (min > 0n) bad.push(String(min - 1n));
  return r.chance(0.6) ? { text: r.pick(good), valid: true } : { text: r.pick(bad), valid: false };
}

/** Options for local answers (local.h tables), as main's loop and read_config both take them. */
function localItem(r: Rng): Item {
  const choice = r.int(15);
  const ok = r.chance(0.6);
  switch (choice) {
    case 0:
    case 1: {
      const opt = choice === 0 ? '--grant' : '--host-dev';
      if (ok) return { words: [opt, `${r.pick(['0', '2049', String(U64_MAX)])}:${absPath(r)}`], valid: true };
      return {
        words: [
          opt,
          r.pick([
            `-1:${absPath(r)}`,
            `:${absPath(r)}`,
            '5:rel',
            '5',
            ` 5:${absPath(r)}`,
            `18446744073709551616:/x`,
            `5:${tooLongPath()}`,
            '',
          ]),
        ],
        valid: false,
      };
    }
    case 2:
      if (ok) return { words: ['--dir', `${r.pick(['2', '13'])}:${absPath(r)}`], valid: true };
      return {
        words: ['--dir', r.pick(['5:/x', '+2:/x', '2:x', '2', '-13:/x', `2:${tooLongPath()}`, ':/x'])],
        valid: false,
      };
    case 3: {
      const opt = r.pick(['--name', '--absent']);
      return ok
        ? { words: [opt, absPath(r)], valid: true }
        : { words: [opt, r.pick(['rel', '', tooLongPath()])], valid: false };
    }
    case 4:
      if (ok) return { words: ['--link', absPath(r), r.pick(['target', '/abs/t', '../up'])], valid: true };
      return { words: ['--link', r.pick(['rel', '', tooLongPath()]), 't'], valid: false };
    case 5: {
      const names = Array.from({ length: 1 + r.int(4) }, () => r.pick(LOCAL_CALLS));
      if (ok) return { words: ['--local', names.join(',')], valid: true };
      return {
        words: [
          '--local',
          r.pick(['', `${names[0]},`, `,${names[0]}`, `${names[0]},,open`, 'nosuchcall', 'open(', 'opena']),
        ],
        valid: false,
      };
    }
    case 6:
      if (ok) return { words: ['--uname', hex(r, 390)], valid: true };
      return {
        words: [
          '--uname',
          r.pick([hex(r, 390).slice(1), `${hex(r, 390)}0`, `${hex(r, 389)}g0`, ` ${hex(r, 390).slice(1)}`, '']),
        ],
        valid: false,
      };
    case 7:
      if (ok) return { words: ['--stat', `${hex(r, 144)}:${absPath(r)}`], valid: true };
      return {
        words: [
          '--stat',
          r.pick([
            `${hex(r, 144).slice(1)}:/x`,
            `${hex(r, 144)}0:/x`,
            `${hex(r, 143)}zz:/x`,
            `${hex(r, 144)}:rel`,
            `${hex(r, 144)}`,
            'ab',
          ]),
        ],
        valid: false,
      };
    case 8: {
      const content = hex(r, r.int(40));
      if (ok) return { words: ['--file', `${hex(r, 144)}:${content}:${absPath(r)}`], valid: true };
      const bad = [
        `${hex(r, 144)}:${content}0:/x`,
        `${hex(r, 144)}:${content}zz:/x`,
        `${hex(r, 144)}:${content}`,
        `${hex(r, 144)}:${content}:rel`,
        `${hex(r, 143)}:${content}:/x`,
        'a',
        '',
        `${'0'.repeat(STAT_HEX)}`,
        `${'0'.repeat(STAT_HEX)}:`,
      ];
      return { words: ['--file', r.pick(bad)], valid: false };
    }
    case 9:
      if (ok)
        return {
          words: ['--owner', `${r.pick(['0', '4294967295', String(r.int(70000))])}:${r.int(70000)}`],
          valid: true,
        };
      return {
        words: ['--owner', r.pick(['1', '1:2:3', '1:', ':1', '4294967296:0', '-1:0', '1: 2', 'a:b'])],
        valid: false,
      };
    case 10: {
      if (ok)
        return {
          words: ['--ids', Array.from({ length: 4 }, () => r.pick(['0', '1000', '4294967295'])).join(',')],
          valid: true,
        };
      return {
        words: ['--ids', r.pick(['1,2,3', '1,2,3,4,5', '-1,0,0,0', 'a,b,c,d', '1,,2,3', '4294967296,0,0,0', ''])],
        valid: false,
      };
    }
    case 11: {
      const n = number(r, BigInt(PATH_MAX), 2n);
      return { words: ['--max-path', n.text], valid: n.valid };
    }
    case 12:
      return ok
        ? { words: ['--cwd', absPath(r)], valid: true }
        : { words: ['--cwd', r.pick(['rel', '', tooLongPath()])], valid: false };
    case 13:
      return ok
        ? { words: ['--cwd-stat', 'repeat'], valid: true }
        : { words: ['--cwd-stat', r.pick(['yes', '', 'repeat '])], valid: false };
    default:
      return { words: ['--stdio-local'], valid: true };
  }
}

/** Limits: the command line only (src/supervisor/native/limits.c: NUMBER_OPTIONS, and the caps of limit_option). */
const LIMITS: readonly { option: string; max: bigint; usable: readonly string[] }[] = [
  { option: '--as', max: U64_MAX, usable: ['0', String(U64_MAX), String(64n << 30n)] },
  { option: '--heap', max: U64_MAX, usable: ['0', String(U64_MAX), String(1n << 30n)] },
  { option: '--cpu', max: 0xffffffffn, usable: ['0', '60', '4294967295'] },
  { option: '--nofile', max: 0x7fffffffn, usable: ['0', '1024', '4096'] },
  { option: '--fsize', max: U64_MAX, usable: ['0', String(U64_MAX), '1048576'] },
  { option: '--nproc', max: 0x7fffffffn, usable: ['0', '256', '100000'] },
  { option: '--memory', max: U64_MAX, usable: ['0', String(1n << 30n)] },
  { option: '--tasks', max: U64_MAX, usable: ['0', '256'] },
  { option: '--max-fds', max: U64_MAX, usable: ['0', '1024'] },
];

function limitItem(r: Rng): Item {
  const l = r.pick(LIMITS);
  if (r.chance(0.6)) return { words: [l.option, r.pick(l.usable)], valid: true };
  const n = number(r, l.max);
  return { words: [l.option, n.valid ? `${n.text}x` : n.text], valid: false };
}

// ---- the cases ----

const TOKEN = `supervisor-fuzz-${process.pid}`;
const guestRun = (k: number): string[] => ['--', GUEST, 'syscall-guest', `${TOKEN}-${k}`];

const run = supervisorAvailable() && process.platform === 'linux' ? describe : describe.skip;

run('the supervisor, fed hostile input', () => {
  beforeAll(() => {
    const cc = process.env.CC ?? 'cc';
    fs.mkdirSync(path.dirname(GUEST), { recursive: true });
    execFileSync(
      cc,
      [
        '-static',
        '-nostdlib',
        '-fno-stack-protector',
        '-O2',
        '-Wall',
        '-Werror',
        '-o',
        GUEST,
        path.join(ROOT, 'test/guest/syscall-guest.c'),
      ],
      { stdio: 'inherit' },
    );
  });

  it('refuses a numeric option that is not an unsigned decimal number, naming the option (exit 2)', async () => {
    for (const [option, value] of [
      ['--cpu', 'abc'],
      ['--heap', '-1'],
      ['--nofile', '12x'],
      ['--as', '18446744073709551616'],
      ['--max-path', '1'],
      ['--ids', '1,2,3'],
    ]) {
      const o = await runSupervisor([option!, value!, ...guestRun(0)], async () => undefined);
      expect(o.code, `${option} ${value}`).toBe(EXIT.usage);
      expect(o.stderr).toContain(`bad value for ${option}: ${value}`);
    }
  });

  it('refuses 64 bytes of empty words as a configuration, cleanly (it overflowed the word table)', async () => {
    const o = await runSupervisor(['--config-stdin', ...guestRun(0)], async (io) =>
      io.write(Buffer.concat([u32(64), Buffer.alloc(64)])),
    );
    expectCleanEnd(o, 'empty words', [EXIT.protocol]);
    expect(o.stderr).toContain('bad word in the configuration');
  });

  it('a spare whose start message cannot run ends and reaps its waiting child first (nothing left for pid 1)', async () => {
    const o = await runSupervisor(['--standby', 'stock'], async (io) => io.write(frame(['2', '--bogus', '-x'])));
    expectCleanEnd(o, 'a spare told to run an unknown option', [EXIT.usage]);
    expect(o.stderr).toContain('unknown option --bogus');
  });

  it('takes or refuses random command lines exactly as their options are valid or not', async () => {
    for (let k = 0; k < 80; k++) {
      const r = rng(caseSeed(1, k));
      const items = Array.from({ length: 1 + r.int(6) }, () => (r.chance(0.3) ? limitItem(r) : localItem(r)));
      const args = [...items.flatMap((i) => i.words), ...guestRun(k)];
      const o = await runSupervisor(args, async () => undefined);
      const bad = items.find((i) => !i.valid);
      const what = `command line case ${k}: ${JSON.stringify(args.slice(0, -4)).slice(0, 400)}`;
      // All valid: the guest starts and waits for an answer, and the input is over (125); tight
      // limits may keep it from starting (127).
      expectCleanEnd(o, what, bad ? [EXIT.usage] : [EXIT.controllerGone, EXIT.cannotStart]);
      if (bad) expect(o.stderr, what).toContain(`bad value for ${bad.words[0]}`);
    }
  });

  it('takes or refuses random configurations exactly as their words are valid or not', async () => {
    for (let k = 0; k < 80; k++) {
      const r = rng(caseSeed(2, k));
      const items = Array.from({ length: r.int(8) }, () => localItem(r));
      let words = items.flatMap((i) => i.words);
      let valid = items.every((i) => i.valid);
      let body = Buffer.from(words.map((w) => `${w}\0`).join(''));
      let head = u32(body.length);
      let expected: number[] = [];
      switch (r.int(8)) {
        case 0: // an option without its value at the end
          if (words.length && items[items.length - 1]!.words.length > 1) {
            words = words.slice(0, -1);
            body = Buffer.from(words.map((w) => `${w}\0`).join(''));
            head = u32(body.length);
            valid = false;
          }
          break;
        case 1: // not ending with NUL
          body = Buffer.concat([body, Buffer.from('x')]);
          head = u32(body.length);
          expected = [EXIT.protocol];
          break;
        case 2: // cut short
          head = u32(body.length + 1 + r.int(100));
          expected = [EXIT.controllerGone];
          break;
        case 3: // too large a length
          head = u32(r.pick([MAX_FRAME + 1, 0xffffffff, MAX_FRAME + 1 + r.int(1 << 30)]));
          expected = [EXIT.protocol];
          break;
        case 4: // random bytes, NUL-ended
          body = Buffer.concat([r.bytes(r.int(300)), Buffer.alloc(1)]);
          head = u32(body.length);
          expected = [EXIT.protocol, EXIT.controllerGone];
          break;
        case 5: // the length alone, partly
          head = head.subarray(0, r.int(4));
          body = Buffer.alloc(0);
          expected = [EXIT.controllerGone];
          break;
        default:
          break;
      }
      if (!expected.length) expected = valid ? [EXIT.controllerGone] : [EXIT.protocol];
      const o = await runSupervisor(['--config-stdin', ...guestRun(k)], async (io) =>
        io.write(Buffer.concat([head, body])),
      );
      const what = `configuration case ${k}: ${JSON.stringify(words).slice(0, 400)}`;
      expectCleanEnd(o, what, expected);
      if (expected[0] === EXIT.protocol && expected.length === 1) expect(o.stderr, what).toContain('protocol error');
    }
  });

  it('takes or refuses random start messages of a spare supervisor, with or without its waiting child', async () => {
    for (let k = 0; k < 80; k++) {
      const r = rng(caseSeed(3, k));
      const kind = r.pick([[], ['stock'], ['protocol']]);
      // A run: a few valid options, maybe --no-namespaces (a fresh child instead of the waiting one).
      const options = [...(r.chance(0.3) ? ['--no-namespaces'] : []), ...(r.chance(0.5) ? ['--nofile', '1024'] : [])];
      const randomArgs = r.chance(0.2);
      const args = randomArgs
        ? Array.from({ length: 1 + r.int(4) }, () => `-${r.letters(1 + r.int(6))}`)
        : [...options, ...guestRun(k)];
      const env = Array.from(
        { length: r.int(4) },
        () => `${r.letters(1 + r.int(5)).toUpperCase()}=${r.letters(r.int(10))}`,
      );
      let count = String(args.length);
      let expected: number[] = randomArgs ? [EXIT.usage] : [EXIT.controllerGone];
      let tail: Buffer = Buffer.alloc(0);
      const problem = r.int(10);
      if (problem === 0) {
        count = r.pick([
          '0',
          '',
          '-1',
          `${args.length + env.length + 1}`,
          '99999999999999999999',
          `${args.length}x`,
          ' 1',
        ]);
        expected = [EXIT.protocol];
      } else if (problem === 1) {
        env.push(r.pick(['NOEQUALS', '=value', '']));
        expected = [EXIT.protocol];
      }
      let message = frame([count, ...args, ...env]);
      const shape = r.int(10);
      if (shape === 0) {
        message = Buffer.alloc(0); // nothing at all: a spare ended unused
        expected = [0];
      } else if (shape === 1) {
        message = message.subarray(0, r.int(message.length)); // the input ends inside it
        expected = message.length === 0 ? [0] : [EXIT.controllerGone];
      } else if (shape === 2) {
        message = Buffer.concat([u32(r.pick([0, MAX_FRAME + 1, 0xffffffff])), message.subarray(4)]);
        expected = [EXIT.protocol];
      } else if (shape === 3) {
        message = Buffer.concat([u32(message.length - 4 + 1), message.subarray(4), Buffer.from('x')]); // not NUL-ended
        expected = [EXIT.protocol];
      } else if (shape === 4) tail = r.bytes(r.int(64)); // bytes after the message: the run's input
      const o = await runSupervisor(['--standby', ...kind], async (io) => io.write(Buffer.concat([message, tail])));
      const what = `start message case ${k} (--standby ${kind.join(' ')}): ${JSON.stringify([count, ...args, ...env]).slice(0, 400)} shape ${shape}`;
      // Bytes after a good start message are an answer to the guest's first call: anything may follow.
      expectCleanEnd(o, what, tail.length ? [...expected, EXIT.protocol, 0] : expected);
    }
  });

  it('ends cleanly or goes on correctly whatever the controller answers to forwarded calls', async () => {
    for (let k = 0; k < 120; k++) {
      const r = rng(caseSeed(4, k));
      const o = await runSupervisor(['--nofile', '1024', ...guestRun(k)], async (io) => {
        for (let n = 0; n < 2; n++) {
          const call = await io.reader.call();
          if (!call) return;
          const { bytes, final, replies } = answer(r, call);
          io.write(bytes);
          if (!final) return; // an answer cut short or out of frame: the input ends there
          for (const reply of replies) if (!(await readReply(io.reader, reply))) return;
        }
      });
      // Both calls answered: the guest exits 0. Otherwise an error of ours, or the input's end.
      expectCleanEnd(o, `answer case ${k}`, [0, EXIT.controllerGone, EXIT.protocol]);
    }
  });
});

// ---- random answers ----

/** An address: the call's own buffer (writable, 256 bytes), near it, or anywhere. */
function address(r: Rng, call: Call): bigint {
  const buf = call.sig.startsWith('read') ? call.args[1]! : 0n;
  return r.pick([buf, buf + BigInt(r.int(4096)), 0n, 1n, U64_MAX, 1n << 47n, r.u64()]);
}

/** A size: small, at the chunk boundary, or wild. */
function size(r: Rng, limit = MAX_CHUNK): bigint {
  return r.pick([
    0n,
    1n,
    BigInt(r.int(300)),
    4096n,
    BigInt(limit),
    BigInt(limit + 1),
    BigInt(r.int(1 << 20)),
    U64_MAX,
    r.u64(),
  ]);
}

/** Bytes that follow a command whose size is n: all of them, or (sometimes) the input ends first. */
function payload(r: Rng, n: bigint, cap: number): { bytes: Buffer; cut: boolean } {
  if (n > BigInt(cap)) return { bytes: Buffer.alloc(0), cut: true };
  const full = Buffer.alloc(Number(n));
  r.bytes(Math.min(full.length, 64)).copy(full);
  if (r.chance(0.1)) return { bytes: full.subarray(0, r.int(full.length + 1)), cut: true };
  return { bytes: full, cut: false };
}

/** What the supervisor sends back for a command (R, Z and V have a reply). */
interface Reply {
  cmd: 'R' | 'Z' | 'V';
  size: bigint;
}

/** Consumes one reply; false when the supervisor's output ended first (it refused the command). */
async function readReply(reader: Reader, reply: Reply): Promise<boolean> {
  const status = await reader.take(1);
  if (!status) return false;
  if (status[0] === 0x21) return true; // '!': a bad address, nothing follows
  if (reply.cmd === 'V') return (await reader.take(8)) !== undefined;
  if (reply.cmd === 'R') return (await reader.take(Number(reply.size))) !== undefined;
  const n = await reader.take(8);
  return n !== undefined && (await reader.take(Number(n.readBigUInt64LE()))) !== undefined;
}

/**
 * A random answer: a few commands, then usually a final one. `final` tells whether the answer
 * is framed as the protocol frames it and ends the call, so that the harness reads the replies
 * and waits for the next call; any other answer (cut short, junk, lengths that do not match
 * what follows) ends the input there and leaves the rest to the supervisor's judgement.
 */
function answer(r: Rng, call: Call): { bytes: Buffer; final: boolean; replies: Reply[] } {
  const parts: Buffer[] = [];
  const replies: Reply[] = [];
  const cut = () => ({ bytes: Buffer.concat(parts), final: false, replies });
  for (let n = r.int(4); n > 0; n--) {
    const cmd = r.pick(['R', 'Z', 'W', 'E', 'V', 'L', 'junk']);
    if (cmd === 'R' || cmd === 'Z') {
      const n2 = size(r);
      parts.push(Buffer.from(cmd), u64(address(r, call)), u64(n2));
      if (cmd === 'R' && n2 > BigInt(MAX_CHUNK)) return cut();
      replies.push({ cmd, size: n2 });
    } else if (cmd === 'W') {
      const n2 = r.chance(0.7) ? BigInt(r.int(300)) : size(r);
      const p = payload(r, n2, MAX_CHUNK);
      parts.push(Buffer.from('W'), u64(address(r, call)), u64(n2), p.bytes);
      if (p.cut) return cut();
    } else if (cmd === 'E') {
      const e = r.pick([0, 1, 2, 4095, 4096, -1, -2147483648, 2147483647, r.int(2 ** 32) | 0]);
      parts.push(Buffer.from('E'), i32(e));
      if (e < 0 || e > 4095) return cut();
    } else if (cmd === 'V') {
      parts.push(
        Buffer.from('V'),
        u64(r.pick([-1n, 0n, 3n, 511n, 512n, 1n << 31n, 1n << 63n, r.u64()])),
        u64(r.pick([0n, 0o2000000n, r.u64()])),
      );
      replies.push({ cmd: 'V', size: 8n });
    } else if (cmd === 'L') {
      const n2 = r.pick([0n, 24n, BigInt(256 * 1024), BigInt(256 * 1024 + 1), size(r)]);
      const p = payload(r, n2, 256 * 1024);
      parts.push(Buffer.from('L'), u64(n2), p.bytes);
      if (p.cut || !call.sig.startsWith('openat')) return cut();
    } else {
      parts.push(r.bytes(1 + r.int(8)));
      return cut();
    }
  }
  const last = r.pick(['i', 'i', 'i', 'C', 'o', 'm', 'none']);
  let framed = last !== 'none';
  if (last === 'i') parts.push(Buffer.from('i'), u64(r.pick([0n, -1n, 3n, 512n, 1n << 62n, r.u64()])));
  else if (last === 'C') {
    parts.push(Buffer.from('C'));
    framed = call.sig.startsWith('read'); // C on a path call is refused
  } else if (last === 'o') {
    const p = Buffer.from(
      r.pick(['/etc/hostname', '/dev/null', '/nonexistent', '/etc', r.bytes(20).toString('latin1')]),
      'latin1',
    );
    const len = r.chance(0.8) ? BigInt(p.length) : size(r, PATH_MAX);
    parts.push(Buffer.from('o'), u64(r.pick([0n, 0o2000000n])), u64(len), p);
    framed = len === BigInt(p.length) && p.length > 0 && p.length < PATH_MAX;
  } else if (last === 'm') {
    const vpath = Buffer.from(r.pick(['/proc/cpuinfo', '', r.letters(PATH_MAX)]));
    const content = r.bytes(r.int(100));
    const plen = r.chance(0.8) ? BigInt(vpath.length) : size(r, PATH_MAX);
    const clen = r.chance(0.8) ? BigInt(content.length) : size(r);
    parts.push(Buffer.from('m'), u64(0n), u64(plen), u64(clen), r.bytes(144), vpath, content);
    framed =
      plen === BigInt(vpath.length) &&
      clen === BigInt(content.length) &&
      vpath.length > 0 &&
      vpath.length < PATH_MAX &&
      call.sig.startsWith('openat');
  }
  return { bytes: Buffer.concat(parts), final: framed, replies };
}
