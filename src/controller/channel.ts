import type { Readable, Writable } from 'node:stream';
import { CallDecoder, type DecodedCall } from '../protocol/decoder.js';
import { ProtocolError } from '../protocol/errors.js';

interface Waiter {
  /** Bytes still wanted; for a Z reply first the 8-byte length, then the string. */
  need: number;
  got: Buffer[];
  have: number;
  lengthPrefixed: boolean;
  maxLen: number;
  resolve: (b: Buffer) => void;
  reject: (e: Error) => void;
}

/**
 * The guest's two pipes as one ordered conversation. Bytes from the guest are either a call (when
 * none is in flight) or the reply to an R/Z/M command the controller sent; anything else is a
 * protocol violation. Answers are written in batches, one write per flush.
 */
export class GuestChannel {
  private readonly decoder = new CallDecoder();
  private waiter: Waiter | undefined;
  private inCall = false;
  private closed = false;
  bytesIn = 0;
  bytesOut = 0;

  constructor(
    private readonly fromGuest: Readable,
    private readonly toGuest: Writable,
    private readonly onCall: (call: DecodedCall) => void,
    private readonly onFatal: (err: Error) => void,
  ) {
    fromGuest.on('data', (chunk: Buffer) => this.receive(chunk));
    // A guest that dies leaves EPIPE on its stdin: the exit is reported, not the write error.
    toGuest.on('error', () => undefined);
  }

  /** Bytes of a call that started but never finished (for reports of a guest dying mid-message). */
  partialCall(): Buffer {
    return this.decoder.pending();
  }

  get busy(): boolean {
    return this.inCall;
  }

  receive(chunk: Buffer): void {
    if (this.closed) return;
    this.bytesIn += chunk.length;
    let pos = 0;
    try {
      while (pos < chunk.length) {
        if (this.waiter) {
          pos = this.fill(this.waiter, chunk, pos);
          continue;
        }
        if (this.inCall) {
          throw new ProtocolError('unexpected-bytes', 'guest sent bytes while its call was being answered', chunk.subarray(pos));
        }
        pos = this.decoder.feed(chunk, pos);
        const call = this.decoder.take();
        if (call) {
          this.inCall = true;
          this.onCall(call);
        }
      }
    } catch (err) {
      this.fail(err as Error);
    }
  }

  private fill(w: Waiter, chunk: Buffer, pos: number): number {
    const take = Math.min(w.need - w.have, chunk.length - pos);
    w.got.push(chunk.subarray(pos, pos + take));
    w.have += take;
    pos += take;
    if (w.have < w.need) return pos;
    const bytes = w.got.length === 1 ? w.got[0]! : Buffer.concat(w.got, w.have);
    if (w.lengthPrefixed) {
      const len = bytes.readBigUInt64LE(0);
      if (len > BigInt(w.maxLen)) {
        throw new ProtocolError('bad-string-length', `guest answered Z with length ${len}, more than the ${w.maxLen} asked for`, bytes);
      }
      w.lengthPrefixed = false;
      w.need = Number(len);
      w.got = [];
      w.have = 0;
      if (w.need > 0) return pos;
      this.waiter = undefined;
      w.resolve(Buffer.alloc(0));
      return pos;
    }
    this.waiter = undefined;
    w.resolve(Buffer.from(bytes));
    return pos;
  }

  /** Sends queued commands and waits for `size` reply bytes (R and M replies). */
  request(parts: Buffer[], size: number): Promise<Buffer> {
    return this.expect(parts, size, false, 0);
  }

  /** Sends a Z command and waits for its length-prefixed reply. */
  requestString(parts: Buffer[], maxLen: number): Promise<Buffer> {
    return this.expect(parts, 8, true, maxLen);
  }

  private expect(parts: Buffer[], need: number, lengthPrefixed: boolean, maxLen: number): Promise<Buffer> {
    if (this.closed) return Promise.reject(new Error('guest channel closed'));
    const p = new Promise<Buffer>((resolve, reject) => {
      this.waiter = { need, got: [], have: 0, lengthPrefixed, maxLen, resolve, reject };
    });
    this.send(parts);
    if (need === 0) {
      const w = this.waiter!;
      this.waiter = undefined;
      w.resolve(Buffer.alloc(0));
    }
    return p;
  }

  /** Sends the final part of an answer: the call is over, the guest may send its next one. */
  finish(parts: Buffer[]): void {
    this.inCall = false;
    this.send(parts);
  }

  private send(parts: Buffer[]): void {
    if (this.closed) return;
    for (const p of parts) {
      this.bytesOut += p.length;
      this.toGuest.write(p);
    }
  }

  private fail(err: Error): void {
    if (this.closed) return;
    this.close(err);
    this.onFatal(err);
  }

  /** Stops the conversation; a pending wait is rejected with `err`. */
  close(err: Error = new Error('guest channel closed')): void {
    if (this.closed) return;
    this.closed = true;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(err);
  }
}
