import { writeInt, writePtr, type Int, type Ptr } from './int64.js';
import type { ResultKind } from './signature.js';
import { COMMAND } from '../supervisor/contract/contract.js';
import { hostPlatform } from '../platform/index.js';

/** The supervisor's open flags word: O_CLOEXEC of the machine both run on, or nothing. */
function cloexecFlag(cloexec: boolean): bigint {
  return cloexec ? BigInt(hostPlatform().open.O_CLOEXEC) : 0n;
}

/** Command bytes the controller sends (sandbox-2). */
export const Cmd = {
  Read: COMMAND.read, // 'R' ptr size -> guest writes size bytes
  Str: COMMAND.string, // 'Z' ptr maxlen -> guest writes len(8) + bytes
  Write: COMMAND.write, // 'W' ptr size bytes
  Malloc: 0x4d, // 'M' size bytes -> guest writes ptr(8) (sandboxed PyPy only)
  Free: 0x46, // 'F' ptr (sandboxed PyPy only)
  Errno: COMMAND.errno, // 'E' int32
} as const;

/** Payloads at least this large are queued as their own buffer instead of being copied. */
const ZERO_COPY = 16 * 1024;

/** In-place writes (writeInPlace) are for fewer bytes than this. */
export const IN_PLACE_LIMIT = ZERO_COPY;

/**
 * Answers are built in one slab and handed out as views of it, which are never written again: a
 * new slab is taken when one is full (the old one lives as long as a write still holds part of it).
 */
const SLAB_BYTES = 64 * 1024;

/**
 * Builds the controller's answer to one call: memory commands, then one result. Everything between
 * two flushes goes to the guest in one write, so a typical answer (W + E + result) costs one syscall.
 */
export class AnswerEncoder {
  private scratch = Buffer.allocUnsafe(SLAB_BYTES);
  /** Bytes of the slab already handed out; those from there to `used` are queued. */
  private start = 0;
  private used = 0;
  private parts: Buffer[] = [];
  /** Where the length of a W whose data is being read in place sits (see writeInPlace). */
  private openWrite = -1;

  get empty(): boolean {
    return this.used === this.start && this.parts.length === 0;
  }

  read(ptr: Ptr, size: Int): this {
    this.ensure(17);
    this.scratch[this.used] = Cmd.Read;
    writePtr(this.scratch, this.used + 1, ptr);
    writeInt(this.scratch, this.used + 9, size);
    this.used += 17;
    return this;
  }

  readString(ptr: Ptr, maxLen: bigint | number): this {
    this.ensure(17);
    this.scratch[this.used] = Cmd.Str;
    writePtr(this.scratch, this.used + 1, ptr);
    writeInt(this.scratch, this.used + 9, maxLen);
    this.used += 17;
    return this;
  }

  write(ptr: Ptr, data: Uint8Array): this {
    this.ensure(17);
    this.scratch[this.used] = Cmd.Write;
    writePtr(this.scratch, this.used + 1, ptr);
    writeInt(this.scratch, this.used + 9, data.length);
    this.used += 17;
    this.bytes(data);
    return this;
  }

  /**
   * A W of at most `max` bytes (under the copy threshold) whose data the caller puts straight into
   * the returned buffer; `endWrite` then says how many bytes it holds (none: no W at all).
   */
  writeInPlace(ptr: Ptr, max: number): Buffer {
    if (max >= ZERO_COPY) throw new RangeError(`in-place writes are for less than ${ZERO_COPY} bytes`);
    this.ensure(17 + max);
    this.scratch[this.used] = Cmd.Write;
    writePtr(this.scratch, this.used + 1, ptr);
    this.openWrite = this.used + 9;
    this.used += 17;
    return this.scratch.subarray(this.used, this.used + max);
  }

  endWrite(n: number): void {
    const at = this.openWrite;
    this.openWrite = -1;
    if (at < 0) throw new Error('no in-place write is open');
    if (n === 0) {
      this.used = at - 9;
      return;
    }
    writeInt(this.scratch, at, n);
    this.used += n;
  }

  malloc(data: Uint8Array): this {
    this.ensure(9);
    this.scratch[this.used] = Cmd.Malloc;
    writeInt(this.scratch, this.used + 1, data.length);
    this.used += 9;
    this.bytes(data);
    return this;
  }

  free(ptr: Ptr): this {
    this.ensure(9);
    this.scratch[this.used] = Cmd.Free;
    writePtr(this.scratch, this.used + 1, ptr);
    this.used += 9;
    return this;
  }

  errno(e: number): this {
    this.ensure(5);
    this.scratch[this.used] = Cmd.Errno;
    this.scratch.writeInt32LE(e, this.used + 1);
    this.used += 5;
    return this;
  }

  /** The one result that ends an answer; its kind must be the call's result kind. */
  result(kind: ResultKind, value?: Int | Ptr): this {
    this.ensure(9);
    this.scratch[this.used++] = kind.charCodeAt(0);
    if (kind === 'v') return this;
    if (kind === 'f') this.scratch.writeDoubleLE(Number(value ?? 0), this.used);
    else if (kind === 'p') writePtr(this.scratch, this.used, BigInt(value ?? 0n));
    else writeInt(this.scratch, this.used, value ?? 0);
    this.used += 8;
    return this;
  }

  /** Supervisor extension: instead of a result, let the call run natively. */
  continueNative(): this {
    this.ensure(1);
    this.scratch[this.used++] = COMMAND.continue;
    return this;
  }

  /** Supervisor extension: instead of a result, open a host file and return its descriptor. */
  openAndReturn(hostPath: string, cloexec: boolean): this {
    const path = Buffer.from(hostPath);
    this.ensure(17);
    this.scratch[this.used] = COMMAND.openHost;
    this.scratch.writeBigUInt64LE(cloexecFlag(cloexec), this.used + 1);
    this.scratch.writeBigUInt64LE(BigInt(path.length), this.used + 9);
    this.used += 17;
    this.bytes(path);
    return this;
  }

  /** Supervisor extension, instead of a result: a sealed in-memory copy of a small read-only file. */
  fileCopy(vpath: string, stat: Uint8Array, content: Uint8Array, cloexec: boolean): this {
    const path = Buffer.from(vpath);
    this.ensure(25);
    this.scratch[this.used] = COMMAND.sealedCopy;
    this.scratch.writeBigUInt64LE(cloexecFlag(cloexec), this.used + 1);
    this.scratch.writeBigUInt64LE(BigInt(path.length), this.used + 9);
    this.scratch.writeBigUInt64LE(BigInt(content.length), this.used + 17);
    this.used += 25;
    this.bytes(stat);
    this.bytes(path);
    this.bytes(content);
    return this;
  }

  /**
   * Supervisor extension, before the result of an open of a directory: its getdents64 records
   * (all of them), which the supervisor answers that descriptor's getdents64 from.
   */
  listing(records: Uint8Array): this {
    this.ensure(9);
    this.scratch[this.used] = COMMAND.listing;
    this.scratch.writeBigUInt64LE(BigInt(records.length), this.used + 1);
    this.used += 9;
    this.bytes(records);
    return this;
  }

  /**
   * Relay extension, before the result of an open: the read-only host file behind the descriptor,
   * which the supervisor reads itself from now on (docs/protocol.md, "The relay").
   */
  relayHostFile(fd: number, dev: number, hostDev: bigint, ino: bigint, path: string): this {
    const p = Buffer.from(path);
    this.ensure(41);
    this.scratch[this.used] = COMMAND.relayHostFile;
    this.scratch.writeBigUInt64LE(BigInt(fd), this.used + 1);
    this.scratch.writeBigUInt64LE(BigInt(dev), this.used + 9);
    this.scratch.writeBigUInt64LE(hostDev, this.used + 17);
    this.scratch.writeBigUInt64LE(ino, this.used + 25);
    this.scratch.writeBigUInt64LE(BigInt(p.length), this.used + 33);
    this.used += 41;
    this.bytes(p);
    return this;
  }

  /** Takes everything queued since the last flush, as buffers to write in order. */
  flush(): Buffer[] {
    this.cut();
    const out = this.parts;
    this.parts = [];
    return out;
  }

  /** Drops everything queued since the last flush (a handler that failed after queuing W/F). */
  discard(): void {
    this.used = this.start;
    this.parts = [];
    this.openWrite = -1;
  }

  /** Same as flush, concatenated (tests and synchronous writers). */
  flushOne(): Buffer {
    const parts = this.flush();
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  private bytes(data: Uint8Array): void {
    if (data.length >= ZERO_COPY) {
      this.cut();
      this.parts.push(Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length));
      return;
    }
    this.ensure(data.length);
    this.scratch.set(data, this.used);
    this.used += data.length;
  }

  private cut(): void {
    if (this.used === this.start) return;
    this.parts.push(this.scratch.subarray(this.start, this.used));
    this.start = this.used;
  }

  /** Room for `n` more bytes in the slab, in a new one if need be (what is queued goes out first). */
  private ensure(n: number): void {
    if (this.used + n <= this.scratch.length) return;
    this.cut();
    this.scratch = Buffer.allocUnsafe(Math.max(n, SLAB_BYTES));
    this.start = this.used = 0;
  }
}
