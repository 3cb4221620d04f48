import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { ROOT } from './helpers.js';

it('the README library example runs as written', async () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const block = /## Library\n\n[\s\S]*?```js\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(block).toBeDefined();
  // Inside the package directory, `import 'pypy-box'` resolves to the package itself.
  const file = path.join(ROOT, 'build', `readme-example-${process.pid}.mjs`);
  fs.writeFileSync(file, block!);
  try {
    const r = await execa(process.execPath, [file], { cwd: ROOT, reject: false });
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('exited 0 done');
    expect(r.stdout).toContain("'answer.json': <Buffer 34 32>");
  } finally {
    fs.rmSync(file);
  }
});

it('the README quick-start command runs as written from the checkout (npx pypy-box)', async () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const first = /```sh\n(.*)\n/.exec(readme)?.[1] ?? '';
  // The install steps ran before the tests; the last step is the sandboxed program.
  const run = first.split('&&').map((part) => part.trim()).find((part) => part.startsWith('npx pypy-box'));
  expect(run).toBeDefined();
  const r = await execa('sh', ['-c', run!], { cwd: ROOT, reject: false, env: { NO_COLOR: '1' } });
  expect(r.exitCode, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/^42 \[.*'tmp'.*\]$/);
  expect(r.stdout).not.toMatch(/'(home|root|work|var)'/);
});

it('the README example of a tree built by hand is examples/policy-vfs.mjs, word for word', () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const block = /Building the filesystem and policy by hand[\s\S]*?```js\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(block).toBe(fs.readFileSync(path.join(ROOT, 'examples/policy-vfs.mjs'), 'utf8'));
});
