import { QueueWorker } from 'pypy-box';

// One worker of the fleet, as `npx pypy-box worker --redis URL --queue grading --concurrency 2
// --python pypy3 --timeout 5` runs it: two jobs at once, each in a fresh guest, 5 s at most.
const worker = new QueueWorker({
  redis: process.argv[2] ?? 'redis://127.0.0.1:6379',
  queue: 'grading',
  concurrency: 2,
  pool: { python: 'pypy3', timeout: 5000 },
});
await worker.ready();

// SIGTERM: no more jobs taken, the running ones get 30 s to finish; past that BullMQ gives them
// to another worker once their locks lapse.
process.once('SIGTERM', async () => {
  const how = await worker.shutdown(30_000);
  process.exit(how === 'finished' ? 0 : 1);
});
