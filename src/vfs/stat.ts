import type { Stats } from 'node:fs';
import { Errno, GuestErrno, S_IFCHR, type StatInfo } from '../platform/index.js';
import type { FileHandle } from './types.js';

const MS_TO_NS = 1_000_000n;

/** Converts host or memfs stats to StatInfo, presenting the guest's own identity as owner. */
export function fromNodeStats(
  st: Pick<Stats, 'ino' | 'mode' | 'nlink' | 'size' | 'mtimeMs' | 'atimeMs' | 'ctimeMs'>,
  dev: number,
  owner: { uid: number; gid: number },
  stripWrite: boolean,
): StatInfo {
  const mode = stripWrite ? st.mode & ~0o222 : st.mode;
  const size = Number(st.size);
  return {
    dev,
    ino: Number(st.ino),
    nlink: Number(st.nlink) || 1,
    mode,
    uid: owner.uid,
    gid: owner.gid,
    rdev: 0,
    size,
    blksize: 4096,
    blocks: Math.ceil(size / 512),
    atimeNs: BigInt(Math.trunc(st.atimeMs)) * MS_TO_NS,
    mtimeNs: BigInt(Math.trunc(st.mtimeMs)) * MS_TO_NS,
    ctimeNs: BigInt(Math.trunc(st.ctimeMs)) * MS_TO_NS,
  };
}

/** The stat of a node made up by the VFS (a device, a directory on the way to a mount): no size, no times. */
export function syntheticStat(
  ids: { dev: number; ino: number; nlink: number; mode: number; rdev?: number },
  owner: { uid: number; gid: number },
): StatInfo {
  return {
    ...ids,
    rdev: ids.rdev ?? 0,
    uid: owner.uid,
    gid: owner.gid,
    size: 0,
    blksize: 4096,
    blocks: 0,
    atimeNs: 0n,
    mtimeNs: 0n,
    ctimeNs: 0n,
  };
}

export function charDeviceStat(ino: number, rdev: number, owner: { uid: number; gid: number }): StatInfo {
  return syntheticStat({ dev: 5, ino, nlink: 1, mode: S_IFCHR | 0o666, rdev }, owner);
}

/** A handle on a directory opened as a file: reads say EISDIR, writes EBADF. */
export function directoryHandle(stat: StatInfo): FileHandle {
  return {
    read: () => {
      throw new GuestErrno(Errno.EISDIR, 'is a directory');
    },
    write: () => {
      throw new GuestErrno(Errno.EBADF, 'directory');
    },
    truncate: () => undefined,
    stat: () => stat,
    close: () => undefined,
  };
}
