/**
 * A worker that takes jobs from a BullMQ queue on Redis and runs them through a Pool. Retries,
 * backoff, timeouts of the queue, dead letters (the failed set), rate limits and the recovery of
 * jobs whose worker died (stalled jobs) are BullMQ's: this only runs each job and says whether it
 * produced an answer.
 */
import os from 'node:os';
import type { Job as BullJob, Worker } from 'bullmq';
import { bullmq } from './bullmq.js';
import { Pool } from '../pool/pool.js';
import type { PoolOptions } from '../pool/options.js';
import type { JobResult } from '../pool/result.js';
import { fromWire, toQueueResult, type QueueResult } from './wire.js';

export interface QueueWorkerOptions {
  /** Redis URL (`redis://host:port/db`). */
  redis: string;
  /** The queue's name. */
  queue: string;
  /** Jobs at once (default 2): the pool's concurrency and its warm guests. */
  concurrency?: number;
  /** Guest options for the pool (the interpreter, limits, policy...). */
  pool?: PoolOptions;
  /** BullMQ's lock on a job being run (ms, default 30 000): a worker that dies loses it, and the job is taken again. */
  lockDurationMs?: number;
  /** How often BullMQ looks for jobs whose lock expired (ms, default 30 000). */
  stalledIntervalMs?: number;
  /** How often a job may stall (its worker died) before it goes to the failed set (default 1). */
  maxStalledCount?: number;
  /** At most this many jobs per window (BullMQ's rate limiter). */
  rateLimit?: { max: number; durationMs: number };
  /** Where the worker says what it does (default: nowhere). */
  log?: (line: string) => void;
}

/** Whether a result is an answer to the job, or the guest failed to give one (then BullMQ retries it). */
function failure(r: JobResult): string | undefined {
  if (r.outcome !== 'signaled' && r.outcome !== 'killed') return undefined;
  const tail = r.stderr.toString().trim().split('\n').slice(-3).join('\n');
  return `the guest ${r.outcome === 'signaled' ? `died of ${r.signal} (${r.signalDescription})` : 'was ended'} before it answered${tail ? `: ${tail}` : ''}`;
}

export class QueueWorker {
  readonly pool: Pool;
  readonly worker: Worker;
  /** This worker's name in results and logs: host name and process id. */
  readonly id = `${os.hostname()}:${process.pid}`;
  private readonly log: (line: string) => void;

  constructor(o: QueueWorkerOptions) {
    const concurrency = o.concurrency ?? 2;
    this.log = o.log ?? (() => undefined);
    this.pool = new Pool({ size: concurrency, concurrency, queueLimit: concurrency, ...o.pool });
    this.worker = new (bullmq().Worker)(o.queue, (job) => this.process(job), {
      connection: { url: o.redis, maxRetriesPerRequest: null },
      concurrency,
      ...(o.lockDurationMs !== undefined ? { lockDuration: o.lockDurationMs } : {}),
      ...(o.stalledIntervalMs !== undefined ? { stalledInterval: o.stalledIntervalMs } : {}),
      ...(o.maxStalledCount !== undefined ? { maxStalledCount: o.maxStalledCount } : {}),
      ...(o.rateLimit ? { limiter: { max: o.rateLimit.max, duration: o.rateLimit.durationMs } } : {}),
    });
    // Connection errors (Redis restarting) are reported, not thrown: ioredis reconnects by itself.
    this.worker.on('error', (err) => this.log(`redis: ${err.message}`));
    this.worker.on(
      'failed',
      (job, err) => job && this.log(`job ${job.id} failed (attempt ${job.attemptsMade}): ${err.message}`),
    );
  }

  /** Resolves once the worker is connected and taking jobs. */
  async ready(): Promise<void> {
    await this.worker.waitUntilReady();
    this.log(`worker ${this.id} taking jobs from "${this.worker.name}"`);
  }

  private async process(bull: BullJob): Promise<QueueResult> {
    let parsed: ReturnType<typeof fromWire>;
    try {
      parsed = fromWire(bull.data);
    } catch (err) {
      // A malformed job would fail the same way every time: straight to the failed set.
      throw new (bullmq().UnrecoverableError)(`bad job: ${(err as Error).message}`);
    }
    let r: JobResult;
    try {
      r = await this.pool.run(parsed.job, { limits: parsed.limits });
    } catch (err) {
      if (err instanceof TypeError) throw new (bullmq().UnrecoverableError)(`bad job: ${err.message}`);
      throw err;
    }
    const failed = failure(r);
    if (failed) throw new Error(failed);
    return toQueueResult(r, this.id);
  }

  /**
   * Takes no more jobs and lets the running ones finish within graceMs. `finished`: all done, the
   * pool closed. `abandoned`: some still ran; the process should exit now, and BullMQ gives
   * those jobs to another worker once their locks expire (the stalled-job check).
   */
  async shutdown(graceMs = 30_000): Promise<'finished' | 'abandoned'> {
    this.log(`worker ${this.id} shutting down: no more jobs taken, waiting up to ${graceMs} ms for the running ones`);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'abandoned'>((resolve) => (timer = setTimeout(() => resolve('abandoned'), graceMs)));
    const how = await Promise.race([this.worker.close().then(() => 'finished' as const), late]);
    clearTimeout(timer);
    if (how === 'finished') await this.pool.close();
    this.log(
      how === 'finished'
        ? `worker ${this.id} finished its jobs and stopped`
        : `worker ${this.id} stopped with jobs still running: BullMQ gives them to another worker when their locks expire`,
    );
    return how;
  }
}
