import { Errno, GuestErrno } from '../platform/index.js';
import type { InputSource } from './io.js';
import { TtyInput } from './tty-input.js';
import { defaultTermios, I, isChar, L, parseTermios, V, type Termios } from './termios.js';

/**
 * The terminal line discipline a guest asked for with TCSETS, done by the controller: the host
 * terminal is kept raw and every keystroke passes through here, so the guest gets exactly what a
 * Linux terminal with its settings would give it (input translation, echo, canonical line
 * editing, VMIN/VTIME, signal characters), whatever the host terminal's own settings are.
 */
export interface LineHooks {
  /** Bytes to show on the terminal (echo). */
  echo(data: Buffer): void;
  /** A signal character was typed with ISIG set. */
  signal(sig: 'SIGINT' | 'SIGQUIT'): void;
}

/** Longest line canonical mode keeps (the kernel's N_TTY_BUF_SIZE less the newline). */
const MAX_LINE = 4095;
const EMPTY = Buffer.alloc(0);
const NL = 0x0a,
  CR = 0x0d,
  TAB = 0x09,
  DEL = 0x7f;

export class LineDiscipline implements InputSource {
  private t: Termios = parseTermios(defaultTermios());
  /** Input the guest may read: whole lines in canonical mode (an empty entry is an end of file). */
  private readonly ready = new TtyInput();
  /** The line being edited (canonical mode), with the width each character took on screen. */
  private line: { c: number; width: number }[] = [];
  private literalNext = false;
  private ended = false;
  private closed = false;
  private readers = 0;
  private interrupted = false;
  private waiter: (() => void) | undefined;

  constructor(private readonly hooks: LineHooks) {}

  /** New settings (TCSETS); TCSETSF also discards input not yet read. */
  set(termios: Buffer, flush: boolean): void {
    const wasCanonical = this.canonical;
    this.t = parseTermios(termios);
    if (flush) this.flush();
    // Leaving canonical mode: the line being edited becomes readable as it is (as Linux does).
    if (wasCanonical && !this.canonical && this.line.length) this.complete(Buffer.from(this.line.map((x) => x.c)));
    this.wake();
  }

  get canonical(): boolean {
    return (this.t.lflag & L.ICANON) !== 0;
  }

  /** Whether typing the interrupt character now signals the guest (ISIG set). */
  get signals(): boolean {
    return (this.t.lflag & L.ISIG) !== 0;
  }

  /** Bytes a read could return now (FIONREAD): in canonical mode, whole lines only (the line being edited waits apart). */
  available(): number {
    return this.ready.bytes;
  }

  /** Keystrokes from the host terminal. */
  input(data: Buffer): void {
    for (const byte of data) this.receive(byte);
    this.wake();
  }

  /** The host terminal is gone: reads return what is left, then end of file. */
  end(): void {
    this.ended = true;
    this.wake();
  }

  close(): void {
    this.closed = true;
    this.wake();
  }

  async read(max: number): Promise<Buffer> {
    this.readers++;
    try {
      return await this.readLoop(max);
    } finally {
      this.readers--;
    }
  }

  private async readLoop(max: number): Promise<Buffer> {
    const started = Date.now();
    let lastByteAt = started;
    let seen = this.ready.bytes;
    for (;;) {
      if (this.closed) return EMPTY;
      if (this.interrupted) {
        this.interrupted = false;
        throw new GuestErrno(Errno.EINTR, 'interrupted by a signal character');
      }
      if (this.canonical) {
        if (this.ready.hasEntries) return this.ready.takeLine(max);
        if (this.ended) return EMPTY;
        await this.wait();
        continue;
      }
      if (this.ready.bytes !== seen) {
        lastByteAt = Date.now();
        seen = this.ready.bytes;
      }
      const min = this.t.cc[V.MIN]!;
      const timeMs = this.t.cc[V.TIME]! * 100;
      if (this.ended || (min === 0 && timeMs === 0)) return this.ready.take(max);
      if (min === 0) {
        const left = started + timeMs - Date.now();
        if (this.ready.bytes > 0 || left <= 0) return this.ready.take(max);
        await this.wait(left);
        continue;
      }
      if (this.ready.bytes >= Math.min(min, max)) return this.ready.take(max);
      // VTIME with VMIN: an inter-byte timer, started by the first byte.
      if (timeMs > 0 && this.ready.bytes > 0) {
        const left = lastByteAt + timeMs - Date.now();
        if (left <= 0) return this.ready.take(max);
        await this.wait(left);
        continue;
      }
      await this.wait();
    }
  }

  private wait(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(() => this.wake(), ms);
      this.waiter = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  private flush(): void {
    this.ready.clear();
    this.line = [];
    this.literalNext = false;
  }

  /** The line ends (or an end of file): readable now, unless it would pass the bound (then it stays being edited). */
  private complete(data: Buffer): void {
    if (!this.ready.pushLine(data)) return;
    this.line = [];
  }

  private receive(byte: number): void {
    const t = this.t;
    let c = t.iflag & I.ISTRIP ? byte & 0x7f : byte;
    if (this.literalNext) {
      this.literalNext = false;
      if (t.lflag & L.ECHO && t.lflag & L.ECHOCTL) this.echoErase(2); // the ^\b shown for LNEXT
      return this.store(c);
    }
    if (c === CR) {
      if (t.iflag & I.IGNCR) return;
      if (t.iflag & I.ICRNL) c = NL;
    } else if (c === NL && t.iflag & I.INLCR) c = CR;
    if (t.lflag & L.ISIG) {
      const sig = isChar(t, V.INTR, c)
        ? 'SIGINT'
        : isChar(t, V.QUIT, c)
          ? 'SIGQUIT'
          : isChar(t, V.SUSP, c)
            ? 'SIGTSTP'
            : undefined;
      if (sig) return this.signalCharacter(c, sig);
    }
    if (!this.canonical) return this.store(c);
    if (t.lflag & L.IEXTEN && isChar(t, V.LNEXT, c)) {
      this.literalNext = true;
      if (t.lflag & L.ECHO && t.lflag & L.ECHOCTL) this.hooks.echo(Buffer.from('^\b'));
      return;
    }
    if (isChar(t, V.ERASE, c)) return this.erase(1);
    if (t.lflag & L.IEXTEN && isChar(t, V.WERASE, c)) return this.eraseWord();
    if (isChar(t, V.KILL, c)) return this.killLine(c);
    if (isChar(t, V.EOF, c)) return this.complete(Buffer.from(this.line.map((x) => x.c)));
    this.store(c);
  }

  /** A character for the guest: into the line being edited, or straight to the reader. */
  private store(c: number): void {
    const t = this.t;
    const ends = c === NL || isChar(t, V.EOL, c) || isChar(t, V.EOL2, c);
    if (!this.canonical) {
      this.echoChar(c);
      this.ready.pushByte(c);
      return;
    }
    if (!ends && this.line.length >= MAX_LINE) return;
    this.line.push({ c, width: this.echoChar(c) });
    if (ends) this.complete(Buffer.from(this.line.map((x) => x.c)));
  }

  /** Echoes one character as Linux does; returns the columns it took. */
  private echoChar(c: number): number {
    const l = this.t.lflag;
    if (!(l & L.ECHO)) {
      if (c === NL && l & L.ECHONL && this.canonical) this.hooks.echo(Buffer.of(NL));
      return 0;
    }
    if (l & L.ECHOCTL && (c < 0x20 || c === DEL) && c !== TAB && c !== NL) {
      this.hooks.echo(Buffer.from(`^${String.fromCharCode(c === DEL ? 0x3f : c + 0x40)}`));
      return 2;
    }
    this.hooks.echo(Buffer.of(c));
    return c === NL ? 0 : 1;
  }

  private signalCharacter(c: number, sig: 'SIGINT' | 'SIGQUIT' | 'SIGTSTP'): void {
    if (!(this.t.lflag & L.NOFLSH)) this.flush();
    if (this.t.lflag & L.ECHO) this.echoChar(c);
    // Job control has no meaning here (the guest cannot be stopped and resumed from this
    // terminal): the suspend character is dropped after it has cleared the input, as a stop
    // followed by an immediate resume would leave it.
    if (sig === 'SIGTSTP') return;
    if (this.readers > 0) this.interrupted = true;
    this.hooks.signal(sig);
  }

  private erase(count: number): void {
    for (let k = 0; k < count && this.line.length; k++) {
      const gone = this.line.pop()!;
      if (this.t.lflag & L.ECHO) {
        if (this.t.lflag & L.ECHOE) this.echoErase(gone.width);
        else this.echoChar(this.t.cc[V.ERASE]!);
      }
    }
  }

  private eraseWord(): void {
    const isSpace = (c: number) => c === 0x20 || c === TAB;
    let n = this.line.length;
    while (n > 0 && isSpace(this.line[n - 1]!.c)) n--;
    while (n > 0 && !isSpace(this.line[n - 1]!.c)) n--;
    this.erase(this.line.length - n);
  }

  private killLine(c: number): void {
    const l = this.t.lflag;
    if (l & L.ECHO && l & L.ECHOKE && l & L.ECHOE) return this.erase(this.line.length);
    this.line = [];
    if (l & L.ECHO) {
      this.echoChar(c);
      if (l & L.ECHOK) this.hooks.echo(Buffer.of(NL));
    }
  }

  private echoErase(width: number): void {
    if (width > 0) this.hooks.echo(Buffer.from('\b \b'.repeat(width)));
  }
}
