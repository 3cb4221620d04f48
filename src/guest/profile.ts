import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { readCachedProfile, writeCachedProfile } from './profile-cache.js';
import type { StockProfile } from './stock-profile.js';

export type { StockProfile } from './stock-profile.js';

const run = promisify(execFile);

/** Part of the cache key: a new field makes a new version (a name of its own, never reused). */
const PROFILE_VERSION = '6-venv-missing';
const memory = new Map<string, Promise<StockProfile>>();

/** Whether a host file starts with the ELF magic. */
export function isElf(p: string): boolean {
  try {
    const fd = fs.openSync(p, 'r');
    try {
      const b = Buffer.alloc(4);
      fs.readSync(fd, b, 0, 4, 0);
      return b.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return false;
  }
}

/** Finds an interpreter by name or path; wrapper scripts (pyenv shims) are skipped for real binaries. */
export function findInterpreter(name: string): string | undefined {
  if (name.includes('/')) return fs.existsSync(name) && isElf(fs.realpathSync(name)) ? path.resolve(name) : undefined;
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/bin', '/usr/local/bin', '/bin'];
  for (const d of dirs) {
    const p = path.join(d, name);
    try {
      if (isElf(fs.realpathSync(p))) return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** The default stock guest: the system pypy3, else python3. */
export function defaultInterpreter(): string {
  const p = findInterpreter('pypy3') ?? findInterpreter('python3');
  if (!p) throw new Error('no pypy3 or python3 found (install one: apt-get install pypy3)');
  return p;
}

function cacheFile(binary: string): string | undefined {
  try {
    const st = fs.statSync(binary);
    const key = createHash('sha256')
      .update(`${PROFILE_VERSION}:${binary}:${st.size}:${st.mtimeMs}:${st.ino}`)
      .digest('hex')
      .slice(0, 24);
    const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
    return path.join(base, 'pypy-box', `profile-${key}.json`);
  } catch {
    return undefined;
  }
}

function listSharedObjects(dir: string, out: string[], depth = 0): void {
  if (depth > 6) return;
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'test' && e.name !== 'tests' && e.name !== '__pycache__') listSharedObjects(p, out, depth + 1);
    } else if (e.isFile() && /\.so(\.|$)/.test(e.name)) out.push(p);
  }
}

/** Libraries ldd says the given objects load (absolute paths as the loader names them). */
async function sharedLibraries(objects: string[]): Promise<string[]> {
  const libs = new Set<string>();
  for (let k = 0; k < objects.length; k += 64) {
    const batch = objects.slice(k, k + 64);
    let text: string;
    try {
      text = (await run('ldd', batch, { maxBuffer: 16 * 1024 * 1024 })).stdout;
    } catch (err) {
      text = String((err as { stdout?: string }).stdout ?? '');
    }
    for (const line of text.split('\n')) {
      const m = /=>\s+(\/\S+)\s+\(/.exec(line) ?? /^\s+(\/\S+)\s+\(0x/.exec(line);
      if (m) libs.add(m[1]!);
    }
  }
  return [...libs];
}

/**
 * Records the host symlinks met on the way to `p` (path -> link text), every hop of a chain
 * (a venv's bin/python -> python3 -> /usr/bin/python3 -> python3.11), so that the virtual tree
 * resolves the name as the host does; returns its real path.
 */
export function walkLinks(p: string, links: Map<string, string>, hops = 0): string {
  const parts = path.resolve(p).split('/').filter(Boolean);
  let cur = '/';
  for (let k = 0; k < parts.length; k++) {
    const next = path.join(cur, parts[k]!);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(next);
    } catch {
      return path.join(next, ...parts.slice(k + 1));
    }
    if (st.isSymbolicLink()) {
      const text = fs.readlinkSync(next);
      links.set(next, text);
      cur = hops < 40 ? walkLinks(path.resolve(cur, text), links, hops + 1) : fs.realpathSync(next);
    } else cur = next;
  }
  return cur;
}

/** Implementation, prefix, exec prefix, module path before site ran, a venv's site packages, all site packages. */
type Description = [string, string, string, string[], string[], string[]];

/**
 * Run with -S, the form the test guests answer; site is run by the query itself, since a venv's
 * prefix is set by site on older versions. The standard library is the path before site ran: not
 * what .pth files of the host's site-packages add.
 */
const DESCRIBE =
  'import sys, json, site; path = list(sys.path); site.main(); venv = sys.prefix != sys.base_prefix; ' +
  'print(json.dumps([sys.implementation.name, sys.prefix, sys.exec_prefix, path, site.getsitepackages() if venv else [], getattr(site, "getsitepackages", list)()]))';

/**
 * What the interpreter says of itself: implementation, prefixes, module path. Anything that does
 * not answer as a Python would (a failure, other output) is no Python interpreter, said in one line.
 */
async function describeInterpreter(binary: string): Promise<Description> {
  let stdout: string;
  try {
    ({ stdout } = await run(binary, ['-S', '-s', '-E', '-c', DESCRIBE], { env: {}, timeout: 20_000 }));
  } catch (err) {
    const e = err as { code?: unknown; signal?: unknown; killed?: boolean; stderr?: unknown };
    const how = e.killed
      ? 'it did not answer within 20 s'
      : typeof e.code === 'number'
        ? `it exited with ${e.code}`
        : e.signal
          ? `it died of ${String(e.signal)}`
          : `it could not be run: ${String(e.code)}`;
    const said = String(e.stderr ?? '')
      .trim()
      .split('\n')[0]
      ?.slice(0, 200);
    throw new Error(
      `${binary} is not a Python interpreter (${how} when asked to describe itself${said ? `: ${said}` : ''})`,
      { cause: err },
    );
  }
  let answer: unknown;
  try {
    answer = JSON.parse(stdout);
  } catch {
    /* checked below */
  }
  const strings = (x: unknown) => Array.isArray(x) && x.every((y) => typeof y === 'string');
  const ok =
    Array.isArray(answer) &&
    answer.length === 6 &&
    answer.slice(0, 3).every((x) => typeof x === 'string') &&
    answer.slice(3).every(strings);
  if (!ok) throw new Error(`${binary} is not a Python interpreter (it printed no description of itself)`);
  return answer as Description;
}

async function compute(argv0: string): Promise<StockProfile> {
  const binary = fs.realpathSync(argv0);
  // Asked of the interpreter as named (a venv's bin/python finds its pyvenv.cfg from there).
  const [impl, prefix, , sysPath, venvSite, sitePackages] = await describeInterpreter(path.resolve(argv0));
  const venv = venvSite.length > 0;
  const stdlib = sysPath.filter((p) => p && path.isAbsolute(p) && !/(site|dist)-packages/.test(p) && isDir(p));
  // A venv's own packages, and the pyvenv.cfg that tells the interpreter it runs in one.
  const venvFiles = venv ? [path.join(prefix, 'pyvenv.cfg'), ...venvSite.filter(isDir)] : [];
  const objects = [binary];
  for (const d of [...stdlib, ...venvFiles]) listSharedObjects(d, objects);
  const libs = await sharedLibraries(objects);
  const links = new Map<string, string>();
  const grants = new Set<string>();
  for (const p of [argv0, ...stdlib, ...venvFiles, ...libs, '/etc/ld.so.cache']) {
    if (!fs.existsSync(p)) continue;
    grants.add(walkLinks(p, links));
  }
  // A grant inside a granted directory is already covered.
  const sorted = [...grants].sort();
  const top = sorted.filter((g) => !sorted.some((o) => o !== g && g.startsWith(o + '/')));
  // Older answers (or interpreters without site packages) leave the last field out.
  const missing = [...sysPath, ...(Array.isArray(sitePackages) ? sitePackages : [])].filter(
    (p) => p && path.isAbsolute(p) && !top.some((g) => p === g || p.startsWith(g + '/')),
  );
  return {
    binary,
    argv0: path.resolve(argv0),
    family: impl === 'pypy' ? 'pypy' : 'cpython',
    grants: top,
    symlinks: [...links.entries()],
    missing,
  };
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The profile of an interpreter (name or path), from memory, the disk cache, or computed. */
export function stockProfile(interpreter: string): Promise<StockProfile> {
  const argv0 = findInterpreter(interpreter);
  if (!argv0) return Promise.reject(new Error(`interpreter ${interpreter} not found (or not an ELF binary)`));
  let p = memory.get(argv0);
  if (!p) {
    p = (async () => {
      const file = cacheFile(fs.realpathSync(argv0));
      const cached = file ? readCachedProfile(file, argv0) : undefined;
      if (cached) return cached;
      const profile = await compute(argv0);
      if (file) writeCachedProfile(file, profile);
      return profile;
    })();
    memory.set(argv0, p);
    p.catch(() => memory.delete(argv0));
  }
  return p;
}
