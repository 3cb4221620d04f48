import { AT, Errno, GuestErrno } from '../platform/index.js';
import type { ArgValue } from '../protocol/decoder.js';
import { fdArg, ptrArg } from './args.js';
import type { CallContext } from './context.js';

/** The path an `*at` call names: relative paths are taken from the directory descriptor (a virtual one). */
export async function atPath(ctx: CallContext, dirfdv: ArgValue, pathv: ArgValue, which: 1 | 2 = 1): Promise<string> {
  return pathFrom(ctx, dirfdv, await ctx.readPath(ptrArg(pathv), which));
}

/** `path` as read from the guest, taken from the directory descriptor unless it is absolute or dirfd is AT_FDCWD. */
export function pathFrom(ctx: CallContext, dirfdv: ArgValue, path: string): string {
  if (path.startsWith('/') || dirfdv === AT.AT_FDCWD) return path;
  const d = ctx.session.files.get(fdArg(dirfdv));
  if (d.kind !== 'file') throw new GuestErrno(Errno.ENOTDIR, 'descriptor is not a directory');
  return path === '' ? d.vpath : `${d.vpath}/${path}`;
}
