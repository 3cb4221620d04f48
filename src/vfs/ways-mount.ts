import { S_IFDIR } from '../platform/index.js';
import { directoryHandle, syntheticStat } from './stat.js';
import type { DirEntry, FileHandle, Mount, NodeInfo } from './types.js';

/**
 * The directories on the way to a mount nested inside another mount (a grant under /tmp) where
 * the outer mount has no directory of its own: read-only and empty but for the way on (the VFS
 * adds the names of the mounts below). The walk anchors this mount at such a directory, so the
 * guest's changes there are refused as on any read-only tree (EROFS; EXDEV across it) instead of
 * landing in the outer mount, where nothing leads on.
 */
export class WaysMount implements Mount {
  readonly source = 'memory' as const;
  private readonly node: NodeInfo;

  constructor(owner: { uid: number; gid: number }) {
    const stat = syntheticStat({ dev: 1, ino: 1, nlink: 2, mode: S_IFDIR | 0o555 }, owner);
    this.node = { stat, synthetic: true };
  }

  /** The way directory itself; nothing else is here (names below it are the VFS's to add). */
  lookup(rel: readonly string[]): NodeInfo | null {
    return rel.length === 0 ? this.node : null;
  }

  step(_parent: NodeInfo, rel: readonly string[]): NodeInfo | null {
    return this.lookup(rel);
  }

  list(): DirEntry[] {
    return [];
  }

  open(): FileHandle {
    return directoryHandle(this.node.stat);
  }

  hostPath(): undefined {
    return undefined;
  }

  writable(): boolean {
    return false;
  }
}
