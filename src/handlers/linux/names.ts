import { Errno, GuestErrno, RENAME } from '../../platform/index.js';
import { intArg, offsetArg, ptrArg } from '../args.js';
import type { Handler } from '../context.js';
import { atPath } from '../at-path.js';
import { openAt } from './descriptors.js';

/** Path-taking system calls of a stock guest that differ from their libc counterparts. */

export const open: Handler = async (ctx, [pathv, flagsv, modev]) =>
  openAt(ctx, await ctx.readPath(ptrArg(pathv!)), intArg(flagsv!, 'flags'), intArg(modev!, 'mode'));

export const openat: Handler = async (ctx, [dirfdv, pathv, flagsv, modev]) =>
  openAt(ctx, await atPath(ctx, dirfdv!, pathv!), intArg(flagsv!, 'flags'), intArg(modev!, 'mode'));

/** creat = open(O_WRONLY | O_CREAT | O_TRUNC). */
export const creat: Handler = async (ctx, [pathv, modev]) => {
  const F = ctx.session.platform.open;
  return openAt(ctx, await ctx.readPath(ptrArg(pathv!)), F.O_WRONLY | F.O_CREAT | F.O_TRUNC, intArg(modev!, 'mode'));
};

/** The getcwd system call returns the length, NUL included (the libc function returns the pointer). */
export const getcwd: Handler = (ctx, [bufv, sizev]) => {
  const cwd = Buffer.from(ctx.session.files.getcwd() + '\0');
  if (typeof sizev !== 'number' || sizev < cwd.length)
    throw new GuestErrno(Errno.ERANGE, 'buffer too small for the cwd');
  ctx.writeMemory(ptrArg(bufv!), cwd);
  return cwd.length;
};

export const truncate: Handler = async (ctx, [pathv, lenv]) => {
  const files = ctx.session.files;
  const fd = files.open(await ctx.readPath(ptrArg(pathv!)), ctx.session.platform.open.O_WRONLY, 0);
  try {
    files.ftruncate(fd, offsetArg(lenv!));
  } finally {
    files.close(fd);
  }
  return 0;
};

const { RENAME_NOREPLACE } = RENAME;

export const renameat2: Handler = async (ctx, [fromdir, fromv, todir, tov, flagsv]) => {
  const flags = intArg(flagsv!, 'flags');
  if (flags & ~RENAME_NOREPLACE) throw new GuestErrno(Errno.EINVAL, 'only RENAME_NOREPLACE is supported');
  const from = await atPath(ctx, fromdir!, fromv!, 1);
  const to = await atPath(ctx, todir!, tov!, 2);
  const files = ctx.session.files;
  if (flags & RENAME_NOREPLACE && files.resolve(to, false).node) throw new GuestErrno(Errno.EEXIST, 'target exists');
  files.rename(from, to);
  return 0;
};

export const sysinfo: Handler = (ctx, [bufv]) => {
  const { size, offsets: o } = ctx.session.platform.layouts.sysinfo;
  const b = Buffer.alloc(size);
  b.writeBigInt64LE(ctx.session.clock.monotonicNs() / 1_000_000_000n, o.uptime);
  b.writeBigUInt64LE(1n << 30n, o.totalram);
  b.writeBigUInt64LE(1n << 29n, o.freeram);
  b.writeUInt16LE(1, o.procs);
  b.writeUInt32LE(1, o.mem_unit);
  ctx.writeMemory(ptrArg(bufv!), b);
  return 0;
};
