/**
 * The session's framing: requests to the driver (a 4-byte big-endian length, then JSON) and the
 * frames it answers with on its real stdout (`PBX`, a kind byte, a 4-byte length, the payload).
 * Guest output is hostile: every frame is checked as it comes, and anything but a well-formed
 * frame of a known kind within the size bound is a protocol error that ends the session.
 */

const FRAME_MAGIC = Buffer.from('PBX');
const HEADER = 8;
/** Output pieces are at most this large (the driver cuts them so): anything larger is forged. */
const OUTPUT_FRAME_MAX = 64 * 1024;

/** Ready, the snippet's stdout and stderr, what other threads wrote between requests, done. */
type FrameKind = 'R' | 'O' | 'E' | 'o' | 'e' | 'D';
const KINDS = new Set<string>(['R', 'O', 'E', 'o', 'e', 'D']);
const OUTPUT_KINDS = new Set<string>(['O', 'E', 'o', 'e']);

export interface Frame {
  kind: FrameKind;
  payload: Buffer;
}

export class FramingError extends Error {
  override readonly name = 'FramingError';
}

/** A few bytes of what broke the framing, readable. */
function showBytes(b: Buffer, max = 48): string {
  const s = JSON.stringify(b.subarray(0, max).toString('latin1'));
  return b.length > max ? `${s}... (${b.length} bytes)` : s;
}

/** Cuts the guest's stdout into frames; throws FramingError at the first byte that does not fit. */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);
  private waiting: Buffer[] = [];
  private waitingBytes = 0;
  /** Bytes needed before the next frame can be looked at again. */
  private needed = 1;

  constructor(private readonly maxPayload: number) {}

  push(chunk: Buffer): Frame[] {
    // A large frame comes in many chunks: they wait in a list until it is whole (no copy per chunk).
    this.waiting.push(chunk);
    this.waitingBytes += chunk.length;
    if (this.buf.length + this.waitingBytes < this.needed) return [];
    this.buf = Buffer.concat([this.buf, ...this.waiting]);
    this.waiting = [];
    this.waitingBytes = 0;
    const frames: Frame[] = [];
    for (;;) {
      const have = this.buf.length;
      const magic = Math.min(have, FRAME_MAGIC.length);
      if (!this.buf.subarray(0, magic).equals(FRAME_MAGIC.subarray(0, magic))) {
        // What was written outside the framing: up to the next frame, when one follows.
        const next = this.buf.indexOf(FRAME_MAGIC, 1);
        const garbage = next > 0 ? this.buf.subarray(0, next) : this.buf;
        throw new FramingError(
          `the guest wrote to its real stdout outside the session's framing: ${showBytes(garbage)}`,
        );
      }
      this.needed = HEADER;
      if (have < HEADER) break;
      const kind = String.fromCharCode(this.buf[3]!);
      if (!KINDS.has(kind))
        throw new FramingError(`unknown frame kind ${JSON.stringify(kind)}: ${showBytes(this.buf)}`);
      const length = this.buf.readUInt32BE(4);
      const max = OUTPUT_KINDS.has(kind) ? OUTPUT_FRAME_MAX : this.maxPayload;
      if (length > max) throw new FramingError(`frame ${kind} of ${length} bytes, more than ${max}`);
      this.needed = HEADER + length;
      if (have < HEADER + length) break;
      frames.push({ kind: kind as FrameKind, payload: Buffer.from(this.buf.subarray(HEADER, HEADER + length)) });
      this.buf = this.buf.subarray(HEADER + length);
      this.needed = 1;
    }
    return frames;
  }

  /** Bytes of a frame begun and not finished. */
  get pending(): number {
    return this.buf.length + this.waitingBytes;
  }
}

/** A request for the driver: `run` (its code), `call` (its JSON: fn, args, kwargs) or `mark`. */
export interface DriverRequest {
  t: 'run' | 'call' | 'mark';
  id: string;
  fresh?: boolean;
  /** The code of a run, the JSON of a call. */
  payload?: string;
}

/** A request as the driver reads it: its length, then kind NUL id NUL fresh NUL payload (UTF-8). */
export function requestBytes(req: DriverRequest): Buffer {
  const body = Buffer.from(`${req.t}\0${req.id}\0${req.fresh ? '1' : ''}\0${req.payload ?? ''}`, 'utf8');
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}

/** Parses a JSON payload that must be an object; anything else is a framing error. */
export function jsonPayload(frame: Frame): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(frame.payload.toString('utf8'));
  } catch {
    throw new FramingError(`frame ${frame.kind} that is not JSON: ${showBytes(frame.payload)}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new FramingError(`frame ${frame.kind} that is not a JSON object: ${showBytes(frame.payload)}`);
  return v as Record<string, unknown>;
}
