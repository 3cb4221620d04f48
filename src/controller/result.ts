import { inspect } from 'node:util';
import type { Decision } from '../policy/policy.js';
import type { VirtualFS } from '../vfs/vfs.js';

/** A limit by name, as reported in `limit` and `limitsReached`. */
export type LimitName =
  | 'timeout'
  | 'cpu'
  | 'heap'
  | 'memory'
  | 'tasks'
  | 'output'
  | 'stdin'
  | 'open-files'
  | 'open-dirs'
  | 'tmp-quota'
  | 'path-length'
  | 'io-chunk';

/** The limit that ended a run. */
export interface LimitHit {
  name: LimitName;
  /** Its value: bytes, ms (`timeout`), seconds (`cpu`), a count (`tasks`, `open-files`, ...). */
  value: number;
}

/** How the run ended. */
export type Outcome =
  /** The guest exited by itself (or asked to with `_exit`). */
  | 'exited'
  /** The guest died of a signal it was not sent by the controller (a crash, an abort). */
  | 'signaled'
  /** The wall-clock timeout ended it. */
  | 'timeout'
  /** Another limit ended it (see `limit`). */
  | 'limit'
  /** The controller ended it: protocol violation, refused call, abort, internal error (see the error). */
  | 'killed';

/** One kind of denial: the same call refused the same way for the same reason. */
export interface DeniedCall {
  /** The signature (a policy's refusal), or the system call's name (one the supervisor refused). */
  sig: string;
  /** What was refused: an operation on a path, or `call`, a system call the sandbox forbids. */
  op: Decision['op'] | 'call';
  /** The virtual path ('' for a refused call that names none). */
  path: string;
  /** The errno the guest got (`EACCES`, `EPERM`, ...), as a number. */
  errno: number;
  /** Why: the policy's reason, or the supervisor's (`no network in the sandbox`). */
  reason: string;
  /** A refused call's decisive argument, e.g. `family=AF_INET`, `pid=1,sig=9`. */
  detail?: string;
  /** How many times it happened. */
  count: number;
}

/** Everything that happened in one run. */
export interface RunResult {
  /** How the run ended. */
  outcome: Outcome;
  /** The guest's exit status when it exited by itself, else null. */
  exitCode: number | null;
  /** The signal the guest died of, else null. */
  signal: NodeJS.Signals | null;
  /** What the signal means, e.g. "Segmentation fault". */
  signalDescription: string | null;
  /** Whether the wall-clock timeout ended it (`outcome: 'timeout'`). */
  timedOut: boolean;
  /** The limit that ended the run (`outcome: 'limit'` or `'timeout'`), else null. */
  limit: LimitHit | null;
  /** Captured guest output (empty when streamed elsewhere). */
  stdout: Buffer;
  /** Captured guest stderr (empty when streamed elsewhere). */
  stderr: Buffer;
  /** Text the guest wrote to its real stderr (fatal sandbox errors, crash messages). */
  guestStderr: string;
  /** Calls the guest made through the protocol (those the supervisor answered itself included). */
  calls: number;
  /** Every request refused by the policy or the sandbox (see the README, "What counts as a denial"). */
  denials: number;
  /** The first 100 distinct denials, with their reasons and counts. */
  denied: DeniedCall[];
  /** Limits that refused calls without ending the run (EMFILE, ENOSPC, ENAMETOOLONG, a new thread past the task cap), with counts. */
  limitsReached: { name: LimitName; value: number; calls: number }[];
  /** Signatures no handler knew, with how often each came. */
  unknownCalls: Record<string, number>;
  /** Wall-clock duration of the run, ms. */
  durationMs: number;
  /** Walls around the guest process that were in force. */
  walls: string[];
  /** The guest's filesystem, to read back what it wrote (`vfs.snapshot('/tmp')`). */
  vfs: VirtualFS;
}

/** Why the controller ended a run: the guest broke the protocol, made a refused unknown call (`unknownCalls: 'fail'`), could not be started (or a wall could not be set up), the run was aborted, or the controller failed. */
export type SandboxErrorKind = 'protocol' | 'unsupported-call' | 'spawn' | 'aborted' | 'internal';

/** A run the controller had to end on its own account; carries the whole result so far. */
export class SandboxError extends Error {
  override readonly name = 'SandboxError';
  constructor(
    readonly kind: SandboxErrorKind,
    message: string,
    readonly result: RunResult,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    // Node prints an uncaught error with its enumerable properties (no custom inspect there): the
    // whole filesystem would be hundreds of lines. It stays at err.result.vfs, just not listed.
    if (result && typeof result === 'object' && 'vfs' in result) {
      Object.defineProperty(result, 'vfs', {
        value: result.vfs,
        enumerable: false,
        writable: true,
        configurable: true,
      });
    }
  }

  /**
   * Printed (an uncaught error, console.log) in a few lines: the message, the stack, the kind and a
   * summary of the result. Every field stays reachable on the error itself (`err.result.vfs`, ...).
   */
  [inspect.custom](
    depth: number,
    options: { stylize?: unknown; depth?: number | null },
    show: typeof inspect = inspect,
  ): string {
    const r = this.result;
    const summary = r && {
      outcome: r.outcome,
      exitCode: r.exitCode,
      signal: r.signal,
      limit: r.limit,
      calls: r.calls,
      denials: r.denials,
      durationMs: r.durationMs,
    };
    const opts = { ...options, depth: 2, compact: true, breakLength: Infinity };
    let text = `${this.stack ?? `${this.name}: ${this.message}`}
    kind: ${show(this.kind, opts)}, result: ${show(summary, opts)} (err.result has the rest)`;
    if (this.cause !== undefined && depth >= 0) {
      const cause = show(this.cause, { ...options, depth: 1 })
        .split('\n')
        .join('\n    ');
      text += `
    [cause]: ${cause}`;
    }
    return text;
  }
}
