/**
 * Lines of a stream, one at a time, each at most `max` bytes: a longer one is an Error (the
 * reader is then out of step with its writer), the end of the stream `undefined`.
 */
export class LineReader {
  private parts: Buffer[] = [];
  private size = 0;
  private readonly lines: (string | Error | undefined)[] = [];
  private waiter: (() => void) | undefined;
  private done = false;
  private readonly onData = (b: Buffer | string) => this.add(typeof b === 'string' ? Buffer.from(b) : b);
  private readonly onEnd = () => this.finish();

  constructor(
    private readonly stream: NodeJS.ReadableStream,
    private readonly max: number,
  ) {
    stream.on('data', this.onData);
    stream.on('end', this.onEnd);
    stream.on('error', this.onEnd);
  }

  private add(b: Buffer): void {
    for (let nl = b.indexOf(10); nl >= 0; nl = b.indexOf(10)) {
      this.take(b.subarray(0, nl));
      this.lines.push(Buffer.concat(this.parts).toString('utf8'));
      this.parts = [];
      this.size = 0;
      b = b.subarray(nl + 1);
    }
    this.take(b);
    this.wake();
  }

  private take(b: Buffer): void {
    if (this.size + b.length > this.max) {
      if (!this.done) this.lines.push(new Error(`a request line longer than ${this.max} bytes`));
      this.done = true;
      this.stream.pause();
      return;
    }
    if (b.length) this.parts.push(Buffer.from(b));
    this.size += b.length;
  }

  private finish(): void {
    if (!this.done && this.size > 0) this.lines.push(Buffer.concat(this.parts).toString('utf8'));
    this.done = true;
    this.lines.push(undefined);
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  async next(): Promise<string | Error | undefined> {
    while (this.lines.length === 0) await new Promise<void>((resolve) => (this.waiter = resolve));
    return this.lines.shift();
  }

  close(): void {
    this.stream.off('data', this.onData);
    this.stream.off('end', this.onEnd);
    this.stream.off('error', this.onEnd);
    this.stream.pause();
  }
}
