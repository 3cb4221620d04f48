import type { InputSource, OutputSink } from '../../kernel/io.js';

/** A limit-checking output sink: past the cap the run ends with limit 'output'. */
export class LimitedSink implements OutputSink {
  constructor(
    private readonly inner: OutputSink,
    private readonly counter: { bytes: number },
    private readonly cap: number,
    private readonly onExceeded: () => void,
  ) {}
  write(data: Buffer): void {
    if (this.cap > 0 && this.counter.bytes + data.length > this.cap) {
      const room = this.cap - this.counter.bytes;
      if (room > 0) this.inner.write(data.subarray(0, room));
      this.counter.bytes = this.cap;
      this.onExceeded();
      return;
    }
    this.counter.bytes += data.length;
    this.inner.write(data);
  }
}

/** A limit-checking input source: past the cap the run ends with limit 'stdin'. */
export class LimitedInput implements InputSource {
  private used = 0;
  constructor(
    private readonly inner: InputSource,
    private readonly cap: number,
    private readonly onExceeded: () => void,
  ) {}
  read(max: number): Promise<Buffer> | Buffer {
    if (this.cap > 0 && this.used >= this.cap) {
      this.onExceeded();
      return Buffer.alloc(0);
    }
    const n = this.cap > 0 ? Math.min(max, this.cap - this.used) : max;
    const r = this.inner.read(n);
    const count = (b: Buffer) => ((this.used += b.length), b);
    return r instanceof Promise ? r.then(count) : count(r);
  }
  close(): void {
    this.inner.close();
  }
}
