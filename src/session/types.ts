import type { ControllerOptions } from '../controller/options.js';
import type { LimitHit, RunResult } from '../controller/result.js';

/**
 * A session's options: the Controller's (walls, VFS, policy, limits, `python` or `executable`),
 * except the guest's arguments and standard streams, which carry the session. `timeout` (and
 * `limits.timeoutMs`) is the whole session's time; `limits.outputBytes` counts per snippet.
 */
export interface SessionOptions extends Omit<
  ControllerOptions,
  'args' | 'stdin' | 'stdout' | 'stderr' | 'tty' | 'control' | 'transport'
> {
  /** Every snippet's timeout unless run() gives one, ms (default none). */
  snippetTimeoutMs?: number;
  /** How long a snippet may go on after its interrupt before the session is ended (default 2000 ms). */
  interruptGraceMs?: number;
  /** Largest answer the guest may send (a repr, a call's JSON), bytes (default 8 MiB). */
  maxAnswerBytes?: number;
  /** How long the interpreter may take to start and say it is ready (default 30 000 ms). */
  startTimeoutMs?: number;
}

/** An exception the code raised and did not catch. */
export interface SnippetError {
  /** The exception's class name (`ZeroDivisionError`), or `TimeoutError` / `SessionEnded` for the session's own. */
  type: string;
  message: string;
  /** As Python prints it, from the snippet's first frame on. */
  traceback: string;
}

/** Why a session ended. */
export interface SessionEnd {
  /**
   * `closed` (by close()), `timeout` (a snippet that went on past its interrupt, or a guest that
   * cannot be interrupted), `limit` (a hard limit: `limit` says which, `timeout` there being the
   * session's whole time), `protocol` (the guest broke the framing), `exited` (the interpreter
   * exited, e.g. os._exit), `crashed` (it died of a signal), `aborted` (the caller's signal),
   * `error` (it could not start, or the controller failed).
   */
  reason: 'closed' | 'timeout' | 'limit' | 'protocol' | 'exited' | 'crashed' | 'aborted' | 'error';
  message: string;
  limit: LimitHit | null;
  exitCode: number | null;
  signal: string | null;
  /** The run as the Controller reports it, once the guest has ended. */
  run: RunResult | undefined;
}

/** What one snippet (or call) did. */
export interface SnippetResult {
  /** What it printed (sys.stdout), as UTF-8 text. */
  stdout: string;
  stderr: string;
  /** repr() of the last expression's value, as a notebook cell shows it; null when there is none or it is None. */
  value: string | null;
  error: SnippetError | null;
  durationMs: number;
  /** The snippet's timeout fired (it was interrupted, or the session ended). */
  timedOut: boolean;
  /** Output past `limits.outputBytes` was dropped. */
  outputTruncated: boolean;
  /**
   * What threads the session left running wrote while no request ran (between the previous
   * answer and this request), kept apart from the snippet's own output; `truncated` when some of
   * it was dropped (past `limits.outputBytes`, or `maxAnswerBytes` kept in the guest meanwhile).
   */
  background: BackgroundOutput;
  /** Set when the session ended during this snippet: the session is closed. */
  ended: SessionEnd | null;
}

/** Output written while no request ran, delivered with the next result. */
export interface BackgroundOutput {
  stdout: string;
  stderr: string;
  truncated: boolean;
}

/** What a call did: the function's JSON return value, parsed. */
export interface CallResult extends SnippetResult {
  result: unknown;
}

export interface RunOptions {
  /** Interrupt the snippet (KeyboardInterrupt) after this many ms (default: the session's `snippetTimeoutMs`, else none). */
  timeoutMs?: number;
}

/** A session that is closed (or ended) was asked for more. */
export class SessionClosedError extends Error {
  override readonly name = 'SessionClosedError';
  constructor(readonly end: SessionEnd) {
    super(`the session has ended (${end.reason}): ${end.message}`);
  }
}
