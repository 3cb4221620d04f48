import { Volume } from 'memfs';
import { Errno, GuestErrno, S_IFDIR, S_IFLNK, S_IFMT } from '../platform/index.js';
import { DevicesMount, type DeviceOptions } from './devices.js';
import { HostMount, type HostMountFilter } from './host-mount.js';
import { MemoryMount } from './memory-mount.js';
import { OverlayMount } from './overlay-mount.js';
import { DEFAULT_MAX_PATH, hasPrefix, joinPath, splitPath } from './path.js';
import { Quota } from './quota.js';
import { seedTree } from './tmp-files.js';
import { exportTree, type ExportOptions, type ExportReport } from './export.js';
import { SupervisorView } from './supervisor-view.js';
import { WaysMount } from './ways-mount.js';
import type { Mount, NodeInfo, Resolved } from './types.js';

export type { Resolved } from './types.js';

export const DEFAULT_TMP_QUOTA = 64 * 1024 * 1024;

let hostIds: { uid: number; gid: number } | undefined;

/**
 * A memfs volume that asks for the process's uid and gid once, not on every path walk (each ask is
 * a call into the runtime, and a VFS walk makes many). They only decide memfs's own permission
 * checks; the guest sees the VFS owner.
 */
function newVolume(): InstanceType<typeof Volume> {
  hostIds ??= { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  const ids = hostIds;
  const proc = {
    cwd: () => '/',
    platform: 'linux',
    emitWarning: () => undefined,
    env: {},
    getuid: () => ids.uid,
    getgid: () => ids.gid,
  };
  return Volume.fromJSON({}, '/', { process: proc as never });
}
const MAX_SYMLINKS = 40;

export interface VfsOptions {
  /** Owner shown for every file (the guest's virtual identity). */
  uid?: number;
  gid?: number;
  /** Longest path accepted, NUL included (PATH_MAX). */
  maxPathLength?: number;
  /**
   * Times (milliseconds since the epoch) shown for every name of the read-only in-memory tree,
   * instead of when each was made: a tree built the same way then looks the same every time.
   */
  time?: number;
  random?: DeviceOptions['random'];
}

export interface TmpOptions {
  /** Byte quota of everything the guest writes there (default 64 MiB). */
  quotaBytes?: number;
  /** A host directory shown read-only underneath; changes go to memory. */
  lowerDir?: string;
  lowerFilter?: HostMountFilter;
  /**
   * Files the tree starts with, writable by the guest and counted in the quota: names relative to
   * the tree (`{ 'data.csv': '...', 'in/a.txt': buf }`), directories made as needed.
   */
  files?: Record<string, Buffer | string>;
}

interface MountEntry {
  at: string[];
  mount: Mount;
}

/**
 * The guest's whole filesystem: a mount table over in-memory trees (memfs), read-only host
 * directories and writable in-memory overlays. Path walking lives here and only here.
 */
export class VirtualFS {
  readonly maxPathLength: number;
  readonly owner: { uid: number; gid: number };
  private readonly vol = newVolume();
  private readonly root: MemoryMount;
  /** Directories leading to mounts nested in other mounts (see WaysMount). */
  private readonly ways: WaysMount;
  private mounts: MountEntry[] = [];
  /** The controller's own tree, at the root. */
  private readonly rootEntry: MountEntry;
  /** Components of the deepest mount point: a walk past it meets no other mount. */
  private deepestMount = 0;
  private nextDev = 10;
  /**
   * Directories of the controller's own tree that only exist to lead to mount points (and the
   * root): a name missing there is outside the sandbox's filesystem, refused with EACCES, rather
   * than a file that does not exist (ENOENT). Directories given content by the host are ordinary.
   */
  private readonly containers = new Set<string>(['/']);
  /** Directories whose container status must be decided again (parents of new mount points). */
  private readonly unsettled = new Set<string>();
  /** Files the sandbox supplies in container directories, which stay containers (addStandIn). */
  private readonly standIns = new Set<string>();
  /** Names shown as missing (ENOENT) in container directories, and all below them (addAbsent). */
  private readonly absentNames = new Set<string>();

  constructor(readonly options: VfsOptions = {}) {
    this.maxPathLength = options.maxPathLength ?? DEFAULT_MAX_PATH;
    this.owner = { uid: options.uid ?? 1000, gid: options.gid ?? 1000 };
    this.root = new MemoryMount(this.vol, '/', { dev: 1, owner: this.owner, writable: false, time: options.time });
    this.rootEntry = { at: [], mount: this.root };
    this.ways = new WaysMount(this.owner);
    this.mounts.push(this.rootEntry);
  }

  // ---- building the tree (trusted, host side) ----

  /** Adds a read-only virtual file. */
  addFile(vpath: string, data: Buffer | string, mode = 0o644): this {
    const parts = splitPath(vpath);
    this.ordinary(parts.slice(0, -1));
    this.ownerOf(parts, 'addFile').put(parts, data, mode);
    return this;
  }

  /**
   * A small read-only file the sandbox answers for itself in a directory that otherwise refuses
   * names nothing granted (/etc/localtime in /etc): unlike addFile, the directory's other names
   * stay outside the sandbox's filesystem (EACCES, a denial).
   */
  addStandIn(vpath: string, data: Buffer | string, mode = 0o644): this {
    const parts = splitPath(vpath);
    this.settleContainers();
    for (let k = 1; k < parts.length; k++) {
      const dir = joinPath(parts.slice(0, k));
      if (!this.vol.existsSync(dir)) this.containers.add(dir);
    }
    this.ownerOf(parts, 'addStandIn').put(parts, data, mode);
    this.standIns.add(joinPath(parts));
    return this;
  }

  /**
   * A name the sandbox shows as missing (ENOENT, not a denial) in a directory that otherwise
   * refuses names nothing granted, with everything below it: what an interpreter or its libc only
   * probes for (/etc/ld.so.preload, locale archives, a zipped standard library).
   */
  addAbsent(vpath: string): this {
    this.absentNames.add(joinPath(splitPath(vpath)));
    return this;
  }

  /** The names given to addAbsent. */
  absent(): string[] {
    return [...this.absentNames];
  }

  /** Whether the path or one of its parents was given to addAbsent. */
  isAbsent(parts: readonly string[]): boolean {
    if (this.absentNames.size === 0) return false;
    for (let k = parts.length; k >= 1; k--) if (this.absentNames.has(joinPath(parts.slice(0, k)))) return true;
    return false;
  }

  addDir(vpath: string): this {
    const parts = splitPath(vpath);
    this.ordinary(parts);
    this.vol.mkdirSync(joinPath(parts), { recursive: true });
    this.root.invalidate();
    return this;
  }

  /** The directory and its parents hold content of their own: missing names there are ENOENT. */
  private ordinary(parts: string[]): void {
    this.settleContainers();
    for (let k = parts.length; k >= 1; k--) this.containers.delete(joinPath(parts.slice(0, k)));
  }

  /** Whether a missing name in this directory is outside the sandbox's filesystem (EACCES). */
  isContainer(dir: readonly string[]): boolean {
    this.settleContainers();
    return this.containers.has(joinPath(dir));
  }

  /** Adds every file of a `{ path: content }` map under `base`. */
  addTree(base: string, files: Record<string, Buffer | string>): this {
    for (const [name, data] of Object.entries(files)) this.addFile(`${base.replace(/\/$/, '')}/${name}`, data);
    return this;
  }

  addSymlink(vpath: string, target: string): this {
    const parts = splitPath(vpath);
    this.ordinary(parts.slice(0, -1));
    this.addDir(joinPath(parts.slice(0, -1)));
    this.vol.symlinkSync(target, joinPath(parts));
    this.root.invalidate();
    return this;
  }

  /** Shows a host directory (or file) read-only at `vpath`. Reading it still needs a policy grant. */
  mountHost(vpath: string, hostPath: string, filter: HostMountFilter = {}): HostMount {
    const mount = new HostMount(hostPath, { ...filter, dev: this.nextDev++, owner: this.owner });
    this.attach(vpath, mount, mount.lookup([])?.stat.mode);
    return mount;
  }

  /** A writable in-memory tree (default `/tmp`), optionally over a read-only host directory. */
  mountTmp(vpath = '/tmp', opts: TmpOptions = {}): OverlayMount {
    const quota = new Quota(opts.quotaBytes ?? DEFAULT_TMP_QUOTA);
    const dev = this.nextDev++;
    const upperVol = newVolume();
    upperVol.mkdirSync('/upper', { recursive: true });
    const upper = new MemoryMount(upperVol, '/upper', { dev, owner: this.owner, writable: true, quota });
    const lower = opts.lowerDir ? new HostMount(opts.lowerDir, { ...opts.lowerFilter, dev, owner: this.owner }) : null;
    const mount = new OverlayMount(upper, lower, quota);
    if (opts.files) seedTree(mount, opts.files);
    this.attach(vpath, mount, S_IFDIR);
    return mount;
  }

  mountDevices(vpath = '/dev'): DevicesMount {
    const mount = new DevicesMount({ owner: this.owner, random: this.options.random });
    this.attach(vpath, mount, S_IFDIR);
    return mount;
  }

  private attach(vpath: string, mount: Mount, mode: number | undefined): void {
    const at = splitPath(vpath);
    if (at.length === 0) throw new Error('cannot mount over the virtual root');
    if (this.mounts.some((m) => m.at.join('/') === at.join('/'))) throw new Error(`${vpath} is already mounted`);
    // A placeholder in the parent tree makes the mount point show up in listings (only when the
    // parent is the controller's own tree; inside another mount, the walk leads to it through
    // WaysMount and listings add it from mountNamesUnder).
    if (this.mountFor(at).mount === this.root) {
      const path = joinPath(at);
      if (mode !== undefined && (mode & S_IFMT) !== S_IFDIR) this.root.put(at, '', mode & 0o777);
      else this.vol.mkdirSync(path, { recursive: true });
      for (let k = 1; k < at.length; k++) this.unsettled.add(joinPath(at.slice(0, k)));
    }
    this.mounts.push({ at, mount });
    this.deepestMount = Math.max(this.deepestMount, at.length);
    this.mounts.sort((a, b) => b.at.length - a.at.length);
    this.root.invalidate();
  }

  /**
   * Parents of new mount points that the host did not fill become containers. Decided once the
   * tree is asked about (not at every mount: building a tree mounts dozens of grants).
   */
  private settleContainers(): void {
    if (this.unsettled.size === 0) return;
    for (const path of this.unsettled) {
      const dir = splitPath(path);
      const entries = this.vol.readdirSync(path) as string[];
      // A directory whose every entry leads to a mount point (or is one) holds nothing of its own.
      const onlyMounts = entries.every(
        (name) =>
          this.standIns.has(joinPath([...dir, name])) || this.mounts.some((m) => hasPrefix(m.at, [...dir, name])),
      );
      if (onlyMounts) this.containers.add(path);
      else this.containers.delete(path);
    }
    this.unsettled.clear();
  }

  private ownerOf(parts: string[], what: string): MemoryMount {
    const entry = this.mountFor(parts);
    if (entry.mount !== this.root) throw new Error(`${what}: ${joinPath(parts)} lies inside another mount`);
    return this.root;
  }

  private mountFor(parts: readonly string[]): MountEntry {
    for (const m of this.mounts) if (hasPrefix(parts, m.at)) return m;
    return this.mounts[this.mounts.length - 1]!;
  }

  /** Every mount point with its mount, longest first. */
  mountTable(): { at: string; mount: Mount }[] {
    return this.mounts.map((m) => ({ at: joinPath(m.at), mount: m.mount }));
  }

  /** What the supervisor may be told of this tree, as plain data (see SupervisorView). */
  describeForSupervisor(): SupervisorView {
    return new SupervisorView(this, this.root);
  }

  /** The controller's own root tree (where mount points and virtual files live). */
  get rootMount(): Mount {
    return this.root;
  }

  // ---- resolution ----

  /** Lexical normalisation of a guest path against a virtual cwd (components). */
  split(path: string, cwd: readonly string[] = []): string[] {
    return splitPath(path, cwd, this.maxPathLength);
  }

  /**
   * Walks `path` one component at a time. Symlinks are followed by the walker (never by the host):
   * inside a host mount only to targets that stay inside that mount; in memory anywhere virtual.
   */
  resolve(path: string, cwd: readonly string[], follow: boolean): Resolved {
    let parts = this.split(path, cwd);
    let hops = 0;
    restart: for (;;) {
      // One step per component: each mount goes on from the node it gave for the parent, so the
      // walk costs the path's length, not the sum of the lengths of all its prefixes.
      let entry = this.rootEntry;
      let rel: string[] = [];
      let parent: NodeInfo | null = null;
      for (let k = 1; k <= parts.length; k++) {
        const inner = this.mountAt(parts, k);
        if (inner) {
          entry = inner;
          rel = [];
          parent = null;
        } else rel.push(parts[k - 1]!);
        const last = k === parts.length;
        let node: NodeInfo | null =
          parent && !parent.synthetic ? entry.mount.step(parent, rel) : entry.mount.lookup(rel);
        if (!inner && entry !== this.rootEntry && k < this.deepestMount && !isDir(node) && this.leadsBelow(parts, k)) {
          // The more specific mount wins: whatever the outer mount has here (nothing, a file, a
          // symlink) gives way to a read-only directory that leads on to the mount below. (The
          // controller's own tree has placeholder directories there, and its symlinks, such as
          // /lib -> usr/lib, are made on purpose: followed as they are.)
          entry = { at: parts.slice(0, k), mount: this.ways };
          rel = [];
          node = this.ways.lookup(rel);
        }
        const { at, mount } = entry;
        if (!node) {
          if (last) return { parts, vpath: joinPath(parts), mount, mountPoint: at, rel, node: null };
          const prefix = parts.slice(0, k);
          if (mount === this.root && this.isContainer(prefix.slice(0, -1)) && !this.isAbsent(parts))
            throw outside(prefix);
          throw new GuestErrno(Errno.ENOENT, `${joinPath(prefix)} does not exist`);
        }
        const type = node.stat.mode & S_IFMT;
        if (type === S_IFLNK && (!last || follow)) {
          if (++hops > MAX_SYMLINKS) throw new GuestErrno(Errno.ELOOP, 'too many levels of symbolic links');
          const target = this.linkDestination(node.linkTarget ?? '', parts.slice(0, k), at, mount);
          parts = [...target, ...parts.slice(k)];
          continue restart;
        }
        if (!last && type !== S_IFDIR)
          throw new GuestErrno(Errno.ENOTDIR, `${joinPath(parts.slice(0, k))} is not a directory`);
        if (last) return { parts, vpath: joinPath(parts), mount, mountPoint: at, rel, node };
        parent = node;
      }
      const { at, mount } = this.rootEntry;
      return { parts: [], vpath: '/', mount, mountPoint: at, rel: [], node: mount.lookup([]) };
    }
  }

  /** The mount whose mount point is exactly the first `k` components of `parts`, if one is. */
  private mountAt(parts: readonly string[], k: number): MountEntry | undefined {
    if (k > this.deepestMount) return undefined;
    for (const m of this.mounts) if (m.at.length === k && hasPrefix(parts, m.at)) return m;
    return undefined;
  }

  /** Names directly below `dir` that lead to mounts inside another mount (not in its own listing). */
  mountNamesUnder(dir: readonly string[]): string[] {
    const owner = this.mountFor(dir).mount;
    if (owner === this.root) return [];
    const names = new Set<string>();
    for (const m of this.mounts) if (m.at.length > dir.length && hasPrefix(m.at, dir)) names.add(m.at[dir.length]!);
    return [...names];
  }

  /** Whether a mount lies strictly below `parts` (a directory there cannot be removed or moved). */
  holdsMount(parts: readonly string[]): boolean {
    return parts.length < this.deepestMount && this.leadsBelow(parts, parts.length);
  }

  /** Whether a mount lies strictly below the first `k` components of `parts` (a way to it leads through there). */
  private leadsBelow(parts: readonly string[], k: number): boolean {
    const prefix = parts.slice(0, k);
    return this.mounts.some((m) => m.at.length > k && hasPrefix(m.at, prefix));
  }

  private linkDestination(target: string, linkParts: string[], at: string[], mount: Mount): string[] {
    if (target === '') throw new GuestErrno(Errno.ENOENT, 'empty symlink');
    if (mount.source === 'memory' || mount.source === 'overlay') {
      if (mount.source === 'overlay' || !target.startsWith('/')) {
        // Relative links resolve against the link's directory; in a writable tree absolute
        // links are virtual too.
        return this.split(target, linkParts.slice(0, -1));
      }
      return this.split(target);
    }
    if (target.startsWith('/')) {
      const rel = mount.hostTargetToRel?.(target) ?? null;
      if (!rel) throw new GuestErrno(Errno.EACCES, `symlink ${joinPath(linkParts)} points outside its mount`);
      return [...at, ...rel];
    }
    const dest = this.split(target, linkParts.slice(0, -1));
    if (!hasPrefix(dest, at))
      throw new GuestErrno(Errno.EACCES, `symlink ${joinPath(linkParts)} points outside its mount`);
    return dest;
  }

  // ---- host-side reading of what the guest left ----

  /** Every regular file under `vpath` (default `/tmp`), as `{ relative path: bytes }`. */
  snapshot(vpath = '/tmp'): Record<string, Buffer> {
    const out: Record<string, Buffer> = {};
    const walk = (parts: string[], prefix: string) => {
      const r = this.resolve(joinPath(parts), [], false);
      if (!r.node) return;
      const type = r.node.stat.mode & S_IFMT;
      if (type === S_IFDIR) {
        for (const e of r.mount.list(r.rel)) walk([...parts, e.name], prefix ? `${prefix}/${e.name}` : e.name);
      } else if (type !== S_IFLNK) {
        out[prefix] = this.readFile(joinPath(parts));
      }
    };
    walk(this.split(vpath), '');
    return out;
  }

  /**
   * Copies the regular files and directories under `vpath` to the host directory `hostDir` (made
   * if missing); symlinks and special files are left out and reported. See exportTree.
   */
  exportTo(vpath: string, hostDir: string, opts: ExportOptions = {}): ExportReport {
    return exportTree(this, vpath, hostDir, opts);
  }

  /** Reads a whole virtual file (host side, no policy: the host may read what it built or the guest wrote). */
  readFile(vpath: string): Buffer {
    const r = this.resolve(vpath, [], true);
    if (!r.node) throw new GuestErrno(Errno.ENOENT, `${vpath} does not exist`);
    const file = r.mount.open(
      r.rel,
      { read: true, write: false, create: false, exclusive: false, truncate: false, mode: 0 },
      r.node,
    );
    try {
      const chunks: Buffer[] = [];
      for (let pos = 0; ;) {
        const buf = Buffer.allocUnsafe(1 << 16);
        const n = file.read(buf, 0, buf.length, pos);
        if (n === 0) break;
        chunks.push(buf.subarray(0, n));
        pos += n;
      }
      return Buffer.concat(chunks);
    } finally {
      file.close();
    }
  }
}

/** A name outside the sandbox's filesystem: refused (a denial), not merely missing. */
export class OutsideError extends GuestErrno {
  constructor(readonly vpath: string) {
    super(Errno.EACCES, `${vpath} is outside the sandbox's filesystem (not whitelisted)`);
  }
}

function isDir(node: NodeInfo | null): boolean {
  return node !== null && (node.stat.mode & S_IFMT) === S_IFDIR;
}

export function outside(parts: readonly string[]): OutsideError {
  return new OutsideError(joinPath(parts));
}
