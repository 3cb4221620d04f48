// Starts COUNT runs of `print(1)` at once in this Node process (the built package), cycling through
// the interpreters given, and prints how they ended as JSON: { 'exited 0 "1\n"': COUNT } when all
// succeed. Usage: node test/many-runs.mjs pypy3,python3 COUNT
import { closeSpareSupervisor, Controller } from '../dist/src/index.js';

const pythons = process.argv[2].split(',');
const count = Number(process.argv[3]);
const runs = Array.from({ length: count }, (_, k) =>
  new Controller({ python: pythons[k % pythons.length], args: ['-c', 'print(1)'], timeout: 280_000 }).run(),
);
const ends = {};
for (const s of await Promise.allSettled(runs)) {
  const key =
    s.status === 'fulfilled'
      ? `${s.value.outcome} ${s.value.exitCode} ${JSON.stringify(s.value.stdout.toString())}`
      : `error: ${s.reason.message}`;
  ends[key] = (ends[key] ?? 0) + 1;
}
await closeSpareSupervisor();
console.log(JSON.stringify(ends));
