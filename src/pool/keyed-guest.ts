/**
 * A long-lived guest for one key: the loop driver runs the key's jobs one after another in one
 * namespace, so state (globals, imports, files in /tmp) carries over between them. The pool
 * times each job and caps its output itself, since the run's own limits count the guest's life.
 */
import { randomBytes } from 'node:crypto';
import { Controller } from '../controller/controller.js';
import type { ControllerOptions } from '../controller/options.js';
import type { LimitHit } from '../controller/result.js';
import { jobHeader, LOOP_DRIVER, type Job } from './driver.js';
import { driverArgs, type Settled } from './fresh-guest.js';
import { JobInput } from './job-input.js';
import { endedResult, type JobResult } from './result.js';

interface Current {
  nonce: string;
  stdout: Buffer[];
  stderr: Buffer;
  bytes: number;
  outputBytes: number;
  startedAt: number;
  queuedMs: number;
  finish: (r: JobResult) => void;
}

export class KeyedGuest {
  private readonly input = new JobInput();
  private readonly abort = new AbortController();
  readonly ended: Promise<Settled>;
  private current: Current | undefined;
  /** Why the pool ended it, when it did (the output limit). */
  private endedBy: LimitHit | null = null;
  lastUsed = Date.now();
  alive = true;

  constructor(
    readonly key: string,
    options: ControllerOptions,
    interpreterArgs: string[],
  ) {
    const limits = { ...options.limits, outputBytes: 0, timeoutMs: 0 };
    const run = new Controller({
      ...options,
      limits,
      args: driverArgs(interpreterArgs, LOOP_DRIVER),
      stdin: this.input,
      stdout: (b) => this.out(b),
      stderr: (b) => this.err(b),
      signal: this.abort.signal,
    }).run();
    this.ended = run.then(
      (result) => ({ result }),
      (error: unknown) => ({ error }),
    );
    void this.ended.then(() => (this.alive = false));
  }

  /** Settles when the guest waits for its first job. */
  get ready(): Promise<void> {
    return this.input.ready;
  }

  get busy(): boolean {
    return this.current !== undefined;
  }

  /**
   * Runs one job; resolves when the driver reports its end, or when the guest ends (a crash, a
   * limit, a stop), in which case the run's result or error is the job's.
   */
  run(job: Job, outputBytes: number, queuedMs: number): Promise<JobResult> {
    return new Promise<JobResult>((resolve, reject) => {
      const nonce = randomBytes(16).toString('hex');
      this.current = {
        nonce,
        stdout: [],
        stderr: Buffer.alloc(0),
        bytes: 0,
        outputBytes,
        startedAt: performance.now(),
        queuedMs,
        finish: resolve,
      };
      const cur = this.current;
      void this.input.ready.then(() => (cur.startedAt = Math.max(cur.startedAt, performance.now())));
      void this.ended.then((s) => {
        if (this.current !== cur) return;
        this.current = undefined;
        try {
          const r = endedResult(s, this.endedBy, performance.now() - cur.startedAt, queuedMs, 'keyed');
          resolve({ ...r, stdout: Buffer.concat(cur.stdout), stderr: cur.stderr });
        } catch (err) {
          reject(err);
        }
      });
      this.lastUsed = Date.now();
      this.input.write(jobHeader({ ...job, stdin: undefined }, nonce));
    });
  }

  /** Ends the guest; a job in it ends with it (as `as`, when the pool ended it for a limit). */
  stop(reason: unknown, as?: LimitHit): void {
    if (as && this.alive) this.endedBy = as;
    this.alive = false;
    this.abort.abort(reason);
    this.input.end();
  }

  private out(b: Buffer): void {
    const cur = this.current;
    // Output with no job running (a thread left behind): the guest is no longer to be trusted.
    if (!cur) return this.stop(new Error(`the guest of key ${JSON.stringify(this.key)} wrote output between jobs`));
    if (this.count(cur, b.length)) cur.stdout.push(Buffer.from(b));
  }

  private err(b: Buffer): void {
    const cur = this.current;
    if (!cur) return this.stop(new Error(`the guest of key ${JSON.stringify(this.key)} wrote output between jobs`));
    const all = Buffer.concat([cur.stderr, b]);
    const mark = Buffer.from(`\0pypy-box-end ${cur.nonce} `);
    const at = all.indexOf(mark);
    if (at < 0) {
      // The job's own stderr counts against its output limit; a marker's start may still come.
      if (this.count(cur, b.length)) cur.stderr = all;
      return;
    }
    const nl = all.indexOf(0x0a, at);
    if (nl < 0) {
      cur.stderr = all;
      return;
    }
    const status = Number(all.subarray(at + mark.length, nl).toString());
    if (nl + 1 !== all.length || !Number.isInteger(status))
      return this.stop(new Error(`the guest of key ${JSON.stringify(this.key)} wrote past the end of its job`));
    this.current = undefined;
    this.lastUsed = Date.now();
    const stdout = Buffer.concat(cur.stdout);
    const stderr = all.subarray(0, at);
    cur.finish({
      outcome: 'exited',
      exitCode: status,
      signal: null,
      signalDescription: null,
      timedOut: false,
      limit: null,
      stdout,
      stderr,
      durationMs: performance.now() - cur.startedAt,
      queuedMs: cur.queuedMs,
      guest: 'keyed',
    });
  }

  /** Counts a job's output; past its cap the guest is ended and the job with it (limit `output`). */
  private count(cur: Current, n: number): boolean {
    cur.bytes += n;
    if (cur.outputBytes > 0 && cur.bytes > cur.outputBytes) {
      this.stop(new Error('output limit'), { name: 'output', value: cur.outputBytes });
      return false;
    }
    return true;
  }
}
