import { Errno, GuestErrno } from '../platform/index.js';
import type { Decision } from '../policy/policy.js';
import type { GuestChannel } from '../protocol/channel.js';
import type { Session } from '../kernel/session.js';
import type { ArgValue } from '../protocol/decoder.js';
import { AnswerEncoder } from '../protocol/encoder.js';
import { decodePath } from '../vfs/path.js';
import { COMMAND } from '../supervisor/contract/contract.js';

/** Answer of a supervisor call that may run natively now that the controller has seen it. */
export const CONTINUE: unique symbol = Symbol('continue');

/**
 * Answer of a supervisor call: the supervisor opens this host file, puts it in the guest and
 * returns its descriptor number as the call's result (no extra round trip).
 */
export class InjectHostFile {
  constructor(
    readonly hostPath: string,
    readonly cloexec: boolean,
  ) {}
}

/**
 * Supervisor guests: answer an open with a sealed in-memory copy of a small read-only virtual
 * file (a memfd the supervisor makes once per name and content): its reads then run natively,
 * and an fstat of it shows `stat`, the stat of its name.
 */
export class InjectFileCopy {
  constructor(
    readonly vpath: string,
    readonly stat: Buffer,
    readonly content: Buffer,
    readonly cloexec: boolean,
  ) {}
}

/** What a handler returns: the call's result value (ignored for `v` results), CONTINUE, or an injection. */
export type Answer = number | bigint | void | typeof CONTINUE | InjectHostFile | InjectFileCopy;
export type Handler = (ctx: CallContext, args: ArgValue[]) => Answer | Promise<Answer>;

/**
 * What one handler may do while answering one call: ask for guest memory (R, Z), write it (W),
 * allocate and free guest memory (M, F). Also collects what the trace records about the call.
 */
export class CallContext {
  readonly enc = new AnswerEncoder();
  /** The paths the call named, as read (decoded for the trace only when one is kept). */
  private rawPath: Buffer | undefined;
  private rawPath2: Buffer | undefined;
  /** Filled by handlers for the trace: the policy's reason. */
  decision: Decision | undefined;
  note: string | undefined;
  bytesToGuest = 0;
  bytesFromGuest = 0;
  /** Strings the supervisor sent along with this call, by pointer (null: bad pointer). */
  strings: Map<bigint, Buffer | null> | undefined;

  constructor(
    readonly session: Session,
    private readonly channel: GuestChannel,
  ) {}

  /** For the trace: the path the call named (its first 512 bytes), and the second one. */
  get path(): string | undefined {
    return shownPath(this.rawPath);
  }

  get path2(): string | undefined {
    return shownPath(this.rawPath2);
  }

  reset(): void {
    this.rawPath = this.rawPath2 = this.note = undefined;
    this.decision = undefined;
    this.bytesToGuest = this.bytesFromGuest = 0;
    this.strings = undefined;
  }

  /** R: `size` bytes of guest memory at `ptr` (size already bounded by the caller). */
  async readMemory(ptr: bigint, size: number): Promise<Buffer> {
    if (size === 0) return Buffer.alloc(0);
    this.enc.read(ptr, size);
    const data = await this.channel.request(this.enc.flush(), size);
    this.bytesFromGuest += data.length;
    return data;
  }

  /** Z: the NUL-terminated string at `ptr`, at most `max` bytes (longer ones are cut at `max`). */
  async readCString(ptr: bigint, max: number): Promise<Buffer> {
    if (ptr === 0n) throw new GuestErrno(Errno.EFAULT, 'NULL string pointer');
    const sent = this.strings?.get(ptr);
    if (sent !== undefined) {
      if (sent === null) throw new GuestErrno(Errno.EFAULT, 'bad address in guest memory');
      this.bytesFromGuest += Math.min(sent.length, max);
      return sent.length > max ? sent.subarray(0, max) : sent;
    }
    this.enc.readString(ptr, max);
    const data = await this.channel.requestString(this.enc.flush(), max);
    this.bytesFromGuest += data.length;
    return data;
  }

  /** A path argument, bounded by the path limit: ENAMETOOLONG past it, never a longer read. */
  async readPath(ptr: bigint, which: 1 | 2 = 1): Promise<string> {
    const max = this.session.limits.maxPathLength;
    const raw = await this.readCString(ptr, max);
    if (which === 1) this.rawPath = raw;
    else this.rawPath2 = raw;
    return decodePath(raw, max);
  }

  /** W: queued, sent with the answer. */
  writeMemory(ptr: bigint, data: Uint8Array): void {
    if (ptr === 0n) throw new GuestErrno(Errno.EFAULT, 'NULL buffer pointer');
    this.enc.write(ptr, data);
    this.bytesToGuest += data.length;
  }

  /**
   * W of at most `max` bytes (fewer than IN_PLACE_LIMIT) that `fill` puts straight into the answer
   * and counts; no W when it puts none. Returns the count.
   */
  writeMemoryInPlace(ptr: bigint, max: number, fill: (into: Buffer) => number): number {
    if (ptr === 0n) throw new GuestErrno(Errno.EFAULT, 'NULL buffer pointer');
    const into = this.enc.writeInPlace(ptr, max);
    let n = 0;
    try {
      n = fill(into);
    } finally {
      this.enc.endWrite(n);
    }
    this.bytesToGuest += n;
    return n;
  }

  /** M: guest memory holding `data`; resolves to its pointer. */
  async malloc(data: Uint8Array): Promise<bigint> {
    this.enc.malloc(data);
    this.bytesToGuest += data.length;
    const reply = await this.channel.request(this.enc.flush(), 8, 'M');
    return reply.readBigUInt64LE(0);
  }

  /** F: queued, sent with the answer. */
  free(ptr: bigint): void {
    this.enc.free(ptr);
  }

  /** Supervisor guests: a virtual descriptor (placeholder) in the guest; resolves to its number. */
  async injectVirtual(cloexec: boolean, target = -1): Promise<number> {
    const cmd = Buffer.alloc(17);
    cmd[0] = COMMAND.virtual;
    cmd.writeBigInt64LE(BigInt(target), 1);
    cmd.writeBigUInt64LE(cloexec ? BigInt(this.session.platform.open.O_CLOEXEC) : 0n, 9);
    return this.extension([cmd], 'V');
  }

  private async extension(parts: Buffer[], command: string): Promise<number> {
    const queued = this.enc.flush();
    const reply = await this.channel.request([...queued, ...parts], 8, command);
    const v = Number(reply.readBigInt64LE(0));
    if (v < 0) throw new GuestErrno(-v, 'the supervisor could not place the descriptor');
    return v;
  }

  /** Sets errno without failing the call (e.g. isatty answering 0 with ENOTTY). */
  setErrno(e: number): void {
    this.enc.errno(e);
  }
}

function shownPath(raw: Buffer | undefined): string | undefined {
  return raw?.toString('utf8', 0, Math.min(raw.length, 512));
}

/**
 * A call refused by the sandbox's rules (EPERM, EACCES: a signal to another process, a change of
 * identity, ...): a denial, counted and kept in the result like the policy's refusals. Other errnos
 * of `refuse` say "not there" (ENOSYS, ENOTSUP, ENOTTY) and the guest falls back.
 */
export class Refusal extends GuestErrno {}

/** A handler that always fails with `errno`, for the explicit entries of the table. */
export function refuse(errno: number, reason: string): Handler {
  const denial = errno === Errno.EPERM || errno === Errno.EACCES;
  return () => {
    throw denial ? new Refusal(errno, reason) : new GuestErrno(errno, reason);
  };
}

/** A handler that answers a constant. */
export function constant(value: number): Handler {
  return () => value;
}
