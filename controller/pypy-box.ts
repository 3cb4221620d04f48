#!/usr/bin/env node
/** The `pypy-box` command: the controller as a program. */
import { runBundle } from '../src/cli/bundle.js';

// The command line bundled into one file (scripts/bundle-cli.mjs) starts in about half the time of
// its hundred-odd modules; a checkout built by tsc alone runs the modules.
if (!runBundle(new URL('./pypy-box.bundle.cjs', import.meta.url), process.argv.slice(2))) {
  const { runCli } = await import('../src/cli/run.js');
  runCli(process.argv.slice(2));
}
