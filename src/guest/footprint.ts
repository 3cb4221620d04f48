import fs from 'node:fs';
import type { Policy } from '../policy/policy.js';
import type { StockProfile } from './profile.js';
import type { VirtualFS } from '../vfs/vfs.js';

/**
 * Adds a stock interpreter's installation to a virtual filesystem, read-only, at its real paths
 * (its binary, standard library, a venv's site-packages and pyvenv.cfg, the shared libraries it
 * loads), with the read grants that let the guest read it. Names the tree already has are left as
 * they are, so a tree built by the caller (or given to several runs) keeps its own content.
 */
export function addInterpreterFootprint(vfs: VirtualFS, policy: Policy, stock: StockProfile): void {
  addMachineDescription(vfs);
  for (const g of stock.grants) {
    if (!policy.grants.some((p) => p.hostPath === g && p.at === g))
      policy.allowRead(g, { reason: `read grant for ${g} (the interpreter's installation)` });
    if (!mountedAt(vfs, g)) vfs.mountHost(g, g);
  }
  for (const [link, target] of stock.symlinks) {
    if (exists(vfs, link)) continue;
    if (insideMount(vfs, link)) {
      // A link inside a mount (an interpreter or venv under /tmp, say) cannot be a name of the
      // controller's own tree: what it leads to is shown at its place instead, read-only.
      const real = realPath(link);
      if (real === undefined) continue;
      policy.allowRead(real, {
        at: link,
        reason: `read grant for ${real} at ${link} (the interpreter's installation)`,
      });
      vfs.mountHost(link, real);
    } else vfs.addSymlink(link, target);
  }
}

/**
 * What interpreters read about the machine, made up: one CPU, 1 GiB. (A sandboxed PyPy's GC sizes
 * its nursery from the cache size, and warns on every start when it cannot read it.)
 */
export function addMachineDescription(vfs: VirtualFS): void {
  if (!exists(vfs, '/proc/cpuinfo'))
    vfs.addFile(
      '/proc/cpuinfo',
      'processor\t: 0\nvendor_id\t: pypy-box\nmodel name\t: virtual CPU\ncache size\t: 1024 KB\nflags\t\t: fpu sse sse2\n\n',
    );
  if (!exists(vfs, '/proc/meminfo'))
    vfs.addFile(
      '/proc/meminfo',
      'MemTotal:        1048576 kB\nMemFree:          524288 kB\nMemAvailable:     524288 kB\n',
    );
}

function realPath(p: string): string | undefined {
  try {
    return fs.realpathSync(p);
  } catch {
    return undefined;
  }
}

function mountedAt(vfs: VirtualFS, vpath: string): boolean {
  return vfs.mountTable().some((m) => m.at === vpath);
}

/** Whether a name lies below a mount point (not in the controller's own tree at the root). */
function insideMount(vfs: VirtualFS, vpath: string): boolean {
  return vfs.mountTable().some((m) => m.at !== '/' && vpath.startsWith(m.at + '/'));
}

export function exists(vfs: VirtualFS, vpath: string): boolean {
  try {
    return vfs.resolve(vpath, [], false).node !== null;
  } catch {
    return false;
  }
}
