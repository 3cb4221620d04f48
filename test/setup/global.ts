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
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', root], {
    stdio: 'inherit',
  });
  // The command line as it ships: bundled into one file (what dist/controller/pypy-box.js runs).
  execFileSync(process.execPath, [path.join(root, 'scripts/bundle-cli.mjs')], { stdio: 'inherit' });
  const out = path.join(root, 'build/test');
  fs.mkdirSync(out, { recursive: true });
  const cc = process.env.CC ?? 'cc';
  const src = path.join(root, 'test/guest/guest.c');
  try {
    execFileSync(cc, ['-O2', '-Wall', '-Werror', '-o', path.join(out, 'guest'), src], { stdio: 'inherit' });
    execFileSync(
      cc,
      ['-O2', '-Wall', '-Werror', '-DEXTRA_FUNCS=" frobnicate(i)i"', '-o', path.join(out, 'guest-extra'), src],
      { stdio: 'inherit' },
    );
    execFileSync(
      cc,
      ['-O2', '-Wall', '-Werror', '-o', path.join(out, 'reaper'), path.join(root, 'test/guest/reaper.c')],
      { stdio: 'inherit' },
    );
    // A stock guest that tries the supervisor's seccomp filter with crafted arguments (filter.test.ts).
    execFileSync(
      cc,
      [
        '-O2',
        '-Wall',
        '-Werror',
        '-pthread',
        '-o',
        path.join(out, 'probe-args'),
        path.join(root, 'test/guest/probe-args.c'),
      ],
      { stdio: 'inherit' },
    );
    execFileSync(
      cc,
      [
        '-O2',
        '-Wall',
        '-Werror',
        '-o',
        path.join(out, 'bpf-link'),
        path.join(root, 'test/guest/bpf-link.c'),
        path.join(root, 'src/supervisor/native/bpf.c'),
      ],
      { stdio: 'inherit' },
    );
    // A guest that declares what a PyPy 3.6 sandbox-2 build declares, for `check`.
    const py3 = fs
      .readFileSync(path.join(root, 'test/data/pypy-sandbox-funcs.txt'), 'utf8')
      .split('\n')
      .filter((l) => / py3/.test(l))
      .map((l) => l.split(' ')[0])
      .join(' ');
    execFileSync(cc, ['-O2', '-Wall', '-Werror', `-DALL_FUNCS="${py3}"`, '-o', path.join(out, 'guest-pypy3'), src], {
      stdio: 'inherit',
    });
  } catch (err) {
    throw new Error(
      `cannot compile the C test guest with ${cc} (install a C compiler: apt-get install gcc): ${(err as Error).message}`,
      { cause: err },
    );
  }
  buildAttackers(cc, out);
  unpackSandboxedPyPys();
  const large = path.join(root, 'vfs-fixtures/project/data/large.bin');
  if (!fs.existsSync(large) || fs.statSync(large).size !== 3 * 1024 * 1024)
    fs.writeFileSync(large, largeFixtureBytes(3 * 1024 * 1024));
}

/**
 * The compromised interpreter of the strict-wall tests (test/guest/attacker.c), dynamic and static.
 * A C library without static archives leaves the static one out (its tests say so).
 */
function buildAttackers(cc: string, out: string): void {
  const src = path.join(root, 'test/guest/attacker.c');
  execFileSync(cc, ['-O2', '-Wall', '-Werror', '-o', path.join(out, 'attacker'), src], { stdio: 'inherit' });
  fs.rmSync(path.join(out, 'attacker-static'), { force: true });
  try {
    execFileSync(cc, ['-O2', '-Wall', '-Werror', '-static', '-o', path.join(out, 'attacker-static'), src], {
      stdio: 'ignore',
    });
  } catch {
    /* no static C library here */
  }
}

/** Where the real sandboxed PyPy archives are (see their README), and where they are unpacked. */
export const SANDBOX_ARCHIVES = process.env.PYPY_BOX_SANDBOX_ARCHIVES ?? path.resolve(root, '../shared/pypy-sandbox');
export const SANDBOX_BUILDS = path.join(root, 'build/pypy-sandbox');

/** Unpacks each archive once (again when the archive is newer); nothing when the folder is absent. */
function unpackSandboxedPyPys(): void {
  if (!fs.existsSync(SANDBOX_ARCHIVES)) return;
  fs.mkdirSync(SANDBOX_BUILDS, { recursive: true });
  for (const name of fs.readdirSync(SANDBOX_ARCHIVES).filter((n) => n.endsWith('.tar.xz'))) {
    const archive = path.join(SANDBOX_ARCHIVES, name);
    const stamp = path.join(SANDBOX_BUILDS, `${name}.unpacked`);
    if (fs.existsSync(stamp) && fs.statSync(stamp).mtimeMs >= fs.statSync(archive).mtimeMs) continue;
    execFileSync('tar', ['-xJf', archive, '-C', SANDBOX_BUILDS], { stdio: 'inherit' });
    fs.writeFileSync(stamp, '');
  }
}
