/**
 * Bench rows for pools and queue workers: jobs per second of a Pool of 1, 2 and 4 warm guests
 * against one Controller run at a time, and of one and two `pypy-box worker` processes on one
 * Redis on loopback (skipped without redis-server).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { closeSpareSupervisor, Controller, JobClient, Pool } from '../src/index.js';
import { measureUtilisation, type Utilisation } from './cpu-time.js';
import type { Row } from './row.js';

const CODE = 'import json\nprint(json.dumps(sorted(str(i * i) for i in range(200)))[:20])';

function since(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function sequentialRate(jobs: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < jobs; k++) {
    const r = await new Controller({ python: 'pypy3', args: ['-c', CODE] }).run();
    if (r.exitCode !== 0) throw new Error(`bench job failed: ${r.stderr.toString()}`);
  }
  return jobs / since(t0);
}

async function poolRate(size: number, jobs: number): Promise<{ rate: number; p50: number; p99: number }> {
  const pool = new Pool({ python: 'pypy3', size, queueLimit: jobs });
  await pool.ready();
  const t0 = process.hrtime.bigint();
  const results = await Promise.all(Array.from({ length: jobs }, () => pool.run({ code: CODE })));
  const rate = jobs / since(t0);
  if (results.some((r) => r.exitCode !== 0)) throw new Error('a bench job failed in the pool');
  const { p50Ms, p99Ms } = pool.stats();
  await pool.close();
  return { rate, p50: p50Ms!, p99: p99Ms! };
}

/** Pools of 1, 2 and 4 against one Controller run at a time; returns the Pool of 2's rate. */
export async function poolRows(rows: Row[], quick: boolean): Promise<number> {
  const jobs = quick ? 16 : 48;
  const seq = await sequentialRate(jobs);
  let two = seq;
  for (const size of [1, 2, 4]) {
    const p = await poolRate(size, jobs);
    if (size === 2) two = p.rate;
    rows.push({
      name: `${jobs} jobs (stock pypy3, a fresh guest each), Pool of ${size} vs one Controller run at a time`,
      pypyBox: p.rate,
      baseline: seq,
      unit: 'jobs/s',
      ratio: seq / p.rate,
      ...(size === 2 ? { target: `>= 1.5x on ${os.cpus().length} cores (both busy)`, met: p.rate / seq >= 1.5 } : {}),
      note: `${(p.rate / seq).toFixed(2)}x the rate; latency p50 ${p.p50.toFixed(0)} ms, p99 ${p.p99.toFixed(0)} ms`,
    });
  }
  await utilisationRow(rows, quick);
  return two;
}

/** A CPU-bound job: a few hundred ms of pure computation in pypy3, after its start-up. */
const CPU_BOUND = 'n = 0\nfor i in range(100000000):\n    n += i * i % 7\nprint(n)';

async function sequentialCpu(jobs: number): Promise<void> {
  for (let k = 0; k < jobs; k++) {
    const r = await new Controller({ python: 'pypy3', args: ['-c', CPU_BOUND] }).run();
    if (r.exitCode !== 0) throw new Error(`bench job failed: ${r.stderr.toString()}`);
  }
  await closeSpareSupervisor(); // reaped: its time counts too
}

async function poolCpu(jobs: number): Promise<void> {
  const pool = new Pool({ python: 'pypy3', size: 2, queueLimit: jobs });
  const results = await Promise.all(Array.from({ length: jobs }, () => pool.run({ code: CPU_BOUND })));
  if (results.some((r) => r.exitCode !== 0)) throw new Error('a bench job failed in the pool');
  await pool.close();
  await closeSpareSupervisor(); // every supervisor torn down and reaped: its guests' time counts
}

const split = (u: Utilisation) =>
  `controller ${u.controllerPercent.toFixed(0)}% + guests and supervisors ${u.guestsPercent.toFixed(0)}%, ${u.wallSeconds.toFixed(1)} s`;

/**
 * How busy the machine's cores are kept (all CPU time over wall time, controller and guests) while
 * a Pool of 2 runs a stream of CPU-bound jobs, beside one Controller run at a time.
 */
export async function utilisationRow(rows: Row[], quick: boolean): Promise<void> {
  const cores = os.cpus().length;
  const jobs = quick ? 8 : 24;
  const seq = await measureUtilisation(cores, () => sequentialCpu(jobs));
  const two = await measureUtilisation(cores, () => poolCpu(jobs));
  rows.push({
    name: `CPU utilisation of ${cores} cores: ${jobs} CPU-bound jobs (stock pypy3), Pool of 2 vs one Controller run at a time`,
    pypyBox: two.percent,
    baseline: seq.percent,
    unit: `% of ${cores} cores`,
    ratio: seq.percent / two.percent,
    target: `keeps both cores busy (>= 90%)`,
    met: two.percent >= 90,
    note: `pool: ${split(two)}; one at a time: ${split(seq)}`,
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function redisServer(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

function startWorker(cli: string, url: string, queue: string): Promise<ChildProcess> {
  const w = spawn(
    process.execPath,
    [cli, 'worker', '--redis', url, '--queue', queue, '--concurrency', '2', '--python', 'pypy3'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let log = '';
    w.stderr!.on('data', (b: Buffer) => {
      log += b.toString();
      if (log.includes('taking jobs')) resolve(w);
    });
    w.once('exit', () => reject(new Error(`the bench worker ended: ${log}`)));
  });
}

async function queueRate(cli: string, url: string, workers: number, jobs: number): Promise<number> {
  const queue = `bench-${process.pid}-${workers}`;
  const procs = await Promise.all(Array.from({ length: workers }, () => startWorker(cli, url, queue)));
  await new Promise((r) => setTimeout(r, 1500)); // their warm guests up
  const client = new JobClient({ redis: url, queue });
  await client.submit({ code: 'pass' }); // connections up
  const t0 = process.hrtime.bigint();
  const results = await Promise.all(
    Array.from({ length: jobs }, () => client.submit({ code: CODE }, { removeOnComplete: true })),
  );
  const rate = jobs / since(t0);
  if (results.some((r) => r.exitCode !== 0)) throw new Error('a bench job failed in a worker');
  await client.close();
  await Promise.all(procs.map((p) => new Promise((r) => (p.once('exit', r), p.kill('SIGTERM')))));
  return rate;
}

/** One and two worker processes (two jobs at once each) on one Redis on loopback. */
export async function workerRows(rows: Row[], quick: boolean, root: string, poolOfTwo: number): Promise<void> {
  const server = redisServer();
  if (!server) {
    rows.push({
      name: 'queue workers on Redis: skipped (no redis-server; apt-get install redis-server)',
      pypyBox: NaN,
      baseline: NaN,
      unit: 'jobs/s',
      ratio: NaN,
    });
    return;
  }
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pypy-box-bench-redis-'));
  const redis = spawn(
    server,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: 'ignore' },
  );
  try {
    await new Promise((r) => setTimeout(r, 500));
    const url = `redis://127.0.0.1:${port}`;
    const cli = path.join(root, 'dist/controller/pypy-box.cjs');
    const jobs = quick ? 16 : 48;
    const one = await queueRate(cli, url, 1, jobs);
    const two = await queueRate(cli, url, 2, jobs);
    rows.push({
      name: `${jobs} jobs through Redis on loopback, one worker process (--concurrency 2) vs a Pool of 2 in process`,
      pypyBox: one,
      baseline: poolOfTwo,
      unit: 'jobs/s',
      ratio: poolOfTwo / one,
    });
    rows.push({
      name: `${jobs} jobs through Redis on loopback, two worker processes vs one`,
      pypyBox: two,
      baseline: one,
      unit: 'jobs/s',
      ratio: one / two,
      note: `${os.cpus().length} cores: more workers on one machine share them`,
    });
  } finally {
    redis.kill('SIGTERM');
    await new Promise((r) => redis.once('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
