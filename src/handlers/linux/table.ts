import { Errno } from '../../platform/index.js';
import { refuse, type Handler } from '../context.js';
import * as files from '../pypy/files.js';
import * as io from '../pypy/io.js';
import * as proc from '../pypy/process.js';
import * as desc from './descriptors.js';
import * as names from './names.js';

/**
 * Linux system calls that the native supervisor forwards (the fate table of the contract,
 * src/supervisor/contract/contract.json, says which calls run natively and which are refused
 * there; test/syscall-table.test.ts checks this table against it row by row). Keyed by the
 * signature the supervisor sends.
 * Where the system call has the libc function's arguments and meaning, the PyPy handler serves.
 */
export const linuxHandlers: Readonly<Record<string, Handler>> = {
  // ---- descriptors (only virtual ones reach the controller, and every close/dup) ----
  'read(ipi)i': io.read,
  'write(ipi)i': io.write,
  'pread64(ipii)i': io.pread,
  'pwrite64(ipii)i': io.pwrite,
  'readv(ipi)i': desc.readv,
  'writev(ipi)i': desc.writev,
  'preadv(ipiii)i': desc.preadv,
  'pwritev(ipiii)i': desc.pwritev,
  'preadv2(ipiiii)i': desc.preadv,
  'pwritev2(ipiiii)i': desc.pwritev,
  'lseek(iii)i': io.lseek,
  'fstat(ip)i': io.fstat,
  'close(i)i': desc.close,
  'dup(i)i': desc.dup,
  'dup2(ii)i': desc.dup2,
  'dup3(iii)i': desc.dup3,
  'fcntl(iii)i': desc.fcntl,
  'ioctl(iip)i': desc.ioctl,
  'fsync(i)i': io.fsync,
  'fdatasync(i)i': io.fsync,
  'ftruncate(ii)i': io.ftruncate,
  'fadvise64(iiii)i': io.acceptOnValidFd,
  'fallocate(iiii)i': refuse(Errno.EOPNOTSUPP, 'preallocation is not supported'),
  'getdents64(ipi)i': desc.getdents64,
  'fchdir(i)i': files.fchdir,
  // fstatfs, fchmod, fchown, fgetxattr, flistxattr and flock never reach the controller: the
  // filter refuses them (or accepts flock) on every descriptor.

  // ---- names ----
  'open(pii)i': names.open,
  'openat(ipii)i': names.openat,
  'creat(pi)i': names.creat,
  'stat(pp)i': files.stat,
  'lstat(pp)i': files.lstat,
  'newfstatat(ippi)i': files.fstatat,
  'access(pi)i': files.access,
  'faccessat(ipi)i': files.faccessat,
  'faccessat2(ipii)i': files.faccessat,
  'readlink(ppi)i': files.readlink,
  'readlinkat(ippi)i': files.readlinkat,
  'mkdir(pi)i': files.mkdir,
  'mkdirat(ipi)i': files.mkdirat,
  'rmdir(p)i': files.rmdir,
  'unlink(p)i': files.unlink,
  'unlinkat(ipi)i': files.unlinkat,
  'rename(pp)i': files.rename,
  'renameat(ipip)i': files.renameat,
  'renameat2(ipipi)i': names.renameat2,
  'symlink(pp)i': files.symlink,
  'symlinkat(pip)i': files.symlinkat,
  'chdir(p)i': files.chdir,
  'getcwd(pi)i': names.getcwd,
  'truncate(pi)i': names.truncate,
  'utime(pp)i': files.touch,
  'utimes(pp)i': files.touch,
  'utimensat(ippi)i': files.touchAt,
  'futimesat(ipp)i': files.touchAt,
  'chmod(pi)i': refuse(Errno.EPERM, 'permissions are fixed in the sandbox'),
  'fchmodat(ipi)i': refuse(Errno.EPERM, 'permissions are fixed in the sandbox'),
  'chown(pii)i': refuse(Errno.EPERM, 'ownership is fixed in the sandbox'),
  'lchown(pii)i': refuse(Errno.EPERM, 'ownership is fixed in the sandbox'),
  'fchownat(ipiii)i': refuse(Errno.EPERM, 'ownership is fixed in the sandbox'),
  'statfs(pp)i': refuse(Errno.ENOSYS, 'filesystem statistics are not available'),
  'getxattr(pppi)i': refuse(Errno.ENOTSUP, 'no extended attributes'),
  'lgetxattr(pppi)i': refuse(Errno.ENOTSUP, 'no extended attributes'),
  'listxattr(ppi)i': refuse(Errno.ENOTSUP, 'no extended attributes'),
  'llistxattr(ppi)i': refuse(Errno.ENOTSUP, 'no extended attributes'),

  // ---- identity, system, randomness ----
  'uname(p)i': proc.uname,
  'getuid()i': proc.getuid,
  'geteuid()i': proc.geteuid,
  'getgid()i': proc.getgid,
  'getegid()i': proc.getegid,
  'getresuid(ppp)i': proc.getresuid,
  'getresgid(ppp)i': proc.getresgid,
  'getgroups(ip)i': proc.getgroups,
  'getrandom(pii)i': desc.getrandom,
  'sysinfo(p)i': names.sysinfo,
};
