/**
 * The README's code: the quick start runs as written, and every other code block is an example
 * file under examples/, shown word for word, that a test runs.
 */
import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { ROOT } from './helpers.js';

const readme = () => fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** Every fenced block, with the HTML comment on the line before it (its marker), if any. */
function codeBlocks(text: string): { marker: string | undefined; lang: string; body: string; line: number }[] {
  const blocks = [];
  for (const m of text.matchAll(/(?:<!-- ([^>]*?) -->\n)?```(\w*)\n([\s\S]*?)```/g)) {
    blocks.push({ marker: m[1], lang: m[2]!, body: m[3]!, line: text.slice(0, m.index).split('\n').length });
  }
  return blocks;
}

it('the README quick-start command runs as written from the checkout (npx pypy-box)', async () => {
  const first = codeBlocks(readme())[0]!;
  expect(first.marker).toBe('quick-start');
  // The install steps ran before the tests; the last step is the sandboxed program.
  const run = first.body
    .split('\n')[0]!
    .split('&&')
    .map((part) => part.trim())
    .find((part) => part.startsWith('npx pypy-box'));
  expect(run).toBeDefined();
  const r = await execa('sh', ['-c', run!], { cwd: ROOT, reject: false, env: { NO_COLOR: '1' } });
  expect(r.exitCode, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/^42 \[.*'tmp'.*\]$/);
  expect(r.stdout).not.toMatch(/'(home|root|work|var)'/);
});

it("the quick start's test command is the one CI runs", () => {
  const first = codeBlocks(readme())[0]!;
  expect(first.body.split('\n')[1]).toBe('npm test');
  expect(fs.readFileSync(path.join(ROOT, '.ci/run'), 'utf8')).toMatch(/^npm test$/m);
});

it('every other README code block is an example file, word for word', () => {
  const blocks = codeBlocks(readme()).slice(1);
  expect(blocks.length).toBeGreaterThan(5);
  for (const b of blocks) {
    const file = /^example: (examples\/\S+)$/.exec(b.marker ?? '')?.[1];
    expect(file, `README line ${b.line}: a code block without an <!-- example: examples/... --> marker`).toBeDefined();
    expect(b.body, `README line ${b.line} differs from ${file}`).toBe(fs.readFileSync(path.join(ROOT, file!), 'utf8'));
  }
});

it('every example file is run by a test, and the README links each one', () => {
  const text = readme();
  const tests = fs
    .readdirSync(path.join(ROOT, 'test'))
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => fs.readFileSync(path.join(ROOT, 'test', f), 'utf8'))
    .join('\n');
  for (const f of fs.readdirSync(path.join(ROOT, 'examples'))) {
    const name = `examples/${f}`;
    expect(text, `README does not link ${name}`).toContain(
      `](${name}${fs.statSync(path.join(ROOT, name)).isDirectory() ? '/' : ''})`,
    );
    if (f.endsWith('.json')) continue; // a policy file: run by the script that names it (grant.sh)
    if (fs.statSync(path.join(ROOT, name)).isDirectory()) continue; // a project the scripts run in
    expect(tests, `no test runs ${name}`).toMatch(new RegExp(`examples/${f.replace('.', '\\.')}`));
  }
  expect(fs.readFileSync(path.join(ROOT, 'examples/grant.sh'), 'utf8')).toContain('--policy policy.json');
  expect(fs.readFileSync(path.join(ROOT, 'examples/cli-recipes.sh'), 'utf8')).toContain('/report"');
});

it('the README library example runs as written', async () => {
  const block = codeBlocks(readme()).find((b) => b.marker === 'example: examples/library.mjs')?.body;
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

it('the README links resolve to files of the checkout', () => {
  for (const m of readme().matchAll(/\]\(((?:examples|docs|src|test)\/[^)#]*|[A-Z]+\.md)\)/g)) {
    if (m[1] === 'ARCHITECTURE.md') continue; // written beside the README, may come later
    expect(fs.existsSync(path.join(ROOT, m[1]!)), `README links ${m[1]}, which is missing`).toBe(true);
  }
});

it('the README documents every ControllerOptions key, every RunResult field and every interact flag', async () => {
  const text = readme();
  const options = fs.readFileSync(path.join(ROOT, 'src/controller/options.ts'), 'utf8');
  const keys = [.../const OPTION_KEYS[^{]*\{([\s\S]*?)\n\};/.exec(options)![1]!.matchAll(/^\s+(\w+): true,/gm)].map(
    (m) => m[1]!,
  );
  expect(keys.length).toBeGreaterThan(30);
  for (const k of keys) expect(text, `option ${k}`).toMatch(new RegExp(`^\\| (\`\\w+\`, )?\`${k}\`( \\||,)`, 'm'));
  const result = fs.readFileSync(path.join(ROOT, 'src/controller/result.ts'), 'utf8');
  const fields = [.../export interface RunResult \{([\s\S]*?)\n\}/.exec(result)![1]!.matchAll(/^ {2}(\w+): /gm)].map(
    (m) => m[1]!,
  );
  expect(fields.length).toBeGreaterThan(15);
  for (const f of fields)
    expect(text, `result field ${f}`).toMatch(new RegExp(`^\\| (\`\\w+\`, )?\`${f}\`( \\||,)`, 'm'));
  const help = await execa(process.execPath, [path.join(ROOT, 'dist/controller/pypy-box.cjs'), 'interact', '--help'], {
    env: { NO_COLOR: '1' },
  });
  const flags = [...help.stdout.matchAll(/^\s+(?:-\w, )?--([\w-]+)/gm)].map((m) => m[1]!).filter((f) => f !== 'help');
  expect(flags.length).toBeGreaterThan(30);
  for (const f of flags) expect(text, `flag --${f}`).toMatch(new RegExp(`\`--(no-)?${f}[\` ]`));
});
