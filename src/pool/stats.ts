/** The pool's counters, and latency percentiles over its recent jobs. */

export interface PoolStats {
  /** Warm guests waiting for a job, their interpreters up. */
  warm: number;
  /** Warm guests still starting. */
  starting: number;
  /** Long-lived guests kept for keys. */
  keyed: number;
  /** Jobs waiting for a slot. */
  queued: number;
  /** Jobs in a guest now. */
  running: number;
  /** Jobs that ended with exit status 0. */
  done: number;
  /** Jobs that ended otherwise: a non-zero status, a timeout or limit, a crash, an error, an abort. */
  failed: number;
  /** Jobs refused because the queue was full or the pool closed. */
  rejected: number;
  /** Median and 99th percentile, ms from `run()` to the job's end, over the last 1 000 jobs (null before any). */
  p50Ms: number | null;
  p99Ms: number | null;
}

const KEPT = 1000;

export class Latencies {
  private readonly ms: number[] = [];
  private next = 0;

  add(ms: number): void {
    if (this.ms.length < KEPT) this.ms.push(ms);
    else this.ms[this.next] = ms;
    this.next = (this.next + 1) % KEPT;
  }

  /** The q-th quantile (0..1), nearest rank. */
  quantile(q: number): number | null {
    if (this.ms.length === 0) return null;
    const s = [...this.ms].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
  }
}
