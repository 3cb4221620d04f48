/** What a job resolves to: how it ended and its output, timed from when its guest took it. */
import { SandboxError, type LimitHit, type RunResult } from '../controller/result.js';

export interface JobResult extends Pick<
  RunResult,
  'outcome' | 'exitCode' | 'signal' | 'signalDescription' | 'timedOut' | 'limit' | 'stdout' | 'stderr'
> {
  /** Ms from the job's handing over to its end. */
  durationMs: number;
  /** Ms the job waited in the queue. */
  queuedMs: number;
  /** `fresh` (a guest of its own, ended with the job) or `keyed` (its key's long-lived guest). */
  guest: 'fresh' | 'keyed';
  /**
   * The Controller's result for the guest when it ended with this job (always for a fresh guest):
   * its walls, calls, denials and filesystem (`run.vfs.snapshot('/tmp')`).
   */
  run?: RunResult;
}

/** A fresh guest's result as a job's. */
function fromRun(run: RunResult, durationMs: number, queuedMs: number, guest: JobResult['guest'] = 'fresh'): JobResult {
  const { outcome, exitCode, signal, signalDescription, timedOut, limit, stdout, stderr } = run;
  return {
    outcome,
    exitCode,
    signal,
    signalDescription,
    timedOut,
    limit,
    stdout,
    stderr,
    durationMs,
    queuedMs,
    guest,
    run,
  };
}

/** A guest the pool's per-job timer ended: reported as the Controller reports its own timeout. */
function asTimeout(r: JobResult, timeoutMs: number): JobResult {
  return {
    ...r,
    outcome: 'timeout',
    timedOut: true,
    exitCode: null,
    signal: null,
    signalDescription: null,
    limit: { name: 'timeout', value: timeoutMs },
  };
}

/**
 * A guest's end as its job's result. A guest the pool ended itself (its timer, the job's output
 * cap) is reported as that limit; any other error of the run (an abort by the job's signal, a
 * protocol violation, a guest that could not start) is the job's error.
 */
export function endedResult(
  s: { result?: RunResult; error?: unknown },
  endedBy: LimitHit | null,
  durationMs: number,
  queuedMs: number,
  guest: JobResult['guest'],
): JobResult {
  const run =
    s.result ?? (endedBy && s.error instanceof SandboxError && s.error.kind === 'aborted' ? s.error.result : undefined);
  if (!run) throw s.error;
  const r = fromRun(run, durationMs, queuedMs, guest);
  if (!endedBy) return r;
  if (endedBy.name === 'timeout') return asTimeout(r, endedBy.value);
  return { ...r, outcome: 'limit', exitCode: null, signal: null, signalDescription: null, limit: endedBy };
}
