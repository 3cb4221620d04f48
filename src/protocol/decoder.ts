import { ProtocolError } from './errors.js';
import { readInt, readPtr } from './int64.js';
import { SignatureCache, type Signature } from './signature.js';

export type ArgValue = number | bigint;

export interface DecodedCall {
  readonly sig: Signature;
  /** `i`: number or bigint (exact), `p`: bigint, `f`: number. */
  readonly args: ArgValue[];
}

const enum State {
  Length,
  Name,
  Args,
}

/**
 * Incremental decoder of guest calls. Chunk boundaries do not matter: the same bytes fed in any
 * split give the same call. It stops after each complete call, because what the guest sends next
 * (replies to R/Z/M) is not a call.
 */
export class CallDecoder {
  private state = State.Length;
  private need = 0;
  private readonly nameBuf = Buffer.alloc(255);
  private readonly argBuf = Buffer.alloc(256);
  private filled = 0;
  private sig: Signature | undefined;
  private done: DecodedCall | undefined;

  constructor(private readonly cache = new SignatureCache()) {}

  /** True while a call has started arriving but is not complete. */
  get midCall(): boolean {
    return this.state !== State.Length || this.done !== undefined;
  }

  /** The call completed by the last `feed`, once. */
  take(): DecodedCall | undefined {
    const d = this.done;
    this.done = undefined;
    return d;
  }

  /**
   * Consumes bytes of `chunk` from `start`; returns the offset after the last byte consumed.
   * Stops right after a call completes (then `take()` returns it). Throws ProtocolError on bad input.
   */
  feed(chunk: Buffer, start = 0): number {
    if (this.done !== undefined) return start;
    let pos = start;
    const end = chunk.length;
    while (pos < end) {
      switch (this.state) {
        case State.Length: {
          const n = chunk[pos++]!;
          if (n === 0) throw new ProtocolError('zero-length', 'call name length byte is 0', chunk.subarray(pos - 1, pos + 16));
          this.need = n;
          this.filled = 0;
          this.state = State.Name;
          break;
        }
        case State.Name: {
          const take = Math.min(this.need - this.filled, end - pos);
          chunk.copy(this.nameBuf, this.filled, pos, pos + take);
          pos += take;
          this.filled += take;
          if (this.filled < this.need) break;
          const text = this.nameBuf.toString('latin1', 0, this.need);
          this.sig = this.cache.get(text);
          this.filled = 0;
          if (this.sig.argBytes === 0) return this.complete(pos);
          this.state = State.Args;
          break;
        }
        case State.Args: {
          const sig = this.sig!;
          const take = Math.min(sig.argBytes - this.filled, end - pos);
          chunk.copy(this.argBuf, this.filled, pos, pos + take);
          pos += take;
          this.filled += take;
          if (this.filled === sig.argBytes) return this.complete(pos);
          break;
        }
      }
    }
    return pos;
  }

  /** Bytes of a partly received call, for error reports (e.g. a guest that died mid-message). */
  pending(): Buffer {
    if (this.state === State.Name) return Buffer.concat([Buffer.of(this.need), this.nameBuf.subarray(0, this.filled)]);
    if (this.state === State.Args) {
      const name = Buffer.from(this.sig!.text, 'latin1');
      return Buffer.concat([Buffer.of(name.length), name, this.argBuf.subarray(0, this.filled)]);
    }
    return Buffer.alloc(0);
  }

  private complete(pos: number): number {
    const sig = this.sig!;
    const args: ArgValue[] = new Array(sig.args.length);
    for (let k = 0; k < sig.args.length; k++) {
      const kind = sig.args[k];
      const off = k * 8;
      args[k] = kind === 'p' ? readPtr(this.argBuf, off) : kind === 'i' ? readInt(this.argBuf, off) : this.argBuf.readDoubleLE(off);
    }
    this.done = { sig, args };
    this.state = State.Length;
    this.filled = 0;
    this.sig = undefined;
    return pos;
  }
}
