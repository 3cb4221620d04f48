import { JobClient } from 'pypy-box';

// The producer: jobs go on the queue, any worker runs them, submit() resolves to the result.
const client = new JobClient({ redis: process.argv[2] ?? 'redis://127.0.0.1:6379', queue: 'grading' });

const jobs = [1, 2, 3, 4].map((n) =>
  client.submit({ code: `print(sum(range(${n} * 1000)))` }, { removeOnComplete: true }),
);
for (const r of await Promise.all(jobs)) console.log(r.outcome, r.exitCode, r.stdout.trim());

// Retries and backoff are BullMQ's: a guest that crashes fails the attempt; after the last one
// the job stays in the failed set (the dead letters) and submit() rejects with the reason.
const crash = client.submit(
  { code: 'import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)' },
  { attempts: 2, backoff: { type: 'fixed', delay: 200 } },
);
console.log(await crash.catch((err) => err.message));

await client.close();
