import { encodeDirent64, encodeTimespec, encodeTimeval, encodeUtsname, putTime } from './common.js';
import type { Platform, StatInfo } from './types.js';

/** glibc aarch64 (generic layout): `struct stat` is 128 bytes, st_mode before a 32-bit st_nlink. */
function encodeStat(st: StatInfo): Buffer {
  const b = Buffer.alloc(128);
  b.writeBigUInt64LE(BigInt(st.dev), 0);
  b.writeBigUInt64LE(BigInt(st.ino), 8);
  b.writeUInt32LE(st.mode >>> 0, 16);
  b.writeUInt32LE(st.nlink >>> 0, 20);
  b.writeUInt32LE(st.uid >>> 0, 24);
  b.writeUInt32LE(st.gid >>> 0, 28);
  b.writeBigUInt64LE(BigInt(st.rdev), 32);
  b.writeBigInt64LE(BigInt(st.size), 48);
  b.writeInt32LE(st.blksize, 56);
  b.writeBigInt64LE(BigInt(st.blocks), 64);
  putTime(b, 72, st.atimeNs);
  putTime(b, 88, st.mtimeNs);
  putTime(b, 104, st.ctimeNs);
  return b;
}

export const linuxAarch64: Platform = {
  name: 'linux-aarch64',
  statSize: 128,
  encodeStat,
  direntSize: 280,
  encodeDirent: encodeDirent64,
  open: {
    O_ACCMODE: 0o3, O_RDONLY: 0, O_WRONLY: 0o1, O_RDWR: 0o2, O_CREAT: 0o100, O_EXCL: 0o200,
    O_NOCTTY: 0o400, O_TRUNC: 0o1000, O_APPEND: 0o2000, O_NONBLOCK: 0o4000,
    O_DIRECTORY: 0o40000, O_NOFOLLOW: 0o100000, O_CLOEXEC: 0o2000000,
  },
  encodeUtsname,
  encodeTimeval,
  encodeTimespec,
};
