import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { Packr } from 'msgpackr';

/** One guest call as the trace keeps it. */
export interface CallRecord {
  type: 'call';
  seq: number;
  /** Microseconds since the run started. */
  t: number;
  sig: string;
  /** Decoded arguments: integers exact, pointers as unsigned 64-bit bigints. */
  args: (number | bigint)[];
  path?: string;
  path2?: string;
  /** The call's result (undefined for void). */
  result?: number | bigint;
  errno?: number;
  /** Why: the policy's reason, or the refusal's. */
  reason?: string;
  allowed?: boolean;
  /** Bytes copied into / out of guest memory by this call. */
  toGuest: number;
  fromGuest: number;
  /** Microseconds spent answering. */
  us: number;
  note?: string;
}

export interface TraceHeader {
  type: 'header';
  format: 'pypy-box-trace';
  version: 1;
  started: string;
  executable: string;
  argv: string[];
  guest: string;
}

export interface TraceFooter {
  type: 'footer';
  outcome: string;
  exitCode: number | null;
  signal: string | null;
  calls: number;
  denials: number;
  durationMs: number;
  error?: string;
}

export type TraceEntry = TraceHeader | CallRecord | TraceFooter;

/**
 * msgpackr, loaded on the first trace written or read: most runs write none, and loading it (and
 * its native decoder) was a tenth of the command line's start-up.
 */
let codec: { packr: Packr; unpackMultiple: (data: Buffer) => unknown[] } | undefined;
function msgpack(): NonNullable<typeof codec> {
  if (!codec) {
    const m = createRequire(import.meta.url)('msgpackr') as typeof import('msgpackr');
    // useBigInt64 keeps 64-bit pointers exact (the option is missing from msgpackr's type declarations).
    codec = {
      packr: new m.Packr({ useRecords: false, useBigInt64: true } as ConstructorParameters<typeof Packr>[0]),
      unpackMultiple: (data) => m.unpackMultiple(data) as unknown[],
    };
  }
  return codec;
}

/** Appends msgpack-encoded entries to a file, buffered, written synchronously in blocks. */
export class TraceWriter {
  private readonly fd: number;
  private chunks: Buffer[] = [];
  private size = 0;
  private closed = false;

  constructor(readonly file: string) {
    this.fd = fs.openSync(file, 'w', 0o600);
  }

  write(entry: TraceEntry): void {
    if (this.closed) return;
    const b = msgpack().packr.pack(entry);
    this.chunks.push(b);
    this.size += b.length;
    if (this.size >= 1 << 16) this.flush();
  }

  flush(): void {
    if (this.size === 0) return;
    const data = Buffer.concat(this.chunks, this.size);
    this.chunks = [];
    this.size = 0;
    fs.writeSync(this.fd, data);
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    fs.closeSync(this.fd);
  }
}

/** Decodes a whole trace file. */
export function readTrace(file: string): TraceEntry[] {
  const data = fs.readFileSync(file);
  if (data.length === 0) return [];
  return msgpack().unpackMultiple(data) as TraceEntry[];
}
