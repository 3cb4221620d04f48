import { Errno, FCNTL, GuestErrno, S_IFCHR, S_IFIFO, type StatInfo } from '../../platform/index.js';
import { IN_PLACE_LIMIT } from '../../protocol/encoder.js';
import { syntheticStat } from '../../vfs/stat.js';
import { countArg, fdArg, intArg, offsetArg, ptrArg } from '../args.js';
import type { CallContext, Handler } from '../context.js';

/** Descriptor-level calls: data in and out, positions, descriptor flags. */

function stdioStat(ctx: CallContext, tty: boolean): StatInfo {
  const mode = tty ? S_IFCHR | 0o620 : S_IFIFO | 0o600;
  return syntheticStat({ dev: 5, ino: 3, nlink: 1, mode, rdev: tty ? 0x8800 : 0 }, ctx.session.identity);
}

export const read: Handler = async (ctx, [fdv, bufv, countv]) => {
  const fd = fdArg(fdv!);
  const buf = ptrArg(bufv!);
  const count = countArg(countv!, ctx.session.limits.maxIoBytes);
  // A small read of a file lands in the answer itself (the common read of a module's source).
  const files = ctx.session.files;
  if (count > 0 && count < IN_PLACE_LIMIT && buf !== 0n && files.get(fd).kind === 'file')
    return ctx.writeMemoryInPlace(buf, count, (into) => files.readInto(fd, into));
  const data = await ctx.session.files.readAny(fd, count, ctx.session);
  if (data.length) ctx.writeMemory(buf, data);
  return data.length;
};

export const write: Handler = async (ctx, [fdv, bufv, countv]) => {
  const fd = fdArg(fdv!);
  const count = countArg(countv!, ctx.session.limits.maxIoBytes);
  // The descriptor is checked (EBADF) before guest memory is read.
  return ctx.session.files.writeAny(fd, () => ctx.readMemory(ptrArg(bufv!), count), ctx.session);
};

export const pread: Handler = (ctx, [fdv, bufv, countv, offv]) => {
  const count = countArg(countv!, ctx.session.limits.maxIoBytes);
  const off = offsetArg(offv!);
  if (off < 0) throw new GuestErrno(Errno.EINVAL, 'negative offset');
  const data = ctx.session.files.read(fdArg(fdv!), count, off);
  if (data.length) ctx.writeMemory(ptrArg(bufv!), data);
  return data.length;
};

export const pwrite: Handler = async (ctx, [fdv, bufv, countv, offv]) => {
  const fd = fdArg(fdv!);
  const count = countArg(countv!, ctx.session.limits.maxIoBytes);
  const off = offsetArg(offv!);
  if (off < 0) throw new GuestErrno(Errno.EINVAL, 'negative offset');
  ctx.session.files.file(fd);
  const data = await ctx.readMemory(ptrArg(bufv!), count);
  return ctx.session.files.write(fd, data, off);
};

export const lseek: Handler = (ctx, [fdv, offv, whencev]) =>
  ctx.session.files.lseek(fdArg(fdv!), offsetArg(offv!), intArg(whencev!, 'whence'));

export const close: Handler = (ctx, [fdv]) => {
  ctx.session.files.close(fdArg(fdv!));
  return 0;
};

export const dup: Handler = (ctx, [fdv]) => ctx.session.files.dup(fdArg(fdv!));
export const dup2: Handler = (ctx, [fdv, targetv]) => ctx.session.files.dup2(fdArg(fdv!), fdArg(targetv!));

export const isatty: Handler = (ctx, [fdv]) => {
  const d = ctx.session.files.get(fdArg(fdv!));
  if (d.kind === 'stdio' && ctx.session.isatty[d.stream]) return 1;
  ctx.setErrno(Errno.ENOTTY);
  return 0;
};

/** What fstat reports for a descriptor; standard streams look like a terminal or a pipe. */
export function statOfFd(ctx: CallContext, fd: number): StatInfo {
  const st = ctx.session.files.fstat(fd);
  return typeof st === 'string' ? stdioStat(ctx, ctx.session.isatty[st]) : st;
}

export const fstat: Handler = (ctx, [fdv, statv]) => {
  ctx.writeMemory(ptrArg(statv!), ctx.session.platform.encodeStat(statOfFd(ctx, fdArg(fdv!))));
  return 0;
};

export const ftruncate: Handler = (ctx, [fdv, lenv]) => {
  ctx.session.files.ftruncate(fdArg(fdv!), offsetArg(lenv!));
  return 0;
};

/** fsync/fdatasync: memory is always "on disk"; only the descriptor is checked. */
export const fsync: Handler = (ctx, [fdv]) => {
  ctx.session.files.get(fdArg(fdv!));
  return 0;
};

const { F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD_CLOEXEC } = FCNTL;

export const fcntl: Handler = (ctx, [fdv, cmdv, argv]) => {
  const fd = fdArg(fdv!);
  const cmd = intArg(cmdv!, 'fcntl command');
  switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC:
      return ctx.session.files.dup(fd, fdArg(argv!));
    case F_GETFD:
      ctx.session.files.get(fd);
      return 1; // FD_CLOEXEC: nothing is ever inherited, there is no exec
    case F_SETFD:
    case F_SETFL:
      ctx.session.files.get(fd);
      return 0;
    case F_GETFL:
      return ctx.session.files.statusFlags(fd);
    default:
      throw new GuestErrno(Errno.EINVAL, `fcntl command ${cmd} is not supported`);
  }
};

export const getStatusFlags: Handler = (ctx, [fdv]) => ctx.session.files.statusFlags(fdArg(fdv!));

/** Descriptor-flag setters: accepted for valid descriptors, nothing to change. */
export const acceptOnValidFd: Handler = (ctx, [fdv]) => {
  ctx.session.files.get(fdArg(fdv!));
  return 0;
};

/** rpy_get_inheritable: nothing is ever inherited in the sandbox. */
export const getInheritable: Handler = (ctx, [fdv]) => {
  ctx.session.files.get(fdArg(fdv!));
  return 0;
};
