import { LP64_LINUX, putDirent64 } from '../platform/index.js';
import type { DirEntry } from '../vfs/types.js';

/** Size of one `struct linux_dirent64` record (name and NUL, padded to 8). */
function direntLength(name: string): number {
  return (LP64_LINUX.dirent64.offsets.d_name + Buffer.byteLength(name) + 1 + 7) & ~7;
}

/** How many of entries[from..] fit in `count` bytes of records, and their size. */
export function direntSpan(entries: readonly DirEntry[], from: number, count: number): { used: number; next: number } {
  let used = 0;
  let k = from;
  for (; k < entries.length; k++) {
    const reclen = direntLength(entries[k]!.name);
    if (used + reclen > count) break;
    used += reclen;
  }
  return { used, next: k };
}

/** getdents64's `struct linux_dirent64` records for entries[from..], as many as fit in `count` bytes; d_off is the next entry's index. */
export function direntRecords(
  entries: readonly DirEntry[],
  from: number,
  count: number,
): { out: Buffer; next: number } {
  const { used, next } = direntSpan(entries, from, count);
  const out = Buffer.alloc(used);
  let at = 0;
  for (let k = from; k < next; k++) {
    const e = entries[k]!;
    const reclen = direntLength(e.name);
    putDirent64(out, at, reclen, e.ino, k + 1, e.type, e.name);
    at += reclen;
  }
  return { out, next };
}
