import { Errno, GuestErrno } from '../../platform/index.js';
import { LIMITS } from '../../supervisor/contract/contract.js';
import { fdArg, ptrArg } from '../args.js';
import type { CallContext, Handler } from '../context.js';

/**
 * Directory streams. `DIR*` is a guest buffer of one `struct dirent` that the controller
 * allocates with M; readdir fills it with W and returns it, closedir frees it with F.
 */

async function openStream(ctx: CallContext, path: string): Promise<bigint> {
  const files = ctx.session.files;
  const size = ctx.session.platform.direntSize;
  // Check first (policy, limits, type), so a refused opendir allocates nothing in the guest.
  const probe = -1n;
  files.opendir(path, probe);
  files.closedir(probe);
  const ptr = await ctx.malloc(Buffer.alloc(size));
  if (ptr === 0n) throw new GuestErrno(Errno.ENOMEM, 'guest malloc failed');
  files.opendir(path, ptr);
  // Through the supervisor's relay: the whole listing goes along, and it answers readdir from it.
  if (ctx.session.relayListings) {
    const entries = files.dirEntries(ptr);
    if (entries.length * size <= MAX_LISTING_BYTES) {
      const { platform } = ctx.session;
      ctx.enc.listing(
        Buffer.concat(entries.map((e, k) => platform.encodeDirent(e.ino, k + 1, e.type, Buffer.from(e.name)))),
      );
    }
  }
  return ptr;
}

/** Listings larger than this stay with the controller (readdir answered here as usual). */
const MAX_LISTING_BYTES = LIMITS.maxListing;

export const opendir: Handler = async (ctx, [pathv]) => openStream(ctx, await ctx.readPath(ptrArg(pathv!)));

export const fdopendir: Handler = (ctx, [fdv]) => {
  const d = ctx.session.files.get(fdArg(fdv!));
  if (d.kind !== 'file') throw new GuestErrno(Errno.ENOTDIR, 'not a directory');
  return openStream(ctx, d.vpath);
};

export const readdir: Handler = (ctx, [dirv]) => {
  const dir = ptrArg(dirv!);
  const next = ctx.session.files.readdir(dir);
  if (!next) return 0n; // end of stream: NULL, errno untouched
  const { entry, offset } = next;
  ctx.writeMemory(dir, ctx.session.platform.encodeDirent(entry.ino, offset, entry.type, Buffer.from(entry.name)));
  return dir;
};

export const rewinddir: Handler = (ctx, [dirv]) => {
  ctx.session.files.rewinddir(ptrArg(dirv!));
};

export const closedir: Handler = (ctx, [dirv]) => {
  const dir = ptrArg(dirv!);
  ctx.session.files.closedir(dir);
  ctx.free(dir);
  return 0;
};
