import { Errno, GuestErrno, S_IFDIR, S_IFMT, type OpenFlags, type StatInfo } from '../platform/index.js';
import type { Decision, Operation, Policy } from '../policy/policy.js';
import type { DirEntry, HostFileIdentity } from '../vfs/types.js';
import type { Resolved, VirtualFS } from '../vfs/vfs.js';
import { Descriptors, type StdioStreams } from './descriptors.js';
import { DirStreams } from './dir-streams.js';
import { SupervisorHandoff } from './handoff.js';
import { Names } from './names.js';
import {
  checkOpen,
  openPrepared,
  openRequest,
  type Descriptor,
  type OpenFile,
  type PreparedOpen,
  type Stdio,
} from './open-file.js';

export interface FileLimits {
  /** Descriptors the guest may hold open at once, stdio included (EMFILE past it). */
  maxOpenFiles: number;
  /** Directory streams open at once. */
  maxOpenDirs: number;
}

/**
 * The guest's view of files, with every access decided by the policy: names resolved from the
 * working directory, the descriptor table, directory streams, and (stock guests) what the
 * supervisor holds for the controller. Handlers call this and only encode/decode around it.
 */
export class FileTable {
  readonly names: Names;
  readonly descriptors: Descriptors;
  readonly dirs: DirStreams;
  /** Stock guests: sealed copies and listings handed to the supervisor. */
  readonly handoff: SupervisorHandoff;

  constructor(
    readonly vfs: VirtualFS,
    readonly policy: Policy,
    private readonly flags: OpenFlags,
    readonly limits: FileLimits,
    cwd: string,
    /** Told of every policy decision (trace, verbose output, denial counts). */
    onDecision: (d: Decision) => void,
  ) {
    this.names = new Names(vfs, policy, cwd, onDecision);
    this.descriptors = new Descriptors(flags, limits.maxOpenFiles);
    this.dirs = new DirStreams(this.names, limits.maxOpenDirs);
    this.handoff = new SupervisorHandoff(this.names, this.descriptors);
  }

  /** Where reads land, when the run can lend a buffer that is free again (see Descriptors). */
  get readBuffer(): ((length: number) => Buffer | undefined) | undefined {
    return this.descriptors.readBuffer;
  }

  set readBuffer(lend: ((length: number) => Buffer | undefined) | undefined) {
    this.descriptors.readBuffer = lend;
  }

  // ---- opening: the name's checks, then a descriptor ----

  open(path: string, flags: number, mode: number): number {
    return this.descriptors.add(openPrepared(this.prepareOpen(path, flags, mode)));
  }

  /** Every check of open(2) (flags, room for a descriptor, existence, type, policy), without opening anything. */
  prepareOpen(path: string, flags: number, mode: number): PreparedOpen {
    const req = openRequest(this.flags, flags, mode);
    this.descriptors.checkRoom(); // fail with EMFILE before touching anything
    return checkOpen(this.names, this.flags, path, flags, req);
  }

  openPrepared(p: PreparedOpen): OpenFile {
    return openPrepared(p);
  }

  /** The entries of a directory descriptor (getdents64), listed at position 0 and kept until rewound. */
  directoryEntries(fd: number): { entries: DirEntry[]; file: OpenFile } {
    const f = this.descriptors.file(fd);
    if (f.position === 0 || !f.entries) {
      const r = this.names.existing(f.vpath, true, 'list');
      if ((r.node.stat.mode & S_IFMT) !== S_IFDIR) throw new GuestErrno(Errno.ENOTDIR, `${f.vpath} is not a directory`);
      f.entries = this.names.entries(r, r.node.stat.ino);
    }
    return { entries: f.entries, file: f };
  }

  /** Closes everything (end of run): no host descriptor outlives the guest. */
  closeAll(): void {
    this.descriptors.closeAll();
    this.dirs.closeAll();
  }

  // ---- names ----

  resolve(path: string, follow = true, op: Operation = 'stat'): Resolved {
    return this.names.resolve(path, follow, op);
  }
  stat(path: string, follow: boolean): StatInfo {
    return this.names.stat(path, follow);
  }
  access(path: string, mode: number): void {
    this.names.access(path, mode);
  }
  readlink(path: string): string {
    return this.names.readlink(path);
  }
  chdir(path: string): void {
    this.names.chdir(path);
  }
  getcwd(): string {
    return this.names.getcwd();
  }
  mkdir(path: string, mode: number): void {
    this.names.mkdir(path, mode);
  }
  rmdir(path: string): void {
    this.names.rmdir(path);
  }
  unlink(path: string): void {
    this.names.unlink(path);
  }
  rename(from: string, to: string): void {
    this.names.rename(from, to);
  }
  symlink(target: string, path: string): void {
    this.names.symlink(target, path);
  }

  // ---- descriptors ----

  get(fd: number): Descriptor {
    return this.descriptors.get(fd);
  }
  file(fd: number): OpenFile {
    return this.descriptors.file(fd);
  }
  /** The descriptor at `fd`, or undefined (no EBADF): stock guests have descriptors of their own. */
  peek(fd: number): Descriptor | undefined {
    return this.descriptors.peek(fd);
  }
  /** Puts a descriptor at a number the kernel chose (stock guests), replacing what was there. */
  install(fd: number, d: Descriptor): void {
    this.descriptors.install(fd, d);
  }
  /** Throws unless the full open-file count leaves room for one more. */
  checkRoom(): void {
    this.descriptors.checkRoom();
  }
  lowestFreeFrom(min: number): number {
    return this.descriptors.lowestFreeFrom(min);
  }
  read(fd: number, length: number, at?: number): Buffer {
    return this.descriptors.read(fd, length, at);
  }
  readInto(fd: number, into: Buffer): number {
    return this.descriptors.readInto(fd, into);
  }
  write(fd: number, data: Buffer, at?: number): number {
    return this.descriptors.write(fd, data, at);
  }
  readAny(fd: number, length: number, streams: StdioStreams, at?: number): Buffer | Promise<Buffer> {
    return this.descriptors.readAny(fd, length, streams, at);
  }
  writeAny(fd: number, data: Buffer | (() => Promise<Buffer>), streams: StdioStreams, at?: number): Promise<number> {
    return this.descriptors.writeAny(fd, data, streams, at);
  }
  /** The access mode and O_APPEND of a descriptor, as F_GETFL reports them. */
  statusFlags(fd: number): number {
    return this.descriptors.statusFlags(fd);
  }
  lseek(fd: number, offset: number, whence: number): number {
    return this.descriptors.lseek(fd, offset, whence);
  }
  fstat(fd: number): StatInfo | Stdio {
    return this.descriptors.fstat(fd);
  }
  ftruncate(fd: number, length: number): void {
    this.descriptors.ftruncate(fd, length);
  }
  close(fd: number): void {
    this.descriptors.close(fd);
  }
  dup(fd: number, min = 0): number {
    return this.descriptors.dup(fd, min);
  }
  dup2(fd: number, target: number): number {
    return this.descriptors.dup2(fd, target);
  }
  /** Forgets a descriptor if it is known; never fails (a close the kernel did). */
  drop(fd: number): void {
    this.descriptors.drop(fd);
  }

  /** The host file behind a descriptor open for reading only, if that is what it is. */
  readOnlyHostFile(fd: number): HostFileIdentity | undefined {
    const d = this.descriptors.get(fd);
    if (d.kind !== 'file' || !d.readable || d.writable || d.append) return undefined;
    return d.handle.hostFile?.();
  }

  // ---- directory streams ----

  opendir(path: string, key: bigint): void {
    this.dirs.open(path, key);
  }
  readdir(key: bigint): { entry: DirEntry; offset: number } | null {
    return this.dirs.read(key);
  }
  rewinddir(key: bigint): void {
    this.dirs.rewind(key);
  }
  /** A stream's entries as listed at opendir (what its readdir calls return, in order). */
  dirEntries(key: bigint): readonly DirEntry[] {
    return this.dirs.entries(key);
  }
  closedir(key: bigint): void {
    this.dirs.close(key);
  }

  // ---- hand-off to the supervisor ----

  /** The supervisor answered getdents64 from the listing sent at open (see SupervisorHandoff). */
  advanceListing(fd: number, count: number, answered: number): void {
    this.handoff.advanceListing(fd, count, answered);
  }
}
