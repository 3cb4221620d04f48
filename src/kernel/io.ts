import type { Readable, Writable } from 'node:stream';

/** Where the guest's fd 0 reads come from. */
export interface InputSource {
  /** Up to `max` bytes; an empty buffer means end of input. */
  read(max: number): Promise<Buffer> | Buffer;
  close(): void;
}

/** Where the guest's fd 1/2 writes go. */
export interface OutputSink {
  write(data: Buffer): void;
}

export class BufferInput implements InputSource {
  private pos = 0;
  constructor(private readonly data: Buffer) {}
  read(max: number): Buffer {
    const out = this.data.subarray(this.pos, this.pos + max);
    this.pos += out.length;
    return out;
  }
  close(): void {}
}

/** Reads a Node stream on demand, so a terminal or pipe is only consumed when the guest asks. */
export class StreamInput implements InputSource {
  private chunks: Buffer[] = [];
  private ended = false;
  private error: Error | undefined;
  private waiter: (() => void) | undefined;
  private readonly onReadable = () => this.wake();
  private readonly onEnd = () => {
    this.ended = true;
    this.wake();
  };
  private readonly onError = (e: Error) => {
    this.error = e;
    this.wake();
  };

  constructor(private readonly stream: Readable) {
    stream.on('readable', this.onReadable);
    stream.on('end', this.onEnd);
    stream.on('error', this.onError);
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  async read(max: number): Promise<Buffer> {
    for (;;) {
      if (this.chunks.length) {
        const head = this.chunks[0]!;
        if (head.length <= max) {
          this.chunks.shift();
          return head;
        }
        this.chunks[0] = head.subarray(max);
        return head.subarray(0, max);
      }
      const chunk = this.stream.read() as Buffer | string | null;
      if (chunk !== null) {
        this.chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
        continue;
      }
      if (this.ended || this.error || this.stream.destroyed) return Buffer.alloc(0);
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  close(): void {
    this.stream.off('readable', this.onReadable);
    this.stream.off('end', this.onEnd);
    this.stream.off('error', this.onError);
    this.wake();
    // Let a terminal go, so the parent process can exit after the guest.
    if ('pause' in this.stream) this.stream.pause();
    (this.stream as Readable & { unref?: () => void }).unref?.();
  }
}

/** Collects output in memory up to the byte cap the run enforces. */
export class CaptureSink implements OutputSink {
  private readonly chunks: Buffer[] = [];
  bytes = 0;
  write(data: Buffer): void {
    this.chunks.push(Buffer.from(data));
    this.bytes += data.length;
  }
  take(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

export class StreamSink implements OutputSink {
  constructor(private readonly stream: Writable) {}
  write(data: Buffer): void {
    this.stream.write(data);
  }
}
