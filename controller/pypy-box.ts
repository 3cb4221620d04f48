#!/usr/bin/env node
/** The `pypy-box` command: the controller as a program. */

const argv = process.argv.slice(2);
// When nothing is left to do (every stream flushed, every child reaped, the loop empty), exit
// at once: Node's own teardown of the heap and its threads after that took 20-50 ms here.
// Standard streams to files, pipes and terminals are written synchronously on Linux, and the
// 'exit' listeners (the code cache) still run.
process.once('beforeExit', (code) => process.exit(code));
const { ABOUT_WORDS, about } = await import('../src/cli/about.js');
if (ABOUT_WORDS.has(argv[0])) {
  // --version and --help need nothing else: they are answered before the rest is loaded.
  process.exitCode = about(argv[0], process.stdout);
} else {
  // The command line bundled into one file (scripts/bundle-cli.mjs) starts in about half the
  // time of its hundred-odd modules; a checkout built by tsc alone runs the modules.
  const { runBundle } = await import('../src/cli/bundle.js');
  if (!runBundle(new URL('./pypy-box.bundle.cjs', import.meta.url), argv)) {
    const { runCli } = await import('../src/cli/run.js');
    runCli(argv);
  }
}
