import { Controller } from 'pypy-box';

const result = await new Controller({
  python: 'pypy3', // or: executable: '/path/to/pypy-c-sandbox' for a sandboxed PyPy build
  args: ['-c', 'import json; open("/tmp/answer.json", "w").write(json.dumps(6 * 7)); print("done")'],
  timeout: 10_000,
  limits: { heapBytes: 256 * 1024 * 1024 },
}).run();

console.log(result.outcome, result.exitCode, result.stdout.toString().trim()); // exited 0 done
console.log(result.vfs.snapshot('/tmp')); // { 'answer.json': <Buffer 34 32> }, in memory only
