#!/usr/bin/env node
// Compiles the native supervisor and its wall library with the system C compiler, from the C
// sources in src/supervisor/native into build/native beside them: the package's `install` script,
// so it runs in a checkout (`npm ci`) and wherever the package is installed (`npm install pypy-box`,
// or a packed tarball). As the install script, a missing compiler does not fail the install
// (stock-interpreter guests then say how to fix it) unless PYPY_BOX_REQUIRE_NATIVE is set. Run by
// hand (`npx pypy-box-build-native`, `npm run build:native`), any failure is an error.
//
// `--sanitize` builds it instead with AddressSanitizer and UBSan into build/native-asan (dynamic,
// no optimisation beyond -O1, any report fatal): the tests that drive the supervisor run against it
// when PYPY_BOX_SUPERVISOR points there (`npm run test:sanitize`). The wall library beside it is
// the ordinary one: it is preloaded into the guest, which is not instrumented.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const native = path.join(root, 'src/supervisor/native');
const sanitize = process.argv.includes('--sanitize');
const outDir = path.join(root, sanitize ? 'build/native-asan' : 'build/native');
const out = path.join(outDir, 'pypy-box-supervisor');
/** The command's native client (src/server/native): the `bin` script runs it when it is built. */
const clientSources = path.join(root, 'src/server/native');
const client = path.join(outDir, 'pypy-box-client');
const wall = path.join(outDir, 'libpypybox-wall.so');
const cc = process.env.CC || 'cc';
/** Run by npm as the install script: a failed build warns (unless PYPY_BOX_REQUIRE_NATIVE); asked for by hand, it fails. */
const lenient = process.env.npm_lifecycle_event === 'install' && !process.env.PYPY_BOX_REQUIRE_NATIVE;
const WARNINGS = ['-Wall', '-Wextra', '-Wshadow', '-Wmissing-prototypes'];
/** The wall library's units: the preload itself, and the strict filter it installs once more. */
const WALL_UNITS = ['wall.c', 'strict.c', 'bpf.c'];
/** Units of the sanitizer build only (its settings). */
const SANITIZE_UNITS = ['sanitize.c'];
/** The supervisor's compilation units: every other .c beside them. */
const SUPERVISOR_UNITS = fs
  .readdirSync(native)
  .filter((f) => f.endsWith('.c') && f !== 'wall.c' && !SANITIZE_UNITS.includes(f))
  .sort();
const sources = (units) => units.map((f) => path.join(native, f));
const SANITIZERS = [
  '-O1',
  '-g',
  '-fno-omit-frame-pointer',
  '-fsanitize=address,undefined',
  '-fno-sanitize-recover=all',
];

if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.warn(
    `pypy-box: the native supervisor supports Linux x86-64 only; stock-interpreter guests are unavailable on ${process.platform}-${process.arch}.`,
  );
  process.exit(sanitize || !lenient ? 1 : 0);
}

/** The supervisor as shipped: static where the C library allows it (no dynamic loading at every start, about 0.4 ms). */
function buildSupervisor() {
  const flags = ['-O2', ...WARNINGS, '-o', out, ...sources(SUPERVISOR_UNITS)];
  try {
    execFileSync(cc, ['-static', ...flags], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch {
    execFileSync(cc, flags, { stdio: ['ignore', 'inherit', 'inherit'] });
  }
}

/** The supervisor under the sanitizers, with their settings built in (sanitize.c). */
function buildSanitizedSupervisor() {
  execFileSync(cc, [...SANITIZERS, ...WARNINGS, '-o', out, ...sources([...SUPERVISOR_UNITS, ...SANITIZE_UNITS])], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

/** The client, with the sanitizers too in that build (its frame reader takes the worker's bytes). */
function buildClient() {
  const units = fs
    .readdirSync(clientSources)
    .filter((f) => f.endsWith('.c'))
    .sort()
    .map((f) => path.join(clientSources, f));
  execFileSync(cc, [...(sanitize ? SANITIZERS : ['-O2']), ...WARNINGS, '-o', client, ...units], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

function buildWall() {
  execFileSync(cc, ['-O2', ...WARNINGS, '-shared', '-fPIC', '-o', wall, ...sources(WALL_UNITS)], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

fs.mkdirSync(outDir, { recursive: true });
try {
  if (sanitize) buildSanitizedSupervisor();
  else buildSupervisor();
  buildWall();
  buildClient();
  console.log(
    `pypy-box: built ${path.relative(root, out)}, ${path.relative(root, wall)} and ${path.relative(root, client)}`,
  );
} catch (err) {
  if (sanitize) {
    // Asked for explicitly (CI): no silent fallback.
    console.error(
      `pypy-box: could not build the sanitizer supervisor with "${cc}": ${err.message}\n  It needs the compiler's sanitizer runtimes (Debian: apt-get install -y gcc libasan8 libubsan1).`,
    );
    process.exit(1);
  }
  const message =
    `pypy-box: could not compile the native supervisor with "${cc}" (${err.code === 'ENOENT' ? 'no C compiler found' : err.message}).\n` +
    '  Stock-interpreter guests (pypy3/python3) need it. Install a compiler and build it:\n' +
    '    apt-get install -y gcc && npx pypy-box-build-native';
  console.warn(message);
  if (!lenient) process.exit(1);
  // npm shows nothing of a dependency's install script that succeeds: tell the terminal directly.
  if (!process.stderr.isTTY) {
    try {
      fs.writeFileSync('/dev/tty', `${message}\n`);
    } catch {
      /* no terminal: the message is in npm's log, and a stock-interpreter run says the same */
    }
  }
}
