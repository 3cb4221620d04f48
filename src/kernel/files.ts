import { Errno, GuestErrno, S_IFDIR, S_IFLNK, S_IFMT, type OpenFlags, type StatInfo } from '../platform/index.js';
import type { Decision, Operation, Policy } from '../policy/policy.js';
import { joinPath } from '../vfs/path.js';
import type { DirEntry, FileHandle, OpenRequest } from '../vfs/types.js';
import { outside, OutsideError, type Resolved, type VirtualFS } from '../vfs/vfs.js';
import { ACCESS, DT_DIR, LP64_LINUX, putDirent64, S_IFREG, SEEK } from '../platform/index.js';

export type Stdio = 'stdin' | 'stdout' | 'stderr';

/** An open file description: shared by descriptors made with dup(). */
export interface OpenFile {
  kind: 'file';
  handle: FileHandle;
  vpath: string;
  /** Byte offset; for a directory read with getdents64, the index of the next entry. */
  position: number;
  /** A directory's entries, listed when first read and again after a rewind. */
  entries?: DirEntry[];
  readable: boolean;
  writable: boolean;
  append: boolean;
  refs: number;
}

export interface StdioFile {
  kind: 'stdio';
  stream: Stdio;
  refs: number;
}

export type Descriptor = OpenFile | StdioFile;

/** An open request that passed every check, not yet acted on. */
export interface PreparedOpen {
  r: Resolved;
  req: OpenRequest;
  append: boolean;
  /** The existing node is a regular file (not a directory, device, ...). */
  regular: boolean;
}

export interface DirHandle {
  vpath: string;
  entries: DirEntry[];
  next: number;
}

export interface FileLimits {
  /** Descriptors the guest may hold open at once, stdio included (EMFILE past it). */
  maxOpenFiles: number;
  /** Directory streams open at once. */
  maxOpenDirs: number;
}

export const MAX_FILE_OFFSET = 2 ** 53 - 1;

/** Size of one `struct linux_dirent64` record (name and NUL, padded to 8). */
function direntLength(name: string): number {
  return (LP64_LINUX.dirent64.offsets.d_name + Buffer.byteLength(name) + 1 + 7) & ~7;
}

/** How many of entries[from..] fit in `count` bytes of records, and their size. */
export function direntSpan(entries: readonly DirEntry[], from: number, count: number): { used: number; next: number } {
  let used = 0;
  let k = from;
  for (; k < entries.length; k++) {
    const reclen = direntLength(entries[k]!.name);
    if (used + reclen > count) break;
    used += reclen;
  }
  return { used, next: k };
}

/** getdents64's `struct linux_dirent64` records for entries[from..], as many as fit in `count` bytes; d_off is the next entry's index. */
export function direntRecords(entries: readonly DirEntry[], from: number, count: number): { out: Buffer; next: number } {
  const { used, next } = direntSpan(entries, from, count);
  const out = Buffer.alloc(used);
  let at = 0;
  for (let k = from; k < next; k++) {
    const e = entries[k]!;
    const reclen = direntLength(e.name);
    putDirent64(out, at, reclen, e.ino, k + 1, e.type, e.name);
    at += reclen;
  }
  return { out, next };
}
/** Reads from this size on may go out without a copy (FileHandle.view); smaller ones are copied anyway. */
const DIRECT_READ_BYTES = 16 * 1024;

/**
 * The guest's view of files: cwd, descriptors and directory streams over the VFS, with every
 * access decided by the policy. Handlers call this and only encode/decode around it.
 */
export class FileTable {
  private readonly fds = new Map<number, Descriptor>();
  /**
   * Where reads land, when the run can lend a buffer that is free again (see Run): large reads
   * then neither allocate nor touch fresh memory each time.
   */
  readBuffer: ((length: number) => Buffer | undefined) | undefined;
  /** Names of read-only files handed to the supervisor as sealed copies this run (stock guests; bounded). */
  readonly copied = new Set<string>();
  private readonly dirs = new Map<bigint, DirHandle>();
  cwd: string[];

  constructor(
    readonly vfs: VirtualFS,
    readonly policy: Policy,
    readonly flags: OpenFlags,
    readonly limits: FileLimits,
    cwd: string,
    /** Told of every policy decision (trace, verbose output, denial counts). */
    private readonly onDecision: (d: Decision) => void,
  ) {
    this.cwd = vfs.split(cwd);
    const stdio: Stdio[] = ['stdin', 'stdout', 'stderr'];
    stdio.forEach((stream, fd) => this.fds.set(fd, { kind: 'stdio', stream, refs: 1 }));
  }

  get openCount(): number {
    return this.fds.size;
  }

  get dirCount(): number {
    return this.dirs.size;
  }

  // ---- policy ----

  private check(op: Operation, r: Resolved): void {
    const d = this.policy.decide(op, {
      vpath: r.vpath,
      source: r.mount.source,
      hostPath: r.node || op === 'create' ? r.mount.hostPath(r.rel, r.node) : undefined,
      writable: r.mount.writable(r.rel),
    });
    this.onDecision(d);
    if (!d.allow) throw new GuestErrno(d.errno, d.reason);
  }

  resolve(path: string, follow = true, op: Operation = 'stat'): Resolved {
    try {
      return this.vfs.resolve(path, this.cwd, follow);
    } catch (err) {
      if (err instanceof OutsideError) this.onDecision({ allow: false, op, vpath: err.vpath, errno: err.errno, reason: err.reason });
      throw err;
    }
  }

  private existing(path: string, follow: boolean, op: Operation): Resolved & { node: NonNullable<Resolved['node']> } {
    const r = this.resolve(path, follow, op);
    if (!r.node) throw this.missing(r, op);
    this.check(op, r);
    return r as Resolved & { node: NonNullable<Resolved['node']> };
  }

  /** ENOENT for a missing name; EACCES (a denial) for one outside the sandbox's filesystem. */
  private missing(r: Resolved, op: Operation): GuestErrno {
    if (r.mount.source === 'memory' && r.mountPoint.length === 0 && this.vfs.isContainer(r.parts.slice(0, -1)) && !this.vfs.isAbsent(r.parts)) {
      const err = outside(r.parts);
      this.onDecision({ allow: false, op, vpath: err.vpath, errno: err.errno, reason: err.reason });
      return err;
    }
    return new GuestErrno(Errno.ENOENT, `${r.vpath} does not exist`);
  }

  // ---- names ----

  stat(path: string, follow: boolean): StatInfo {
    return this.existing(path, follow, 'stat').node.stat;
  }

  /** access(2): F_OK, or any of R_OK, W_OK, X_OK. */
  access(path: string, mode: number): void {
    const { R_OK, W_OK, X_OK } = ACCESS;
    if (mode & ~(R_OK | W_OK | X_OK)) throw new GuestErrno(Errno.EINVAL, 'bad access mode');
    const r = this.existing(path, true, mode & R_OK ? 'read' : 'stat');
    if (mode & W_OK) this.check('write', r);
    if (mode & X_OK && (r.node.stat.mode & 0o111) === 0) throw new GuestErrno(Errno.EACCES, 'not executable');
  }

  readlink(path: string): string {
    const r = this.existing(path, false, 'stat');
    if ((r.node.stat.mode & S_IFMT) !== S_IFLNK) throw new GuestErrno(Errno.EINVAL, 'not a symbolic link');
    const target = r.node.linkTarget ?? '';
    // A host link's text may name host paths; only links that stay in the mount are shown.
    if (r.mount.source === 'host') this.resolve(r.vpath, true);
    return target;
  }

  chdir(path: string): void {
    const r = this.existing(path, true, 'stat');
    if ((r.node.stat.mode & S_IFMT) !== S_IFDIR) throw new GuestErrno(Errno.ENOTDIR, `${r.vpath} is not a directory`);
    this.cwd = r.parts;
  }

  getcwd(): string {
    return joinPath(this.cwd);
  }

  mkdir(path: string, mode: number): void {
    const r = this.resolve(path, false);
    if (r.node) throw new GuestErrno(Errno.EEXIST, `${r.vpath} exists`);
    this.check('create', r);
    if (!r.mount.mkdir) throw new GuestErrno(Errno.EROFS, 'read-only');
    r.mount.mkdir(r.rel, mode);
  }

  rmdir(path: string): void {
    const r = this.existing(path, false, 'delete');
    if (r.rel.length === 0) throw new GuestErrno(Errno.EBUSY, `${r.vpath} is a mount point`);
    if (!r.mount.rmdir) throw new GuestErrno(Errno.EROFS, 'read-only');
    r.mount.rmdir(r.rel);
  }

  unlink(path: string): void {
    const r = this.existing(path, false, 'delete');
    if ((r.node.stat.mode & S_IFMT) === S_IFDIR) throw new GuestErrno(Errno.EISDIR, `${r.vpath} is a directory`);
    if (!r.mount.unlink) throw new GuestErrno(Errno.EROFS, 'read-only');
    r.mount.unlink(r.rel);
  }

  rename(from: string, to: string): void {
    const a = this.existing(from, false, 'delete');
    const b = this.resolve(to, false);
    this.check('create', b);
    if (a.mount !== b.mount) throw new GuestErrno(Errno.EXDEV, 'rename across mounts');
    if (a.rel.length === 0 || b.rel.length === 0) throw new GuestErrno(Errno.EBUSY, 'mount point');
    if (a.vpath === b.vpath) return;
    if (b.parts.length > a.parts.length && b.vpath.startsWith(a.vpath + '/')) throw new GuestErrno(Errno.EINVAL, 'cannot move a directory into itself');
    const fromDir = (a.node.stat.mode & S_IFMT) === S_IFDIR;
    if (b.node) {
      const toDir = (b.node.stat.mode & S_IFMT) === S_IFDIR;
      if (fromDir && !toDir) throw new GuestErrno(Errno.ENOTDIR, `${b.vpath} is not a directory`);
      if (!fromDir && toDir) throw new GuestErrno(Errno.EISDIR, `${b.vpath} is a directory`);
      if (toDir && b.mount.list(b.rel).length > 0) throw new GuestErrno(Errno.ENOTEMPTY, `${b.vpath} is not empty`);
    }
    if (!a.mount.rename) throw new GuestErrno(Errno.EROFS, 'read-only');
    a.mount.rename(a.rel, b.rel);
  }

  symlink(target: string, path: string): void {
    const r = this.resolve(path, false);
    if (r.node) throw new GuestErrno(Errno.EEXIST, `${r.vpath} exists`);
    this.check('create', r);
    if (!r.mount.symlink) throw new GuestErrno(Errno.EROFS, 'read-only');
    r.mount.symlink(r.rel, target);
  }

  // ---- descriptors ----

  private lowestFree(min = 0): number {
    if (this.fds.size >= this.limits.maxOpenFiles) throw new GuestErrno(Errno.EMFILE, `open-file limit of ${this.limits.maxOpenFiles} reached`, { name: 'open-files', value: this.limits.maxOpenFiles });
    let fd = min;
    while (this.fds.has(fd)) fd++;
    return fd;
  }

  open(path: string, flags: number, mode: number): number {
    const p = this.prepareOpen(path, flags, mode);
    const file = this.openPrepared(p);
    const fd = this.lowestFree();
    this.fds.set(fd, file);
    return fd;
  }

  /** Every check of open(2) (flags, existence, type, policy), without opening anything. */
  prepareOpen(path: string, flags: number, mode: number): PreparedOpen {
    const F = this.flags;
    const acc = flags & F.O_ACCMODE;
    if (acc !== F.O_RDONLY && acc !== F.O_WRONLY && acc !== F.O_RDWR) throw new GuestErrno(Errno.EINVAL, 'bad access mode');
    const req = {
      read: acc === F.O_RDONLY || acc === F.O_RDWR,
      write: acc === F.O_WRONLY || acc === F.O_RDWR,
      create: (flags & F.O_CREAT) !== 0,
      exclusive: (flags & F.O_CREAT) !== 0 && (flags & F.O_EXCL) !== 0,
      truncate: (flags & F.O_TRUNC) !== 0 && acc !== F.O_RDONLY,
      mode,
    };
    this.lowestFree(); // fail with EMFILE before touching anything
    const r = this.resolve(path, !req.exclusive && (flags & F.O_NOFOLLOW) === 0, req.write ? 'write' : 'read');
    if (r.node) {
      if (req.exclusive) throw new GuestErrno(Errno.EEXIST, `${r.vpath} exists`);
      const type = r.node.stat.mode & S_IFMT;
      if (type === S_IFLNK) throw new GuestErrno(Errno.ELOOP, `${r.vpath} is a symbolic link`);
      if (type === S_IFDIR && (req.write || req.create)) throw new GuestErrno(Errno.EISDIR, `${r.vpath} is a directory`);
      if (flags & F.O_DIRECTORY && type !== S_IFDIR) throw new GuestErrno(Errno.ENOTDIR, `${r.vpath} is not a directory`);
      this.check(req.write ? 'write' : 'read', r);
    } else {
      if (!req.create) throw this.missing(r, req.write ? 'write' : 'read');
      this.check('create', r);
    }
    const regular = r.node !== null && (r.node.stat.mode & S_IFMT) === S_IFREG;
    return { r, req, append: (flags & F.O_APPEND) !== 0, regular };
  }

  openPrepared(p: PreparedOpen): OpenFile {
    const node = p.r.node;
    const handle: FileHandle = node?.synthetic
      ? { read: () => { throw new GuestErrno(Errno.EISDIR, 'is a directory'); }, write: () => { throw new GuestErrno(Errno.EBADF, 'directory'); }, truncate: () => undefined, stat: () => node.stat, close: () => undefined }
      : p.r.mount.open(p.r.rel, p.req, node);
    return { kind: 'file', handle, vpath: p.r.vpath, position: 0, readable: p.req.read, writable: p.req.write, append: p.append, refs: 1 };
  }

  /** Puts a descriptor at a number the kernel chose (stock guests), replacing what was there. */
  install(fd: number, d: Descriptor): void {
    if (!this.fds.has(fd) && this.fds.size >= this.limits.maxOpenFiles) throw new GuestErrno(Errno.EMFILE, `open-file limit of ${this.limits.maxOpenFiles} reached`, { name: 'open-files', value: this.limits.maxOpenFiles });
    this.drop(fd);
    this.fds.set(fd, d);
  }

  /** Forgets a descriptor if it is known; never fails. */
  drop(fd: number): void {
    const d = this.fds.get(fd);
    if (!d) return;
    this.fds.delete(fd);
    if (--d.refs === 0 && d.kind === 'file') {
      try {
        d.handle.close();
      } catch {
        /* best effort */
      }
    }
  }

  /** The descriptor at `fd`, or undefined (no EBADF): stock guests have descriptors of their own. */
  peek(fd: number): Descriptor | undefined {
    return this.fds.get(fd);
  }

  /** Throws unless the full open-file count leaves room for one more. */
  checkRoom(): void {
    this.lowestFree();
  }

  /** The lowest number at or above `min` that this table does not use (EMFILE at the limit). */
  lowestFreeFrom(min: number): number {
    return this.lowestFree(min);
  }

  get(fd: number): Descriptor {
    const d = this.fds.get(fd);
    if (!d) throw new GuestErrno(Errno.EBADF, `descriptor ${fd} is not open`);
    return d;
  }

  file(fd: number): OpenFile {
    const d = this.get(fd);
    if (d.kind === 'stdio') throw new GuestErrno(Errno.ESPIPE, `descriptor ${fd} is a stream`);
    return d;
  }

  /** Reads up to `length` bytes at the file position (or at `at` for pread). */
  read(fd: number, length: number, at?: number): Buffer {
    const f = this.file(fd);
    if (!f.readable) throw new GuestErrno(Errno.EBADF, `descriptor ${fd} is not open for reading`);
    const pos = at ?? f.position;
    // Large reads of a file nothing can change meanwhile go out as the stored bytes themselves.
    const direct = length >= DIRECT_READ_BYTES ? f.handle.view?.(length, pos) : undefined;
    if (direct) {
      if (at === undefined) f.position += direct.length;
      return direct;
    }
    const buf = this.readBuffer?.(length) ?? Buffer.allocUnsafe(length);
    const n = length === 0 ? 0 : f.handle.read(buf, 0, length, pos);
    if (at === undefined) f.position += n;
    return buf.subarray(0, n);
  }

  write(fd: number, data: Buffer, at?: number): number {
    const f = this.file(fd);
    if (!f.writable) throw new GuestErrno(Errno.EBADF, `descriptor ${fd} is not open for writing`);
    const pos = at ?? (f.append ? f.handle.stat().size : f.position);
    if (pos + data.length > MAX_FILE_OFFSET) throw new GuestErrno(Errno.EFBIG, 'file too large');
    const n = f.handle.write(data, pos);
    if (at === undefined) f.position = pos + n;
    return n;
  }

  /** whence: SEEK_SET, SEEK_CUR or SEEK_END. */
  lseek(fd: number, offset: number, whence: number): number {
    const f = this.file(fd);
    const base = whence === SEEK.SEEK_SET ? 0 : whence === SEEK.SEEK_CUR ? f.position : whence === SEEK.SEEK_END ? f.handle.stat().size : NaN;
    if (Number.isNaN(base)) throw new GuestErrno(Errno.EINVAL, `bad whence ${whence}`);
    const pos = base + offset;
    if (pos < 0 || !Number.isSafeInteger(pos)) throw new GuestErrno(Errno.EINVAL, 'resulting offset is out of range');
    f.position = pos;
    return pos;
  }

  fstat(fd: number): StatInfo | Stdio {
    const d = this.get(fd);
    if (d.kind === 'stdio') return d.stream;
    return d.handle.stat();
  }

  ftruncate(fd: number, length: number): void {
    const f = this.file(fd);
    if (!f.writable) throw new GuestErrno(Errno.EINVAL, `descriptor ${fd} is not open for writing`);
    if (length < 0 || length > MAX_FILE_OFFSET) throw new GuestErrno(Errno.EINVAL, 'bad length');
    f.handle.truncate(length);
  }

  close(fd: number): void {
    const d = this.get(fd);
    this.fds.delete(fd);
    if (--d.refs === 0 && d.kind === 'file') d.handle.close();
  }

  dup(fd: number, min = 0): number {
    const d = this.get(fd);
    const nfd = this.lowestFree(min);
    d.refs++;
    this.fds.set(nfd, d);
    return nfd;
  }

  dup2(fd: number, target: number): number {
    const d = this.get(fd);
    if (target < 0 || target >= this.limits.maxOpenFiles) throw new GuestErrno(Errno.EBADF, 'target descriptor out of range');
    if (fd === target) return target;
    if (this.fds.has(target)) this.close(target);
    d.refs++;
    this.fds.set(target, d);
    return target;
  }

  /**
   * A directory descriptor's entries listed now, for the supervisor to answer getdents64 from
   * (stock guests): undefined where listing it would not simply be allowed (the guest's own
   * getdents64 then comes here and gets the decision). Kept as the descriptor's listing.
   */
  listingAtOpen(fd: number): DirEntry[] | undefined {
    const f = this.file(fd);
    let r: Resolved;
    try {
      r = this.resolve(f.vpath, true, 'list');
    } catch {
      return undefined;
    }
    if (!r.node || (r.node.stat.mode & S_IFMT) !== S_IFDIR) return undefined;
    const d = this.policy.decide('list', { vpath: r.vpath, source: r.mount.source, hostPath: r.mount.hostPath(r.rel, r.node), writable: r.mount.writable(r.rel) });
    if (!d.allow) return undefined;
    f.entries = this.withDots(r, r.node.stat.ino);
    return f.entries;
  }

  /** The supervisor answered getdents64 from the listing: the position moves as ours would have. */
  advanceListing(fd: number, count: number, answered: number): void {
    const f = this.file(fd);
    if (!f.entries) throw new Error(`descriptor ${fd} has no listing to advance`);
    const { used, next } = direntSpan(f.entries, f.position, count);
    if (used !== answered) throw new Error(`the supervisor listed ${answered} bytes of descriptor ${fd}, the listing gives ${used}`);
    f.position = next;
  }

  /** The entries of a directory descriptor (getdents64), listed at position 0 and kept until rewound. */
  directoryEntries(fd: number): { entries: DirEntry[]; file: OpenFile } {
    const f = this.file(fd);
    if (f.position === 0 || !f.entries) {
      const r = this.existing(f.vpath, true, 'list');
      if ((r.node.stat.mode & S_IFMT) !== S_IFDIR) throw new GuestErrno(Errno.ENOTDIR, `${f.vpath} is not a directory`);
      f.entries = this.withDots(r, r.node.stat.ino);
    }
    return { entries: f.entries, file: f };
  }

  /** A directory's entries as listed to the guest: `.` and `..` (both with its own inode), then its names. */
  private withDots(r: Resolved, ino: number): DirEntry[] {
    return [{ name: '.', ino, type: DT_DIR }, { name: '..', ino, type: DT_DIR }, ...this.listing(r)];
  }

  /** A directory's entries, with the mount points inside it that its own listing lacks. */
  private listing(r: Resolved): DirEntry[] {
    const entries = r.node?.synthetic ? [] : r.mount.list(r.rel);
    const extra = this.vfs.mountNamesUnder(r.parts).filter((n) => !entries.some((e) => e.name === n));
    return extra.length ? [...entries, ...extra.map((name) => ({ name, ino: 1, type: DT_DIR }))] : entries;
  }

  // ---- directory streams ----

  opendir(path: string, key: bigint): void {
    if (this.dirs.size >= this.limits.maxOpenDirs) throw new GuestErrno(Errno.EMFILE, `open-directory limit of ${this.limits.maxOpenDirs} reached`, { name: 'open-dirs', value: this.limits.maxOpenDirs });
    const r = this.existing(path, true, 'list');
    if ((r.node.stat.mode & S_IFMT) !== S_IFDIR) throw new GuestErrno(Errno.ENOTDIR, `${r.vpath} is not a directory`);
    this.dirs.set(key, { vpath: r.vpath, entries: this.withDots(r, r.node.stat.ino), next: 0 });
  }

  hasDir(key: bigint): boolean {
    return this.dirs.has(key);
  }

  readdir(key: bigint): { entry: DirEntry; offset: number } | null {
    const d = this.dirs.get(key);
    if (!d) throw new GuestErrno(Errno.EBADF, 'not an open directory stream');
    if (d.next >= d.entries.length) return null;
    const entry = d.entries[d.next++]!;
    return { entry, offset: d.next };
  }

  rewinddir(key: bigint): void {
    const d = this.dirs.get(key);
    if (d) d.next = 0;
  }

  closedir(key: bigint): void {
    if (!this.dirs.delete(key)) throw new GuestErrno(Errno.EBADF, 'not an open directory stream');
  }

  /** Closes everything (end of run): no host descriptor outlives the guest. */
  closeAll(): void {
    for (const [fd, d] of this.fds) {
      this.fds.delete(fd);
      if (--d.refs === 0 && d.kind === 'file') {
        try {
          d.handle.close();
        } catch {
          /* closing is best effort at the end */
        }
      }
    }
    this.dirs.clear();
  }
}
