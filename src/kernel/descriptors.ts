import { Errno, GuestErrno, SEEK, type OpenFlags, type StatInfo } from '../platform/index.js';
import type { InputSource, OutputSink } from './io.js';
import type { Descriptor, OpenFile, Stdio } from './open-file.js';

const MAX_FILE_OFFSET = 2 ** 53 - 1;

/** Reads from this size on may go out without a copy (FileHandle.view); smaller ones are copied anyway. */
const DIRECT_READ_BYTES = 16 * 1024;

/** Where descriptors 0, 1 and 2 (and their copies) read and write. */
export interface StdioStreams {
  readonly stdin: InputSource;
  readonly stdout: OutputSink;
  readonly stderr: OutputSink;
}

/**
 * The guest's descriptor table: numbers to open files or standard streams, with the calls that
 * act on a descriptor. Descriptors 0, 1 and 2 start as the standard streams.
 */
export class Descriptors {
  private readonly fds = new Map<number, Descriptor>();
  /**
   * Where reads land, when the run can lend a buffer that is free again (see Run): large reads
   * then neither allocate nor touch fresh memory each time.
   */
  readBuffer: ((length: number) => Buffer | undefined) | undefined;

  constructor(
    private readonly flags: OpenFlags,
    /** Descriptors the guest may hold open at once, stdio included (EMFILE past it). */
    private readonly maxOpenFiles: number,
  ) {
    const stdio: Stdio[] = ['stdin', 'stdout', 'stderr'];
    stdio.forEach((stream, fd) => this.fds.set(fd, { kind: 'stdio', stream, refs: 1 }));
  }

  /** The lowest number at or above `min` that this table does not use (EMFILE at the limit). */
  lowestFreeFrom(min: number): number {
    if (this.fds.size >= this.maxOpenFiles) throw this.full();
    let fd = min;
    while (this.fds.has(fd)) fd++;
    return fd;
  }

  /** Throws unless the full open-file count leaves room for one more. */
  checkRoom(): void {
    this.lowestFreeFrom(0);
  }

  private full(): GuestErrno {
    return new GuestErrno(Errno.EMFILE, `open-file limit of ${this.maxOpenFiles} reached`, {
      name: 'open-files',
      value: this.maxOpenFiles,
    });
  }

  /** Puts a newly opened file at the lowest free number. */
  add(file: OpenFile): number {
    const fd = this.lowestFreeFrom(0);
    this.fds.set(fd, file);
    return fd;
  }

  /** Puts a descriptor at a number the kernel chose (stock guests), replacing what was there. */
  install(fd: number, d: Descriptor): void {
    if (!this.fds.has(fd) && this.fds.size >= this.maxOpenFiles) throw this.full();
    this.drop(fd);
    this.fds.set(fd, d);
  }

  /** Forgets a descriptor if it is known; never fails. */
  drop(fd: number): void {
    const d = this.fds.get(fd);
    if (!d) return;
    this.fds.delete(fd);
    if (--d.refs === 0 && d.kind === 'file') {
      try {
        d.handle.close();
      } catch {
        /* best effort */
      }
    }
  }

  /** The descriptor at `fd`, or undefined (no EBADF): stock guests have descriptors of their own. */
  peek(fd: number): Descriptor | undefined {
    return this.fds.get(fd);
  }

  get(fd: number): Descriptor {
    const d = this.fds.get(fd);
    if (!d) throw new GuestErrno(Errno.EBADF, `descriptor ${fd} is not open`);
    return d;
  }

  file(fd: number): OpenFile {
    const d = this.get(fd);
    if (d.kind === 'stdio') throw new GuestErrno(Errno.ESPIPE, `descriptor ${fd} is a stream`);
    return d;
  }

  /** Reads up to `length` bytes at the file position (or at `at` for pread). */
  read(fd: number, length: number, at?: number): Buffer {
    const f = this.readable(fd);
    // Large reads of a file nothing can change meanwhile go out as the stored bytes themselves.
    const direct = length >= DIRECT_READ_BYTES ? f.handle.view?.(length, at ?? f.position) : undefined;
    if (direct) {
      if (at === undefined) f.position += direct.length;
      return direct;
    }
    const buf = this.readBuffer?.(length) ?? Buffer.allocUnsafe(length);
    return buf.subarray(0, readAt(f, buf.subarray(0, length), at));
  }

  /** Reads at the file position into `into` (a small read answered in place, no copy). */
  readInto(fd: number, into: Buffer): number {
    return readAt(this.readable(fd), into);
  }

  private readable(fd: number): OpenFile {
    const f = this.file(fd);
    if (!f.readable) throw new GuestErrno(Errno.EBADF, `descriptor ${fd} is not open for reading`);
    return f;
  }

  write(fd: number, data: Buffer, at?: number): number {
    const f = this.file(fd);
    if (!f.writable) throw new GuestErrno(Errno.EBADF, `descriptor ${fd} is not open for writing`);
    const pos = at ?? (f.append ? f.handle.stat().size : f.position);
    if (pos + data.length > MAX_FILE_OFFSET) throw new GuestErrno(Errno.EFBIG, 'file too large');
    const n = f.handle.write(data, pos);
    if (at === undefined) f.position = pos + n;
    return n;
  }

  /** read(2) on any descriptor: the standard input from its source, a file as `read` does (`at` is ignored for a stream). */
  readAny(fd: number, length: number, streams: StdioStreams, at?: number): Buffer | Promise<Buffer> {
    const d = this.get(fd);
    if (d.kind === 'file') return this.read(fd, length, at);
    if (d.stream !== 'stdin') throw new GuestErrno(Errno.EBADF, `fd ${fd} is not readable`);
    return length === 0 ? Buffer.alloc(0) : streams.stdin.read(length);
  }

  /**
   * write(2) on any descriptor: standard output and error to their sinks, a file as `write` does.
   * `data` may be fetched only once the descriptor is known to take it (guest memory read last).
   */
  async writeAny(
    fd: number,
    data: Buffer | (() => Promise<Buffer>),
    streams: StdioStreams,
    at?: number,
  ): Promise<number> {
    const d = this.get(fd);
    if (d.kind === 'stdio' && d.stream === 'stdin') throw new GuestErrno(Errno.EBADF, 'fd 0 is not writable');
    const bytes = typeof data === 'function' ? await data() : data;
    if (d.kind === 'file') return this.write(fd, bytes, at);
    (d.stream === 'stdout' ? streams.stdout : streams.stderr).write(bytes);
    return bytes.length;
  }

  /** The access mode and O_APPEND of a descriptor, as F_GETFL reports them. */
  statusFlags(fd: number): number {
    const d = this.get(fd);
    const F = this.flags;
    if (d.kind === 'stdio') return d.stream === 'stdin' ? F.O_RDONLY : F.O_WRONLY;
    const acc = d.readable && d.writable ? F.O_RDWR : d.writable ? F.O_WRONLY : F.O_RDONLY;
    return acc | (d.append ? F.O_APPEND : 0);
  }

  /** whence: SEEK_SET, SEEK_CUR or SEEK_END. */
  lseek(fd: number, offset: number, whence: number): number {
    const f = this.file(fd);
    const base =
      whence === SEEK.SEEK_SET
        ? 0
        : whence === SEEK.SEEK_CUR
          ? f.position
          : whence === SEEK.SEEK_END
            ? f.handle.stat().size
            : NaN;
    if (Number.isNaN(base)) throw new GuestErrno(Errno.EINVAL, `bad whence ${whence}`);
    const pos = base + offset;
    if (pos < 0 || !Number.isSafeInteger(pos)) throw new GuestErrno(Errno.EINVAL, 'resulting offset is out of range');
    f.position = pos;
    return pos;
  }

  /** A file's stat, or which standard stream the descriptor is. */
  fstat(fd: number): StatInfo | Stdio {
    const d = this.get(fd);
    if (d.kind === 'stdio') return d.stream;
    return d.handle.stat();
  }

  ftruncate(fd: number, length: number): void {
    const f = this.file(fd);
    if (!f.writable) throw new GuestErrno(Errno.EINVAL, `descriptor ${fd} is not open for writing`);
    if (length < 0 || length > MAX_FILE_OFFSET) throw new GuestErrno(Errno.EINVAL, 'bad length');
    f.handle.truncate(length);
  }

  close(fd: number): void {
    const d = this.get(fd);
    this.fds.delete(fd);
    if (--d.refs === 0 && d.kind === 'file') d.handle.close();
  }

  dup(fd: number, min = 0): number {
    const d = this.get(fd);
    const nfd = this.lowestFreeFrom(min);
    d.refs++;
    this.fds.set(nfd, d);
    return nfd;
  }

  dup2(fd: number, target: number): number {
    const d = this.get(fd);
    if (target < 0 || target >= this.maxOpenFiles) throw new GuestErrno(Errno.EBADF, 'target descriptor out of range');
    if (fd === target) return target;
    if (this.fds.has(target)) this.close(target);
    d.refs++;
    this.fds.set(target, d);
    return target;
  }

  /** Closes every descriptor (end of run): no host descriptor outlives the guest. */
  closeAll(): void {
    for (const fd of [...this.fds.keys()]) this.drop(fd);
  }
}

/** Fills `into` from the file at `at`, or at its position, which then moves past what was read. */
function readAt(f: OpenFile, into: Buffer, at?: number): number {
  const n = into.length === 0 ? 0 : f.handle.read(into, 0, into.length, at ?? f.position);
  if (at === undefined) f.position += n;
  return n;
}
