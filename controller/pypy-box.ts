#!/usr/bin/env node
/**
 * The `pypy-box` command: the controller as a program. The package's `bin` is this file bundled
 * into CommonJS (dist/controller/pypy-box.cjs, scripts/bundle-cli.mjs): a CommonJS entry spares
 * every run the start of Node's ESM loader. No top-level await, so that it bundles as such.
 */
import { ABOUT_WORDS, about } from '../src/cli/about.js';
import { runBundle } from '../src/cli/bundle.js';

const argv = process.argv.slice(2);
// When nothing is left to do (every stream flushed, every child reaped, the loop empty), exit
// at once: Node's own teardown of the heap and its threads after that took 20-50 ms here.
// Standard streams to files, pipes and terminals are written synchronously on Linux, and the
// 'exit' listeners (the code cache) still run.
process.once('beforeExit', (code) => process.exit(code));
if (ABOUT_WORDS.has(argv[0])) {
  // --version and --help need nothing else: they are answered before the rest is loaded.
  process.exitCode = about(argv[0], process.stdout);
} else if (!runBundle(new URL('./pypy-box.bundle.cjs', import.meta.url), argv)) {
  // The command line bundled into one file (scripts/bundle-cli.mjs) starts in about half the
  // time of its hundred-odd modules; a checkout built by tsc alone runs the modules.
  void import('../src/cli/start.js').then(({ start }) => start(argv));
}
