import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { GuestErrno } from '../../platform/index.js';
import { Policy } from '../../policy/policy.js';
import { addStandIns } from '../../guest/stand-ins.js';
import { walkLinks, type StockProfile } from '../../guest/profile.js';
import { VirtualFS } from '../../vfs/vfs.js';
import { addInterpreterFootprint, addMachineDescription, exists } from '../../guest/footprint.js';
import { OptionError, type ControllerOptions, type Limits } from '../options.js';

export const DEFAULT_ARGV0 = '/lib/pypy';

/** When the trees this process builds say they were made (the same for every run: see VfsOptions.time). */
const TREE_TIME = Math.floor(Date.now() / 1000) * 1000;

/**
 * The filesystem a guest gets when the caller did not build one: `/tmp` (writable, in memory,
 * optionally over a host directory), `/dev`, the PyPy stdlib at `/lib` when a lib path is given,
 * every policy read grant at its place, and a virtual executable at argv[0] for PyPy to find.
 */
export function buildVfs(o: ControllerOptions, limits: Limits, policy: Policy, stock?: StockProfile): VirtualFS {
  const userGrants = policy.grants.slice();
  const vfs = new VirtualFS({
    uid: o.identity?.uid,
    gid: o.identity?.gid,
    maxPathLength: limits.pathLength,
    time: TREE_TIME,
  });
  vfs.mountDevices('/dev');
  if (o.tmpDir !== undefined) {
    if (!isDir(o.tmpDir)) throw new OptionError('tmpDir', `${o.tmpDir} is not a directory`);
    policy.allowRead(o.tmpDir, { reason: `read grant for ${o.tmpDir} (--tmp)` });
  }
  try {
    vfs.mountTmp('/tmp', {
      quotaBytes: limits.tmpBytes,
      lowerDir: o.tmpDir,
      lowerFilter: o.tmpFilter,
      files: o.tmpFiles,
    });
  } catch (err) {
    if (err instanceof GuestErrno)
      throw new OptionError('tmpFiles', `do not fit in the /tmp quota (limits.tmpBytes): ${err.message}`);
    if (o.tmpFiles) throw new OptionError('tmpFiles', (err as Error).message);
    throw err;
  }
  const argv0 = stock ? stock.argv0 : (o.argv0 ?? DEFAULT_ARGV0);
  addMachineDescription(vfs);
  if (stock) {
    addInterpreterFootprint(vfs, policy, stock);
    addStandIns(vfs, stock);
  }
  if (o.libPath !== undefined) {
    const lib = path.resolve(o.libPath);
    const dirs = ['lib-python', 'lib_pypy'];
    for (const d of dirs) {
      if (!isDir(path.join(lib, d)))
        throw new OptionError('libPath', `${lib} has no ${d}/ directory (expected a PyPy source or install tree)`);
    }
    const home = path.posix.dirname(argv0);
    for (const d of dirs) {
      const host = path.join(lib, d);
      policy.allowRead(host, { reason: `read grant for ${host} (--lib-path)` });
      vfs.mountHost(path.posix.join(home, d), host, { exclude: ['**/__pycache__', '**/*.pyc'] });
    }
  }
  for (const g of userGrants) {
    if (!fs.existsSync(g.hostPath))
      throw new OptionError('policy', `read grant for ${g.hostPath}: no such file or directory`);
    refuseMountPoint(vfs, g.at, g.hostPath);
    const filter = { include: g.include, exclude: g.exclude, dotfiles: g.dotfiles };
    if (g.at === g.hostPath || !sameFile(g.at, g.hostPath)) {
      vfs.mountHost(g.at, g.hostPath, filter);
      continue;
    }
    // Shown at its own host path, which goes through host symlinks (/lib -> usr/lib): the same
    // symlinks are made in the virtual tree, unless that tree already has those names.
    const links = new Map<string, string>();
    walkLinks(g.at, links);
    const fits = [...links].every(([link, target]) => !exists(vfs, link) || linkText(vfs, link) === target);
    if (fits) {
      for (const [link, target] of links) if (!exists(vfs, link)) vfs.addSymlink(link, target);
      vfs.mountHost(g.hostPath, g.hostPath, filter);
    } else vfs.mountHost(g.at, g.hostPath, filter);
  }
  for (const [vpath, data] of Object.entries(o.files ?? {})) vfs.addFile(vpath, data);
  if (!exists(vfs, argv0)) vfs.addFile(argv0, '', 0o755);
  return vfs;
}

/**
 * A grant shown at the root or at a tree the sandbox mounts itself (/tmp, /dev) would replace
 * that tree, not sit inside it: refused. A grant below one (a host directory under /tmp) is shown
 * there read-only, in place of what the tree holds at that name.
 */
function refuseMountPoint(vfs: VirtualFS, at: string, hostPath: string): void {
  const vpath = path.posix.resolve('/', at);
  if (vpath !== '/' && !vfs.mountTable().some((m) => m.at === vpath)) return;
  const what = vpath === '/' ? 'the root of the tree' : `the sandbox's own ${vpath}`;
  throw new OptionError(
    'policy',
    `read grant for ${hostPath}: shown at ${vpath}, it would replace ${what}; grant the directories below it instead`,
  );
}

function linkText(vfs: VirtualFS, vpath: string): string | undefined {
  try {
    return vfs.resolve(vpath, [], false).node?.linkTarget;
  } catch {
    return undefined;
  }
}

function sameFile(a: string, b: string): boolean {
  try {
    return fs.realpathSync(a) === fs.realpathSync(b);
  } catch {
    return false;
  }
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Everything `buildVfs` makes a stock guest's tree from, as one string: two runs with the same
 * recipe get the same tree (host contents aside), so what is derived from the tree can be reused.
 * Undefined when the caller brought a tree of their own.
 */
export function vfsRecipe(
  o: ControllerOptions,
  limits: Limits,
  policy: Policy,
  stock: StockProfile,
): string | undefined {
  if (o.vfs !== undefined) return undefined;
  return JSON.stringify([
    // Files with their content: small ones are handed to the supervisor to open itself.
    stock.binary,
    stock.argv0,
    stock.grants,
    stock.symlinks,
    stock.missing ?? [],
    o.tmpDir ?? null,
    o.libPath ?? null,
    Object.entries(o.tmpFiles ?? {}).map(([name, data]) => [name, createHash('sha1').update(data).digest('hex')]),
    Object.entries(o.files ?? {}).map(([name, data]) => [name, createHash('sha1').update(data).digest('hex')]),
    o.cwd ?? null,
    o.identity ?? null,
    limits.pathLength,
    policy.grants,
    policy.listRules().length,
  ]);
}

/**
 * A sandboxed PyPy's environment: PYTHONDONTWRITEBYTECODE unless given, so imports from the
 * read-only library do not try to write bytecode caches there (each a refused write, a denial).
 */
export function sandboxedEnv(env: Record<string, string> | undefined): Record<string, string> {
  return env && Object.hasOwn(env, 'PYTHONDONTWRITEBYTECODE') ? { ...env } : { PYTHONDONTWRITEBYTECODE: '1', ...env };
}
