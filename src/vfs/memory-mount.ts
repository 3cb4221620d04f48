import type { Volume } from 'memfs';
import {
  DT_UNKNOWN,
  direntType,
  Errno,
  GuestErrno,
  errnoFromNode,
  S_IFLNK,
  S_IFMT,
  type StatInfo,
} from '../platform/index.js';
import { INODE_COST, type Quota } from './quota.js';
import { fromNodeStats } from './stat.js';
import type { DirEntry, FileHandle, Mount, NodeInfo, OpenRequest } from './types.js';

export interface MemoryMountOptions {
  dev: number;
  owner: { uid: number; gid: number };
  /** The guest may create, change and remove names here. */
  writable: boolean;
  quota?: Quota;
  /** Milliseconds since the epoch shown as every name's times (read-only trees; see VfsOptions.time). */
  time?: number;
}

function withTime(st: StatInfo, opts: MemoryMountOptions): StatInfo {
  if (opts.time === undefined || opts.writable) return st;
  const ns = BigInt(Math.trunc(opts.time)) * 1_000_000n;
  return { ...st, atimeNs: ns, mtimeNs: ns, ctimeNs: ns };
}

function rethrow(err: unknown, what: string): never {
  if (err instanceof GuestErrno) throw err;
  throw new GuestErrno(errnoFromNode(err), `${what}: ${(err as Error).message}`);
}

/**
 * The parts of memfs's core (4.x) a walk steps through: a name's link, its children, its node.
 * Reached through the volume's `_core`; where that is missing or differs, every lookup walks the
 * whole path through the public API instead (same answers, more work).
 */
interface CoreLink {
  getChild(name: string): CoreLink | undefined;
  getNode(): CoreInode;
}
interface CoreInode {
  ino: number;
  mode: number;
  nlink: number;
  symlink: string;
  atime: Date;
  mtime: Date;
  ctime: Date;
  getSize(): number;
  isDirectory(): boolean;
  isSymlink(): boolean;
  canExecute(uid: number, gid: number): boolean;
}
interface CoreVolume {
  getLinkOrThrow(filename: string, funcName?: string): CoreLink;
  process: { getuid?(): number; getgid?(): number };
}

function coreOf(vol: InstanceType<typeof Volume>): CoreVolume | undefined {
  const core = (vol as unknown as { _core?: Partial<CoreVolume> })._core;
  return typeof core?.getLinkOrThrow === 'function' && typeof core.process === 'object'
    ? (core as CoreVolume)
    : undefined;
}

/** A link's node as memfs's own lstat shows it (Stats.build), before the mount's conversion. */
function inodeStats(node: CoreInode) {
  return {
    ino: node.ino,
    mode: node.mode,
    nlink: node.nlink,
    size: node.getSize(),
    atimeMs: node.atime.getTime(),
    mtimeMs: node.mtime.getTime(),
    ctimeMs: node.ctime.getTime(),
  };
}

/** A subtree of a memfs volume: the controller's own virtual files, or the upper layer of a writable tree. */
export class MemoryMount implements Mount {
  readonly source = 'memory' as const;
  constructor(
    readonly vol: InstanceType<typeof Volume>,
    private readonly base: string,
    private readonly opts: MemoryMountOptions,
  ) {
    this.core = coreOf(vol);
  }

  private p(rel: readonly string[]): string {
    return rel.length ? `${this.base === '/' ? '' : this.base}/${rel.join('/')}` : this.base;
  }

  private statOf(path: string): StatInfo {
    return withTime(
      fromNodeStats(this.vol.lstatSync(path) as never, this.opts.dev, this.opts.owner, !this.opts.writable),
      this.opts,
    );
  }

  /** Lookups in a tree the guest cannot change, remembered (the host may still add to it: cleared then). */
  private readonly cache = new Map<string, NodeInfo | null>();
  /** The same, for steps of a walk: by memfs link. */
  private stepCache = new WeakMap<CoreLink, NodeInfo>();
  private readonly core: CoreVolume | undefined;

  lookup(rel: readonly string[]): NodeInfo | null {
    if (this.opts.writable) return this.lookupNow(rel);
    const key = rel.join('/');
    let hit = this.cache.get(key);
    if (hit === undefined) {
      hit = this.lookupNow(rel);
      this.cache.set(key, hit);
    }
    return hit;
  }

  step(parent: NodeInfo, rel: readonly string[]): NodeInfo | null {
    const from = parent.place as CoreLink | undefined;
    if (!this.core || from === undefined || rel.length === 0) return this.lookup(rel);
    // As memfs's own walk: a directory the host's ids may not search hides what is in it.
    const dir = from.getNode();
    if (!dir.isDirectory() || !dir.canExecute(this.core.process.getuid?.() ?? 0, this.core.process.getgid?.() ?? 0))
      return null;
    const link = from.getChild(rel[rel.length - 1]!);
    if (!link) return null;
    if (this.opts.writable) return this.describe(link);
    let hit = this.stepCache.get(link);
    if (hit === undefined) {
      hit = this.describe(link);
      this.stepCache.set(link, hit);
    }
    return hit;
  }

  private lookupNow(rel: readonly string[]): NodeInfo | null {
    const path = this.p(rel);
    if (this.core) {
      let link: CoreLink;
      try {
        link = this.core.getLinkOrThrow(path, 'lstat');
      } catch {
        return null;
      }
      return this.describe(link);
    }
    let stat: StatInfo;
    try {
      stat = this.statOf(path);
    } catch {
      return null;
    }
    const info: NodeInfo = { stat };
    if ((stat.mode & S_IFMT) === S_IFLNK) info.linkTarget = String(this.vol.readlinkSync(path));
    return info;
  }

  /** A name's node as lookup() shows it, with its link kept for the next step of a walk. */
  private describe(link: CoreLink): NodeInfo {
    const node = link.getNode();
    const stat = withTime(
      fromNodeStats(inodeStats(node), this.opts.dev, this.opts.owner, !this.opts.writable),
      this.opts,
    );
    const info: NodeInfo = node.isSymlink()
      ? { stat, linkTarget: String(node.symlink), place: link }
      : { stat, place: link };
    return info;
  }

  list(rel: readonly string[]): DirEntry[] {
    const path = this.p(rel);
    try {
      const names = this.vol.readdirSync(path) as string[];
      return names.map((name) => {
        try {
          const st = this.vol.lstatSync(`${path === '/' ? '' : path}/${name}`);
          return { name, ino: Number(st.ino), type: direntType(Number(st.mode)) };
        } catch {
          return { name, ino: 0, type: DT_UNKNOWN };
        }
      });
    } catch (err) {
      rethrow(err, 'list');
    }
  }

  open(rel: readonly string[], req: OpenRequest, existing: NodeInfo | null): FileHandle {
    const path = this.p(rel);
    if ((req.write || req.create) && !this.opts.writable) throw new GuestErrno(Errno.EROFS, 'read-only in-memory tree');
    try {
      if (!existing) {
        this.opts.quota?.charge(INODE_COST, 'creating a file');
        const fd = this.vol.openSync(path, 'wx+', req.mode & 0o7777);
        return new MemoryFile(this.vol, fd, this.opts);
      }
      const fd = this.vol.openSync(path, this.opts.writable && req.write ? 'r+' : 'r');
      const file = new MemoryFile(this.vol, fd, this.opts);
      if (req.truncate && req.write) file.truncate(0);
      return file;
    } catch (err) {
      rethrow(err, 'open');
    }
  }

  hostPath(): undefined {
    return undefined;
  }

  writable(): boolean {
    return this.opts.writable;
  }

  private mutate<T>(what: string, fn: () => T): T {
    if (!this.opts.writable) throw new GuestErrno(Errno.EROFS, 'read-only in-memory tree');
    try {
      return fn();
    } catch (err) {
      rethrow(err, what);
    }
  }

  mkdir(rel: readonly string[], mode: number): void {
    this.mutate('mkdir', () => {
      this.opts.quota?.charge(INODE_COST, 'creating a directory');
      try {
        this.vol.mkdirSync(this.p(rel), mode & 0o7777);
      } catch (err) {
        this.opts.quota?.release(INODE_COST);
        throw err;
      }
    });
  }

  rmdir(rel: readonly string[]): void {
    this.mutate('rmdir', () => {
      this.vol.rmdirSync(this.p(rel));
      this.opts.quota?.release(INODE_COST);
    });
  }

  unlink(rel: readonly string[]): void {
    this.mutate('unlink', () => {
      const path = this.p(rel);
      const st = this.vol.lstatSync(path);
      if (st.isDirectory()) throw new GuestErrno(Errno.EISDIR, 'unlink of a directory');
      this.vol.unlinkSync(path);
      this.opts.quota?.release(Number(st.size) + INODE_COST);
    });
  }

  rename(from: readonly string[], to: readonly string[]): void {
    this.mutate('rename', () => {
      const dst = this.p(to);
      let replaced = 0;
      try {
        const st = this.vol.lstatSync(dst);
        replaced = (st.isDirectory() ? 0 : Number(st.size)) + INODE_COST;
      } catch {
        /* no target */
      }
      this.vol.renameSync(this.p(from), dst);
      this.opts.quota?.release(replaced);
    });
  }

  symlink(rel: readonly string[], target: string): void {
    this.mutate('symlink', () => {
      this.opts.quota?.charge(INODE_COST + Buffer.byteLength(target), 'creating a symlink');
      this.vol.symlinkSync(target, this.p(rel));
    });
  }

  /** Forgets remembered lookups (the host changed the tree). */
  invalidate(): void {
    this.cache.clear();
    this.stepCache = new WeakMap();
  }

  /** Writes a file on behalf of the controller (not the guest): quota-free, used to build trees. */
  put(rel: readonly string[], data: Buffer | string, mode = 0o644): void {
    this.invalidate();
    const path = this.p(rel);
    const dir = path.slice(0, path.lastIndexOf('/')) || '/';
    this.vol.mkdirSync(dir, { recursive: true });
    // memfs checks permissions like a kernel would: write first, then set the final mode.
    this.vol.writeFileSync(path, data, { mode: 0o600 });
    this.vol.chmodSync(path, mode);
  }
}

/** The storage behind an open memfs descriptor (memfs 4's core), or undefined where that differs. */
interface CoreNode {
  buf: Buffer;
  size: number;
  atime: Date;
}
function openNode(vol: InstanceType<typeof Volume>, fd: number): CoreNode | undefined {
  const core = (
    vol as unknown as { _core?: { getFileByFdOrThrow?: (fd: number, op: string) => { node?: Partial<CoreNode> } } }
  )._core;
  const node = core?.getFileByFdOrThrow?.(fd, 'read').node;
  return node && Buffer.isBuffer(node.buf) && typeof node.size === 'number' && node.size <= node.buf.length
    ? (node as CoreNode)
    : undefined;
}

/** An open memfs file; growth is charged to the tree's quota before memfs allocates anything. */
class MemoryFile implements FileHandle {
  private readonly isDir: boolean;
  constructor(
    private readonly vol: InstanceType<typeof Volume>,
    private readonly fd: number,
    private readonly opts: MemoryMountOptions,
  ) {
    this.isDir = vol.fstatSync(fd).isDirectory();
  }

  private size(): number {
    return Number(this.vol.fstatSync(this.fd).size);
  }

  read(buf: Buffer, offset: number, length: number, position: number): number {
    if (this.isDir) throw new GuestErrno(Errno.EISDIR, 'read of a directory');
    return this.vol.readSync(this.fd, buf, offset, length, position);
  }

  view(length: number, position: number): Buffer | undefined {
    if (this.isDir || this.opts.writable) return undefined;
    const node = openNode(this.vol, this.fd);
    if (!node) return undefined;
    node.atime = new Date(); // as memfs's own read does
    const end = Math.min(node.size, position + length);
    return node.buf.subarray(Math.min(position, end), end);
  }

  write(data: Buffer, position: number): number {
    if (!this.opts.writable) throw new GuestErrno(Errno.EBADF, 'file is read-only');
    const size = this.size();
    let length = data.length;
    const quota = this.opts.quota;
    if (quota && position + length > size) {
      const room = size + quota.remaining - position;
      if (room <= 0)
        throw new GuestErrno(Errno.ENOSPC, `write past the ${quota.limit}-byte quota`, {
          name: 'tmp-quota',
          value: quota.limit,
        });
      length = Math.min(length, room);
      quota.charge(Math.max(0, position + length - size), 'write');
    }
    return this.vol.writeSync(this.fd, data, 0, length, position);
  }

  truncate(length: number): void {
    if (!this.opts.writable) throw new GuestErrno(Errno.EINVAL, 'file is read-only');
    const size = this.size();
    if (length > size) this.opts.quota?.charge(length - size, 'truncate');
    this.vol.ftruncateSync(this.fd, length);
    if (length < size) this.opts.quota?.release(size - length);
  }

  stat(): StatInfo {
    return withTime(
      fromNodeStats(this.vol.fstatSync(this.fd) as never, this.opts.dev, this.opts.owner, !this.opts.writable),
      this.opts,
    );
  }

  close(): void {
    try {
      this.vol.closeSync(this.fd);
    } catch {
      /* already closed */
    }
  }
}
