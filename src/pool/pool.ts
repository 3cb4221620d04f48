/**
 * A pool of warm guests: each one a Controller run already started, its interpreter up and
 * behind its walls, waiting on its stdin for one job. A job takes a warm guest, which runs it and
 * ends, and the next warm guest is started at once: no state is shared between jobs. Jobs with a
 * key run one after another in a long-lived guest of that key instead, state kept.
 */
import { Controller } from '../controller/controller.js';
import { LIBRARY_LIMITS, type Limits } from '../controller/options.js';
import { supervisorsGone } from '../controller/launch/spare.js';
import { checkJob, ONE_SHOT_DRIVER, type Job } from './driver.js';
import { driverArgs, FreshGuest, type Settled } from './fresh-guest.js';
import { KeyedGuest } from './keyed-guest.js';
import {
  needsOwnGuest,
  PoolError,
  poolSettings,
  type JobOptions,
  type PoolOptions,
  type PoolSettings,
} from './options.js';
import type { JobResult } from './result.js';
import { Latencies, type PoolStats } from './stats.js';

interface Pending {
  job: Job;
  key: string | undefined;
  limits: Partial<Limits>;
  signal: AbortSignal | undefined;
  submittedAt: number;
  settle: (r: JobResult | undefined, err?: unknown) => void;
  dropIfAborted: () => void;
}

/** A keyed job may change only what the pool checks per job: its timeout and its output cap. */
const KEYED_LIMITS = new Set(['timeoutMs', 'outputBytes']);

export class Pool {
  private readonly s: PoolSettings;
  private warm: FreshGuest[] = [];
  private readonly queue: Pending[] = [];
  private readonly keyed = new Map<string, KeyedGuest>();
  /** Every guest not yet ended, for close() to wait on. */
  private readonly live = new Set<{ ended: Promise<unknown> }>();
  private readonly latencies = new Latencies();
  private readonly idleWaiters: (() => void)[] = [];
  private readonly sweeper: NodeJS.Timeout;
  private running = 0;
  private done = 0;
  private failed = 0;
  private rejected = 0;
  /** Warm guests that ended before they had a job, in a row: the refill backs off. */
  private idleDeaths = 0;
  private idleDeath: Settled | undefined;
  private refillTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: PoolOptions = {}) {
    this.s = poolSettings(options);
    // The Controller's own checks, up front: a bad option fails here, not in every job.
    new Controller({ ...this.s.run, args: driverArgs(this.s.interpreterArgs, ONE_SHOT_DRIVER) });
    this.sweeper = setInterval(() => this.sweepKeys(), Math.min(this.s.keyIdleMs, 10_000));
    this.sweeper.unref();
    this.fill();
  }

  /** Runs a job; resolves to its result, or rejects (queue full, pool closed, aborted, a guest that could not start). */
  run(job: Job, options: JobOptions = {}): Promise<JobResult> {
    return new Promise<JobResult>((resolve, reject) => {
      const submittedAt = performance.now();
      checkJob(job);
      const { key, limits, signal } = this.checkOptions(options, job);
      if (this.closed) return this.refuse(reject, new PoolError('closed', 'the pool is closed: it takes no more jobs'));
      if (signal?.aborted)
        return this.refuse(
          reject,
          new PoolError('aborted', `job aborted before it ran (${String(signal.reason)})`, { cause: signal.reason }),
        );
      const p: Pending = {
        job,
        key,
        limits,
        signal,
        submittedAt,
        settle: (r, err) => {
          this.latencies.add(performance.now() - submittedAt);
          if (r && r.outcome === 'exited' && r.exitCode === 0) this.done++;
          else this.failed++;
          return r ? resolve(r) : reject(err);
        },
        dropIfAborted: () => {
          const at = this.queue.indexOf(p);
          if (at < 0) return;
          this.queue.splice(at, 1);
          p.settle(
            undefined,
            new PoolError('aborted', `job aborted while queued (${String(signal!.reason)})`, { cause: signal!.reason }),
          );
          this.wakeIdle();
        },
      };
      signal?.addEventListener('abort', p.dropIfAborted, { once: true });
      this.queue.push(p);
      this.pump();
      if (this.queue.includes(p) && this.queue.length > this.s.queueLimit) {
        this.queue.splice(this.queue.indexOf(p), 1);
        signal?.removeEventListener('abort', p.dropIfAborted);
        this.refuse(
          reject,
          new PoolError(
            'queue-full',
            `the pool's queue is full: ${this.running} jobs running, ${this.queue.length} waiting (queueLimit ${this.s.queueLimit}); try again later`,
          ),
        );
      }
    });
  }

  /** The pool's counters now. */
  stats(): PoolStats {
    return {
      warm: this.warm.filter((g) => g.usable && g.isReady).length,
      starting: this.warm.filter((g) => g.usable && !g.isReady).length,
      keyed: this.keyed.size,
      queued: this.queue.length,
      running: this.running,
      done: this.done,
      failed: this.failed,
      rejected: this.rejected,
      p50Ms: this.latencies.quantile(0.5),
      p99Ms: this.latencies.quantile(0.99),
    };
  }

  /**
   * Resolves once `size` warm guests wait for jobs, their interpreters up (for benchmarks and
   * tests); rejects with the reason when a warm guest ends before it had a job (it cannot start).
   */
  async ready(): Promise<void> {
    while (!this.closed && this.stats().warm < this.s.size) {
      if (this.idleDeath) throw idleDeathError(this.idleDeath);
      const waits = this.warm.filter((g) => !g.isReady).flatMap((g) => [g.ready, g.ended]);
      await Promise.race([...waits, new Promise((r) => setTimeout(r, 50))]);
    }
  }

  /** Resolves once no job is queued or running (new jobs are still taken meanwhile). */
  drain(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Takes no more jobs, lets the queued and running ones finish (`force`: drops the queued ones
   * and ends the running ones instead), then ends every warm and keyed guest and waits until no
   * process of the pool is left.
   */
  async close(options: { force?: boolean } = {}): Promise<void> {
    this.closed = true;
    clearTimeout(this.refillTimer);
    clearInterval(this.sweeper);
    if (options.force) {
      for (const p of this.queue.splice(0)) {
        p.signal?.removeEventListener('abort', p.dropIfAborted);
        p.settle(undefined, new PoolError('closed', 'the pool was closed before the job ran'));
      }
      for (const g of this.live) (g as FreshGuest | KeyedGuest).stop(new PoolError('closed', 'the pool was closed'));
    }
    await this.drain();
    for (const g of this.warm.splice(0)) g.stop(new PoolError('closed', 'the pool was closed'));
    for (const g of this.keyed.values()) g.stop(new PoolError('closed', 'the pool was closed'));
    this.keyed.clear();
    await Promise.all([...this.live].map((g) => g.ended));
    await supervisorsGone();
  }

  private refuse(reject: (err: unknown) => void, err: PoolError): void {
    this.rejected++;
    reject(err);
  }

  private checkOptions(
    o: JobOptions,
    job: Job,
  ): { key: string | undefined; limits: Partial<Limits>; signal: AbortSignal | undefined } {
    if (!o || typeof o !== 'object') throw new TypeError('options: expected { signal?, limits?, key? }');
    if (o.signal !== undefined && !(o.signal instanceof AbortSignal))
      throw new TypeError('options.signal: expected an AbortSignal');
    const limits = o.limits ?? {};
    if (typeof limits !== 'object') throw new TypeError('options.limits: expected an object of limits');
    for (const [k, v] of Object.entries(limits)) {
      if (!(k in LIBRARY_LIMITS)) throw new TypeError(`options.limits.${k}: unknown limit`);
      if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0))
        throw new TypeError(`options.limits.${k}: expected a non-negative integer`);
    }
    if (o.key !== undefined) {
      if (typeof o.key !== 'string' || o.key === '') throw new TypeError('options.key: expected a non-empty string');
      if (this.s.maxKeys === 0) throw new TypeError('options.key: this pool keeps no keyed guests (maxKeys: 0)');
      const fixed = Object.keys(limits).find((k) => !KEYED_LIMITS.has(k) && limits[k as keyof Limits] !== undefined);
      if (fixed)
        throw new TypeError(
          `options.limits.${fixed}: a keyed job may only change timeoutMs and outputBytes (its guest's other limits are the pool's)`,
        );
      if (job.stdin !== undefined)
        throw new TypeError("job.stdin: a keyed job's stdin is empty (its guest's stdin carries the jobs)");
    }
    return { key: o.key, limits, signal: o.signal };
  }

  /** Starts every queued job that can run now: a free slot, and for a keyed job its guest free. */
  private pump(): void {
    while (this.running < this.s.concurrency) {
      const at = this.queue.findIndex((p) => p.key === undefined || this.keyReady(p.key));
      if (at < 0) break;
      const [p] = this.queue.splice(at, 1);
      this.start(p!);
    }
    this.fill();
    this.wakeIdle();
  }

  private keyReady(key: string): boolean {
    const g = this.keyed.get(key);
    if (g?.alive) return !g.busy;
    return this.keyed.size < this.s.maxKeys || [...this.keyed.values()].some((k) => !k.busy);
  }

  private start(p: Pending): void {
    p.signal?.removeEventListener('abort', p.dropIfAborted);
    this.running++;
    const queuedMs = performance.now() - p.submittedAt;
    const timeoutMs = p.limits.timeoutMs ?? this.s.timeoutMs;
    const guest = p.key !== undefined ? this.keyedGuest(p.key) : this.freshGuest(p.limits);
    // The job's time starts when its guest is up (at once for a warm one).
    let timer: NodeJS.Timeout | undefined;
    let over = false;
    if (timeoutMs > 0) {
      void guest.ready.then(() => {
        if (!over)
          timer = setTimeout(
            () => guest.stop(new Error(`job timeout (${timeoutMs} ms)`), { name: 'timeout', value: timeoutMs }),
            timeoutMs,
          );
      });
    }
    const onAbort = () => guest.stop(p.signal!.reason);
    p.signal?.addEventListener('abort', onAbort, { once: true });
    let result: Promise<JobResult>;
    if (guest instanceof KeyedGuest) {
      result = guest.run(
        p.job,
        p.limits.outputBytes ?? this.s.run.limits?.outputBytes ?? LIBRARY_LIMITS.outputBytes,
        queuedMs,
      );
    } else {
      guest.give(p.job);
      result = guest.result(queuedMs);
    }
    // The job's slot is given back before its caller hears of the result: the counters it may
    // read then (stats()) no longer count the job as running.
    const release = () => {
      over = true;
      clearTimeout(timer);
      p.signal?.removeEventListener('abort', onAbort);
      this.running--;
    };
    void result
      .then(
        (r) => {
          if (r.guest === 'fresh' && r.run) {
            this.idleDeaths = 0;
            this.idleDeath = undefined;
          }
          release();
          p.settle(r);
        },
        (err: unknown) => {
          release();
          p.settle(undefined, err);
        },
      )
      .finally(() => this.pump());
  }

  /** A warm guest, or one started now when none is ready or the job's limits need their own. */
  private freshGuest(limits: Partial<Limits>): FreshGuest {
    if (needsOwnGuest(limits)) return this.startFresh({ ...this.s.run.limits, ...limits, timeoutMs: 0 });
    this.warm = this.warm.filter((g) => g.usable);
    const at = Math.max(
      0,
      this.warm.findIndex((g) => g.isReady),
    );
    return this.warm.splice(at, 1)[0] ?? this.startFresh();
  }

  private startFresh(limits?: Partial<Limits>): FreshGuest {
    const g = new FreshGuest(limits ? { ...this.s.run, limits } : this.s.run, this.s.interpreterArgs);
    this.track(g);
    return g;
  }

  private keyedGuest(key: string): KeyedGuest {
    const g = this.keyed.get(key);
    if (g?.alive) return g;
    if (this.keyed.size >= this.s.maxKeys) this.evictOne();
    const k = new KeyedGuest(key, this.s.run, this.s.interpreterArgs);
    this.keyed.set(key, k);
    this.track(k);
    void k.ended.then(() => {
      if (this.keyed.get(key) === k) this.keyed.delete(key);
      this.pump();
    });
    return k;
  }

  /** Ends the least recently used idle keyed guest (its key starts afresh next time). */
  private evictOne(): void {
    const idle = [...this.keyed.values()].filter((k) => !k.busy).sort((a, b) => a.lastUsed - b.lastUsed)[0];
    if (!idle) return;
    this.keyed.delete(idle.key);
    idle.stop(new Error(`key ${JSON.stringify(idle.key)} evicted (maxKeys ${this.s.maxKeys})`));
  }

  private sweepKeys(): void {
    const now = Date.now();
    for (const k of [...this.keyed.values()]) {
      if (!k.busy && now - k.lastUsed >= this.s.keyIdleMs) {
        this.keyed.delete(k.key);
        k.stop(new Error(`key ${JSON.stringify(k.key)} idle for ${this.s.keyIdleMs} ms`));
      }
    }
  }

  private track(g: FreshGuest | KeyedGuest): void {
    this.live.add(g);
    void g.ended.then(() => this.live.delete(g));
  }

  /** Keeps `size` warm guests; one that ends while it waits (it could not start) is replaced after a backoff. */
  private fill(): void {
    if (this.closed || this.refillTimer) return;
    while (this.warm.length < this.s.size) {
      const g = this.startFresh();
      this.warm.push(g);
      void g.ended.then(() => {
        const at = this.warm.indexOf(g);
        if (at < 0) return; // it had a job, or the pool took it away
        this.warm.splice(at, 1);
        this.idleDeaths++;
        this.idleDeath = g.settled;
        const delay = Math.min(5000, 50 * 2 ** Math.min(this.idleDeaths, 7));
        this.refillTimer = setTimeout(() => {
          this.refillTimer = undefined;
          this.fill();
        }, delay);
        this.refillTimer.unref();
      });
    }
  }

  private isIdle(): boolean {
    return this.queue.length === 0 && this.running === 0;
  }

  private wakeIdle(): void {
    if (!this.isIdle()) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }
}

/** Why a warm guest ended before it had a job. */
function idleDeathError(s: Settled): Error {
  if (s.error !== undefined) return s.error instanceof Error ? s.error : new Error(String(s.error));
  const r = s.result!;
  const detail = (r.stderr.toString() + r.guestStderr).trim().split('\n').slice(-3).join('\n');
  return new Error(
    `a warm guest ended before its job (${r.outcome}${r.exitCode !== null ? ` ${r.exitCode}` : ''}${r.signal ? ` ${r.signal}` : ''})${detail ? `: ${detail}` : ''}`,
  );
}
