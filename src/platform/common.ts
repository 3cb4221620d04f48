/** Encoders for the structs that are the same on every 64-bit Linux the project supports. */
import { LP64_LINUX, UTSNAME_FIELD_BYTES, type Layouts } from './structs.js';
import type { StatInfo } from './types.js';

const NS = 1_000_000_000n;
const NAME_MAX = 255;

/** A `struct timespec` of `ns` nanoseconds at `off`. */
function putTime(buf: Buffer, off: number, ns: bigint): void {
  const o = LP64_LINUX.timespec.offsets;
  buf.writeBigInt64LE(ns / NS, off + o.tv_sec);
  buf.writeBigInt64LE(ns % NS, off + o.tv_nsec);
}

/** `struct stat` in the given layout; st_nlink and st_blksize are 64-bit on x86-64, 32-bit on aarch64. */
export function encodeStatIn(layouts: Layouts, st: StatInfo, wideNlink: boolean): Buffer {
  const { size, offsets: o } = layouts.stat;
  const b = Buffer.alloc(size);
  b.writeBigUInt64LE(BigInt(st.dev), o.st_dev);
  b.writeBigUInt64LE(BigInt(st.ino), o.st_ino);
  if (wideNlink) b.writeBigUInt64LE(BigInt(st.nlink), o.st_nlink);
  else b.writeUInt32LE(st.nlink >>> 0, o.st_nlink);
  b.writeUInt32LE(st.mode >>> 0, o.st_mode);
  b.writeUInt32LE(st.uid >>> 0, o.st_uid);
  b.writeUInt32LE(st.gid >>> 0, o.st_gid);
  b.writeBigUInt64LE(BigInt(st.rdev), o.st_rdev);
  b.writeBigInt64LE(BigInt(st.size), o.st_size);
  if (wideNlink) b.writeBigInt64LE(BigInt(st.blksize), o.st_blksize);
  else b.writeInt32LE(st.blksize, o.st_blksize);
  b.writeBigInt64LE(BigInt(st.blocks), o.st_blocks);
  putTime(b, o.st_atim, st.atimeNs);
  putTime(b, o.st_mtim, st.mtimeNs);
  putTime(b, o.st_ctim, st.ctimeNs);
  return b;
}

/** One `struct linux_dirent64` record of `reclen` bytes (the name NUL-terminated and padded) at `at`. */
export function putDirent64(
  out: Buffer,
  at: number,
  reclen: number,
  ino: number,
  off: number,
  type: number,
  name: Buffer | string,
): void {
  const o = LP64_LINUX.dirent64.offsets;
  out.writeBigUInt64LE(BigInt(ino), at + o.d_ino);
  out.writeBigInt64LE(BigInt(off), at + o.d_off);
  out.writeUInt16LE(reclen, at + o.d_reclen);
  out[at + o.d_type] = type;
  const bytes = typeof name === 'string' ? Buffer.from(name) : name;
  bytes.copy(out, at + o.d_name, 0, Math.min(bytes.length, NAME_MAX, reclen - o.d_name - 1));
}

/** A whole `struct dirent64` as readdir() hands it out (the largest record). */
export function encodeDirent64(ino: number, off: number, type: number, name: Buffer): Buffer {
  const size = LP64_LINUX.dirent64.size;
  const b = Buffer.alloc(size);
  putDirent64(b, 0, size, ino, off, type, name);
  return b;
}

export function encodeUtsname(fields: readonly string[]): Buffer {
  const { size, offsets: o } = LP64_LINUX.utsname;
  const at = [o.sysname, o.nodename, o.release, o.version, o.machine, o.domainname];
  const b = Buffer.alloc(size);
  fields.slice(0, 6).forEach((f, k) => Buffer.from(f, 'utf8').copy(b, at[k]!, 0, UTSNAME_FIELD_BYTES - 1));
  return b;
}

export function encodeTimeval(sec: bigint, usec: bigint): Buffer {
  const { size, offsets: o } = LP64_LINUX.timeval;
  const b = Buffer.alloc(size);
  b.writeBigInt64LE(sec, o.tv_sec);
  b.writeBigInt64LE(usec, o.tv_usec);
  return b;
}

export function encodeTimespec(sec: bigint, nsec: bigint): Buffer {
  const { size, offsets: o } = LP64_LINUX.timespec;
  const b = Buffer.alloc(size);
  b.writeBigInt64LE(sec, o.tv_sec);
  b.writeBigInt64LE(nsec, o.tv_nsec);
  return b;
}
