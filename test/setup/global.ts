import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Deterministic bytes for the fixture tree's large file (kept out of git, made on demand). */
export function largeFixtureBytes(size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update('pypy-box fixture').digest();
  for (let off = 0; off < size; off += block.length) {
    block.copy(out, off);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

export default function setup(): void {
  // The CLI tests run the built program, so build first (a few seconds).
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', root], { stdio: 'inherit' });
  const out = path.join(root, 'build/test');
  fs.mkdirSync(out, { recursive: true });
  const cc = process.env.CC ?? 'cc';
  const src = path.join(root, 'test/guest/guest.c');
  try {
    execFileSync(cc, ['-O2', '-Wall', '-Werror', '-o', path.join(out, 'guest'), src], { stdio: 'inherit' });
    execFileSync(cc, ['-O2', '-Wall', '-Werror', '-DEXTRA_FUNCS=" frobnicate(i)i"', '-o', path.join(out, 'guest-extra'), src], { stdio: 'inherit' });
    execFileSync(cc, ['-O2', '-Wall', '-Werror', '-o', path.join(out, 'reaper'), path.join(root, 'test/guest/reaper.c')], { stdio: 'inherit' });
    // A stock guest that tries the supervisor's seccomp filter with crafted arguments (filter.test.ts).
    execFileSync(cc, ['-O2', '-Wall', '-Werror', '-pthread', '-o', path.join(out, 'probe-args'), path.join(root, 'test/guest/probe-args.c')], { stdio: 'inherit' });
    execFileSync(cc, ['-O2', '-Wall', '-Werror', '-o', path.join(out, 'bpf-link'), path.join(root, 'test/guest/bpf-link.c')], { stdio: 'inherit' });
    // A guest that declares what a PyPy 3.6 sandbox-2 build declares, for `check`.
    const py3 = fs
      .readFileSync(path.join(root, 'test/data/pypy-sandbox-funcs.txt'), 'utf8')
      .split('\n')
      .filter((l) => / py3/.test(l))
      .map((l) => l.split(' ')[0])
      .join(' ');
    execFileSync(cc, ['-O2', '-Wall', '-Werror', `-DALL_FUNCS="${py3}"`, '-o', path.join(out, 'guest-pypy3'), src], { stdio: 'inherit' });
  } catch (err) {
    throw new Error(`cannot compile the C test guest with ${cc} (install a C compiler: apt-get install gcc): ${(err as Error).message}`);
  }
  const large = path.join(root, 'vfs-fixtures/project/data/large.bin');
  if (!fs.existsSync(large) || fs.statSync(large).size !== 3 * 1024 * 1024) fs.writeFileSync(large, largeFixtureBytes(3 * 1024 * 1024));
}
