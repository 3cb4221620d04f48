import type { Layouts } from './structs.js';

/** What a stat call reports, independent of any C layout. Times in nanoseconds since the epoch. */
export interface StatInfo {
  dev: number;
  ino: number;
  nlink: number;
  mode: number;
  uid: number;
  gid: number;
  rdev: number;
  size: number;
  blksize: number;
  blocks: number;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

export interface OpenFlags {
  readonly O_ACCMODE: number;
  readonly O_RDONLY: number;
  readonly O_WRONLY: number;
  readonly O_RDWR: number;
  readonly O_CREAT: number;
  readonly O_EXCL: number;
  readonly O_NOCTTY: number;
  readonly O_TRUNC: number;
  readonly O_APPEND: number;
  readonly O_NONBLOCK: number;
  readonly O_DIRECTORY: number;
  readonly O_NOFOLLOW: number;
  readonly O_CLOEXEC: number;
}

/** One platform's C structures and constants as a guest reads them. */
export interface Platform {
  readonly name: string;
  /** Sizes and field offsets of every struct the controller reads or writes in guest memory. */
  readonly layouts: Layouts;
  readonly statSize: number;
  encodeStat(st: StatInfo): Buffer;
  readonly direntSize: number;
  encodeDirent(ino: number, off: number, type: number, name: Buffer): Buffer;
  readonly open: OpenFlags;
  /** `struct utsname`: six fields of 65 bytes. */
  encodeUtsname(fields: readonly string[]): Buffer;
  encodeTimeval(sec: bigint, usec: bigint): Buffer;
  encodeTimespec(sec: bigint, nsec: bigint): Buffer;
}

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

export const DT_UNKNOWN = 0;
const DT_FIFO = 1;
export const DT_CHR = 2;
export const DT_DIR = 4;
export const DT_REG = 8;
export const DT_LNK = 10;

export function direntType(mode: number): number {
  switch (mode & S_IFMT) {
    case S_IFDIR:
      return DT_DIR;
    case S_IFREG:
      return DT_REG;
    case S_IFLNK:
      return DT_LNK;
    case S_IFCHR:
      return DT_CHR;
    case S_IFIFO:
      return DT_FIFO;
    default:
      return DT_UNKNOWN;
  }
}
