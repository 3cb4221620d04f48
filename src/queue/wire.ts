/**
 * Jobs and results as they travel through Redis: JSON, bytes as base64. A job read from the
 * queue is checked like any input from outside before it reaches a pool.
 */
import type { Limits } from '../controller/options.js';
import { checkJob, type Job } from '../pool/driver.js';
import type { JobResult } from '../pool/result.js';

/** A job's data in the queue. */
export interface WireJob {
  code: string;
  name?: string;
  args?: string[];
  /** Input files in /tmp, base64. */
  files?: Record<string, string>;
  /** stdin, base64. */
  stdin?: string;
  limits?: Partial<Limits>;
}

/** A job's result as the queue keeps it: the output as text (UTF-8, bad bytes replaced). */
export interface QueueResult {
  outcome: JobResult['outcome'];
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  limit: JobResult['limit'];
  stdout: string;
  stderr: string;
  durationMs: number;
  /** The walls the guest ran behind. */
  walls: string[];
  /** Denials counted in the run. */
  denials: number;
  /** The worker that ran it (its host name and process id). */
  worker: string;
}

export function toWire(job: Job, limits?: Partial<Limits>): WireJob {
  checkJob(job);
  const files = job.files
    ? Object.fromEntries(Object.entries(job.files).map(([k, v]) => [k, Buffer.from(v).toString('base64')]))
    : undefined;
  return {
    code: job.code,
    ...(job.name !== undefined ? { name: job.name } : {}),
    ...(job.args ? { args: job.args } : {}),
    ...(files ? { files } : {}),
    ...(job.stdin !== undefined ? { stdin: Buffer.from(job.stdin).toString('base64') } : {}),
    ...(limits ? { limits } : {}),
  };
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function bytes(v: unknown, name: string): Buffer {
  if (typeof v !== 'string' || !BASE64.test(v)) throw new TypeError(`${name}: expected base64`);
  return Buffer.from(v, 'base64');
}

/** The job and its limits from the queue's data; throws naming the field that is wrong. */
export function fromWire(data: unknown): { job: Job; limits: Partial<Limits> | undefined } {
  if (!data || typeof data !== 'object') throw new TypeError('job data: expected an object');
  const d = data as Record<string, unknown>;
  if (d.files !== undefined && (typeof d.files !== 'object' || d.files === null || Array.isArray(d.files)))
    throw new TypeError('files: expected { name: base64 }');
  const files =
    d.files === undefined
      ? undefined
      : Object.fromEntries(Object.entries(d.files).map(([k, v]) => [k, bytes(v, `files[${JSON.stringify(k)}]`)]));
  const job = {
    code: d.code,
    name: d.name,
    args: d.args,
    files,
    stdin: d.stdin === undefined ? undefined : bytes(d.stdin, 'stdin'),
  } as Job;
  for (const k of Object.keys(job) as (keyof Job)[]) if (job[k] === undefined) delete job[k];
  checkJob(job);
  const limits = d.limits;
  if (limits !== undefined && (typeof limits !== 'object' || limits === null || Array.isArray(limits)))
    throw new TypeError('limits: expected an object');
  return { job, limits: limits as Partial<Limits> | undefined };
}

export function toQueueResult(r: JobResult, worker: string): QueueResult {
  return {
    outcome: r.outcome,
    exitCode: r.exitCode,
    signal: r.signal,
    timedOut: r.timedOut,
    limit: r.limit,
    stdout: r.stdout.toString('utf8'),
    stderr: r.stderr.toString('utf8'),
    durationMs: Math.round(r.durationMs * 1000) / 1000,
    walls: r.run?.walls ?? [],
    denials: r.run?.denials ?? 0,
    worker,
  };
}
