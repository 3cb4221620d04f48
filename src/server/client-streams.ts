/**
 * A worker's standard streams when its run belongs to a client: the client's stdin, stdout and
 * stderr (and its terminal) reached through frames on its socket, standing in for the process's own.
 */
import fs from 'node:fs';
import { Readable, Writable } from 'node:stream';
import tty from 'node:tty';
import { FRAME } from '../supervisor/contract/contract.js';
import { frame } from './frames.js';

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * The socket to the client, written synchronously and in order, as Node writes its own standard
 * streams to pipes: the frames of a process that exits are all sent, and its exit status last.
 */
export class ClientLine {
  private gone = false;

  constructor(
    private readonly fd: number,
    private readonly onGone: () => void,
  ) {}

  send(type: number, payload?: Uint8Array): void {
    if (this.gone) return;
    const buf = frame(type, payload);
    let wait = 1;
    for (let off = 0; off < buf.length;) {
      try {
        off += fs.writeSync(this.fd, buf, off);
        wait = 1;
      } catch (err) {
        // The socket is non-blocking (libuv's): a client slow to read is waited for, as a pipe
        // would be, checking again after 1, 2, 4 ... 50 ms (a reader stopped for long costs little).
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return this.lose();
        Atomics.wait(pause, 0, 0, wait);
        wait = Math.min(wait * 2, 50);
      }
    }
  }

  /** Nothing more is sent (the socket is about to close: its descriptor may be another's next). */
  close(): void {
    this.gone = true;
  }

  private lose(): void {
    this.close();
    this.onGone();
  }
}

/** The client's stdout or stderr: a terminal's size and colours as tty.WriteStream tells them. */
export class ClientOutput extends Writable {
  readonly isTTY: boolean | undefined;
  columns: number | undefined;
  rows: number | undefined;
  readonly getColorDepth = tty.WriteStream.prototype.getColorDepth;
  readonly hasColors = tty.WriteStream.prototype.hasColors;

  constructor(
    private readonly line: ClientLine,
    private readonly type: number,
    terminal: { rows: number; columns: number } | undefined,
  ) {
    super({ decodeStrings: true });
    if (terminal) {
      this.isTTY = true;
      this.rows = terminal.rows || 24;
      this.columns = terminal.columns || 80;
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    this.line.send(this.type, chunk);
    done();
  }

  getWindowSize(): [number, number] {
    return [this.columns ?? 80, this.rows ?? 24];
  }

  /** The client's terminal changed size (its SIGWINCH). */
  resized(rows: number, columns: number): void {
    if (!this.isTTY) return;
    this.rows = rows;
    this.columns = columns;
    this.emit('resize');
  }

  /** The client could not write what it was sent (its reader went away): EPIPE, as for a pipe. */
  readerGone(): void {
    const err = Object.assign(new Error('write EPIPE'), { code: 'EPIPE', errno: -32, syscall: 'write' });
    this.destroy(err);
  }
}

/** The client's stdin: read from it only once something reads here, raw when asked for (a terminal). */
export class ClientInput extends Readable {
  readonly isTTY: boolean | undefined;
  isRaw = false;
  private reading = false;

  constructor(
    private readonly line: ClientLine,
    terminal: boolean,
  ) {
    super();
    if (terminal) this.isTTY = true;
  }

  override _read(): void {
    if (this.reading) return;
    this.reading = true;
    this.line.send(FRAME.wantInput);
  }

  /** Bytes from the client; it is told to hold on while nobody reads them (backpressure, as a pipe). */
  received(data: Buffer | null): void {
    if (this.push(data) || data === null || !this.reading) return;
    this.reading = false;
    this.line.send(FRAME.holdInput);
  }

  setRawMode(mode: boolean): this {
    this.isRaw = mode;
    this.line.send(FRAME.raw, Buffer.from([mode ? 1 : 0]));
    return this;
  }

  /** Echo for the terminal itself (the client writes it to its fd 0). */
  echo(data: Buffer): void {
    this.line.send(FRAME.echo, data);
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }
}
