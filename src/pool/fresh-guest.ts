/**
 * A guest started before its job: a Controller run of the one-shot driver, its interpreter up and
 * behind its walls, blocked reading its stdin. Given a job, it runs it and ends; its result is
 * the job's.
 */
import { Controller } from '../controller/controller.js';
import type { ControllerOptions } from '../controller/options.js';
import type { LimitHit, RunResult } from '../controller/result.js';
import { jobHeader, ONE_SHOT_DRIVER, type Job } from './driver.js';
import { endedResult, type JobResult } from './result.js';
import { JobInput } from './job-input.js';

/** How a guest's run settled: its result, or what it rejected with. */
export type Settled = { result: RunResult; error?: undefined } | { error: unknown; result?: undefined };

export function driverArgs(interpreterArgs: string[], driver: string): string[] {
  return [...interpreterArgs, '-c', driver];
}

export class FreshGuest {
  private readonly input = new JobInput();
  private readonly abort = new AbortController();
  /** The run, settled when the guest has ended (with or without a job). */
  readonly ended: Promise<Settled>;
  /** Set when it ended before it was given a job. */
  settled: Settled | undefined;
  private given = false;
  private endedBy: LimitHit | null = null;
  private givenAt = 0;

  constructor(options: ControllerOptions, interpreterArgs: string[]) {
    const run = new Controller({
      ...options,
      args: driverArgs(interpreterArgs, ONE_SHOT_DRIVER),
      stdin: this.input,
      signal: this.abort.signal,
    }).run();
    this.ended = run.then(
      (result) => ({ result }),
      (error: unknown) => ({ error }),
    );
    void this.ended.then((s) => {
      if (!this.given) this.settled = s;
    });
  }

  /** Whether it can still take a job (it has not ended on its own while it waited). */
  get usable(): boolean {
    return !this.given && this.settled === undefined;
  }

  /** Whether it is waiting for its job (its interpreter is up, reading its stdin). */
  get isReady(): boolean {
    return this.input.isReady;
  }

  /** Settles when the guest waits for its job. */
  get ready(): Promise<void> {
    return this.input.ready;
  }

  /** Hands the job over; the guest reads it, runs it, and ends. */
  give(job: Job): void {
    this.given = true;
    this.givenAt = performance.now();
    // A guest given its job before it was up: the job's time starts when it is.
    void this.input.ready.then(() => (this.givenAt = Math.max(this.givenAt, performance.now())));
    this.input.write(jobHeader(job));
    if (job.stdin !== undefined) this.input.write(job.stdin);
    this.input.end();
  }

  /** Ms since the job was handed over. */
  elapsedMs(): number {
    return performance.now() - this.givenAt;
  }

  /** Ends the guest: the job's signal, the pool closing, or its timer (`as`, a limit it reports). */
  stop(reason: unknown, as?: LimitHit): void {
    if (as && !this.abort.signal.aborted) this.endedBy = as;
    this.abort.abort(reason);
  }

  /** The job's result once the guest has ended (or the error it ended with). */
  async result(queuedMs: number): Promise<JobResult> {
    const s = await this.ended;
    return endedResult(s, this.endedBy, this.elapsedMs(), queuedMs, 'fresh');
  }
}
