import { Errno, GuestErrno } from '../platform/index.js';
import type { DirEntry } from '../vfs/types.js';
import type { Names } from './names.js';

/** One open directory stream: its entries as listed at opendir, and the next one to return. */
interface DirStream {
  entries: DirEntry[];
  next: number;
}

/** Directory streams of the sandboxed PyPy (opendir/readdir/closedir), keyed by the guest's DIR pointer. */
export class DirStreams {
  private readonly streams = new Map<bigint, DirStream>();

  constructor(
    private readonly names: Names,
    /** Directory streams open at once (EMFILE past it). */
    private readonly maxOpenDirs: number,
  ) {}

  open(path: string, key: bigint): void {
    if (this.streams.size >= this.maxOpenDirs)
      throw new GuestErrno(Errno.EMFILE, `open-directory limit of ${this.maxOpenDirs} reached`, {
        name: 'open-dirs',
        value: this.maxOpenDirs,
      });
    const r = this.names.listable(path);
    this.streams.set(key, { entries: this.names.entries(r, r.node.stat.ino), next: 0 });
  }

  /** Every entry of a stream, as listed at opendir. */
  entries(key: bigint): readonly DirEntry[] {
    const d = this.streams.get(key);
    if (!d) throw new GuestErrno(Errno.EBADF, 'not an open directory stream');
    return d.entries;
  }

  has(key: bigint): boolean {
    return this.streams.has(key);
  }

  /** The next entry and the offset after it, or null at the end. */
  read(key: bigint): { entry: DirEntry; offset: number } | null {
    const d = this.streams.get(key);
    if (!d) throw new GuestErrno(Errno.EBADF, 'not an open directory stream');
    if (d.next >= d.entries.length) return null;
    const entry = d.entries[d.next++]!;
    return { entry, offset: d.next };
  }

  rewind(key: bigint): void {
    const d = this.streams.get(key);
    if (d) d.next = 0;
  }

  close(key: bigint): void {
    if (!this.streams.delete(key)) throw new GuestErrno(Errno.EBADF, 'not an open directory stream');
  }

  closeAll(): void {
    this.streams.clear();
  }
}
