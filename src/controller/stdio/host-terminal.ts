import fs from 'node:fs';
import type { ReadStream } from 'node:tty';
import type { InputSource } from '../../kernel/io.js';
import { LineDiscipline } from '../../kernel/line-discipline.js';

/** Interrupt characters in this window, with no read by the guest in between, end the run. */
export const INTERRUPTS_TO_GIVE_UP = 3;
const INTERRUPT_WINDOW_MS = 3000;

export interface HostTerminalHooks {
  /** The guest is to get SIGINT or SIGQUIT (typed at the terminal with its ISIG set). */
  signal(sig: 'SIGINT' | 'SIGQUIT'): void;
  /** Interrupts the guest does not answer by reading its input again: the user wants out. */
  giveUp(): void;
}

/**
 * The host terminal a guest reads from as its own: raw on the host side for the whole run, with
 * the guest's terminal settings applied by the controller's line discipline. The host's settings
 * are restored when the run ends (Node restores them too if the process ends otherwise).
 */
export class HostTerminal implements InputSource {
  private readonly discipline: LineDiscipline;
  private interrupts: number[] = [];
  private started = false;
  private closed = false;
  private readonly onData = (b: Buffer | string) => this.discipline.input(typeof b === 'string' ? Buffer.from(b) : b);
  private readonly onEnd = () => this.discipline.end();

  constructor(
    private readonly stdin: ReadStream,
    private readonly hooks: HostTerminalHooks,
  ) {
    this.discipline = new LineDiscipline({ echo: (b) => this.echo(b), signal: (sig) => this.signal(sig) });
  }

  /** The guest's new settings (TCSETS; TCSETSF also drops unread input). */
  apply(termios: Buffer, flush: boolean): void {
    this.start();
    this.discipline.set(termios, flush);
  }

  /** Bytes the guest could read now (FIONREAD). */
  available(): number {
    this.start();
    return this.discipline.available();
  }

  read(max: number): Promise<Buffer> {
    this.start();
    this.interrupts = []; // the guest is back at its input: earlier interrupts were answered
    return this.discipline.read(max);
  }

  /** Raw host terminal for the run; cooked again at the end (close). */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.stdin.setRawMode(true);
    this.stdin.on('data', this.onData);
    this.stdin.on('end', this.onEnd);
    this.stdin.on('error', this.onEnd);
    this.stdin.resume();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.discipline.close();
    if (!this.started) return;
    this.stdin.off('data', this.onData);
    this.stdin.off('end', this.onEnd);
    this.stdin.off('error', this.onEnd);
    try {
      this.stdin.setRawMode(false);
    } catch {
      // the terminal is gone (hung up): nothing left to restore
    }
    this.stdin.pause();
    (this.stdin as ReadStream & { unref?: () => void }).unref?.();
  }

  private signal(sig: 'SIGINT' | 'SIGQUIT'): void {
    if (sig === 'SIGINT') {
      const now = Date.now();
      this.interrupts = [...this.interrupts.filter((t) => now - t < INTERRUPT_WINDOW_MS), now];
      if (this.interrupts.length >= INTERRUPTS_TO_GIVE_UP) return this.hooks.giveUp();
    }
    this.hooks.signal(sig);
  }

  /** Echo goes to the terminal itself (stdout when that is one, else fd 0), not through the guest's output. */
  private echo(data: Buffer): void {
    const relayed = (this.stdin as ReadStream & { echo?: (data: Buffer) => void }).echo;
    if (relayed)
      relayed.call(this.stdin, data); // a terminal reached through the command server's client
    else if (process.stdout.isTTY) process.stdout.write(data);
    else {
      try {
        fs.writeSync(0, data);
      } catch {
        // a terminal opened read-only: no echo possible
      }
    }
  }
}
