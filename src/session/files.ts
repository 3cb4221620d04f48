import { errnoName, GuestErrno, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../platform/index.js';
import type { VirtualFS } from '../vfs/vfs.js';

/** One name of a listing. */
export interface SessionFileEntry {
  name: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
}

/** A host-side file operation refused or failed, with the errno it stands for (`ENOENT`, `ENOSPC`). */
export class SessionFileError extends Error {
  override readonly name = 'SessionFileError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The session's virtual `/tmp`, from the host side: files in and out between snippets without a
 * round trip through the guest. Paths are relative to `/tmp` or absolute inside it; nothing outside
 * `/tmp` is reachable, and no symlink is followed (the guest may have made them). Writes count
 * against the `/tmp` quota like the guest's own.
 */
export class SessionFiles {
  constructor(
    private readonly vfs: () => VirtualFS,
    private readonly changed: () => void,
  ) {}

  /** Writes a file (parents made as needed), replacing one that is there. */
  write(path: string, data: string | Buffer): void {
    const parts = this.parts(path, true);
    this.guard(() => {
      for (let k = 1; k < parts.length; k++) this.ensureDir(parts.slice(0, k));
      const r = this.at(parts);
      if (r.node && (r.node.stat.mode & S_IFMT) !== S_IFREG)
        throw new SessionFileError('EISDIR', `${r.vpath} is not a regular file`);
      const file = r.mount.open(
        r.rel,
        { read: false, write: true, create: true, exclusive: false, truncate: true, mode: 0o644 },
        r.node,
      );
      try {
        const bytes = typeof data === 'string' ? Buffer.from(data) : data;
        for (let pos = 0; pos < bytes.length;) pos += file.write(bytes.subarray(pos), pos);
      } finally {
        file.close();
      }
    });
    this.changed();
  }

  /** A regular file's bytes. */
  read(path: string): Buffer {
    const parts = this.parts(path, true);
    return this.guard(() => {
      const r = this.at(parts);
      if (!r.node) throw new SessionFileError('ENOENT', `${r.vpath} does not exist`);
      if ((r.node.stat.mode & S_IFMT) !== S_IFREG)
        throw new SessionFileError('EISDIR', `${r.vpath} is not a regular file`);
      return this.vfs().readFile(r.vpath);
    });
  }

  /** The names in a directory (default `/tmp`), sorted. */
  list(path = '/tmp'): SessionFileEntry[] {
    const parts = this.parts(path, false);
    return this.guard(() => {
      const r = this.at(parts);
      if (!r.node) throw new SessionFileError('ENOENT', `${r.vpath} does not exist`);
      if ((r.node.stat.mode & S_IFMT) !== S_IFDIR)
        throw new SessionFileError('ENOTDIR', `${r.vpath} is not a directory`);
      return r.mount
        .list(r.rel)
        .map((e) => {
          const child = this.at([...parts, e.name]);
          const mode = child.node?.stat.mode ?? 0;
          const kind = mode & S_IFMT;
          const type = kind === S_IFREG ? 'file' : kind === S_IFDIR ? 'dir' : kind === S_IFLNK ? 'symlink' : 'other';
          return {
            name: e.name,
            type,
            size: kind === S_IFREG ? Number(child.node?.stat.size ?? 0) : 0,
          } as SessionFileEntry;
        })
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    });
  }

  /** Removes a file or symlink, or a directory (with what it holds when `recursive`). */
  remove(path: string, opts: { recursive?: boolean } = {}): void {
    const parts = this.parts(path, true);
    this.guard(() => this.removeAt(parts, opts.recursive ?? false));
    this.changed();
  }

  private removeAt(parts: string[], recursive: boolean): void {
    const r = this.at(parts);
    if (!r.node) throw new SessionFileError('ENOENT', `${r.vpath} does not exist`);
    if ((r.node.stat.mode & S_IFMT) === S_IFDIR) {
      const names = r.mount.list(r.rel).map((e) => e.name);
      if (names.length && !recursive)
        throw new SessionFileError(
          'ENOTEMPTY',
          `${r.vpath} is a directory that is not empty (recursive: true removes it all)`,
        );
      for (const n of names) this.removeAt([...parts, n], true);
      r.mount.rmdir!(r.rel);
    } else r.mount.unlink!(r.rel);
  }

  /** `/tmp` components of a path; `/tmp` itself only where `inside` is false. */
  private parts(path: string, inside: boolean): string[] {
    if (typeof path !== 'string' || path === '' || path.includes('\0'))
      throw new SessionFileError('EINVAL', `expected a path inside /tmp, got ${JSON.stringify(path)}`);
    const raw = path.startsWith('/') ? path : `/tmp/${path}`;
    const parts = this.vfs().split(raw);
    if (parts[0] !== 'tmp' || (inside && parts.length < 2))
      throw new SessionFileError('EACCES', `${path}: only names inside the session's /tmp can be reached`);
    return parts;
  }

  /** Resolves without following anything: a symlink on the way is refused. */
  private at(parts: string[]) {
    const vfs = this.vfs();
    for (let k = 2; k < parts.length; k++) {
      const r = vfs.resolve(`/${parts.slice(0, k).join('/')}`, [], false);
      if (r.node && (r.node.stat.mode & S_IFMT) === S_IFLNK)
        throw new SessionFileError('ELOOP', `${r.vpath} is a symlink: not followed`);
    }
    return vfs.resolve(`/${parts.join('/')}`, [], false);
  }

  private ensureDir(parts: string[]): void {
    if (parts.length < 2) return;
    const r = this.at(parts);
    if (!r.node) r.mount.mkdir!(r.rel, 0o755);
    else if ((r.node.stat.mode & S_IFMT) !== S_IFDIR)
      throw new SessionFileError('ENOTDIR', `${r.vpath} is not a directory`);
  }

  /** The VFS's own errors (quota, missing names) as SessionFileErrors. */
  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof GuestErrno) throw new SessionFileError(errnoName(err.errno), err.reason);
      throw err;
    }
  }
}
