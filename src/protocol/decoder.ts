import { ProtocolError } from './errors.js';
import { readInt, readPtr } from './int64.js';
import { SignatureCache, type Signature } from './signature.js';
import { GRANT, REPORT_MARKER } from '../supervisor/contract/contract.js';

export type ArgValue = number | bigint;

export interface DecodedCall {
  readonly sig: Signature;
  /** `i`: number or bigint (exact), `p`: bigint, `f`: number. */
  readonly args: ArgValue[];
  /** Strings sent along (supervisor extension), by pointer; null when the guest's pointer was bad. */
  readonly strings?: Map<bigint, Buffer | null>;
  /** Set when the supervisor already answered the call itself (a report, not a question). */
  readonly report?: CallReport;
}

/** What the supervisor answered on the controller's behalf (docs/protocol.md, "Local answers"). */
export interface CallReport {
  result: bigint;
  errno: number;
  /** Index of the delegated grant that answered, -1 (none) or MISSING_NAME. */
  grant: number;
  /** CLOCK_MONOTONIC nanoseconds when the call arrived, and how long it took. */
  startNs: bigint;
  spentNs: number;
  /** The host file that answered; for MISSING_NAME the virtual path up to the missing name, for OWN_TREE the virtual path. */
  hostPath: string;
}

/** Report grant value: a name missing from a fully known directory of the controller's tree. */
export const MISSING_NAME = GRANT.missingName;
/** Report grant value: the controller's last answer to the same question, repeated. */
export const REPEATED_ANSWER = GRANT.repeatedAnswer;
/** Report grant value: a directory or symlink of the controller's own tree (its stat was handed over). */
export const OWN_TREE = GRANT.ownTree;
const GRANT_CODES: ReadonlySet<number> = new Set(Object.values(GRANT));

/** A report's u16 grant: an index, or 65536 plus one of the contract's codes. */
function reportGrant(wire: number): number {
  return GRANT_CODES.has(wire - 0x10000) ? wire - 0x10000 : wire;
}

/** Bytes after a reported call: result, errno, grant, start, spent, host path length. */
const REPORT_TAIL = 8 + 4 + 2 + 8 + 4 + 2;

/** Longest string the supervisor may send along with a call. */
const MAX_SENT_STRING = 65536;

const enum State {
  Length,
  Name,
  Args,
  StrStatus,
  StrLength,
  StrBytes,
  ReportTail,
  ReportPath,
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

  private strings: Map<bigint, Buffer | null> | undefined;
  private strIndex = 0;
  private strBuf: Buffer = Buffer.alloc(0);
  private args: ArgValue[] = [];

  /** The call being decoded is a report (it started with a 0 byte). */
  private reporting = false;
  private readonly tail = Buffer.alloc(REPORT_TAIL);
  private report: Omit<CallReport, 'hostPath'> | undefined;
  private call: DecodedCall | undefined;

  /** `reports`: accept the supervisor's reports of calls it answered itself. */
  constructor(
    private cache = new SignatureCache(),
    private reports = false,
  ) {}

  /** True while a call has started arriving but is not complete. */
  get midCall(): boolean {
    return this.state !== State.Length || this.reporting || this.done !== undefined;
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
          if (n === REPORT_MARKER && this.reports && !this.reporting) {
            this.reporting = true;
            break;
          }
          if (n === 0 && this.reporting) {
            // A report marker with no call: the supervisor relaying a sandboxed PyPy could not read
            // a call, and every byte from here on is the guest's own (no reports, no paths along).
            this.reporting = false;
            this.reports = false;
            this.cache = new SignatureCache();
            break;
          }
          if (n === 0)
            throw new ProtocolError('zero-length', 'call name length byte is 0', chunk.subarray(pos - 1, pos + 16));
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
          if (this.filled === sig.argBytes) {
            if (sig.strings.length === 0) return this.complete(pos);
            this.decodeArgs();
            this.strings = new Map();
            this.strIndex = 0;
            this.state = State.StrStatus;
          }
          break;
        }
        case State.StrStatus: {
          const st = chunk[pos++]!;
          const ptr = this.args[this.sig!.strings[this.strIndex]!] as bigint;
          if (st === 0x21) {
            this.strings!.set(ptr, null);
            if (++this.strIndex === this.sig!.strings.length) return this.finish(pos);
          } else if (st === 0x2b) {
            this.state = State.StrLength;
            this.filled = 0;
          } else
            throw new ProtocolError(
              'bad-status',
              `status byte 0x${st.toString(16)} before a string`,
              chunk.subarray(pos - 1, pos + 16),
            );
          break;
        }
        case State.StrLength: {
          const take = Math.min(8 - this.filled, end - pos);
          chunk.copy(this.nameBuf, this.filled, pos, pos + take);
          pos += take;
          this.filled += take;
          if (this.filled < 8) break;
          const len = this.nameBuf.readBigUInt64LE(0);
          if (len > BigInt(MAX_SENT_STRING))
            throw new ProtocolError(
              'bad-string-length',
              `string of ${len} bytes sent with a call`,
              this.nameBuf.subarray(0, 8),
            );
          this.strBuf = Buffer.allocUnsafe(Number(len));
          this.filled = 0;
          this.state = State.StrBytes;
          if (len === 0n) pos = this.stringDone(pos);
          if (this.done) return pos;
          break;
        }
        case State.StrBytes: {
          const take = Math.min(this.strBuf.length - this.filled, end - pos);
          chunk.copy(this.strBuf, this.filled, pos, pos + take);
          pos += take;
          this.filled += take;
          if (this.filled === this.strBuf.length) {
            pos = this.stringDone(pos);
            if (this.done) return pos;
          }
          break;
        }
        case State.ReportTail: {
          const take = Math.min(REPORT_TAIL - this.filled, end - pos);
          chunk.copy(this.tail, this.filled, pos, pos + take);
          pos += take;
          this.filled += take;
          if (this.filled < REPORT_TAIL) break;
          const t = this.tail;
          const grant = t.readUInt16LE(12);
          this.report = {
            result: t.readBigInt64LE(0),
            errno: t.readInt32LE(8),
            grant: reportGrant(grant),
            startNs: t.readBigUInt64LE(14),
            spentNs: t.readUInt32LE(22),
          };
          this.strBuf = Buffer.allocUnsafe(t.readUInt16LE(26));
          this.filled = 0;
          this.state = State.ReportPath;
          if (this.strBuf.length === 0) return this.reportDone(pos);
          break;
        }
        case State.ReportPath: {
          const take = Math.min(this.strBuf.length - this.filled, end - pos);
          chunk.copy(this.strBuf, this.filled, pos, pos + take);
          pos += take;
          this.filled += take;
          if (this.filled === this.strBuf.length) return this.reportDone(pos);
          break;
        }
      }
    }
    return pos;
  }

  /** Bytes of a partly received call, for error reports (e.g. a guest that died mid-message). */
  pending(): Buffer {
    if (this.state === State.ReportTail || this.state === State.ReportPath) {
      const sig = this.call!.sig;
      const name = Buffer.from(sig.text, 'latin1');
      const tail = this.state === State.ReportTail ? this.tail.subarray(0, this.filled) : this.tail;
      return Buffer.concat([Buffer.of(0, name.length), name, this.argBuf.subarray(0, sig.argBytes), tail]);
    }
    // A report's leading 0 byte, when one has started.
    const lead = this.reporting ? Buffer.of(0) : Buffer.alloc(0);
    if (this.state === State.Name)
      return Buffer.concat([lead, Buffer.of(this.need), this.nameBuf.subarray(0, this.filled)]);
    if (this.state !== State.Length) {
      const name = Buffer.from(this.sig!.text, 'latin1');
      const args =
        this.state === State.Args ? this.argBuf.subarray(0, this.filled) : this.argBuf.subarray(0, this.sig!.argBytes);
      return Buffer.concat([lead, Buffer.of(name.length), name, args]);
    }
    return lead;
  }

  private decodeArgs(): void {
    const sig = this.sig!;
    const args: ArgValue[] = new Array(sig.args.length);
    for (let k = 0; k < sig.args.length; k++) {
      const kind = sig.args[k];
      const off = k * 8;
      args[k] =
        kind === 'p'
          ? readPtr(this.argBuf, off)
          : kind === 'i'
            ? readInt(this.argBuf, off)
            : this.argBuf.readDoubleLE(off);
    }
    this.args = args;
  }

  private stringDone(pos: number): number {
    const ptr = this.args[this.sig!.strings[this.strIndex]!] as bigint;
    this.strings!.set(ptr, this.strBuf);
    if (++this.strIndex === this.sig!.strings.length) return this.finish(pos);
    this.state = State.StrStatus;
    return pos;
  }

  private complete(pos: number): number {
    this.decodeArgs();
    return this.finish(pos);
  }

  private finish(pos: number): number {
    const call: DecodedCall = this.strings
      ? { sig: this.sig!, args: this.args, strings: this.strings }
      : { sig: this.sig!, args: this.args };
    this.strings = undefined;
    this.filled = 0;
    this.sig = undefined;
    if (this.reporting) {
      this.call = call;
      this.state = State.ReportTail;
      return pos;
    }
    this.done = call;
    this.state = State.Length;
    return pos;
  }

  private reportDone(pos: number): number {
    this.done = { ...this.call!, report: { ...this.report!, hostPath: this.strBuf.toString('utf8') } };
    this.call = undefined;
    this.report = undefined;
    this.reporting = false;
    this.state = State.Length;
    this.filled = 0;
    return pos;
  }
}
