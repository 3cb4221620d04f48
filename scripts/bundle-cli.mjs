#!/usr/bin/env node
/**
 * Bundles the command line (as tsc compiled it into dist/) into one file,
 * dist/controller/pypy-box.bundle.cjs, that the command's entry runs with V8's code cache.
 * Loading a hundred-odd modules through Node's ESM loader was most of the command's start-up.
 * Dependencies are bundled too, but msgpackr: the trace module loads it from node_modules when a
 * trace is written or read. The entry itself (the package's `bin`) is bundled as CommonJS too,
 * dist/controller/pypy-box.cjs: started as an ES module, it made Node start its ESM loader first.
 */
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outfile = path.join(root, 'dist/controller/pypy-box.bundle.cjs');
await build({
  stdin: {
    contents: "import { start } from './start.js';\nstart(process.argv.slice(2));\n",
    resolveDir: path.join(root, 'dist/src/cli'),
    sourcefile: 'pypy-box-bundle.js',
  },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  // Smaller to read and to decode on every start (names kept: errors and classes show theirs).
  minify: true,
  keepNames: true,
  charset: 'ascii', // read back as latin1 (src/cli/bundle.ts)
  target: 'node20',
  outfile,
  // The bundle runs as a function given its own URL (src/cli/bundle.ts): the package root is
  // found from it (the supervisor, package.json), as from the modules.
  define: { 'import.meta.url': '__pypyBoxBundleUrl' },
  logLevel: 'warning',
});
const entry = path.join(root, 'dist/controller/pypy-box.cjs');
await build({
  entryPoints: [path.join(root, 'dist/controller/pypy-box.js')],
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  outfile: entry,
  // Without a bundle (a checkout built by tsc alone) the entry imports the modules themselves.
  external: ['../src/cli/start.js'],
  // The entry's own URL, from which it finds the bundle and package.json.
  banner: { js: 'const __pypyBoxEntryUrl = require("node:url").pathToFileURL(__filename).href;' },
  define: { 'import.meta.url': '__pypyBoxEntryUrl' },
  logLevel: 'warning',
});
fs.chmodSync(entry, 0o755);
// The package's `bin`: a script that runs the native client, or this entry when it is not built.
const bin = path.join(root, 'dist/controller/pypy-box');
fs.copyFileSync(path.join(root, 'controller/pypy-box.sh'), bin);
fs.chmodSync(bin, 0o755);
fs.chmodSync(path.join(root, 'dist/controller/pypy-box.js'), 0o755);
