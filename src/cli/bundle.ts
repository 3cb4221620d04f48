/**
 * Starts the command line from its one-file bundle, compiled with V8's code cache: on Node 20 the
 * compile cache of later versions does not exist, so the bundle is compiled as a script whose
 * bytecode V8 serialises once and takes back on the next runs (compiling took 85-105 ms here,
 * taking it back 11-35 ms).
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { removeQuietly, trustedOwner } from '../platform/owned-files.js';

/** Runs the bundle if it is there (false otherwise: the caller loads the modules). */
export function runBundle(url: URL, argv: string[]): boolean {
  const file = fileURLToPath(url);
  let source: string;
  let st: fs.Stats;
  try {
    source = fs.readFileSync(file, 'latin1'); // ASCII (esbuild escapes the rest): the fastest read
    st = fs.statSync(file);
  } catch {
    return false;
  }
  // One cache per command: each keeps the functions that command compiled (interact's are not check's).
  const command = commandOf(argv);
  const cache = cacheFile(
    `${file}\0${command}`,
    `${file}\0${st.size}\0${st.mtimeMs}\0${st.ino}\0${process.version}\0${process.arch}\0${command}`,
  );
  const cachedData = cache && readCache(cache.path, cache.key);
  const wrapper = `(function (exports, require, module, __filename, __dirname, __pypyBoxBundleUrl) {${source}\n})`;
  // The bundle makes no import() of its own (esbuild turns them into requires); should one appear,
  // Node's own loader answers it where this Node has the option (20.12 and later).
  const dynamicImports = vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER;
  const script = new vm.Script(wrapper, {
    filename: file,
    cachedData,
    ...(dynamicImports ? { importModuleDynamically: dynamicImports } : {}),
  });
  if (cache && (cachedData === undefined || script.cachedDataRejected))
    process.once('exit', () => writeCache(cache.path, cache.key, script));
  const module = { exports: {} };
  (script.runInThisContext() as (...args: unknown[]) => void)(
    module.exports,
    createRequire(file),
    module,
    file,
    path.dirname(file),
    url.href,
  );
  return true;
}

function commandOf(argv: string[]): string {
  if (argv[0] === '--server-worker') return 'interact'; // a command server's worker runs interact
  return ['interact', 'check', 'trace'].includes(argv[0] ?? '') ? argv[0]! : 'other';
}

/**
 * Where the cache lives, in the user's cache directory (none if there is no home): one file per
 * bundle and command, replaced when the bundle or Node changes (the key). Each installed copy of
 * the package has its own files: at most MAX_CACHES are kept (pruneCaches).
 */
function cacheFile(name: string, key: string): { path: string; key: string } | undefined {
  try {
    const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
    return { path: path.join(base, 'pypy-box', `cli-${fnv1a(name)}.v8`), key };
  } catch {
    return undefined;
  }
}

/**
 * The cached bytecode, if the file is this key's (its first line is the whole key: a name that
 * only hashes the key cannot mix two up), is the user's own and writable by no one else. V8 checks
 * its version, flags and the source's length itself, and compiles afresh when they differ.
 */
function readCache(file: string, key: string): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    const st = fs.fstatSync(fd);
    if (!st.isFile() || !trustedOwner(st.uid) || (st.mode & 0o022) !== 0) return undefined;
    const data = fs.readFileSync(fd);
    const head = Buffer.from(`${key}\n`);
    if (!data.subarray(0, head.length).equals(head)) return undefined;
    // In use: its time says so (at most once a day), so that pruning keeps it.
    if (Date.now() - st.mtimeMs > DAY_MS) touch(fd);
    return data.subarray(head.length);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Written once, at exit (with what the run compiled), through a new file renamed into place. */
function writeCache(file: string, key: string, script: vm.Script): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    fs.writeFileSync(tmp, Buffer.concat([Buffer.from(`${key}\n`), script.createCachedData()]), {
      mode: 0o600,
      flag: 'wx',
    });
    fs.renameSync(tmp, file);
  } catch {
    removeQuietly(tmp); // a read-only home only costs the compilation next time
    return;
  }
  pruneCaches(path.dirname(file), path.basename(file));
}

/** Cache files kept: a few installed copies' commands (each file 0.3-1 MB). */
const MAX_CACHES = 8;
const DAY_MS = 24 * 3600 * 1000;
const CACHE_NAME = /^cli-[0-9a-f]{8}\.v8$/;

function touch(fd: number): void {
  try {
    const now = new Date();
    fs.futimesSync(fd, now, now);
  } catch {
    // a read-only cache only loses its place when others are written
  }
}

/**
 * Removes the least recently used cache files past MAX_CACHES (by their time, which a read
 * refreshes daily): copies of the package removed or replaced leave theirs behind otherwise. Only
 * the user's own regular files of the cache's name form are considered; `kept` (just written) stays.
 */
function pruneCaches(dir: string, kept: string): void {
  try {
    const files: { name: string; mtimeMs: number }[] = [];
    for (const name of fs.readdirSync(dir)) {
      if (name === kept || !CACHE_NAME.test(name)) continue;
      const st = fs.lstatSync(path.join(dir, name));
      if (st.isFile() && st.uid === process.getuid?.()) files.push({ name, mtimeMs: st.mtimeMs });
    }
    files.sort((a, b) => b.mtimeMs - a.mtimeMs);
    for (const f of files.slice(MAX_CACHES - 1)) removeQuietly(path.join(dir, f.name));
  } catch {
    // pruning is housekeeping: a directory that cannot be listed keeps its files
  }
}

/** FNV-1a, 32 bits, as hex: a short file name (the whole key is checked on reading). */
function fnv1a(s: string): string {
  let h = 0x811c9dc5;
  for (let k = 0; k < s.length; k++) h = Math.imul(h ^ s.charCodeAt(k), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}
