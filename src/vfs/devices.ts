import { randomFillSync } from 'node:crypto';
import { DT_CHR, Errno, GuestErrno, S_IFDIR, type StatInfo } from '../platform/index.js';
import { charDeviceStat, directoryHandle } from './stat.js';
import type { DirEntry, FileHandle, Mount, NodeInfo } from './types.js';

type Device = 'null' | 'zero' | 'urandom' | 'random';
const RDEV: Record<Device, number> = { null: 0x103, zero: 0x105, random: 0x108, urandom: 0x109 };

export interface DeviceOptions {
  owner: { uid: number; gid: number };
  /** Source of /dev/urandom bytes; the host's CSPRNG unless a deterministic source is given. */
  random?: (buf: Buffer) => void;
}

/** `/dev` with the character devices a Python program expects: null, zero, random, urandom. */
export class DevicesMount implements Mount {
  readonly source = 'device' as const;
  constructor(private readonly opts: DeviceOptions) {}

  private device(rel: readonly string[]): Device | null {
    if (rel.length !== 1) return null;
    const name = rel[0]!;
    return name in RDEV ? (name as Device) : null;
  }

  lookup(rel: readonly string[]): NodeInfo | null {
    if (rel.length === 0) {
      const st: StatInfo = { ...charDeviceStat(1, 0, this.opts.owner), mode: S_IFDIR | 0o755, nlink: 2 };
      return { stat: st };
    }
    const dev = this.device(rel);
    return dev ? { stat: charDeviceStat(RDEV[dev], RDEV[dev], this.opts.owner) } : null;
  }

  /** Nothing below /dev is deeper than one name: a step is a lookup. */
  step(_parent: NodeInfo, rel: readonly string[]): NodeInfo | null {
    return this.lookup(rel);
  }

  list(rel: readonly string[]): DirEntry[] {
    if (rel.length !== 0) throw new GuestErrno(Errno.ENOTDIR, 'not a directory');
    return (Object.keys(RDEV) as Device[]).map((name) => ({ name, ino: RDEV[name], type: DT_CHR }));
  }

  open(rel: readonly string[]): FileHandle {
    const dev = this.device(rel);
    if (!dev) {
      return directoryHandle(this.lookup(rel)!.stat);
    }
    const stat = charDeviceStat(RDEV[dev], RDEV[dev], this.opts.owner);
    const fill = this.opts.random ?? randomFillSync;
    return {
      read: (buf, offset, length) => {
        if (dev === 'null') return 0;
        const view = buf.subarray(offset, offset + length);
        if (dev === 'zero') view.fill(0);
        else fill(view);
        return length;
      },
      write: (data) => data.length,
      truncate: () => undefined,
      stat: () => stat,
      close: () => undefined,
    };
  }

  hostPath(): undefined {
    return undefined;
  }

  writable(rel: readonly string[]): boolean {
    const dev = this.device(rel);
    return dev === 'null' || dev === 'zero';
  }
}
