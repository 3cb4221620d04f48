import { execa, type ResultPromise } from 'execa';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobClient } from '../src/index.js';
import { alive, childrenOf, CLI, waitFor } from './helpers.js';
import { NO_REDIS, OwnRedis, redisServerPath } from './redis.js';

// `pypy-box worker` processes on a real Redis, fed by JobClient, as a fleet runs them.

let redis: OwnRedis | undefined;
let url = process.env.PYPY_BOX_TEST_REDIS ?? '';
const workers: ResultPromise[] = [];
const clients: JobClient[] = [];

beforeAll(async () => {
  if (NO_REDIS || url) return;
  redis = await OwnRedis.start();
  url = redis.url;
});
afterAll(async () => {
  for (const w of workers) w.kill('SIGKILL');
  await Promise.all(workers.map((w) => w.catch(() => undefined)));
  await Promise.all(clients.map((c) => c.close()));
  await redis?.stop();
});

const queueName = () => `test-${randomBytes(4).toString('hex')}`;

function client(queue: string, redisUrl = url): JobClient {
  const c = new JobClient({ redis: redisUrl, queue });
  clients.push(c);
  return c;
}

async function until(check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A worker process (not itself returned from an async function: it is a thenable), its log and id. */
type WorkerProcess = { proc: ResultPromise; log: () => string; id: string };

/** A worker process, started as a user starts it; resolves once it takes jobs. */
async function startWorker(queue: string, extra: string[] = [], redisUrl = url): Promise<WorkerProcess> {
  const args = [
    CLI,
    'worker',
    '--redis',
    redisUrl,
    '--queue',
    queue,
    '--concurrency',
    '1',
    '--python',
    'pypy3',
    '--lock-duration',
    '2',
    '--stalled-interval',
    '1',
    ...extra,
  ];
  const w = execa(process.execPath, args, { reject: false, buffer: { stderr: false }, env: { NO_COLOR: '1' } });
  workers.push(w);
  let log = '';
  w.stderr.on('data', (b: Buffer) => (log += b.toString()));
  await waitFor(() => /taking jobs/.test(log) || w.exitCode !== null, 30_000);
  if (w.exitCode !== null) throw new Error(`the worker did not start: ${log}`);
  const id = /worker (\S+) taking jobs/.exec(log)![1]!;
  return { proc: w, log: () => log, id };
}

describe.skipIf(NO_REDIS)('pypy-box worker on Redis', () => {
  it('two workers share one queue: every job runs once, both take some; SIGTERM lets the running job finish', async () => {
    const q = queueName();
    const [a, b] = await Promise.all([startWorker(q), startWorker(q)]);
    const c = client(q);
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => c.submit({ code: `import time\ntime.sleep(0.3)\nprint(${i} * 2)` })),
    );
    expect(results.map((r) => r.stdout)).toEqual(Array.from({ length: 8 }, (_, i) => `${i * 2}\n`));
    expect(results.every((r) => r.outcome === 'exited' && r.exitCode === 0)).toBe(true);
    expect(new Set(results.map((r) => r.worker))).toEqual(new Set([a.id, b.id]));
    expect(await c.queue.getJobCounts('completed', 'failed', 'wait', 'active')).toEqual({
      completed: 8,
      failed: 0,
      wait: 0,
      active: 0,
    });
    // SIGTERM: no more jobs taken, the running one finishes, the worker exits 0.
    const slow = c.submit({ code: 'import time\ntime.sleep(1.5)\nprint("finished")' });
    await until(async () => (await c.queue.getJobCounts('active')).active === 1);
    a.proc.kill('SIGTERM');
    b.proc.kill('SIGTERM');
    expect((await slow).stdout).toBe('finished\n');
    const ends = await Promise.all([a.proc, b.proc]);
    expect(ends.map((e) => e.exitCode)).toEqual([0, 0]);
    for (const w of [a, b]) expect(w.log()).toMatch(/got SIGTERM\n[^]*finished its jobs and stopped/);
  });

  it('a worker killed (SIGKILL) in the middle of a job: another worker runs it again, nothing is lost', async () => {
    const q = queueName();
    const doomed = await startWorker(q);
    const c = client(q);
    const long = c.submit({ code: 'import time\ntime.sleep(2)\nprint("long done")' });
    const more = Array.from({ length: 3 }, (_, i) => c.submit({ code: `print("after", ${i})` }));
    await until(async () => (await c.queue.getJobCounts('active')).active === 1);
    await new Promise((r) => setTimeout(r, 300)); // in the middle of the job
    const guests = childrenOf(doomed.proc.pid!);
    expect(guests.length).toBeGreaterThan(0);
    doomed.proc.kill('SIGKILL');
    await doomed.proc;
    await waitFor(() => guests.every((p) => !alive(p)), 10_000); // its guests died with it
    const rescuer = await startWorker(q);
    const r = await long;
    expect([r.stdout, r.worker]).toEqual(['long done\n', rescuer.id]);
    expect((await Promise.all(more)).map((m) => m.stdout)).toEqual(['after 0\n', 'after 1\n', 'after 2\n']);
    expect(await c.queue.getJobCounts('completed', 'failed', 'wait', 'active')).toEqual({
      completed: 4,
      failed: 0,
      wait: 0,
      active: 0,
    });
  });

  it('a poison job ends in the failed set after its attempts; a malformed one at once; the worker goes on', async () => {
    const q = queueName();
    const w = await startWorker(q);
    const c = client(q);
    const poison = await c
      .submit(
        { code: 'import os, signal\nprint("going", flush=True)\nos.kill(os.getpid(), signal.SIGKILL)' },
        { attempts: 3, backoff: { type: 'fixed', delay: 100 } },
      )
      .catch((e: unknown) => e as Error);
    expect(poison).toBeInstanceOf(Error);
    expect((poison as Error).message).toMatch(/the guest died of SIGKILL \(Killed\) before it answered/);
    const failed = await c.queue.getFailed();
    expect(failed).toHaveLength(1);
    expect(failed[0]!.attemptsMade).toBe(3);
    // Data that is no job at all (put there by hand): no retries.
    const bad = await c.queue.add('run', { code: 42 } as never, { attempts: 3 });
    await expect(bad.waitUntilFinished(c.events)).rejects.toThrow(/bad job: job.code: expected Python source/);
    expect((await c.queue.getJob(bad.id!))!.attemptsMade).toBe(1);
    // A job that raises is an answer, not a failure: its traceback is its result.
    const raised = await c.submit({ code: 'raise RuntimeError("student bug")' }, { attempts: 3 });
    expect([raised.exitCode, raised.stderr]).toEqual([1, expect.stringMatching(/RuntimeError: student bug\n$/)]);
    expect((await c.submit({ code: 'print("still serving")' })).stdout).toBe('still serving\n');
    expect(w.proc.exitCode).toBeNull();
    expect(await c.queue.getJobCounts('failed', 'completed')).toEqual({ failed: 2, completed: 2 });
  });

  it.skipIf(!redisServerPath())(
    'Redis restarting in the middle of the work: the workers reconnect and every job completes',
    async () => {
      const own = await OwnRedis.start(true);
      let c: JobClient | undefined;
      let w: WorkerProcess | undefined;
      try {
        const q = queueName();
        w = await startWorker(q, [], own.url);
        c = new JobClient({ redis: own.url, queue: q });
        const first = Array.from({ length: 4 }, (_, i) =>
          c!.submit({ code: `import time\ntime.sleep(0.4)\nprint("first", ${i})` }),
        );
        await until(async () => (await c!.queue.getJobCounts('completed')).completed >= 1);
        await own.down();
        await new Promise((r) => setTimeout(r, 1000));
        await own.up();
        const second = Array.from({ length: 3 }, (_, i) => c!.submit({ code: `print("second", ${i})` }));
        expect((await Promise.all(first)).map((r) => r.stdout)).toEqual([0, 1, 2, 3].map((i) => `first ${i}\n`));
        expect((await Promise.all(second)).map((r) => r.stdout)).toEqual([0, 1, 2].map((i) => `second ${i}\n`));
        expect(w.proc.exitCode).toBeNull();
        expect(w.log()).toMatch(/redis: /); // it saw the connection go, and carried on
        expect(await c.queue.getJobCounts('completed', 'failed', 'wait', 'active')).toEqual({
          completed: 7,
          failed: 0,
          wait: 0,
          active: 0,
        });
      } finally {
        // Before its Redis goes for good: a client closing would wait for it to come back.
        w?.proc.kill('SIGKILL');
        await w?.proc;
        await c?.close();
        await own.stop();
      }
    },
  );
});

describe('pypy-box worker, its command line', () => {
  it('a bad or missing flag is a usage error that names it (exit 2)', async () => {
    const run = (args: string[]) =>
      execa(process.execPath, [CLI, 'worker', ...args], { reject: false, env: { NO_COLOR: '1' } });
    const cases: [string[], string][] = [
      [['--queue', 'q'], 'pypy-box: Missing required argument: redis'],
      [
        ['--redis', 'redis://127.0.0.1:1', '--queue', 'q', '--rate-limit', '5'],
        'pypy-box: --rate-limit expects N/SECONDS (10/1: ten jobs a second), got "5"',
      ],
      [
        ['--redis', 'redis://127.0.0.1:1', '--queue', 'q', '--concurrency', '0'],
        'pypy-box: --concurrency expects a whole number above 0, got 0',
      ],
      [['--redis', 'redis://127.0.0.1:1', '--queue', 'q', '--memory', 'lots'], 'pypy-box: --memory'],
    ];
    for (const [args, message] of cases) {
      const r = await run(args);
      expect(r.exitCode, r.stderr).toBe(2);
      expect(r.stderr).toContain(message);
      expect(r.stderr).toMatch(/\(see pypy-box worker --help\)$/);
    }
  });
});
