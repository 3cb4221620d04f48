/** The pool's options and errors, checked up front like the Controller's. */
import { OptionError, type ControllerOptions, type Limits } from '../controller/options.js';

export interface PoolOptions extends Omit<
  ControllerOptions,
  'args' | 'stdin' | 'signal' | 'vfs' | 'transport' | 'traceFile' | 'tty'
> {
  /** Warm guests kept ready, each waiting for one job (default 2). */
  size?: number;
  /** Jobs running at once (default: `size`). */
  concurrency?: number;
  /** Jobs waiting for a free slot before `run()` rejects with a `PoolError` of kind `queue-full` (default 100). */
  queueLimit?: number;
  /** Long-lived guests kept for keyed jobs; past it the least recently used idle one is ended (default 16). */
  maxKeys?: number;
  /** A keyed guest unused this long (ms) is ended (default 60 000). */
  keyIdleMs?: number;
  /** Interpreter options before the driver (`['-S']`, `['-I']`...; default none, `['-S']` for a sandboxed PyPy, as a session). */
  interpreterArgs?: string[];
}

/** Options of one job: its own limits and a way to cancel it. */
export interface JobOptions {
  /** Cancels the job: a queued one is dropped, a running one's guest is ended. */
  signal?: AbortSignal;
  /** Limits of this job where they differ from the pool's (see the README, "A grader with a pool"). */
  limits?: Partial<Limits>;
  /** Session affinity: jobs with the same key run one after another in one long-lived guest, state kept. */
  key?: string;
}

export type PoolErrorKind = 'queue-full' | 'closed' | 'aborted';

/** A job the pool refused or dropped before it ran. */
export class PoolError extends Error {
  override readonly name = 'PoolError';
  constructor(
    readonly kind: PoolErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Options a pool sets itself for its guests, or that would share state between jobs. */
const REFUSED: Record<string, string> = {
  args: 'a pool runs its own driver; give a job its args',
  stdin: "a pool's guests read their job on stdin; give a job its stdin",
  signal: 'give each job its own signal (pool.run(job, { signal }))',
  vfs: 'one tree would be shared by every job; give files, tmpFiles or a policy instead',
  transport: 'a pool starts its own guests',
  traceFile: 'every guest would write the same file; use onCall',
  tty: "a pool's guests have no terminal",
};

function count(v: unknown, name: string, min: number, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)
    throw new OptionError(name, `expected an integer >= ${min}, got ${String(v)}`);
  return v;
}

export interface PoolSettings {
  size: number;
  concurrency: number;
  queueLimit: number;
  maxKeys: number;
  keyIdleMs: number;
  interpreterArgs: string[];
  /** Per-job timeout by default (ms, 0 = none): the pool's `timeout` or `limits.timeoutMs`. */
  timeoutMs: number;
  /** What every guest is started with (limits without the timeout: the pool times each job). */
  run: ControllerOptions;
}

export function poolSettings(o: PoolOptions): PoolSettings {
  if (!o || typeof o !== 'object') throw new OptionError('options', 'expected an object');
  for (const key of Object.keys(o))
    if (REFUSED[key] !== undefined && (o as Record<string, unknown>)[key] !== undefined)
      throw new OptionError(key, `not a pool option: ${REFUSED[key]}`);
  const { size, concurrency, queueLimit, maxKeys, keyIdleMs, interpreterArgs, timeout, ...run } = o;
  const sz = count(size, 'size', 0, 2);
  if (
    interpreterArgs !== undefined &&
    (!Array.isArray(interpreterArgs) ||
      interpreterArgs.some((a) => typeof a !== 'string' || !a.startsWith('-') || a === '-c'))
  ) {
    throw new OptionError('interpreterArgs', 'expected interpreter options such as ["-S"]');
  }
  const timeoutMs = count(
    timeout ?? run.limits?.timeoutMs,
    timeout !== undefined ? 'timeout' : 'limits.timeoutMs',
    0,
    0,
  );
  return {
    size: sz,
    concurrency: count(concurrency, 'concurrency', 1, Math.max(1, sz)),
    queueLimit: count(queueLimit, 'queueLimit', 0, 100),
    maxKeys: count(maxKeys, 'maxKeys', 0, 16),
    keyIdleMs: count(keyIdleMs, 'keyIdleMs', 1, 60_000),
    // A sandboxed PyPy's tree has no site to import: without -S every job's stderr would say so.
    interpreterArgs: interpreterArgs ?? (run.executable !== undefined ? ['-S'] : []),
    timeoutMs,
    run: { spareSupervisor: false, ...run, limits: { ...run.limits, timeoutMs: 0 } },
  };
}

/** Limits a warm guest cannot change once started: a job that sets one gets a guest started for it. */
export function needsOwnGuest(limits: Partial<Limits> | undefined): boolean {
  return Object.entries(limits ?? {}).some(([k, v]) => k !== 'timeoutMs' && v !== undefined);
}
