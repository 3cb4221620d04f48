import { randomFillSync } from 'node:crypto';
import { Errno, FCNTL, GuestErrno, IOCTL } from '../../platform/index.js';
import type { ArgValue } from '../../protocol/decoder.js';
import { countArg, fdArg, intArg, offsetArg, ptrArg } from '../args.js';
import { CONTINUE, InjectFileCopy, InjectHostFile, type CallContext, type Handler } from '../context.js';
import { direntRecords } from '../../kernel/dirent.js';
import { LIMITS } from '../../supervisor/contract/contract.js';
import { defaultTermios, TERMIOS_BYTES } from '../../kernel/termios.js';

/**
 * Descriptor calls of a stock guest under the supervisor. The kernel chooses descriptor numbers:
 * virtual files get a placeholder descriptor injected by the supervisor, granted host files a real
 * one (their reads never come here). The controller's table follows every open, dup and close.
 */

/** Virtual descriptors live at this number and above (the supervisor's filter knows it too). */
const VIRTUAL_FD_BASE = LIMITS.virtualFdBase;

/** open/openat/creat: the policy decides; a granted host file read-only becomes a real descriptor. */
export async function openAt(
  ctx: CallContext,
  path: string,
  flags: number,
  mode: number,
): Promise<number | InjectHostFile | InjectFileCopy> {
  const files = ctx.session.files;
  files.checkRoom();
  const prepared = files.prepareOpen(path, flags, mode);
  const cloexec = (flags & ctx.session.platform.open.O_CLOEXEC) !== 0;
  const { r, req } = prepared;
  const hostPath = r.node ? r.mount.hostPath(r.rel, r.node) : undefined;
  if (hostPath !== undefined && prepared.regular && !req.write && !req.create && !req.truncate) {
    // A real descriptor below VIRTUAL_FD_BASE: its reads, seeks and closes never come back here.
    ctx.note = 'real descriptor';
    return new InjectHostFile(hostPath, cloexec);
  }
  // A small file of a read-only in-memory tree: a sealed copy, read natively (both ways the same).
  if (
    r.node &&
    r.mount.source === 'memory' &&
    !r.mount.writable(r.rel) &&
    prepared.regular &&
    !req.write &&
    !req.create &&
    !req.truncate &&
    r.node.stat.size <= FILE_COPY_MAX &&
    files.handoff.maySeal(r.vpath)
  ) {
    const file = files.openPrepared(prepared); // the policy's decision, and the bytes
    try {
      const content = Buffer.alloc(r.node.stat.size);
      const n = file.handle.read(content, 0, content.length, 0);
      files.handoff.sealedCopy(r.vpath);
      ctx.note = 'sealed in-memory copy';
      return new InjectFileCopy(
        r.vpath,
        ctx.session.platform.encodeStat(file.handle.stat()),
        content.subarray(0, n),
        cloexec,
      );
    } finally {
      file.handle.close();
    }
  }
  const file = files.openPrepared(prepared);
  let fd: number;
  try {
    fd = await ctx.injectVirtual(cloexec, files.lowestFreeFrom(VIRTUAL_FD_BASE));
  } catch (err) {
    file.handle.close();
    throw err;
  }
  files.install(fd, file);
  // A directory: its whole listing goes along, and the supervisor answers getdents64 from it.
  if (ctx.session.localListings && !prepared.regular) {
    const entries = files.handoff.listingAtOpen(fd);
    if (entries) {
      const { out, next } = direntRecords(entries, 0, MAX_LISTING_BYTES);
      if (next === entries.length) ctx.enc.listing(out);
    }
  }
  return fd;
}

/** Read-only in-memory files up to this size (one 'm' transfer) are opened as sealed copies (at most SEALED_COPIES names a run). */
const FILE_COPY_MAX = LIMITS.maxChunk;

/** Listings larger than this stay with the controller (getdents64 forwarded as usual). */
const MAX_LISTING_BYTES = LIMITS.maxListing;

export const close: Handler = (ctx, [fdv]) => {
  const fd = typeof fdv === 'number' ? fdv : -1;
  ctx.session.files.drop(fd);
  return CONTINUE; // the kernel closes the guest's own descriptor (placeholder or real)
};

/** A copy of descriptor `fd` at `target` (or the lowest free number). */
async function duplicate(
  ctx: CallContext,
  fd: number,
  target: number,
  cloexec: boolean,
): Promise<number | typeof CONTINUE> {
  const files = ctx.session.files;
  const d = files.peek(fd);
  if (!d) {
    if (target >= 0) files.drop(target);
    return CONTINUE; // one of the guest's own kernel objects (a pipe, an eventfd): not ours to track
  }
  if (target >= 3 && target < VIRTUAL_FD_BASE) {
    throw new GuestErrno(Errno.EINVAL, `a virtual descriptor cannot be placed below ${VIRTUAL_FD_BASE}`);
  }
  const nfd = await ctx.injectVirtual(cloexec, target >= 0 ? target : files.lowestFreeFrom(VIRTUAL_FD_BASE));
  d.refs++;
  files.install(nfd, d);
  return nfd;
}

export const dup: Handler = (ctx, [fdv]) => duplicate(ctx, fdArg(fdv!), -1, false);

export const dup2: Handler = (ctx, [fdv, newv]) => {
  const fd = fdArg(fdv!);
  const target = fdArg(newv!);
  if (fd === target) return CONTINUE;
  return duplicate(ctx, fd, target, false);
};

export const dup3: Handler = (ctx, [fdv, newv, flagsv]) => {
  const fd = fdArg(fdv!);
  const target = fdArg(newv!);
  const flags = intArg(flagsv!, 'flags');
  const { O_CLOEXEC } = ctx.session.platform.open;
  if (fd === target || flags & ~O_CLOEXEC) throw new GuestErrno(Errno.EINVAL, 'bad dup3 arguments');
  return duplicate(ctx, fd, target, (flags & O_CLOEXEC) !== 0);
};

const { F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD_CLOEXEC } = FCNTL;

export const fcntl: Handler = (ctx, [fdv, cmdv]) => {
  const fd = fdArg(fdv!);
  const cmd = intArg(cmdv!, 'fcntl command');
  const files = ctx.session.files;
  switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC:
      return duplicate(ctx, fd, -1, cmd === F_DUPFD_CLOEXEC);
    case F_GETFD:
    case F_SETFD:
      return CONTINUE; // descriptor flags live on the guest's own descriptor
    case F_GETFL:
      return files.statusFlags(fd);
    case F_SETFL:
      files.get(fd);
      return 0;
    default:
      throw new GuestErrno(Errno.EINVAL, `fcntl command ${cmd} is not supported on virtual files`);
  }
};

const { TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCGWINSZ, TIOCSWINSZ, FIONREAD, FIONCLEX, FIOCLEX, TIOCGPGRP } = IOCTL;

/** The guest's terminal settings are kept, and applied by the controller's line discipline. */
async function setTermios(ctx: CallContext, ptr: bigint, flush: boolean): Promise<number> {
  const t = Buffer.from(await ctx.readMemory(ptr, TERMIOS_BYTES));
  const term = ctx.session.terminal;
  term.termios = t;
  term.apply?.(t, flush);
  return 0;
}

export const ioctl: Handler = (ctx, [fdv, reqv, argv]) => {
  const fd = fdArg(fdv!);
  const req = typeof reqv === 'number' ? reqv >>> 0 : -1;
  const d = ctx.session.files.get(fd);
  if (req === FIOCLEX || req === FIONCLEX) return CONTINUE;
  const tty = d.kind === 'stdio' && ctx.session.isatty[d.stream];
  if (req === FIONREAD && d.kind === 'file') {
    const left = Math.max(0, d.handle.stat().size - d.position);
    const b = Buffer.alloc(4);
    b.writeInt32LE(Math.min(left, 0x7fffffff));
    ctx.writeMemory(ptrArg(argv!), b);
    return 0;
  }
  if (!tty) throw new GuestErrno(Errno.ENOTTY, 'not a terminal');
  switch (req) {
    case FIONREAD: {
      // Input typed and not read yet (a line editor asks after an escape character); any of the
      // standard streams that is a terminal is the same terminal here.
      const b = Buffer.alloc(4);
      b.writeInt32LE(Math.min(ctx.session.terminal.available?.() ?? 0, 0x7fffffff));
      ctx.writeMemory(ptrArg(argv!), b);
      return 0;
    }
    case TCGETS:
      ctx.writeMemory(ptrArg(argv!), ctx.session.terminal.termios ?? defaultTermios());
      return 0;
    case TCSETS:
    case TCSETSW:
    case TCSETSF:
      return setTermios(ctx, ptrArg(argv!), req === TCSETSF);
    case TIOCSWINSZ:
      return 0; // the host's terminal size stays as it is
    case TIOCGWINSZ: {
      const { size, offsets: o } = ctx.session.platform.layouts.winsize;
      const b = Buffer.alloc(size);
      b.writeUInt16LE(process.stdout.rows || 24, o.ws_row);
      b.writeUInt16LE(process.stdout.columns || 80, o.ws_col);
      ctx.writeMemory(ptrArg(argv!), b);
      return 0;
    }
    case TIOCGPGRP: {
      const b = Buffer.alloc(4);
      b.writeInt32LE(ctx.session.identity.pid);
      ctx.writeMemory(ptrArg(argv!), b);
      return 0;
    }
    default:
      throw new GuestErrno(Errno.ENOTTY, `terminal ioctl 0x${req.toString(16)} is not supported`);
  }
};

const IOV_MAX = 1024;

/** The guest's iovec array: [base, len] pairs, bounded in count and total length. */
async function iovecs(ctx: CallContext, iovv: ArgValue, cntv: ArgValue): Promise<{ base: bigint; len: number }[]> {
  const cnt = intArg(cntv, 'iovcnt');
  if (cnt < 0 || cnt > IOV_MAX) throw new GuestErrno(Errno.EINVAL, `iovcnt ${cnt}`);
  if (cnt === 0) return [];
  const { size, offsets: o } = ctx.session.platform.layouts.iovec;
  const raw = await ctx.readMemory(ptrArg(iovv), cnt * size);
  let room = ctx.session.limits.maxIoBytes;
  const out: { base: bigint; len: number }[] = [];
  for (let k = 0; k < cnt && room > 0; k++) {
    const len = raw.readBigInt64LE(size * k + o.iov_len);
    if (len < 0n) throw new GuestErrno(Errno.EINVAL, 'negative iov_len');
    const take = Number(len > BigInt(room) ? BigInt(room) : len);
    out.push({ base: raw.readBigUInt64LE(size * k + o.iov_base), len: take });
    room -= take;
  }
  return out;
}

async function gatherWrite(
  ctx: CallContext,
  fd: number,
  iov: { base: bigint; len: number }[],
  at?: number,
): Promise<number> {
  const parts: Buffer[] = [];
  for (const v of iov) if (v.len) parts.push(await ctx.readMemory(v.base, v.len));
  return ctx.session.files.writeAny(fd, Buffer.concat(parts), ctx.session, at);
}

async function scatterRead(
  ctx: CallContext,
  fd: number,
  iov: { base: bigint; len: number }[],
  at?: number,
): Promise<number> {
  const total = iov.reduce((n, v) => n + v.len, 0);
  const data = await ctx.session.files.readAny(fd, total, ctx.session, at);
  let off = 0;
  for (const v of iov) {
    if (off >= data.length) break;
    const piece = data.subarray(off, off + v.len);
    ctx.writeMemory(v.base, piece);
    off += piece.length;
  }
  return data.length;
}

export const readv: Handler = async (ctx, [fdv, iovv, cntv]) =>
  scatterRead(ctx, fdArg(fdv!), await iovecs(ctx, iovv!, cntv!));
export const writev: Handler = async (ctx, [fdv, iovv, cntv]) =>
  gatherWrite(ctx, fdArg(fdv!), await iovecs(ctx, iovv!, cntv!));
export const preadv: Handler = async (ctx, [fdv, iovv, cntv, offv]) =>
  scatterRead(ctx, fdArg(fdv!), await iovecs(ctx, iovv!, cntv!), offsetArg(offv!));
export const pwritev: Handler = async (ctx, [fdv, iovv, cntv, offv]) =>
  gatherWrite(ctx, fdArg(fdv!), await iovecs(ctx, iovv!, cntv!), offsetArg(offv!));

/** getdents64: `struct linux_dirent64` records from the position (an entry index for directories). */
export const getdents64: Handler = (ctx, [fdv, bufv, countv]) => {
  const fd = fdArg(fdv!);
  const count = countArg(countv!, ctx.session.limits.maxIoBytes);
  const files = ctx.session.files;
  const { entries, file } = files.directoryEntries(fd);
  const { out, next } = direntRecords(entries, file.position, count);
  if (out.length === 0 && next < entries.length) throw new GuestErrno(Errno.EINVAL, 'buffer too small for one entry');
  file.position = next;
  if (out.length) ctx.writeMemory(ptrArg(bufv!), out);
  return out.length;
};

export const getrandom: Handler = (ctx, [bufv, lenv, flagsv]) => {
  const len = countArg(lenv!, ctx.session.limits.maxIoBytes);
  intArg(flagsv!, 'flags');
  if (len === 0) return 0;
  const b = Buffer.alloc(len);
  randomFillSync(b);
  ctx.writeMemory(ptrArg(bufv!), b);
  return len;
};
