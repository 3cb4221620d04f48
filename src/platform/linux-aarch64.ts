import { encodeDirent64, encodeStatIn, encodeTimespec, encodeTimeval, encodeUtsname } from './common.js';
import { AARCH64_LAYOUTS } from './structs.js';
import type { Platform, StatInfo } from './types.js';

/** aarch64 (the generic layout): st_nlink and st_blksize are 32-bit. */
function encodeStat(st: StatInfo): Buffer {
  return encodeStatIn(AARCH64_LAYOUTS, st, false);
}

export const linuxAarch64: Platform = {
  name: 'linux-aarch64',
  layouts: AARCH64_LAYOUTS,
  statSize: AARCH64_LAYOUTS.stat.size,
  encodeStat,
  direntSize: AARCH64_LAYOUTS.dirent64.size,
  encodeDirent: encodeDirent64,
  open: {
    O_ACCMODE: 0o3,
    O_RDONLY: 0,
    O_WRONLY: 0o1,
    O_RDWR: 0o2,
    O_CREAT: 0o100,
    O_EXCL: 0o200,
    O_NOCTTY: 0o400,
    O_TRUNC: 0o1000,
    O_APPEND: 0o2000,
    O_NONBLOCK: 0o4000,
    O_DIRECTORY: 0o40000,
    O_NOFOLLOW: 0o100000,
    O_CLOEXEC: 0o2000000,
  },
  encodeUtsname,
  encodeTimeval,
  encodeTimespec,
};
