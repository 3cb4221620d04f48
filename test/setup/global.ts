import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serversUnder } from '../../src/server/running.js';

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

export default function setup(): () => void {
  // The caches the command line and the library keep (code cache, interpreter profiles) go to a
  // directory of the test run, not the user's own ~/.cache (the test workers inherit this).
  // build/test itself is made first with the usual mode: guests run as other users exec from it.
  fs.mkdirSync(path.join(root, 'build/test'), { recursive: true });
  const cache = path.join(root, 'build/test/cache');
  fs.rmSync(cache, { recursive: true, force: true });
  fs.mkdirSync(cache, { mode: 0o700 });
  process.env.XDG_CACHE_HOME = cache;
  // Command servers the installed command starts (the examples' `npx pypy-box interact`) keep
  // their sockets here, and are ended with the run.
  const runtime = path.join(root, 'build/test/runtime');
  fs.rmSync(runtime, { recursive: true, force: true });
  fs.mkdirSync(runtime, { mode: 0o700 });
  process.env.XDG_RUNTIME_DIR = runtime;
  // The CLI tests run the built program, so build first (a few seconds).
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', root], {
    stdio: 'inherit',
  });
  // The command line as it ships: bundled into one file (what dist/controller/pypy-box.cjs runs).
  execFileSync(process.execPath, [path.join(root, 'scripts/bundle-cli.mjs')], { stdio: 'inherit' });
  const out = path.join(root, 'build/test');
  fs.mkdirSync(out, { recursive: true });
  const cc = process.env.CC ?? 'cc';
  const src = path.join(root, 'test/guest/guest.c');
  const guestDir = path.join(root, 'test/guest');
  const compile = compiler(cc, out);
  try {
    compile('guest', [src]);
    compile('guest-extra', [src], ['-DEXTRA_FUNCS=" frobnicate(i)i"']);
    compile('reaper', [path.join(guestDir, 'reaper.c')]);
    // A stock guest that tries the supervisor's seccomp filter with crafted arguments (filter.test.ts).
    compile('probe-args', [path.join(guestDir, 'probe-args.c')], ['-pthread']);
    compile('bpf-link', [path.join(guestDir, 'bpf-link.c'), path.join(root, 'src/supervisor/native/bpf.c')]);
    // A guest that declares what a PyPy 3.6 sandbox-2 build declares, for `check`.
    const py3 = fs
      .readFileSync(path.join(root, 'test/data/pypy-sandbox-funcs.txt'), 'utf8')
      .split('\n')
      .filter((l) => / py3/.test(l))
      .map((l) => l.split(' ')[0])
      .join(' ');
    compile('guest-pypy3', [src], [`-DALL_FUNCS="${py3}"`]);
  } catch (err) {
    throw new Error(
      `cannot compile the C test guest with ${cc} (install a C compiler: apt-get install gcc): ${(err as Error).message}`,
      { cause: err },
    );
  }
  buildAttackers(compile, out);
  unpackSandboxedPyPys();
  const large = path.join(root, 'vfs-fixtures/project/data/large.bin');
  if (!fs.existsSync(large) || fs.statSync(large).size !== 3 * 1024 * 1024)
    fs.writeFileSync(large, largeFixtureBytes(3 * 1024 * 1024));
  // The command servers started meanwhile end (their workers with them).
  return () => {
    for (const pid of serversUnder(runtime)) process.kill(pid, 'SIGTERM');
  };
}

/**
 * The compromised interpreter of the strict-wall tests (test/guest/attacker.c), dynamic and static.
 * A C library without static archives leaves the static one out (its tests say so).
 */
function buildAttackers(compile: Compile, out: string): void {
  const src = path.join(root, 'test/guest/attacker.c');
  compile('attacker', [src]);
  fs.rmSync(path.join(out, 'attacker-static'), { force: true });
  try {
    compile('attacker-static', [src], ['-static'], 'ignore');
  } catch {
    /* no static C library here */
  }
}

type Compile = (name: string, sources: string[], flags?: string[], stdio?: 'inherit' | 'ignore') => void;

/** Compiles a test program into `out` with warnings as errors. */
function compiler(cc: string, out: string): Compile {
  return (name, sources, flags = [], stdio = 'inherit') => {
    execFileSync(cc, ['-O2', '-Wall', '-Werror', ...flags, '-o', path.join(out, name), ...sources], { stdio });
  };
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
