/**
 * The producer side: puts jobs on a BullMQ queue and waits for their results. Attempts, backoff,
 * priorities, delays and removal are BullMQ's job options, passed through.
 */
import type { Job as BullJob, JobsOptions, Queue, QueueEvents } from 'bullmq';
import { bullmq } from './bullmq.js';
import type { Limits } from '../controller/options.js';
import type { Job } from '../pool/driver.js';
import { toWire, type QueueResult, type WireJob } from './wire.js';

export interface JobClientOptions {
  /** Redis URL (`redis://host:port/db`). */
  redis: string;
  /** The queue's name. */
  queue: string;
  /** BullMQ options for every job (`attempts`, `backoff`, `removeOnComplete`...). */
  defaultJobOptions?: JobsOptions;
}

export interface SubmitOptions extends JobsOptions {
  /** The job's limits where they differ from the worker's pool. */
  limits?: Partial<Limits>;
  /** How long submit() waits for the result (ms; default: as long as it takes). */
  waitMs?: number;
}

export class JobClient {
  readonly queue: Queue<WireJob, QueueResult>;
  readonly events: QueueEvents;

  constructor(o: JobClientOptions) {
    const connection = { url: o.redis, maxRetriesPerRequest: null };
    const { Queue, QueueEvents } = bullmq();
    this.queue = new Queue<WireJob, QueueResult>(o.queue, {
      connection,
      ...(o.defaultJobOptions ? { defaultJobOptions: o.defaultJobOptions } : {}),
    });
    this.events = new QueueEvents(o.queue, { connection });
    // BullMQ adds one 'closing' listener per job being waited for: many at once is normal here.
    this.queue.setMaxListeners(0);
    this.queue.on('error', () => undefined); // reconnects by itself; a command that fails rejects its caller
    this.events.on('error', () => undefined);
  }

  /** Puts a job on the queue; resolves to BullMQ's job (its id, its state...). */
  async add(job: Job, options: SubmitOptions = {}): Promise<BullJob<WireJob, QueueResult>> {
    const { limits, waitMs: _, ...bull } = options;
    return this.queue.add('run', toWire(job, limits), bull);
  }

  /**
   * Puts a job on the queue and resolves to its result once a worker has run it; rejects with
   * the reason when it ends in the failed set (after its attempts).
   */
  async submit(job: Job, options: SubmitOptions = {}): Promise<QueueResult> {
    await this.events.waitUntilReady();
    const added = await this.add(job, options);
    return added.waitUntilFinished(this.events, options.waitMs);
  }

  async close(): Promise<void> {
    await Promise.all([this.queue.close(), this.events.close()]);
  }
}
