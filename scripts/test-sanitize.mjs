#!/usr/bin/env node
// Runs the tests that drive the native supervisor (and the command's native client) against their
// AddressSanitizer + UBSan builds (build/native-asan, made here first): any sanitizer report ends
// the program with a failure the tests see (the client's tests find it beside that supervisor). The controller finds that build through PYPY_BOX_SUPERVISOR (src/supervisor/locate.ts).
// Usage: node scripts/test-sanitize.mjs [more vitest arguments]
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Test files that start the supervisor (stock interpreters, walls, spares, its input), and the command's client. */
const SUPERVISOR_TESTS = [
  'test/supervisor-fuzz.test.ts',
  'test/stock.test.ts',
  'test/spare.test.ts',
  'test/local-answers.test.ts',
  'test/hostile.test.ts',
  'test/cli.test.ts',
  'test/controller.e2e.test.ts',
  'test/filter.test.ts',
  'test/limits.test.ts',
  'test/strict-wall.test.ts',
  'test/relay.test.ts',
  'test/relay-fuzz.test.ts',
  'test/client-fuzz.test.ts',
];

execFileSync(process.execPath, [path.join(root, 'scripts/build-native.mjs'), '--sanitize'], { stdio: 'inherit' });
const env = { ...process.env, PYPY_BOX_SUPERVISOR: path.join(root, 'build/native-asan/pypy-box-supervisor') };
const vitest = path.join(root, 'node_modules/vitest/vitest.mjs');
try {
  execFileSync(
    process.execPath,
    [
      vitest,
      'run',
      ...SUPERVISOR_TESTS,
      '--outputFile.json=build/test-results-sanitize.json',
      ...process.argv.slice(2),
    ],
    { stdio: 'inherit', env, cwd: root },
  );
} catch {
  process.exit(1);
}
