import { S_IFDIR, S_IFMT } from '../platform/index.js';
import type { DirEntry } from '../vfs/types.js';
import type { Resolved } from '../vfs/vfs.js';
import type { Descriptors } from './descriptors.js';
import { direntSpan } from './dirent.js';
import type { Names } from './names.js';

/** Names of read-only files a run may hand over as sealed copies (stock guests). */
const SEALED_COPIES = 512;

/**
 * What the supervisor holds for a stock guest on the controller's behalf, so that later calls
 * need not come back: the names of files handed over as sealed copies, and the listings sent
 * with directory opens (`L`), whose positions follow the getdents64 the supervisor answers.
 */
export class SupervisorHandoff {
  /** Names of read-only files handed to the supervisor as sealed copies this run (bounded by SEALED_COPIES). */
  private readonly sealed = new Set<string>();

  constructor(
    private readonly names: Names,
    private readonly descriptors: Descriptors,
  ) {}

  /** Whether `vpath` may go as a sealed copy: it already went, or there is room for one more name. */
  maySeal(vpath: string): boolean {
    return this.sealed.has(vpath) || this.sealed.size < SEALED_COPIES;
  }

  sealedCopy(vpath: string): void {
    this.sealed.add(vpath);
  }

  /**
   * A directory descriptor's entries listed now, for the supervisor to answer getdents64 from:
   * undefined where listing it would not simply be allowed (the guest's own getdents64 then
   * comes to the controller and gets the decision). Kept as the descriptor's listing.
   */
  listingAtOpen(fd: number): DirEntry[] | undefined {
    const f = this.descriptors.file(fd);
    let r: Resolved;
    try {
      r = this.names.resolve(f.vpath, true, 'list');
    } catch {
      return undefined;
    }
    if (!r.node || (r.node.stat.mode & S_IFMT) !== S_IFDIR) return undefined;
    const d = this.names.policy.decide('list', {
      vpath: r.vpath,
      source: r.mount.source,
      hostPath: r.mount.hostPath(r.rel, r.node),
      writable: r.mount.writable(r.rel),
    });
    if (!d.allow) return undefined;
    f.entries = this.names.entries(r, r.node.stat.ino);
    return f.entries;
  }

  /** The supervisor answered getdents64 from the listing: the position moves as ours would have. */
  advanceListing(fd: number, count: number, answered: number): void {
    const f = this.descriptors.file(fd);
    if (!f.entries) throw new Error(`descriptor ${fd} has no listing to advance`);
    const { used, next } = direntSpan(f.entries, f.position, count);
    if (used !== answered)
      throw new Error(`the supervisor listed ${answered} bytes of descriptor ${fd}, the listing gives ${used}`);
    f.position = next;
  }
}
