import type { Readable, Writable } from 'node:stream';
import type { Handler } from '../handlers/context.js';
import type { ClockSpec, Identity } from '../kernel/session.js';
import type { Platform } from '../platform/index.js';
import type { Policy } from '../policy/policy.js';
import type { CallRecord } from '../trace/trace.js';
import type { HostMountFilter } from '../vfs/host-mount.js';
import type { VirtualFS } from '../vfs/vfs.js';
import type { GuestTransport } from './launch/spawn.js';
import type { Limits } from './limits/defaults.js';

export { LIBRARY_LIMITS, type Limits } from './limits/defaults.js';
export { OptionError } from './option-error.js';
import type { GuestControl } from './guest-control.js';

/** The guest's stdin: the bytes themselves (a Buffer or string), a stream, the host's own stdin, or nothing (end of input). */
export type StdinOption = Buffer | string | Readable | 'inherit' | 'ignore';
/** Where guest output goes: kept in the result (`capture`, the default), the host's stream, dropped, a stream, or a function per chunk. */
export type OutputOption = 'capture' | 'inherit' | 'ignore' | Writable | ((data: Buffer) => void);

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
   * of a round trip each (default true). Sandboxed PyPy behind its walls: the supervisor relays its
   * calls, answers the clock calls itself and sends path arguments along with their calls. The
   * answers, trace and counts are the same either way.
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
export const KNOWN_OPTIONS = Object.keys(OPTION_KEYS) as (keyof ControllerOptions)[];
