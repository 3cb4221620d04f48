import { Pool } from 'pypy-box';

// A grader: each submission runs in a fresh guest of its own (started ahead, waiting behind its
// walls), two at a time, at most 2 s each; a burst beyond the queue is refused, not buffered.
const pool = new Pool({ python: 'pypy3', size: 2, queueLimit: 8, timeout: 2000 });

const submissions = {
  ann: 'def square(x):\n    return x * x\n',
  bob: 'def square(x):\n    return x + x\n',
  cid: 'def square(x):\n    while True: pass\n',
  dee: 'import os\ndef square(x):\n    return len(os.listdir("/home"))\n',
};
const grader = 'from answer import square\nprint(all(square(n) == n * n for n in range(10)))';

const results = await Promise.all(
  Object.entries(submissions).map(([who, code]) =>
    pool.run({ code: grader, name: 'grader.py', files: { 'answer.py': code } }).then((r) => [who, r]),
  ),
);
for (const [who, r] of results) {
  const verdict =
    r.outcome === 'timeout'
      ? 'too slow'
      : r.exitCode !== 0
        ? r.stderr.toString().trim().split('\n').pop()
        : r.stdout.toString().trim();
  console.log(who, verdict);
}

// Jobs with a key share one long-lived guest: a notebook-like state per user.
await pool.run({ code: 'total = 40' }, { key: 'ann' });
console.log(
  'ann again',
  (await pool.run({ code: 'total += 2\nprint(total)' }, { key: 'ann' })).stdout.toString().trim(),
);

const { done, failed } = pool.stats();
console.log({ done, failed });
await pool.close(); // ends the warm guests: no process is left
