import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, type StatInfo } from '../platform/index.js';
import { HostMount } from './host-mount.js';
import { MemoryMount } from './memory-mount.js';
import { OverlayMount } from './overlay-mount.js';
import type { NameRules, WalkedTree } from './types.js';

/** A host directory (or file) the tree shows: mounted read-only, or the lower layer of a writable tree. */
export interface HostTree {
  /** Where the guest sees it. */
  at: string;
  hostRoot: string;
  /** The device number its stat results carry. */
  dev: number;
  /** `mount`: a read-only host mount; `lower`: under a writable in-memory layer. */
  layer: 'mount' | 'lower';
  /** Include/exclude filters hide some of its names. */
  filtered: boolean;
  /** The filter as names and name endings it hides at any depth, when it is no more than that. */
  hides?: NameRules;
}

/**
 * The filesystem as the supervisor may be told of it (src/supervisor/delegation.ts): its host
 * trees and mount points, and the controller's own tree (directories, symlinks, small files)
 * as plain data. Answers name virtual paths; the mounts themselves stay inside the VFS.
 */
export class SupervisorView {
  private readonly root: MemoryMount;

  constructor(
    private readonly vfs: WalkedTree,
    root: MemoryMount,
  ) {
    this.root = root;
  }

  /** Every host tree, in mount-table order (longest mount point first). */
  hostTrees(): HostTree[] {
    const out: HostTree[] = [];
    for (const { at, mount } of this.vfs.mountTable()) {
      const host = mount instanceof HostMount ? mount : mount instanceof OverlayMount ? mount.lower : null;
      if (host)
        out.push({
          at,
          hostRoot: host.hostRoot,
          dev: host.dev,
          layer: host === mount ? 'mount' : 'lower',
          filtered: host.filtered,
          hides: host.filtered ? host.nameRules() : undefined,
        });
    }
    return out;
  }

  /** Every mount point but the root's own tree. */
  mountPoints(): string[] {
    return this.vfs
      .mountTable()
      .filter((m) => m.mount !== this.root)
      .map((m) => m.at);
  }

  /** The controller's own tree, not shadowed by a mount: its directories, and its symlinks with their text. */
  ownTree(max: { dirs: number; links: number }): { dirs: string[]; links: [string, string][] } {
    const root = this.root;
    const mountPoints = this.mountPoints();
    const dirs: string[] = [];
    const links: [string, string][] = [];
    const shadowed = (vpath: string) => mountPoints.some((at) => vpath === at || vpath.startsWith(at + '/'));
    const walk = (rel: string[], depth: number) => {
      if (depth > 32) return;
      for (const e of root.list(rel)) {
        const child = [...rel, e.name];
        const vpath = '/' + child.join('/');
        if (shadowed(vpath)) continue;
        const node = root.lookup(child);
        if (!node) continue;
        const type = node.stat.mode & S_IFMT;
        if (type === S_IFLNK && node.linkTarget && links.length < max.links) links.push([vpath, node.linkTarget]);
        else if (type === S_IFDIR && !node.synthetic && dirs.length < max.dirs) {
          dirs.push(vpath);
          walk(child, depth + 1);
        }
      }
    };
    walk([], 0);
    return { dirs, links };
  }

  /** The names the controller's own tree lists in `dir` (mount points included), as virtual paths. */
  ownNames(dir: string): string[] {
    const parts = dir.split('/').filter(Boolean);
    return this.root.list(parts).map((e) => (dir === '/' ? '' : dir) + '/' + e.name);
  }

  /** Every directory above `vpath` is a plain directory of the controller's own tree. */
  ownParents(vpath: string): boolean {
    const parts = vpath.split('/').filter(Boolean);
    for (let k = 1; k < parts.length; k++) {
      if (this.ownNode('/' + parts.slice(0, k).join('/'), [S_IFDIR]) === undefined) return false;
    }
    return true;
  }

  /** The stat the controller answers for a directory or symlink of its own tree (not followed). */
  ownStat(vpath: string): StatInfo | undefined {
    return this.ownNode(vpath, [S_IFDIR, S_IFLNK]);
  }

  /** A regular file of the controller's own tree: its stat and bytes. */
  ownFile(vpath: string): { stat: StatInfo; content: Buffer } | undefined {
    const stat = this.ownNode(vpath, [S_IFREG]);
    try {
      return stat && { stat, content: Buffer.from(this.root.vol.readFileSync(vpath) as Buffer) };
    } catch {
      return undefined;
    }
  }

  /** Whether `vpath` lies in a tree held in memory only (no host directory underneath). */
  inMemoryOnly(vpath: string): boolean {
    try {
      const r = this.vfs.resolve(vpath, [], true);
      if (r.mount instanceof OverlayMount) return r.mount.lower === null;
      return r.mount === this.root;
    } catch {
      return false;
    }
  }

  /** The stat of `vpath` (not followed) when it is a node of the controller's own tree of one of these types, not made up on the fly. */
  private ownNode(vpath: string, types: number[]): StatInfo | undefined {
    try {
      const r = this.vfs.resolve(vpath, [], false);
      return r.mount === this.root && r.node && !r.node.synthetic && types.includes(r.node.stat.mode & S_IFMT)
        ? r.node.stat
        : undefined;
    } catch {
      return undefined;
    }
  }
}
