/**
 * `pypy-box worker`: takes jobs from a BullMQ queue on Redis and runs them in a pool of warm
 * guests, until SIGTERM or SIGINT; then it takes no more jobs and lets the running ones finish
 * within the grace period (later, BullMQ hands them to another worker).
 */
import fs from 'node:fs';
import yargs from 'yargs';
import type { Limits } from '../controller/options.js';
import { Policy } from '../policy/policy.js';
import { loadPolicyFile, parseSize, policyFromSpec } from '../policy/spec.js';
import type { PoolOptions } from '../pool/options.js';
import { QueueWorker } from '../queue/worker.js';
import { ExitCode } from './exit-codes.js';

interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

class WorkerUsage extends Error {}

function parser(args: string[]) {
  return yargs(args)
    .scriptName('pypy-box worker')
    .usage(
      'Usage: pypy-box worker --redis URL --queue NAME [options]\n\nRun jobs from a BullMQ queue on Redis in sandboxed guests (JobClient.submit() puts them there).',
    )
    .option('redis', { type: 'string', demandOption: true, describe: 'Redis URL', requiresArg: true })
    .option('queue', { type: 'string', demandOption: true, describe: 'the queue to take jobs from', requiresArg: true })
    .option('concurrency', {
      type: 'number',
      default: 2,
      describe: 'jobs at once (each in a guest of its own)',
      requiresArg: true,
    })
    .option('warm', { type: 'number', describe: 'warm guests kept ready (default: --concurrency)', requiresArg: true })
    .option('python', { type: 'string', describe: 'stock interpreter: pypy3, python3 or a path', requiresArg: true })
    .option('executable', {
      type: 'string',
      describe: 'a sandboxed PyPy binary instead (with --lib-path)',
      requiresArg: true,
    })
    .option('lib-path', {
      type: 'string',
      describe: "the sandboxed PyPy's tree (lib-python/, lib_pypy/)",
      requiresArg: true,
    })
    .option('timeout', { type: 'number', describe: 'seconds a job may run (a job may set its own)', requiresArg: true })
    .option('memory', { type: 'string', describe: 'memory cap of each guest (default 1g)', requiresArg: true })
    .option('output-limit', { type: 'string', describe: "a job's stdout+stderr (default 1m)", requiresArg: true })
    .option('cpu-limit', { type: 'number', describe: 'CPU seconds of each guest', requiresArg: true })
    .option('tmp-quota', { type: 'string', describe: 'bytes a job may store in /tmp (default 64m)', requiresArg: true })
    .option('allow-read', {
      type: 'string',
      array: true,
      describe: 'grant read-only access to a host path (repeatable)',
      requiresArg: true,
    })
    .option('policy', { type: 'string', describe: 'JSON policy file (allowRead, rules, tmp, env)', requiresArg: true })
    .option('grace', {
      type: 'number',
      default: 30,
      describe: 'seconds running jobs get to finish after SIGTERM/SIGINT',
      requiresArg: true,
    })
    .option('lock-duration', {
      type: 'number',
      describe: "seconds of BullMQ's lock on a running job (default 30): a dead worker's job is taken again after it",
      requiresArg: true,
    })
    .option('stalled-interval', {
      type: 'number',
      describe: 'seconds between BullMQ checks for jobs whose worker died (default 30)',
      requiresArg: true,
    })
    .option('max-stalled', {
      type: 'number',
      describe: 'times a job may lose its worker before it fails (default 1)',
      requiresArg: true,
    })
    .option('rate-limit', {
      type: 'string',
      describe: 'at most N jobs per S seconds: N/S (BullMQ rate limiter)',
      requiresArg: true,
    })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'no log lines on stderr' })
    .strict()
    .wrap(null)
    .exitProcess(false)
    .fail((msg, err) => {
      throw new WorkerUsage(msg ?? err?.message ?? 'bad command line');
    })
    .help();
}

function positive(v: number | undefined, flag: string, whole = false): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isFinite(v) || v <= 0 || (whole && !Number.isInteger(v)))
    throw new WorkerUsage(`${flag} expects a ${whole ? 'whole ' : ''}number above 0, got ${v}`);
  return v;
}

function size(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  try {
    return parseSize(v, flag);
  } catch (err) {
    throw new WorkerUsage((err as Error).message, { cause: err });
  }
}

function poolOptions(o: ReturnType<ReturnType<typeof parser>['parseSync']>): PoolOptions {
  const limits: Partial<Limits> = {};
  const sec = (v: number | undefined, flag: string) =>
    v === undefined ? undefined : Math.round(positive(v, flag)! * 1000);
  const set = <K extends keyof Limits>(k: K, v: number | undefined) => v !== undefined && (limits[k] = v);
  set('timeoutMs', sec(o.timeout, '--timeout'));
  set('memoryBytes', size(o.memory, '--memory'));
  set('outputBytes', size(o['output-limit'], '--output-limit'));
  set('tmpBytes', size(o['tmp-quota'], '--tmp-quota'));
  set('cpuSeconds', positive(o['cpu-limit'], '--cpu-limit', true));
  const policy = new Policy();
  let env: Record<string, string> | undefined;
  if (o.policy) {
    const spec = loadPolicyFile(o.policy);
    policyFromSpec(spec, policy);
    env = spec.env;
    if (spec.tmp?.quota !== undefined && limits.tmpBytes === undefined) limits.tmpBytes = Number(spec.tmp.quota);
  }
  for (const p of (o['allow-read'] ?? []).flatMap((v) => v.split(',')).filter(Boolean)) {
    if (!fs.existsSync(p)) throw new WorkerUsage(`--allow-read: ${p}: no such file or directory`);
    policy.allowRead(p, { reason: `read grant for ${p} (--allow-read)` });
  }
  const warm = o.warm === undefined ? undefined : o.warm === 0 ? 0 : positive(o.warm, '--warm', true);
  return {
    ...(o.python !== undefined ? { python: o.python } : {}),
    ...(o.executable !== undefined ? { executable: o.executable } : {}),
    ...(o['lib-path'] !== undefined ? { libPath: o['lib-path'] } : {}),
    ...(env ? { env } : {}),
    ...(warm !== undefined ? { size: warm } : {}),
    policy,
    limits,
  };
}

function rateLimit(v: string | undefined): { max: number; durationMs: number } | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+)\/(\d+(?:\.\d+)?)$/.exec(v);
  if (!m || Number(m[1]) < 1 || Number(m[2]) <= 0)
    throw new WorkerUsage(`--rate-limit expects N/SECONDS (10/1: ten jobs a second), got ${JSON.stringify(v)}`);
  return { max: Number(m[1]), durationMs: Math.round(Number(m[2]) * 1000) };
}

/** Runs until SIGTERM or SIGINT; the exit code says whether the running jobs finished (0) or were left to BullMQ (1). */
export async function worker(args: string[], io: Io): Promise<number> {
  let w: QueueWorker;
  let graceMs: number;
  try {
    const o = parser(args).parseSync();
    if (o.help) return 0;
    graceMs = Math.round((o.grace === 0 ? 0 : positive(o.grace, '--grace')!) * 1000);
    const ms = (v: number | undefined, flag: string) =>
      v === undefined ? undefined : Math.round(positive(v, flag)! * 1000);
    const concurrency = positive(o.concurrency, '--concurrency', true)!;
    const pool = poolOptions(o);
    const maxStalled = o['max-stalled'] === 0 ? 0 : positive(o['max-stalled'], '--max-stalled', true);
    const rate = rateLimit(o['rate-limit']);
    const lockDurationMs = ms(o['lock-duration'], '--lock-duration');
    const stalledIntervalMs = ms(o['stalled-interval'], '--stalled-interval');
    w = new QueueWorker({
      redis: o.redis,
      queue: o.queue,
      concurrency,
      pool,
      ...(lockDurationMs !== undefined ? { lockDurationMs } : {}),
      ...(stalledIntervalMs !== undefined ? { stalledIntervalMs } : {}),
      ...(maxStalled !== undefined ? { maxStalledCount: maxStalled } : {}),
      ...(rate ? { rateLimit: rate } : {}),
      log: o.quiet ? () => undefined : (line) => io.stderr.write(`[pypy-box] ${line}\n`),
    });
  } catch (err) {
    if (err instanceof WorkerUsage || err instanceof TypeError || (err as Error).name === 'PolicySpecError') {
      io.stderr.write(`pypy-box: ${(err as Error).message}\n(see pypy-box worker --help)\n`);
      return ExitCode.usage;
    }
    throw err;
  }
  const stop = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  await w.ready();
  const sig = await stop;
  io.stderr.write(`[pypy-box] got ${sig}\n`);
  const how = await w.shutdown(graceMs);
  // Jobs still running: exit now (their guests end with this process); their locks lapse and
  // BullMQ's stalled-job check gives them to another worker.
  if (how === 'abandoned') process.exit(1);
  return 0;
}
