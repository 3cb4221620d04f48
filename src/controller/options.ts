import { Readable, type Writable } from 'node:stream';
import { tmpFileParts } from '../vfs/tmp-files.js';
import type { Handler } from '../handlers/context.js';
import type { ClockSpec, Identity } from '../kernel/session.js';
import type { Platform } from '../platform/index.js';
import type { Policy } from '../policy/policy.js';
import type { CallRecord } from '../trace/trace.js';
import type { HostMountFilter } from '../vfs/host-mount.js';
import type { VirtualFS } from '../vfs/vfs.js';
import type { GuestTransport } from './spawn.js';
import { GuestControl } from './guest-control.js';

/** The guest's stdin: the bytes themselves (a Buffer or string), a stream, the host's own stdin, or nothing (end of input). */
export type StdinOption = Buffer | string | Readable | 'inherit' | 'ignore';
/** Where guest output goes: kept in the result (`capture`, the default), the host's stream, dropped, a stream, or a function per chunk. */
export type OutputOption = 'capture' | 'inherit' | 'ignore' | Writable | ((data: Buffer) => void);

/** Per-run limits (`limits`); each one reached is reported by name (`result.limit` or `result.limitsReached`). */
export interface Limits {
  /** Wall-clock time, ms (0 = none). */
  timeoutMs: number;
  /**
   * Ms the guest may go without sending a byte in the middle of a message (a call it started, a
   * reply it owes), or without reading answers that wait for it: then it is killed and the run
   * ends with a protocol error (0 = wait forever).
   */
  stallMs: number;
  /** Guest stdout+stderr bytes before it is stopped (0 = unlimited). */
  outputBytes: number;
  /** Bytes of stdin the guest may read (0 = unlimited). */
  stdinBytes: number;
  /** Open descriptors, stdio included. */
  openFiles: number;
  /** Open directory streams. */
  openDirs: number;
  /** Bytes the guest may store in /tmp. */
  tmpBytes: number;
  /** Longest path, NUL included. */
  pathLength: number;
  /** Most bytes one call moves (a larger read or write is served in part). */
  ioChunkBytes: number;
  /** Heap cap in bytes: `--heapsize` for a sandboxed PyPy, address-space and resident-memory (memfds included) caps for a stock guest (0 = none). */
  heapBytes: number;
  /** CPU seconds of the guest (RLIMIT_CPU, set by the supervisor; 0 = none); past it the run ends with the `cpu` limit. */
  cpuSeconds: number;
  /**
   * Memory of the guest in bytes, everything it makes the kernel hold (heap, memfds and other shared
   * memory, page cache): the memory cap of the run's cgroup; where no cgroup can be made, rlimits
   * and polling instead (see the README, "Limits and defaults"; 0 = none).
   */
  memoryBytes: number;
  /** Tasks (threads, processes) of the guest at once: the cgroup's task cap, else RLIMIT_NPROC (0 = none). */
  tasks: number;
}

export const LIBRARY_LIMITS: Limits = {
  timeoutMs: 0,
  stallMs: 5000,
  outputBytes: 1024 * 1024,
  stdinBytes: 0,
  openFiles: 256,
  openDirs: 64,
  tmpBytes: 64 * 1024 * 1024,
  pathLength: 4096,
  ioChunkBytes: 1024 * 1024,
  heapBytes: 0,
  cpuSeconds: 0,
  memoryBytes: 1024 * 1024 * 1024,
  tasks: 256,
};

export interface ControllerOptions {
  /** Host path of a guest binary speaking the protocol itself (a PyPy translated with --sandbox). */
  executable?: string;
  /**
   * A stock interpreter to run under the native supervisor instead: `'pypy3'`, `'python3'` or a
   * path. Without `executable` and `python`, the system pypy3 (else python3) is used.
   */
  python?: string;
  /** Arguments after argv[0], passed untouched. */
  args?: string[];
  /** The guest's argv[0], a virtual path (default `/lib/pypy`). */
  argv0?: string;
  /** The guest's virtual environment (default: empty). */
  env?: Record<string, string>;
  /** Virtual working directory (default `/tmp`). */
  cwd?: string;
  /** The identity the guest is shown (default uid/gid 1000, pid 4200, ppid 4199, hostname `sandbox`); `pid`/`ppid` for a sandboxed PyPy only. */
  identity?: Partial<Identity>;
  /** The guest's time: `'real'` (default) or `{ fixed: date }`, a clock that starts there (sandboxed PyPy only). */
  clock?: ClockSpec;
  /** The guest's stdin (default: empty). */
  stdin?: StdinOption;
  /** Where the guest's stdout goes (default `'capture'`: `result.stdout`). */
  stdout?: OutputOption;
  /** Where the guest's stderr goes (default `'capture'`: `result.stderr`). */
  stderr?: OutputOption;
  /** Also copy the guest's real stderr (its fatal messages) here as it comes; it is kept in the result either way. */
  guestStderr?: Writable;
  /**
   * Walls around the guest process (default: all that the machine allows). A sandboxed PyPy gets a
   * strict seccomp filter (only its protocol streams), rlimits, no new privileges, new namespaces
   * and an unprivileged uid when run as root; a stock interpreter gets the same besides the
   * supervisor's filter. `false` switches them off (debugging); parts can be switched off alone.
   * `namespaces` and `cgroup` by default where the host allows them; `true` requires them (a run
   * that cannot have them does not start).
   * `cgroup`: the run's memory and task caps in a cgroup of its own; by default where the host
   * allows it (else rlimits and polling), `true` requires it (a run that cannot have it does not
   * start), `false` uses the rlimits and polling.
   */
  walls?: boolean | { seccomp?: boolean; namespaces?: boolean; dropRoot?: boolean; cgroup?: boolean };
  /**
   * Host uids (and gids) the supervisor gives runs when started as root: each run claims one of
   * its own, unique among all runs on the machine at the same time, so no per-user kernel counter
   * is shared between runs (default 65,536 ids from 1,000,000). Every process drawing on a range
   * must use the same lock file (default `/run/pypy-box/uids.lock`). As non-root the guest keeps
   * the user's uid. Not the identity the guest is shown (`identity`).
   */
  identityRange?: IdentityRange;
  /**
   * Stock guests: let the supervisor answer stat, open and access of the read-only host grants
   * (the interpreter's own installation) and the identity calls itself, then report them, instead
   * of a round trip each (default true). The answers, trace and counts are the same either way.
   */
  localAnswers?: boolean;
  /**
   * Supervised guests: start from the spare supervisor kept ready for the next run, and keep one
   * ready after this run (default true; see closeSpareSupervisor). `false`: a fresh process, none left behind.
   */
  spareSupervisor?: boolean;
  /** Tell the guest its standard streams are terminals (default: whether the host's are, when inherited). */
  tty?: boolean | { stdin?: boolean; stdout?: boolean; stderr?: boolean };
  /** The guest's filesystem; built from the options below when absent. */
  vfs?: VirtualFS;
  /** Read grants and rules (default: deny everything not granted); the run works on its own copy. */
  policy?: Policy;
  /** Host directory holding `lib-python/` and `lib_pypy/`, shown at `/lib` (where `_pypy_init_home` points). */
  libPath?: string;
  /** Host directory shown read-only as `/tmp`, with writes going to memory. */
  tmpDir?: string;
  /** Which names of `tmpDir` the guest sees (include/exclude globs, dotfiles). */
  tmpFilter?: HostMountFilter;
  /** Extra read-only virtual files: `{ '/etc/motd': 'hi' }`. */
  files?: Record<string, string | Buffer>;
  /**
   * Input files in the writable `/tmp`, names relative to it: `{ 'data.csv': '...' }` is
   * `/tmp/data.csv`, which the guest may read, change or delete. Counted in `limits.tmpBytes`.
   */
  tmpFiles?: Record<string, string | Buffer>;
  /** Limits to change; the rest keep their defaults (`LIBRARY_LIMITS`). */
  limits?: Partial<Limits>;
  /** Milliseconds of wall-clock time (shorthand for limits.timeoutMs). */
  timeout?: number;
  /** Aborting it ends the run: `run()` rejects with a `SandboxError` of kind `aborted`, the signal's reason as its `cause`. */
  signal?: AbortSignal;
  /** Extra or replacing handlers, keyed by signature (`'getpid()i'`). */
  handlers?: Record<string, Handler>;
  /** A call no handler knows: answer ENOSYS (default) or end the run with an error. */
  unknownCalls?: 'enosys' | 'fail';
  /** Called after every call (verbose output, custom auditing). */
  onCall?: (rec: CallRecord) => void;
  /** Write a msgpack trace of every call to this file. */
  traceFile?: string;
  /** C struct layouts and errno values of the guest (default: the host's, x86-64). */
  platform?: Platform;
  /**
   * Runs the protocol over these streams instead of starting a process (embedding in another
   * process manager; tests). The controller still kills through it and waits for `done`.
   */
  transport?: () => GuestTransport;
  /** Reach into the run while it goes on: interrupt the guest, change its files (see GuestControl). */
  control?: GuestControl;
}

/** The supervisor's own default (identity.h) for what is left out: 65,536 ids from 1,000,000; `/run/pypy-box/uids.lock`. */
export interface IdentityRange {
  /** The first id of the range, given with `count` (both or neither). */
  first?: number;
  /** How many ids the range holds, from `first`. */
  count?: number;
  /** An absolute path: the lock file where runs claim their uids (created 0600 if missing). */
  lockFile?: string;
}

export class OptionError extends TypeError {
  override readonly name = 'OptionError';
  constructor(
    readonly option: string,
    problem: string,
  ) {
    super(`option ${option}: ${problem}`);
  }
}

/** Node's timers fire at once past this many milliseconds. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function nonNegInt(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new OptionError(name, `expected a non-negative integer, got ${String(v)}`);
  return v;
}

/** Neither root (0) nor (uid_t)-1 in the range, and every id within 32 bits. */
function checkIdentityRange(r: IdentityRange): void {
  if (!r || typeof r !== 'object') throw new OptionError('identityRange', 'expected { first, count, lockFile? }');
  if ((r.first === undefined) !== (r.count === undefined)) throw new OptionError('identityRange', 'give first and count together');
  if (r.first !== undefined) {
    const first = nonNegInt(r.first, 'identityRange.first');
    const count = nonNegInt(r.count, 'identityRange.count');
    if (first < 1) throw new OptionError('identityRange.first', 'must be at least 1 (uid 0 is root)');
    if (count < 1) throw new OptionError('identityRange.count', 'must be at least 1');
    if (first + count - 1 >= 0xffffffff) throw new OptionError('identityRange', 'the range must end below 4294967295 ((uid_t)-1)');
  }
  if (r.lockFile !== undefined && (typeof r.lockFile !== 'string' || !r.lockFile.startsWith('/') || r.lockFile.includes('\0'))) {
    throw new OptionError('identityRange.lockFile', 'expected an absolute host path');
  }
}

/**
 * Every option key; anything else is a mistake (a misspelling would otherwise be silently ignored).
 * A record over the interface's keys, so that an option added there and forgotten here fails to compile.
 */
const OPTION_KEYS: Record<keyof ControllerOptions, true> = {
  executable: true,
  python: true,
  args: true,
  argv0: true,
  env: true,
  cwd: true,
  identity: true,
  clock: true,
  stdin: true,
  stdout: true,
  stderr: true,
  guestStderr: true,
  walls: true,
  identityRange: true,
  localAnswers: true,
  spareSupervisor: true,
  tty: true,
  vfs: true,
  policy: true,
  libPath: true,
  tmpDir: true,
  tmpFilter: true,
  files: true,
  tmpFiles: true,
  limits: true,
  timeout: true,
  signal: true,
  handlers: true,
  unknownCalls: true,
  onCall: true,
  traceFile: true,
  platform: true,
  transport: true,
  control: true,
};
const KNOWN_OPTIONS = Object.keys(OPTION_KEYS) as (keyof ControllerOptions)[];

/** Edit distance (insertions, deletions, substitutions, adjacent swaps), case-insensitive. */
function distance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The known name closest to a misspelled one, when it is close enough to be meant. */
export function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const dist = distance(name, k);
    if (dist < bestD) [best, bestD] = [k, dist];
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

const STREAM_CHOICES = "'capture', 'inherit', 'ignore', a Writable stream or a function (data: Buffer) => void";

function isWritable(v: unknown): boolean {
  return typeof v === 'object' && v !== null && typeof (v as { write?: unknown }).write === 'function' && typeof (v as { on?: unknown }).on === 'function';
}

function checkOutput(v: unknown, name: 'stdout' | 'stderr'): void {
  if (v === undefined || v === 'capture' || v === 'inherit' || v === 'ignore' || typeof v === 'function' || isWritable(v)) return;
  throw new OptionError(name, `expected ${STREAM_CHOICES}, got ${describeValue(v)}`);
}

function checkInput(v: unknown): void {
  if (v === undefined || v === 'inherit' || v === 'ignore' || typeof v === 'string' || Buffer.isBuffer(v)) return;
  if (v instanceof Readable) return;
  throw new OptionError('stdin', `expected a Buffer, a string (the input itself), a Readable stream, 'inherit' or 'ignore', got ${describeValue(v)}`);
}

function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null || typeof v !== 'object') return String(v);
  return `an object (${(v as object).constructor?.name ?? 'no class'})`;
}

/** Validates options once, up front; every message names the option. */
export function normalizeOptions(o: ControllerOptions): ControllerOptions & { limits: Limits } {
  if (!o || typeof o !== 'object') throw new OptionError('options', 'expected an object');
  for (const k of Object.keys(o)) {
    if ((KNOWN_OPTIONS as readonly string[]).includes(k)) continue;
    const near = closest(k, KNOWN_OPTIONS);
    throw new OptionError(k, `unknown option${near ? ` (did you mean ${near}?)` : ''}`);
  }
  if (o.clock !== undefined && o.clock !== 'real') {
    const fixed = typeof o.clock === 'object' && o.clock !== null ? (o.clock as { fixed?: unknown }).fixed : undefined;
    if (fixed === undefined) throw new OptionError('clock', `expected 'real' or { fixed: date }, got ${describeValue(o.clock)}`);
    if (!['number', 'string'].includes(typeof fixed) && !(fixed instanceof Date)) throw new OptionError('clock.fixed', `expected a Date, a date string or milliseconds, got ${describeValue(fixed)}`);
    if (Number.isNaN(new Date(fixed as string).getTime())) throw new OptionError('clock.fixed', `not a date: ${String(fixed)}`);
  }
  checkInput(o.stdin);
  checkOutput(o.stdout, 'stdout');
  checkOutput(o.stderr, 'stderr');
  if (o.guestStderr !== undefined && !isWritable(o.guestStderr)) throw new OptionError('guestStderr', `expected a Writable stream, got ${describeValue(o.guestStderr)}`);
  if (o.executable !== undefined && (typeof o.executable !== 'string' || o.executable === '')) throw new OptionError('executable', 'expected the host path of the guest binary');
  if (o.python !== undefined && (typeof o.python !== 'string' || o.python === '')) throw new OptionError('python', "expected 'pypy3', 'python3' or the path of an interpreter");
  if (o.executable !== undefined && o.python !== undefined) throw new OptionError('python', 'give either executable (a sandboxed PyPy) or python (a stock interpreter), not both');
  if (o.args !== undefined && (!Array.isArray(o.args) || o.args.some((a) => typeof a !== 'string'))) throw new OptionError('args', 'expected an array of strings');
  if (o.argv0 !== undefined && (typeof o.argv0 !== 'string' || o.argv0 === '')) throw new OptionError('argv0', 'expected a non-empty string');
  if (o.cwd !== undefined && (typeof o.cwd !== 'string' || !o.cwd.startsWith('/'))) throw new OptionError('cwd', 'expected an absolute virtual path');
  for (const [k, v] of Object.entries(o.env ?? {})) {
    if (k === '' || k.includes('=') || k.includes('\0')) throw new OptionError(`env.${k}`, 'invalid variable name');
    if (typeof v !== 'string' || v.includes('\0')) throw new OptionError(`env.${k}`, 'expected a string without NUL');
  }
  if (o.unknownCalls !== undefined && o.unknownCalls !== 'enosys' && o.unknownCalls !== 'fail') throw new OptionError('unknownCalls', "expected 'enosys' or 'fail'");
  if (o.transport !== undefined && typeof o.transport !== 'function') throw new OptionError('transport', 'expected a function returning the guest streams');
  if (o.control !== undefined && !(o.control instanceof GuestControl)) throw new OptionError('control', 'expected a GuestControl');
  if (o.localAnswers !== undefined && typeof o.localAnswers !== 'boolean') throw new OptionError('localAnswers', 'expected true or false');
  if (o.spareSupervisor !== undefined && typeof o.spareSupervisor !== 'boolean') throw new OptionError('spareSupervisor', 'expected true or false');
  if (o.walls !== undefined && typeof o.walls !== 'boolean') {
    if (typeof o.walls !== 'object' || o.walls === null) throw new OptionError('walls', 'expected false, true or an object');
    for (const [k, v] of Object.entries(o.walls)) {
      if (!['seccomp', 'namespaces', 'dropRoot', 'cgroup'].includes(k)) throw new OptionError(`walls.${k}`, 'unknown wall (expected seccomp, namespaces, dropRoot or cgroup)');
      if (v !== undefined && typeof v !== 'boolean') throw new OptionError(`walls.${k}`, 'expected true or false');
    }
  }
  if (o.identityRange !== undefined) checkIdentityRange(o.identityRange);
  if (o.vfs && (o.libPath || o.tmpDir || o.files || o.tmpFiles)) throw new OptionError('vfs', 'give either a ready VirtualFS or libPath/tmpDir/files/tmpFiles, not both (mountTmp takes files of its own)');
  checkTmpFiles(o.tmpFiles);
  const limits: Limits = { ...LIBRARY_LIMITS };
  for (const [k, v] of Object.entries(o.limits ?? {})) {
    if (!(k in LIBRARY_LIMITS)) throw new OptionError(`limits.${k}`, `unknown limit (expected one of ${Object.keys(LIBRARY_LIMITS).join(', ')})`);
    (limits as unknown as Record<string, number>)[k] = nonNegInt(v, `limits.${k}`);
  }
  if (o.timeout !== undefined) limits.timeoutMs = nonNegInt(o.timeout, 'timeout');
  if (limits.openFiles < 3) throw new OptionError('limits.openFiles', 'must be at least 3 (the standard streams)');
  if (limits.pathLength < 2) throw new OptionError('limits.pathLength', 'must be at least 2');
  if (limits.ioChunkBytes < 1) throw new OptionError('limits.ioChunkBytes', 'must be at least 1');
  if (limits.stallMs > MAX_TIMER_MS) throw new OptionError('limits.stallMs', `must be at most ${MAX_TIMER_MS} (a timer's longest wait)`);
  for (const [sig, h] of Object.entries(o.handlers ?? {})) {
    if (typeof h !== 'function') throw new OptionError(`handlers['${sig}']`, 'expected a function');
  }
  return { ...o, limits };
}

/** `tmpFiles`: relative names inside /tmp, each a string or a Buffer. */
function checkTmpFiles(files: ControllerOptions['tmpFiles']): void {
  if (files === undefined) return;
  if (typeof files !== 'object' || files === null || Array.isArray(files)) throw new OptionError('tmpFiles', "expected an object of { 'name': string | Buffer }");
  for (const [name, data] of Object.entries(files)) {
    try {
      tmpFileParts(name);
    } catch (err) {
      throw new OptionError(`tmpFiles[${JSON.stringify(name)}]`, (err as Error).message);
    }
    if (typeof data !== 'string' && !Buffer.isBuffer(data)) throw new OptionError(`tmpFiles[${JSON.stringify(name)}]`, `expected a string or a Buffer, got ${describeValue(data)}`);
  }
}
