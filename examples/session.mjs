import { Session } from 'pypy-box';

// One interpreter kept for many snippets, behind the same walls as a run: state, values, errors,
// timeouts it survives, files in and out, and calls with JSON arguments.
const s = await Session.start({ python: 'pypy3', limits: { memoryBytes: 512 * 1024 * 1024 } });

await s.run('import statistics\nscores = []');
const cell = await s.run('scores += [71, 88, 93]\nprint("n =", len(scores))\nstatistics.mean(scores)');
console.log(cell.stdout.trim(), cell.value); // n = 3 84

const failed = await s.run('scores[10]');
console.log(failed.error.type, failed.error.message); // IndexError list index out of range

const slow = await s.run('while True: pass', { timeoutMs: 200 }); // interrupted, the session goes on
console.log(slow.error.type, (await s.run('len(scores)')).value); // KeyboardInterrupt 3

s.files.write('grades.csv', 'ann,91\nbob,78\n'); // straight into the session's virtual /tmp
await s.run(
  'def best(path):\n    rows = [line.split(",") for line in open(path).read().split()]\n    return max(rows, key=lambda r: int(r[1]))',
);
console.log((await s.call('__main__:best', ['/tmp/grades.csv'])).result); // [ 'ann', '91' ]

await s.run('with open("/tmp/report.txt", "w") as f:\n    f.write("mean %.1f" % statistics.mean(scores))');
console.log(s.files.read('report.txt').toString()); // mean 84.0

console.log((await s.close()).reason); // closed
