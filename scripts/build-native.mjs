#!/usr/bin/env node
// Compiles the native supervisor with the system C compiler (run by `npm install`/`npm ci`).
// Without a compiler the install still succeeds: stock-interpreter guests then report how to fix it.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const native = path.join(root, 'src/supervisor/native');
const outDir = path.join(root, 'build/native');
const out = path.join(outDir, 'pypy-box-supervisor');
const wall = path.join(outDir, 'libpypybox-wall.so');
const cc = process.env.CC || 'cc';

if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.warn(`pypy-box: the native supervisor supports Linux x86-64 only; stock-interpreter guests are unavailable on ${process.platform}-${process.arch}.`);
  process.exit(0);
}
fs.mkdirSync(outDir, { recursive: true });
try {
  const flags = ['-O2', '-Wall', '-Wextra', '-o', out, path.join(native, 'supervisor.c')];
  try {
    // Static where the C library allows it: no dynamic loading at every start (about 0.4 ms).
    execFileSync(cc, ['-static', ...flags], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch {
    execFileSync(cc, flags, { stdio: ['ignore', 'inherit', 'inherit'] });
  }
  execFileSync(cc, ['-O2', '-Wall', '-Wextra', '-shared', '-fPIC', '-o', wall, path.join(native, 'wall.c')], { stdio: ['ignore', 'inherit', 'inherit'] });
  console.log(`pypy-box: built ${path.relative(root, out)} and ${path.relative(root, wall)}`);
} catch (err) {
  console.warn(
    `pypy-box: could not compile the native supervisor with "${cc}" (${err.code === 'ENOENT' ? 'no C compiler found' : err.message}).\n` +
      '  Stock-interpreter guests (pypy3/python3) need it. Install a compiler and build it:\n' +
      '    apt-get install -y gcc && npm run build:native',
  );
  if (process.env.PYPY_BOX_REQUIRE_NATIVE) process.exit(1);
}
