import { encodeDirent64, encodeStatIn, encodeTimespec, encodeTimeval, encodeUtsname } from './common.js';
import { X86_64_LAYOUTS } from './structs.js';
import type { Platform, StatInfo } from './types.js';

/** x86-64: `struct stat` (= stat64) has a 64-bit st_nlink and st_blksize. */
function encodeStat(st: StatInfo): Buffer {
  return encodeStatIn(X86_64_LAYOUTS, st, true);
}

export const linuxX8664: Platform = {
  name: 'linux-x86_64',
  layouts: X86_64_LAYOUTS,
  statSize: X86_64_LAYOUTS.stat.size,
  encodeStat,
  direntSize: X86_64_LAYOUTS.dirent64.size,
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
    O_DIRECTORY: 0o200000,
    O_NOFOLLOW: 0o400000,
    O_CLOEXEC: 0o2000000,
  },
  encodeUtsname,
  encodeTimeval,
  encodeTimespec,
};
