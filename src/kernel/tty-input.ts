/** Most bytes kept waiting for the guest: typed-ahead input beyond this is dropped. */
const MAX_PENDING = 1 << 20;

/**
 * What a terminal has ready for the guest to read, in the order typed: whole lines in canonical
 * mode (an empty entry is an end of file typed at the start of a line), single bytes otherwise.
 * Bounded: input typed ahead beyond MAX_PENDING bytes is dropped.
 */
export class TtyInput {
  private ready: Buffer[] = [];
  private waiting = 0;

  /** Bytes waiting, over all entries. */
  get bytes(): number {
    return this.waiting;
  }

  /** Whether any entry waits (an end of file counts, though it has no bytes). */
  get hasEntries(): boolean {
    return this.ready.length > 0;
  }

  /** A finished line (or an end of file); refused (false) when it would pass the bound. */
  pushLine(data: Buffer): boolean {
    if (this.waiting + data.length > MAX_PENDING) return false;
    this.ready.push(data);
    this.waiting += data.length;
    return true;
  }

  /** One byte of non-canonical input; dropped past the bound. */
  pushByte(c: number): void {
    if (this.waiting >= MAX_PENDING) return;
    this.ready.push(Buffer.of(c));
    this.waiting++;
  }

  /** Canonical read: the first line, or its first `max` bytes. */
  takeLine(max: number): Buffer {
    const head = this.ready[0]!;
    if (head.length <= max) {
      this.ready.shift();
      this.waiting -= head.length;
      return head; // an empty line: the end of file typed at the start of a line
    }
    this.ready[0] = head.subarray(max);
    this.waiting -= max;
    return head.subarray(0, max);
  }

  /** Non-canonical read: whatever is there, up to max (end-of-file marks mean nothing here). */
  take(max: number): Buffer {
    const parts: Buffer[] = [];
    let n = 0;
    while (this.ready.length && n < max) {
      const head = this.ready[0]!;
      const piece = head.subarray(0, max - n);
      if (piece.length === head.length) this.ready.shift();
      else this.ready[0] = head.subarray(piece.length);
      parts.push(piece);
      n += piece.length;
    }
    this.waiting -= n;
    return Buffer.concat(parts, n);
  }

  clear(): void {
    this.ready = [];
    this.waiting = 0;
  }
}
