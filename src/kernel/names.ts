import { ACCESS, DT_DIR, Errno, GuestErrno, S_IFDIR, S_IFLNK, S_IFMT, type StatInfo } from '../platform/index.js';
import type { Decision, Operation, Policy } from '../policy/policy.js';
import { joinPath } from '../vfs/path.js';
import type { DirEntry } from '../vfs/types.js';
import { outside, OutsideError, type Resolved, type VirtualFS } from '../vfs/vfs.js';

/** A resolved name that exists. */
export type Existing = Resolved & { node: NonNullable<Resolved['node']> };

/**
 * Operations on names: path resolution from the working directory, and the calls that act on a
 * name (stat, access, readlink, mkdir, rename, ...), each decided by the policy first.
 */
export class Names {
  cwd: string[];

  constructor(
    readonly vfs: VirtualFS,
    readonly policy: Policy,
    cwd: string,
    /** Told of every policy decision (trace, verbose output, denial counts). */
    private readonly onDecision: (d: Decision) => void,
  ) {
    this.cwd = vfs.split(cwd);
  }

  /** Throws the policy's errno unless it allows `op` on `r`. */
  check(op: Operation, r: Resolved): void {
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
      if (err instanceof OutsideError)
        this.onDecision({ allow: false, op, vpath: err.vpath, errno: err.errno, reason: err.reason });
      throw err;
    }
  }

  /** A name that exists and that the policy lets `op` act on. */
  existing(path: string, follow: boolean, op: Operation): Existing {
    const r = this.resolve(path, follow, op);
    if (!r.node) throw this.missing(r, op);
    this.check(op, r);
    return r as Existing;
  }

  /** ENOENT for a missing name; EACCES (a denial) for one outside the sandbox's filesystem. */
  missing(r: Resolved, op: Operation): GuestErrno {
    if (
      r.mount.source === 'memory' &&
      r.mountPoint.length === 0 &&
      this.vfs.isContainer(r.parts.slice(0, -1)) &&
      !this.vfs.isAbsent(r.parts)
    ) {
      const err = outside(r.parts);
      this.onDecision({ allow: false, op, vpath: err.vpath, errno: err.errno, reason: err.reason });
      return err;
    }
    return new GuestErrno(Errno.ENOENT, `${r.vpath} does not exist`);
  }

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
    if (r.rel.length === 0 || this.vfs.holdsMount(r.parts))
      throw new GuestErrno(Errno.EBUSY, `${r.vpath} is or holds a mount point`);
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
    if (a.rel.length === 0 || b.rel.length === 0 || this.vfs.holdsMount(a.parts) || this.vfs.holdsMount(b.parts))
      throw new GuestErrno(Errno.EBUSY, 'mount point');
    if (a.vpath === b.vpath) return;
    if (b.parts.length > a.parts.length && b.vpath.startsWith(a.vpath + '/'))
      throw new GuestErrno(Errno.EINVAL, 'cannot move a directory into itself');
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

  /** A directory that the policy lets the guest list (ENOENT, ENOTDIR or the policy's errno otherwise). */
  listable(path: string): Existing {
    const r = this.existing(path, true, 'list');
    if ((r.node.stat.mode & S_IFMT) !== S_IFDIR) throw new GuestErrno(Errno.ENOTDIR, `${r.vpath} is not a directory`);
    return r;
  }

  /** A directory's entries as listed to the guest: `.` and `..` (both with its own inode), then its names. */
  entries(r: Resolved, ino: number): DirEntry[] {
    return [{ name: '.', ino, type: DT_DIR }, { name: '..', ino, type: DT_DIR }, ...this.listing(r)];
  }

  /** A directory's entries, with the mount points inside it that its own listing lacks. */
  private listing(r: Resolved): DirEntry[] {
    const entries = r.node?.synthetic ? [] : r.mount.list(r.rel);
    const extra = this.vfs.mountNamesUnder(r.parts).filter((n) => !entries.some((e) => e.name === n));
    return extra.length ? [...entries, ...extra.map((name) => ({ name, ino: 1, type: DT_DIR }))] : entries;
  }
}
