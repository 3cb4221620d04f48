/** Encoders for the structs that are the same on every 64-bit Linux the project supports. */
import { LP64_LINUX, UTSNAME_FIELD_BYTES, type Layouts } from './structs.js';
import type { StatInfo } from './types.js';

const NS = 1_000_000_000n;
const NAME_MAX = 255;

const TWO32 = 0x1_0000_0000;

/**
 * A 64-bit word from a number: two 32-bit writes when the number is an exact integer (a stat
 * is encoded on most calls, and BigInt writes cost several times more); the BigInt write, with
 * its range checks, otherwise.
 */
function putI64(buf: Buffer, off: number, v: number): void {
  if (!Number.isSafeInteger(v)) return void buf.writeBigInt64LE(BigInt(v), off);
  buf.writeUInt32LE(v >>> 0, off);
  buf.writeInt32LE(Math.floor(v / TWO32), off + 4);
}

function putU64(buf: Buffer, off: number, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) return void buf.writeBigUInt64LE(BigInt(v), off);
  buf.writeUInt32LE(v >>> 0, off);
  buf.writeUInt32LE(Math.floor(v / TWO32), off + 4);
}

/** A `struct timespec` of `ns` nanoseconds at `off`. */
function putTime(buf: Buffer, off: number, ns: bigint): void {
  const o = LP64_LINUX.timespec.offsets;
  const sec = ns / NS;
  putI64(buf, off + o.tv_sec, Number(sec));
  putI64(buf, off + o.tv_nsec, Number(ns - sec * NS));
}

/** `struct stat` in the given layout; st_nlink and st_blksize are 64-bit on x86-64, 32-bit on aarch64. */
export function encodeStatIn(layouts: Layouts, st: StatInfo, wideNlink: boolean): Buffer {
  const { size, offsets: o } = layouts.stat;
  const b = Buffer.alloc(size);
  putU64(b, o.st_dev, st.dev);
  putU64(b, o.st_ino, st.ino);
  if (wideNlink) putU64(b, o.st_nlink, st.nlink);
  else b.writeUInt32LE(st.nlink >>> 0, o.st_nlink);
  b.writeUInt32LE(st.mode >>> 0, o.st_mode);
  b.writeUInt32LE(st.uid >>> 0, o.st_uid);
  b.writeUInt32LE(st.gid >>> 0, o.st_gid);
  putU64(b, o.st_rdev, st.rdev);
  putI64(b, o.st_size, st.size);
  if (wideNlink) putI64(b, o.st_blksize, st.blksize);
  else b.writeInt32LE(st.blksize, o.st_blksize);
  putI64(b, o.st_blocks, st.blocks);
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
