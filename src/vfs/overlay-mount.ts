import { Errno, GuestErrno, S_IFDIR, S_IFMT, S_IFREG } from '../platform/index.js';
import type { HostMount } from './host-mount.js';
import type { MemoryMount } from './memory-mount.js';
import type { Quota } from './quota.js';
import type { DirEntry, FileHandle, Mount, NodeInfo, OpenRequest } from './types.js';

const COPY_CHUNK = 1 << 20;

/** Where an overlay's node is in each layer (NodeInfo.place), for the next step of a walk. */
interface Layers {
  upper: NodeInfo | null;
  /** The lower layer's node; undefined when not looked up (an upper node hides it). */
  lower: NodeInfo | null | undefined;
  /** No whiteout or opaque directory hides the lower layer at this name (or above it). */
  shown: boolean;
  /** The name's components joined with '/' (the key of whiteouts and opaque directories). */
  key: string;
}

/**
 * A writable tree: an in-memory upper layer over an optional read-only host directory. The guest
 * sees the union; every change lands in the upper layer (copy-up on write, whiteouts on delete),
 * so the host directory is never modified.
 */
export class OverlayMount implements Mount {
  readonly source = 'overlay' as const;
  private readonly whiteouts = new Set<string>();
  /** Upper directories that hide the lower directory of the same name (recreated after removal). */
  private readonly opaque = new Set<string>();

  constructor(
    readonly upper: MemoryMount,
    readonly lower: HostMount | null,
    readonly quota: Quota,
  ) {}

  private lowerVisible(rel: readonly string[]): boolean {
    if (!this.lower) return false;
    if (rel.length === 0) return !this.opaque.has('');
    return this.shownAlong(rel);
  }

  /** No whiteout on the way to `rel` (itself included) and no opaque directory above it. */
  private shownAlong(rel: readonly string[]): boolean {
    if (this.whiteouts.size === 0 && this.opaque.size === 0) return true;
    let key = '';
    for (let k = 0; k < rel.length; k++) {
      if (k > 0 && this.opaque.has(key)) return false;
      key = k === 0 ? rel[0]! : `${key}/${rel[k]}`;
      if (this.whiteouts.has(key)) return false;
    }
    return true;
  }

  private fromUpper(rel: readonly string[]): NodeInfo | null {
    return this.upper.lookup(rel);
  }

  lookup(rel: readonly string[]): NodeInfo | null {
    const upper = this.fromUpper(rel);
    const shown = this.lower !== null && (rel.length === 0 || this.shownAlong(rel));
    const lower = !upper && this.lowerVisible(rel) ? this.lower!.lookup(rel) : undefined;
    return this.layered(upper, lower, shown, rel.join('/'));
  }

  step(parent: NodeInfo, rel: readonly string[]): NodeInfo | null {
    const from = parent.place as Layers | undefined;
    if (from === undefined || rel.length === 0) return this.lookup(rel);
    const name = rel[rel.length - 1]!;
    const key = rel.length === 1 ? name : `${from.key}/${name}`;
    // A name has no upper node unless its directory has one.
    const upper = from.upper ? this.upper.step(from.upper, rel) : null;
    const shown = from.shown && !this.whiteouts.has(key) && !(rel.length > 1 && this.opaque.has(from.key));
    let lower: NodeInfo | null | undefined;
    if (!upper && shown)
      lower = from.lower === null ? null : from.lower ? this.lower!.step(from.lower, rel) : this.lower!.lookup(rel);
    return this.layered(upper, lower, shown, key);
  }

  /** The node a name shows (upper over lower), with both layers kept for the next step of a walk. */
  private layered(
    upper: NodeInfo | null,
    lower: NodeInfo | null | undefined,
    shown: boolean,
    key: string,
  ): NodeInfo | null {
    const node = upper ?? lower;
    if (!node) return null;
    const place: Layers = { upper, lower, shown, key };
    return { ...node, place };
  }

  list(rel: readonly string[]): DirEntry[] {
    const seen = new Map<string, DirEntry>();
    if (this.fromUpper(rel)) for (const e of this.upper.list(rel)) seen.set(e.name, e);
    const dirKey = rel.join('/');
    if (this.lowerVisible(rel) && !this.opaque.has(dirKey) && this.lower!.lookup(rel)) {
      for (const e of this.lower!.list(rel)) {
        if (seen.has(e.name) || this.whiteouts.has(rel.length ? `${dirKey}/${e.name}` : e.name)) continue;
        seen.set(e.name, e);
      }
    }
    return [...seen.values()];
  }

  hostPath(rel: readonly string[], node?: NodeInfo | null): string | undefined {
    const layers = node?.place as Layers | undefined;
    if (layers) return layers.upper ? undefined : this.lower!.hostPath(rel);
    if (this.fromUpper(rel) || !this.lowerVisible(rel)) return undefined;
    return this.lower!.lookup(rel) ? this.lower!.hostPath(rel) : undefined;
  }

  writable(): boolean {
    return true;
  }

  /** Makes sure every directory above `rel` exists in the upper layer. */
  private copyUpParents(rel: readonly string[]): void {
    // A name's directory in the upper layer means all above it are there too: one walk, not one per level.
    if (rel.length <= 1 || this.fromUpper(rel.slice(0, -1))) return;
    for (let k = 1; k < rel.length; k++) {
      const dir = rel.slice(0, k);
      if (this.fromUpper(dir)) continue;
      const node = this.lookup(dir);
      if (!node || (node.stat.mode & S_IFMT) !== S_IFDIR)
        throw new GuestErrno(Errno.ENOENT, 'parent directory missing');
      this.upper.mkdir(dir, node.stat.mode | 0o200);
    }
  }

  private copyUp(rel: readonly string[], node: NodeInfo, truncate: boolean): void {
    if ((node.stat.mode & S_IFMT) !== S_IFREG) throw new GuestErrno(Errno.EXDEV, 'only regular files can be copied up');
    this.copyUpParents(rel);
    const src = truncate
      ? null
      : this.lower!.open(rel, { read: true, write: false, create: false, exclusive: false, truncate: false, mode: 0 });
    const dst = this.upper.open(
      rel,
      { read: true, write: true, create: true, exclusive: true, truncate: false, mode: node.stat.mode | 0o200 },
      null,
    );
    try {
      if (src) {
        const buf = Buffer.allocUnsafe(COPY_CHUNK);
        for (let pos = 0; ;) {
          const n = src.read(buf, 0, buf.length, pos);
          if (n === 0) break;
          dst.write(buf.subarray(0, n), pos);
          pos += n;
        }
      }
    } finally {
      src?.close();
      dst.close();
    }
  }

  open(rel: readonly string[], req: OpenRequest, existing: NodeInfo | null): FileHandle {
    const key = rel.join('/');
    if (existing && this.fromUpper(rel)) return this.upper.open(rel, req, existing);
    if (existing) {
      if (!req.write) return this.lower!.open(rel, req);
      this.copyUp(rel, existing, req.truncate);
      return this.upper.open(rel, { ...req, truncate: false }, this.fromUpper(rel));
    }
    this.copyUpParents(rel);
    const file = this.upper.open(rel, req, null);
    this.whiteouts.delete(key);
    return file;
  }

  mkdir(rel: readonly string[], mode: number): void {
    if (this.lookup(rel)) throw new GuestErrno(Errno.EEXIST, 'name exists');
    this.copyUpParents(rel);
    this.upper.mkdir(rel, mode);
    const key = rel.join('/');
    if (this.whiteouts.delete(key)) this.opaque.add(key);
  }

  rmdir(rel: readonly string[]): void {
    const node = this.lookup(rel);
    if (!node) throw new GuestErrno(Errno.ENOENT, 'no such directory');
    if ((node.stat.mode & S_IFMT) !== S_IFDIR) throw new GuestErrno(Errno.ENOTDIR, 'not a directory');
    if (this.list(rel).length > 0) throw new GuestErrno(Errno.ENOTEMPTY, 'directory not empty');
    this.remove(rel, () => this.upper.rmdir(rel));
  }

  unlink(rel: readonly string[]): void {
    const node = this.lookup(rel);
    if (!node) throw new GuestErrno(Errno.ENOENT, 'no such file');
    if ((node.stat.mode & S_IFMT) === S_IFDIR) throw new GuestErrno(Errno.EISDIR, 'is a directory');
    this.remove(rel, () => this.upper.unlink(rel));
  }

  private remove(rel: readonly string[], fromUpper: () => void): void {
    const key = rel.join('/');
    if (this.fromUpper(rel)) fromUpper();
    this.opaque.delete(key);
    if (this.lowerVisible(rel) && this.lower!.lookup(rel)) {
      this.quota.charge(1, 'whiteout');
      this.whiteouts.add(key);
    }
  }

  rename(from: readonly string[], to: readonly string[]): void {
    const node = this.lookup(from);
    if (!node) throw new GuestErrno(Errno.ENOENT, 'no such file');
    const inLower = !this.fromUpper(from);
    if (inLower) {
      if ((node.stat.mode & S_IFMT) === S_IFDIR)
        throw new GuestErrno(Errno.EXDEV, 'cannot move a directory of the read-only layer');
      this.copyUp(from, node, false);
    }
    const target = this.lookup(to);
    if (target && !this.fromUpper(to)) {
      if ((target.stat.mode & S_IFMT) === S_IFDIR)
        throw new GuestErrno(Errno.EXDEV, 'cannot replace a directory of the read-only layer');
    }
    this.copyUpParents(to);
    this.upper.rename(from, to);
    this.whiteouts.delete(to.join('/'));
    if (this.lowerVisible(from) && this.lower!.lookup(from)) this.whiteouts.add(from.join('/'));
  }

  symlink(rel: readonly string[], target: string): void {
    if (this.lookup(rel)) throw new GuestErrno(Errno.EEXIST, 'name exists');
    this.copyUpParents(rel);
    this.upper.symlink(rel, target);
    this.whiteouts.delete(rel.join('/'));
  }
}
