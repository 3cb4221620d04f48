/**
 * The frames between the command's native client and a worker of the command server: a type
 * byte (FRAME in the contract), a u32 little-endian length, that many bytes (docs/server.md).
 */
import { FRAME, LIMITS } from '../supervisor/contract/contract.js';

export class FrameError extends Error {
  override name = 'FrameError';
}

export interface Frame {
  type: number;
  payload: Buffer;
}

const CLIENT_FRAMES: ReadonlySet<number> = new Set([
  FRAME.request,
  FRAME.input,
  FRAME.inputEnd,
  FRAME.signal,
  FRAME.resize,
  FRAME.outputClosed,
]);

export function frame(type: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const out = Buffer.allocUnsafe(5 + payload.length);
  out[0] = type;
  out.writeUInt32LE(payload.length, 1);
  out.set(payload, 5);
  return out;
}

/** The client's frames as they arrive: whole frames only, none larger than the contract's word frame. */
export class ClientFrames {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const frames: Frame[] = [];
    while (this.pending.length >= 5) {
      const type = this.pending[0]!;
      const length = this.pending.readUInt32LE(1);
      if (!CLIENT_FRAMES.has(type)) throw new FrameError(`a frame of unknown type ${type}`);
      if (length > LIMITS.maxFrame) throw new FrameError(`a frame of ${length} bytes`);
      if (this.pending.length < 5 + length) break;
      frames.push({ type, payload: this.pending.subarray(5, 5 + length) });
      this.pending = this.pending.subarray(5 + length);
    }
    return frames;
  }
}

/** What the client asks for: its command line, and what of its process the run must see as its own. */
export interface Invocation {
  cwd: string;
  umask: number;
  tty: { stdin: boolean; stdout: boolean; stderr: boolean };
  rows: number;
  columns: number;
  args: string[];
  env: Record<string, string>;
}

const number = (word: string | undefined, what: string, max: number): number => {
  if (word === undefined || !/^\d{1,10}$/.test(word) || Number(word) > max) throw new FrameError(`a request's ${what}`);
  return Number(word);
};

/** The request's words (client.c, send_request): cwd, umask, tty bits, rows, columns, argc, args, environment. */
export function parseInvocation(payload: Buffer): Invocation {
  if (payload.length === 0 || payload[payload.length - 1] !== 0) throw new FrameError('a request not ending in NUL');
  const words = payload.subarray(0, -1).toString('utf8').split('\0');
  const [cwd, umask, tty, rows, columns, argc] = words;
  if (!cwd?.startsWith('/')) throw new FrameError("a request's directory");
  const bits = number(tty, 'tty bits', 7);
  const count = number(argc, 'argument count', words.length - 6);
  const env: Record<string, string> = {};
  for (const entry of words.slice(6 + count)) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return {
    cwd,
    umask: number(umask, 'umask', 0o777),
    tty: { stdin: (bits & 1) !== 0, stdout: (bits & 2) !== 0, stderr: (bits & 4) !== 0 },
    rows: number(rows, 'rows', 0xffff),
    columns: number(columns, 'columns', 0xffff),
    args: words.slice(6, 6 + count),
    env,
  };
}
