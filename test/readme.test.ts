import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { ROOT } from './helpers.js';

it('the README library example runs as written', async () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const block = /## Library\n\n```js\n([\s\S]*?)```/.exec(readme)?.[1];
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
