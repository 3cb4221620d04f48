import { Errno, GuestErrno, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, type OpenFlags } from '../platform/index.js';
import type { DirEntry, FileHandle, OpenRequest } from '../vfs/types.js';
import type { Resolved } from '../vfs/vfs.js';
import type { Names } from './names.js';

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

interface StdioFile {
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

/** What open(2)'s flags ask for (EINVAL for a bad access mode). */
export function openRequest(F: OpenFlags, flags: number, mode: number): OpenRequest {
  const acc = flags & F.O_ACCMODE;
  if (acc !== F.O_RDONLY && acc !== F.O_WRONLY && acc !== F.O_RDWR)
    throw new GuestErrno(Errno.EINVAL, 'bad access mode');
  return {
    read: acc === F.O_RDONLY || acc === F.O_RDWR,
    write: acc === F.O_WRONLY || acc === F.O_RDWR,
    create: (flags & F.O_CREAT) !== 0,
    exclusive: (flags & F.O_CREAT) !== 0 && (flags & F.O_EXCL) !== 0,
    truncate: (flags & F.O_TRUNC) !== 0 && acc !== F.O_RDONLY,
    mode,
  };
}

/** The checks of open(2) on the name: existence, type, the policy. Nothing is opened. */
export function checkOpen(names: Names, F: OpenFlags, path: string, flags: number, req: OpenRequest): PreparedOpen {
  const r = names.resolve(path, !req.exclusive && (flags & F.O_NOFOLLOW) === 0, req.write ? 'write' : 'read');
  if (r.node) {
    if (req.exclusive) throw new GuestErrno(Errno.EEXIST, `${r.vpath} exists`);
    const type = r.node.stat.mode & S_IFMT;
    if (type === S_IFLNK) throw new GuestErrno(Errno.ELOOP, `${r.vpath} is a symbolic link`);
    if (type === S_IFDIR && (req.write || req.create)) throw new GuestErrno(Errno.EISDIR, `${r.vpath} is a directory`);
    if (flags & F.O_DIRECTORY && type !== S_IFDIR) throw new GuestErrno(Errno.ENOTDIR, `${r.vpath} is not a directory`);
    names.check(req.write ? 'write' : 'read', r);
  } else {
    if (!req.create) throw names.missing(r, req.write ? 'write' : 'read');
    names.check('create', r);
  }
  const regular = r.node !== null && (r.node.stat.mode & S_IFMT) === S_IFREG;
  return { r, req, append: (flags & F.O_APPEND) !== 0, regular };
}

/** Opens what passed checkOpen: the mount's handle, or a stand-in for a directory that only leads to a nested mount. */
export function openPrepared(p: PreparedOpen): OpenFile {
  const node = p.r.node;
  const handle: FileHandle = node?.synthetic
    ? {
        read: () => {
          throw new GuestErrno(Errno.EISDIR, 'is a directory');
        },
        write: () => {
          throw new GuestErrno(Errno.EBADF, 'directory');
        },
        truncate: () => undefined,
        stat: () => node.stat,
        close: () => undefined,
      }
    : p.r.mount.open(p.r.rel, p.req, node);
  return {
    kind: 'file',
    handle,
    vpath: p.r.vpath,
    position: 0,
    readable: p.req.read,
    writable: p.req.write,
    append: p.append,
    refs: 1,
  };
}
