import fs from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import {
  DT_DIR,
  DT_LNK,
  DT_REG,
  Errno,
  GuestErrno,
  errnoFromNode,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  type StatInfo,
} from '../platform/index.js';
import { fromNodeStats } from './stat.js';
import type { DirEntry, FileHandle, HostFileIdentity, Mount, NameRules, NodeInfo, OpenRequest } from './types.js';

export interface HostMountFilter {
  /** Globs (relative to the mount) a file must match to be visible; directories are always traversable. */
  include?: string[];
  /** Globs hiding files and directories. */
  exclude?: string[];
  /** Show names starting with a dot (hidden by default). */
  dotfiles?: boolean;
}

export interface HostMountOptions extends HostMountFilter {
  dev: number;
  owner: { uid: number; gid: number };
}

const OPEN_FLAGS =
  fs.constants.O_RDONLY |
  fs.constants.O_NOFOLLOW |
  fs.constants.O_NONBLOCK |
  (fs.constants as Record<string, number>).O_CLOEXEC!;

/**
 * A real host directory (or file), read-only. Names the filter hides do not exist for the guest.
 * Symlinks are reported to the VFS walker, which decides whether to follow them; the host never
 * follows one on the guest's behalf (every open uses O_NOFOLLOW and is checked after the fact).
 */
export class HostMount implements Mount {
  readonly source = 'host' as const;
  readonly root: string;
  private readonly realRoot: string;
  private readonly includes: ((p: string) => boolean) | null;
  private readonly excludes: ((p: string) => boolean) | null;
  /** What the filter makes of the listings: part of their cache key (see list). */
  private readonly filterKey: string;
  /** The exclude globs' verdict by relative name (a pure function of the name: asked once per name). */
  private readonly excluded = new Map<string, boolean>();

  constructor(
    hostRoot: string,
    private readonly opts: HostMountOptions,
  ) {
    this.root = path.resolve(hostRoot);
    this.realRoot = fs.realpathSync(this.root);
    const glob = (list?: string[]) => (list && list.length ? picomatch(list, { dot: true }) : null);
    this.includes = glob(opts.include);
    this.excludes = glob(opts.exclude);
    this.filterKey = JSON.stringify([opts.dotfiles ? 1 : 0, opts.include ?? [], opts.exclude ?? []]);
  }

  /** Device number shown in this mount's stat results. */
  get dev(): number {
    return this.opts.dev;
  }

  /** The host directory (or file) behind the mount, symlinks resolved. */
  get hostRoot(): string {
    return this.realRoot;
  }

  /** Whether include or exclude globs hide part of the host tree. */
  get filtered(): boolean {
    return this.includes !== null || this.excludes !== null;
  }

  /**
   * The filter as plain name rules, for the supervisor: an exclude "**" "/NAME" hides NAME, and
   * "**" "/*SUFFIX" every name ending so, at any depth. Undefined for includes or any other glob.
   */
  nameRules(): NameRules | undefined {
    if (this.opts.include?.length) return undefined;
    const rules: NameRules = { names: [], suffixes: [] };
    for (const g of this.opts.exclude ?? []) {
      const m = /^\*\*\/(\*?)([^*?[\]{}()!+@/\\]+)$/.exec(g);
      if (!m) return undefined;
      (m[1] ? rules.suffixes : rules.names).push(m[2]!);
    }
    return rules;
  }

  /** Visibility by name alone: dotfiles and excludes apply to every component. */
  private nameVisible(rel: readonly string[]): boolean {
    for (let k = 0; k < rel.length; k++) {
      if (!this.lastVisible(rel.slice(0, k + 1))) return false;
    }
    return true;
  }

  /** Visibility of the last component by name, its parents known to be visible. */
  private lastVisible(rel: readonly string[]): boolean {
    if (rel.length === 0) return true;
    if (!this.opts.dotfiles && rel[rel.length - 1]!.startsWith('.')) return false;
    return this.excludes === null || !this.isExcluded(rel.join('/'));
  }

  private isExcluded(name: string): boolean {
    let hit = this.excluded.get(name);
    if (hit === undefined) {
      hit = this.excludes!(name);
      if (this.excluded.size >= MAX_REMEMBERED_NAMES) this.excluded.clear();
      this.excluded.set(name, hit);
    }
    return hit;
  }

  hostPath(rel: readonly string[]): string {
    return rel.length ? path.join(this.realRoot, ...rel) : this.realRoot;
  }

  lookup(rel: readonly string[]): NodeInfo | null {
    return this.nameVisible(rel) ? this.describe(rel) : null;
  }

  /** The parent was visible: only the last name's visibility is left to check. */
  step(_parent: NodeInfo, rel: readonly string[]): NodeInfo | null {
    return this.lastVisible(rel) ? this.describe(rel) : null;
  }

  /** The host file behind a name visible by name alone: null when missing or of a kind never shown. */
  private describe(rel: readonly string[]): NodeInfo | null {
    const host = this.hostPath(rel);
    let st: fs.Stats | undefined;
    try {
      // A missing name is the common case (an interpreter probing its path): no exception for it.
      st = fs.lstatSync(host, { throwIfNoEntry: false });
    } catch {
      return null;
    }
    if (st === undefined) return null;
    const type = st.mode & S_IFMT;
    // FIFOs, sockets and devices are never shown: opening one could block or reach the host.
    if (type !== S_IFREG && type !== S_IFDIR && type !== S_IFLNK) return null;
    if (type !== S_IFDIR && rel.length > 0 && this.includes && !this.includes(rel.join('/'))) return null;
    const info: NodeInfo = { stat: this.stat(st) };
    if (type === S_IFLNK) {
      // Replaced on the host since the lstat (a file now): the name is in flux, shown as missing.
      try {
        info.linkTarget = fs.readlinkSync(host, 'utf8');
      } catch {
        return null;
      }
    }
    return info;
  }

  private stat(st: fs.Stats): StatInfo {
    return fromNodeStats(st, this.opts.dev, this.opts.owner, true);
  }

  list(rel: readonly string[]): DirEntry[] {
    // The listing of a directory unchanged since last time (same inode, same change times) is the
    // one made then, whichever run asks, as long as it was made through the same filter (the
    // filter decides by name and by the type the directory gives, both unchanged with it).
    const host = this.hostPath(rel);
    let cacheKey: string | undefined;
    let version = '';
    try {
      const st = fs.statSync(host, { bigint: true });
      cacheKey = `${this.filterKey}\0${this.realRoot}\0${rel.join('/')}`;
      version = `${st.dev}:${st.ino}:${st.mtimeNs}:${st.ctimeNs}`;
      const hit = listings.get(cacheKey);
      if (hit && hit.version === version) return hit.entries as DirEntry[]; // frozen: shared by runs
    } catch {
      cacheKey = undefined;
    }
    const out = this.listNow(rel, host);
    if (cacheKey !== undefined) {
      if (listings.size >= 512) listings.clear();
      listings.set(cacheKey, { version, entries: Object.freeze(out) });
    }
    return out;
  }

  private listNow(rel: readonly string[], host: string): DirEntry[] {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(host, { withFileTypes: true });
    } catch (err) {
      throw new GuestErrno(errnoFromNode(err), 'list of a host directory failed');
    }
    // Types come from the directory itself (d_type): no stat per entry. Inode numbers in listings
    // are stable stand-ins; stat() reports the real ones.
    const out: DirEntry[] = [];
    for (const e of entries) {
      const child = [...rel, e.name];
      if (!this.nameVisible(child)) continue;
      const type = e.isDirectory() ? DT_DIR : e.isFile() ? DT_REG : e.isSymbolicLink() ? DT_LNK : -1;
      if (type < 0) continue; // FIFOs, sockets, devices are never shown
      if (type !== DT_DIR && this.includes && !this.includes(child.join('/'))) continue;
      out.push({ name: e.name, ino: nameInode(child.join('/')), type });
    }
    return out;
  }

  open(rel: readonly string[], req: OpenRequest): FileHandle {
    if (req.write || req.create || req.truncate) throw new GuestErrno(Errno.EROFS, 'host mounts are read-only');
    const host = this.hostPath(rel);
    let fd: number;
    try {
      fd = fs.openSync(host, OPEN_FLAGS);
    } catch (err) {
      throw new GuestErrno(errnoFromNode(err), 'open of a host file failed');
    }
    try {
      // The name may have been swapped on the host since the walk: check what was really opened.
      const real = fs.readlinkSync(`/proc/self/fd/${fd}`);
      if (real !== this.realRoot && !real.startsWith(this.realRoot + '/')) {
        throw new GuestErrno(Errno.EACCES, 'host file changed to point outside its mount');
      }
      const st = fs.fstatSync(fd, { bigint: true });
      const type = Number(st.mode) & S_IFMT;
      if (type !== S_IFREG && type !== S_IFDIR) throw new GuestErrno(Errno.EACCES, 'not a regular file');
      // What was opened, as this open checked it: the supervisor of a relayed guest may read it too.
      const identity = { path: real, dev: this.opts.dev, hostDev: st.dev, ino: st.ino };
      return new HostFile(fd, type === S_IFDIR, (s) => this.stat(s), identity);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
  }

  writable(): boolean {
    return false;
  }

  hostTargetToRel(target: string): string[] | null {
    const norm = path.resolve(target);
    for (const base of [this.realRoot, this.root]) {
      if (norm === base) return [];
      if (norm.startsWith(base + '/')) return norm.slice(base.length + 1).split('/');
    }
    return null;
  }
}

class HostFile implements FileHandle {
  private closed = false;
  constructor(
    private readonly fd: number,
    private readonly isDir: boolean,
    private readonly toStat: (s: fs.Stats) => StatInfo,
    private readonly identity: HostFileIdentity,
  ) {}

  read(buf: Buffer, offset: number, length: number, position: number): number {
    if (this.isDir) throw new GuestErrno(Errno.EISDIR, 'read of a directory');
    return fs.readSync(this.fd, buf, offset, length, position);
  }

  write(): number {
    throw new GuestErrno(Errno.EBADF, 'host files are read-only');
  }

  truncate(): void {
    throw new GuestErrno(Errno.EINVAL, 'host files are read-only');
  }

  stat(): StatInfo {
    return this.toStat(fs.fstatSync(this.fd));
  }

  hostFile(): HostFileIdentity | undefined {
    return this.isDir || this.closed ? undefined : this.identity;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    fs.closeSync(this.fd);
  }
}

/** Recent listings of host directories, with the version they were made from (see list). */
const listings = new Map<string, { version: string; entries: readonly DirEntry[] }>();

/** Exclude verdicts kept per mount before the memo starts over (a bound on its memory). */
const MAX_REMEMBERED_NAMES = 4096;

/** A stable, non-zero stand-in inode number for a name (FNV-1a). */

function nameInode(name: string): number {
  let h = 0x811c9dc5;
  for (let k = 0; k < name.length; k++) {
    h ^= name.charCodeAt(k);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h || 1;
}
