import { AT, Errno, GuestErrno, PATHCONF } from '../../platform/index.js';
import type { ArgValue } from '../../protocol/decoder.js';
import { countArg, fdArg, intArg, ptrArg } from '../args.js';
import type { CallContext, Handler } from '../context.js';
import { atPath, pathFrom } from '../at-path.js';
import { statOfFd } from './io.js';

/** Name-level calls: open, stat, access, directories of names, cwd. */

const { AT_SYMLINK_NOFOLLOW, AT_REMOVEDIR, AT_EMPTY_PATH } = AT;

export const open: Handler = async (ctx, [pathv, flagsv, modev]) => {
  const path = await ctx.readPath(ptrArg(pathv!));
  const fd = ctx.session.files.open(path, intArg(flagsv!, 'flags'), intArg(modev!, 'mode'));
  // Through the supervisor's relay: a read-only host file is read by the supervisor from now on.
  if (ctx.session.relayFiles) {
    const host = ctx.session.files.readOnlyHostFile(fd);
    if (host) ctx.enc.relayHostFile(fd, host.dev, host.hostDev, host.ino, host.path);
  }
  return fd;
};

export const openat: Handler = async (ctx, [dirfdv, pathv, flagsv, modev]) => {
  const path = await atPath(ctx, dirfdv!, pathv!);
  return ctx.session.files.open(path, intArg(flagsv!, 'flags'), intArg(modev!, 'mode'));
};

function writeStat(ctx: CallContext, ptr: ArgValue, path: string, follow: boolean): number {
  const st = ctx.session.files.stat(path, follow);
  ctx.writeMemory(ptrArg(ptr), ctx.session.platform.encodeStat(st));
  return 0;
}

export const stat: Handler = async (ctx, [pathv, bufv]) =>
  writeStat(ctx, bufv!, await ctx.readPath(ptrArg(pathv!)), true);
export const lstat: Handler = async (ctx, [pathv, bufv]) =>
  writeStat(ctx, bufv!, await ctx.readPath(ptrArg(pathv!)), false);

export const fstatat: Handler = async (ctx, [dirfdv, pathv, bufv, flagsv]) => {
  const flags = intArg(flagsv!, 'flags');
  const raw = await ctx.readPath(ptrArg(pathv!)).catch((e: unknown) => {
    // An empty path is only an error without AT_EMPTY_PATH.
    if (e instanceof GuestErrno && flags & AT_EMPTY_PATH) return '';
    throw e;
  });
  if (raw === '' && flags & AT_EMPTY_PATH) {
    ctx.writeMemory(ptrArg(bufv!), ctx.session.platform.encodeStat(statOfFd(ctx, fdArg(dirfdv!))));
    return 0;
  }
  const path = pathFrom(ctx, dirfdv!, raw);
  return writeStat(ctx, bufv!, path, (flags & AT_SYMLINK_NOFOLLOW) === 0);
};

export const access: Handler = async (ctx, [pathv, modev]) => {
  ctx.session.files.access(await ctx.readPath(ptrArg(pathv!)), intArg(modev!, 'mode'));
  return 0;
};

export const faccessat: Handler = async (ctx, [dirfdv, pathv, modev]) => {
  ctx.session.files.access(await atPath(ctx, dirfdv!, pathv!), intArg(modev!, 'mode'));
  return 0;
};

async function readlinkInto(ctx: CallContext, path: string, bufv: ArgValue, sizev: ArgValue): Promise<number> {
  const target = Buffer.from(ctx.session.files.readlink(path));
  const size = countArg(sizev, ctx.session.limits.maxPathLength);
  const out = target.subarray(0, size); // readlink truncates silently, without a NUL
  if (out.length) ctx.writeMemory(ptrArg(bufv), out);
  return out.length;
}

export const readlink: Handler = async (ctx, [pathv, bufv, sizev]) =>
  readlinkInto(ctx, await ctx.readPath(ptrArg(pathv!)), bufv!, sizev!);
export const readlinkat: Handler = async (ctx, [dirfdv, pathv, bufv, sizev]) =>
  readlinkInto(ctx, await atPath(ctx, dirfdv!, pathv!), bufv!, sizev!);

export const mkdir: Handler = async (ctx, [pathv, modev]) => {
  ctx.session.files.mkdir(await ctx.readPath(ptrArg(pathv!)), intArg(modev!, 'mode'));
  return 0;
};

export const mkdirat: Handler = async (ctx, [dirfdv, pathv, modev]) => {
  ctx.session.files.mkdir(await atPath(ctx, dirfdv!, pathv!), intArg(modev!, 'mode'));
  return 0;
};

export const rmdir: Handler = async (ctx, [pathv]) => {
  ctx.session.files.rmdir(await ctx.readPath(ptrArg(pathv!)));
  return 0;
};

export const unlink: Handler = async (ctx, [pathv]) => {
  ctx.session.files.unlink(await ctx.readPath(ptrArg(pathv!)));
  return 0;
};

export const unlinkat: Handler = async (ctx, [dirfdv, pathv, flagsv]) => {
  const path = await atPath(ctx, dirfdv!, pathv!);
  if (intArg(flagsv!, 'flags') & AT_REMOVEDIR) ctx.session.files.rmdir(path);
  else ctx.session.files.unlink(path);
  return 0;
};

export const rename: Handler = async (ctx, [fromv, tov]) => {
  const from = await ctx.readPath(ptrArg(fromv!), 1);
  const to = await ctx.readPath(ptrArg(tov!), 2);
  ctx.session.files.rename(from, to);
  return 0;
};

export const renameat: Handler = async (ctx, [fromdir, fromv, todir, tov]) => {
  const from = await atPath(ctx, fromdir!, fromv!, 1);
  const to = await atPath(ctx, todir!, tov!, 2);
  ctx.session.files.rename(from, to);
  return 0;
};

export const symlink: Handler = async (ctx, [targetv, pathv]) => {
  const target = await ctx.readPath(ptrArg(targetv!), 2);
  ctx.session.files.symlink(target, await ctx.readPath(ptrArg(pathv!)));
  return 0;
};

export const symlinkat: Handler = async (ctx, [targetv, dirfdv, pathv]) => {
  const target = await ctx.readPath(ptrArg(targetv!), 2);
  ctx.session.files.symlink(target, await atPath(ctx, dirfdv!, pathv!));
  return 0;
};

export const chdir: Handler = async (ctx, [pathv]) => {
  ctx.session.files.chdir(await ctx.readPath(ptrArg(pathv!)));
  return 0;
};

export const fchdir: Handler = (ctx, [fdv]) => {
  const d = ctx.session.files.get(fdArg(fdv!));
  if (d.kind !== 'file') throw new GuestErrno(Errno.ENOTDIR, 'not a directory');
  ctx.session.files.chdir(d.vpath);
  return 0;
};

export const getcwd: Handler = (ctx, [bufv, sizev]) => {
  const cwd = Buffer.from(ctx.session.files.getcwd() + '\0');
  const buf = ptrArg(bufv!);
  if (buf === 0n) throw new GuestErrno(Errno.EINVAL, 'getcwd into NULL is not supported');
  if (typeof sizev !== 'number' || sizev < cwd.length)
    throw new GuestErrno(Errno.ERANGE, 'buffer too small for the cwd');
  ctx.writeMemory(buf, cwd);
  return buf;
};

/** utime-family: timestamps are not kept apart from writes; allowed where writing is. */
export const touch: Handler = async (ctx, [pathv]) => {
  const path = await ctx.readPath(ptrArg(pathv!));
  ctx.session.files.access(path, 2);
  return 0;
};

export const touchAt: Handler = async (ctx, [dirfdv, pathv]) => {
  if (pathv === 0n) return acceptFd(ctx, dirfdv!);
  ctx.session.files.access(await atPath(ctx, dirfdv!, pathv!), 2);
  return 0;
};

function acceptFd(ctx: CallContext, fdv: ArgValue): number {
  ctx.session.files.get(fdArg(fdv));
  return 0;
}

export const futimens: Handler = (ctx, [fdv]) => acceptFd(ctx, fdv!);

/** pathconf/fpathconf: the limits the VFS enforces. */
function pathconfValue(ctx: CallContext, namev: ArgValue): number {
  const name = intArg(namev, 'name');
  if (name === PATHCONF._PC_NAME_MAX) return 255;
  if (name === PATHCONF._PC_PATH_MAX) return ctx.session.limits.maxPathLength;
  if (name === PATHCONF._PC_LINK_MAX) return 1;
  throw new GuestErrno(Errno.EINVAL, `pathconf name ${name} is not supported`);
}

export const pathconf: Handler = async (ctx, [pathv, namev]) => {
  ctx.session.files.stat(await ctx.readPath(ptrArg(pathv!)), true);
  return pathconfValue(ctx, namev!);
};

export const fpathconf: Handler = (ctx, [fdv, namev]) => {
  ctx.session.files.get(fdArg(fdv!));
  return pathconfValue(ctx, namev!);
};
