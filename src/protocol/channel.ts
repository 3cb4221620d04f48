import type { Readable, Writable } from 'node:stream';
import { Errno, GuestErrno } from '../platform/index.js';
import { CallDecoder, type DecodedCall } from './decoder.js';
import { ProtocolError } from './errors.js';
import { SignatureCache } from './signature.js';
import { STATUS } from '../supervisor/contract/contract.js';

/** What a reply looks like, step by step. */
const enum Step {
  /** One status byte ('+' ok, '!' the guest's pointer was bad): supervisor guests only. */
  Status,
  /** A fixed number of bytes. */
  Fixed,
  /** An 8-byte length, then that many bytes (Z replies). */
  Length,
}

interface Waiter {
  /** The command the reply answers, for error messages ("R of 100 bytes"). */
  what: string;
  /** Reply bytes received so far, and the first of them (for error messages). */
  received: number;
  /** The first HEAD_KEPT bytes of the reply (headLength of them received). */
  head: Buffer;
  headLength: number;
  steps: Step[];
  need: number;
  /** Size of the Fixed step (from the request, or from a Length step). */
  fixedSize: number;
  got: Buffer[];
  have: number;
  maxLen: number;
  resolve: (b: Buffer) => void;
  reject: (e: Error) => void;
}

const STATUS_OK = STATUS.ok; // '+'

const STATUS_FAULT = STATUS.fault; // '!'

/** Reply bytes kept for error messages. */
const HEAD_KEPT = 64;

/** What the guest has started sending and not finished (a call, or a reply it owes). */
export interface OwedMessage {
  kind: 'call' | 'reply';
  what: string;
  bytes: Buffer;
}

/**
 * The guest's two pipes as one ordered conversation. Bytes from the guest are either a call (when
 * none is in flight) or the reply to an R/Z/M command the controller sent; anything else is a
 * protocol violation. Answers are written in batches, one write per flush.
 */
export class GuestChannel {
  private readonly decoder: CallDecoder;
  private waiter: Waiter | undefined;
  private inCall = false;
  private closed = false;
  /** Replies carry a status byte first (the stock supervisor's extension for bad guest pointers). */
  private readonly statusPrefixed: boolean;
  /**
   * The stall clock (see stallMs): whether it runs (the guest owes bytes), since when (the last
   * byte, or the start of what is owed), and one timer that checks it. The timer is not set and
   * cleared for every round trip: when it fires before the deadline it is set again for the rest.
   */
  private owing = false;
  private owingSince = 0;
  private stallTimer: NodeJS.Timeout | undefined;
  /** Runs while answers wait for the guest to read them (more than its pipe holds). */
  private drainTimer: NodeJS.Timeout | undefined;
  /** Bytes handed to the guest's stream, and how many of them had gone out when the drain clock started. */
  private sent = 0;
  private flushedAtStart = 0;

  constructor(
    fromGuest: Readable,
    private readonly toGuest: Writable,
    private readonly onCall: (call: DecodedCall) => void,
    private readonly onFatal: (err: Error) => void,
    /**
     * Who speaks for the guest: the guest itself; the supervisor relaying a sandboxed PyPy (calls
     * may carry their paths, kind 's', and reports come between them); or the supervisor of a
     * stock guest (the same, and replies carry a status byte first, for bad guest pointers).
     */
    speaker: 'guest' | 'relay' | 'supervisor' = 'guest',
    /**
     * Answer bytes the guest may leave unread. A guest reads each answer before its next call, so
     * more than one answer's worth (the largest is about one I/O chunk) means it never will.
     */
    private readonly maxUnread = 4 * 1024 * 1024,
    /** Calls the supervisor answered itself (only a supervisor sends these). */
    private readonly onReport?: (call: DecodedCall) => void,
    /**
     * Milliseconds the guest may go without sending a byte while it owes some (the rest of a call
     * it started, or a reply to R/Z/M), or without reading while answers wait for it: past that
     * the conversation fails (0 = wait forever).
     */
    private readonly stallMs = 0,
  ) {
    this.statusPrefixed = speaker === 'supervisor';
    // The supervisor also sends path strings along with its calls (kind 's') and reports.
    const fromSupervisor = speaker !== 'guest';
    this.decoder = new CallDecoder(new SignatureCache(4096, fromSupervisor), fromSupervisor);
    fromGuest.on('data', (chunk: Buffer) => this.receive(chunk));
    // A guest that dies leaves EPIPE on its stdin: the exit is reported, not the write error.
    toGuest.on('error', () => undefined);
  }

  /** Nothing of earlier answers is waiting to be written: buffers lent to them are free again. */
  get drained(): boolean {
    return this.toGuest.writableLength === 0;
  }

  /** What the guest started to send and has not finished, if anything (a guest ending or stalling mid-message). */
  owed(): OwedMessage | undefined {
    const w = this.waiter;
    if (w)
      return {
        kind: 'reply',
        what: `its reply to ${w.what} (${w.received} bytes of it received)`,
        bytes: w.head.subarray(0, w.headLength),
      };
    if (this.decoder.midCall) return { kind: 'call', what: 'a call', bytes: this.decoder.pending() };
    return undefined;
  }

  receive(chunk: Buffer): void {
    if (this.closed) return;
    this.stopStallClock(); // any byte is progress
    let pos = 0;
    try {
      while (pos < chunk.length) {
        if (this.waiter) {
          pos = this.fill(this.waiter, chunk, pos);
          continue;
        }
        if (this.inCall) {
          throw new ProtocolError(
            'unexpected-bytes',
            'guest sent bytes while its call was being answered',
            chunk.subarray(pos),
          );
        }
        pos = this.decoder.feed(chunk, pos);
        const call = this.decoder.take();
        if (call?.report) this.onReport?.(call);
        else if (call) {
          this.inCall = true;
          this.onCall(call);
        }
      }
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    this.startStallClock();
  }

  /** Starts the stall clock if the guest owes bytes and it is not running yet. */
  private startStallClock(): void {
    if (this.stallMs <= 0 || this.closed || this.owing || (this.waiter === undefined && !this.decoder.midCall)) return;
    this.owing = true;
    this.owingSince = performance.now();
    if (this.stallTimer === undefined) this.armStallTimer(this.stallMs);
  }

  private stopStallClock(): void {
    this.owing = false;
  }

  private armStallTimer(ms: number): void {
    this.stallTimer = setTimeout(() => this.checkStall(), ms);
  }

  private checkStall(): void {
    this.stallTimer = undefined;
    if (!this.owing || this.closed) return;
    const left = this.owingSince + this.stallMs - performance.now();
    if (left > 0) this.armStallTimer(Math.ceil(left));
    else this.stalled();
  }

  /** Starts the clock of an answer the guest has yet to read (one larger than its pipe holds). */
  private startDrainClock(): void {
    if (this.stallMs <= 0 || this.closed || this.drainTimer) return;
    this.flushedAtStart = this.sent - this.toGuest.writableLength;
    this.drainTimer = setTimeout(() => this.checkDrained(), this.stallMs);
  }

  /** The guest read nothing of what waits for it for the whole stall timeout: it stalled. */
  private checkDrained(): void {
    this.drainTimer = undefined;
    const left = this.toGuest.writableLength;
    if (this.closed || left === 0) return;
    if (this.sent - left > this.flushedAtStart) return this.startDrainClock(); // it read some: progress
    this.fail(
      new ProtocolError(
        'stalled',
        `guest stalled: it read none of the ${left} bytes of answers waiting for it for ${this.stallMs} ms`,
      ),
    );
  }

  private stalled(): void {
    const owed = this.owed();
    if (!owed || this.closed) return;
    this.fail(
      new ProtocolError(
        'stalled',
        `guest stalled: no byte for ${this.stallMs} ms in the middle of ${owed.what}`,
        owed.bytes,
      ),
    );
  }

  private fill(w: Waiter, chunk: Buffer, pos: number): number {
    const take = Math.min(w.need - w.have, chunk.length - pos);
    w.got.push(chunk.subarray(pos, pos + take));
    if (w.headLength < HEAD_KEPT)
      w.headLength += chunk.copy(w.head, w.headLength, pos, pos + Math.min(take, HEAD_KEPT - w.headLength));
    w.received += take;
    w.have += take;
    pos += take;
    if (w.have < w.need) return pos;
    const bytes = w.got.length === 1 ? w.got[0]! : Buffer.concat(w.got, w.have);
    const step = w.steps.shift()!;
    w.got = [];
    w.have = 0;
    if (step === Step.Status) {
      if (bytes[0] === STATUS_FAULT) {
        this.waiter = undefined;
        w.reject(new GuestErrno(Errno.EFAULT, 'bad address in guest memory'));
        return pos;
      }
      if (bytes[0] !== STATUS_OK)
        throw new ProtocolError('bad-status', `reply status byte 0x${bytes[0]!.toString(16)}`, bytes);
    } else if (step === Step.Length) {
      const len = bytes.readBigUInt64LE(0);
      if (len > BigInt(w.maxLen)) {
        throw new ProtocolError(
          'bad-string-length',
          `guest answered Z with length ${len}, more than the ${w.maxLen} asked for`,
          bytes,
        );
      }
      w.steps.unshift(Step.Fixed);
      w.fixedSize = Number(len);
    } else {
      this.waiter = undefined;
      w.resolve(Buffer.from(bytes));
      return pos;
    }
    this.advance(w);
    return pos;
  }

  /** Sets up the next step; zero-length fixed steps complete at once. */
  private advance(w: Waiter): void {
    const next = w.steps[0];
    w.need = next === Step.Status ? 1 : next === Step.Length ? 8 : w.fixedSize;
    if (next === Step.Fixed && w.need === 0) {
      this.waiter = undefined;
      w.resolve(Buffer.alloc(0));
    }
  }

  /**
   * Sends queued commands and waits for `size` reply bytes (R, M, and the supervisor's O/V
   * replies); `command` names the command for error messages.
   */
  request(parts: Buffer[], size: number, command = 'R'): Promise<Buffer> {
    const steps = this.statusPrefixed ? [Step.Status, Step.Fixed] : [Step.Fixed];
    return this.expect(parts, steps, size, 0, `${command} (${size} bytes)`);
  }

  /** Sends a Z command and waits for its length-prefixed reply. */
  requestString(parts: Buffer[], maxLen: number): Promise<Buffer> {
    const steps = this.statusPrefixed ? [Step.Status, Step.Length] : [Step.Length];
    return this.expect(parts, steps, 0, maxLen, `Z (a length, then at most ${maxLen} bytes)`);
  }

  private expect(parts: Buffer[], steps: Step[], size: number, maxLen: number, what: string): Promise<Buffer> {
    if (this.closed) return Promise.reject(new Error('guest channel closed'));
    const p = new Promise<Buffer>((resolve, reject) => {
      this.waiter = {
        what,
        received: 0,
        head: Buffer.allocUnsafe(HEAD_KEPT),
        headLength: 0,
        steps,
        need: 0,
        fixedSize: size,
        got: [],
        have: 0,
        maxLen,
        resolve,
        reject,
      };
    });
    this.advance(this.waiter!);
    this.send(parts);
    this.startStallClock();
    return p;
  }

  /** Sends the final part of an answer: the call is over, the guest may send its next one. */
  finish(parts: Buffer[]): void {
    this.inCall = false;
    this.send(parts);
  }

  private send(parts: Buffer[]): void {
    if (this.closed) return;
    // One answer, one system call (writev): the guest wakes once, with the whole answer there.
    if (parts.length > 1) this.toGuest.cork();
    for (const p of parts) {
      this.toGuest.write(p);
      this.sent += p.length;
    }
    if (parts.length > 1) this.toGuest.uncork();
    if (this.toGuest.writableLength > 0) this.startDrainClock();
    // A guest that sends calls without reading the answers would make them pile up here.
    if (this.toGuest.writableLength > this.maxUnread) {
      this.fail(new ProtocolError('not-reading', `guest left ${this.toGuest.writableLength} bytes of answers unread`));
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
    this.stopStallClock();
    clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
    clearTimeout(this.drainTimer);
    this.drainTimer = undefined;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(err);
  }
}
