import { Readable, type Writable } from 'node:stream';
import {
  BufferInput,
  CaptureSink,
  StreamInput,
  StreamSink,
  type InputSource,
  type OutputSink,
} from '../../kernel/io.js';
import type { Session } from '../../kernel/session.js';
import type { RunLimits } from '../limits/run-limits.js';
import { LimitedInput, LimitedSink } from '../limits/limited-io.js';
import type { ControllerOptions, OutputOption, StdinOption } from '../options.js';
import type { RunControl } from '../run-control.js';
import { HostTerminal, INTERRUPTS_TO_GIVE_UP } from './host-terminal.js';

/** Bytes of the guest process's own stderr kept for the result and error messages. */
const GUEST_STDERR_KEPT = 64 * 1024;

/** Whether the guest is told each standard stream is a terminal (`tty`, else the inherited host streams). */
export function ttyFlags(o: ControllerOptions): Session['isatty'] {
  const inherited = {
    stdin: o.stdin === 'inherit' && Boolean(process.stdin.isTTY),
    stdout: o.stdout === 'inherit' && Boolean(process.stdout.isTTY),
    stderr: o.stderr === 'inherit' && Boolean(process.stderr.isTTY),
  };
  if (o.tty === undefined) return inherited;
  if (typeof o.tty === 'boolean') return { stdin: o.tty, stdout: o.tty, stderr: o.tty };
  return {
    stdin: o.tty.stdin ?? inherited.stdin,
    stdout: o.tty.stdout ?? inherited.stdout,
    stderr: o.tty.stderr ?? inherited.stderr,
  };
}

/** Where an output option sends the guest's bytes, and the capture that keeps them for the result. */
function sink(opt: OutputOption | undefined, inherit: Writable): [OutputSink, CaptureSink | undefined] {
  if (opt === undefined || opt === 'capture') {
    const c = new CaptureSink();
    return [c, c];
  }
  if (opt === 'inherit') return [new StreamSink(inherit), undefined];
  if (opt === 'ignore') return [{ write: () => undefined }, undefined];
  if (typeof opt === 'function') return [{ write: opt }, undefined];
  return [new StreamSink(opt), undefined];
}

/**
 * The guest's standard streams: its stdin, stdout and stderr as the session serves them (within
 * the output and input limits), the host terminal when the guest has it, and the guest process's
 * own stderr (its fatal messages, outside the protocol).
 */
export class Stdio {
  stdoutCapture: CaptureSink | undefined;
  stderrCapture: CaptureSink | undefined;
  /** What the guest process wrote on its own stderr (the first GUEST_STDERR_KEPT bytes). */
  guestStderr = '';
  private hostTerminal: HostTerminal | undefined;

  constructor(
    private readonly o: ControllerOptions,
    private readonly limits: RunLimits,
    private readonly control: RunControl,
  ) {}

  /** The session's streams; a terminal inherited from the host is taken over now. */
  streams(): Pick<Session, 'stdin' | 'stdout' | 'stderr' | 'isatty' | 'terminal'> {
    const o = this.o;
    const { outputBytes, stdinBytes } = this.limits.values;
    const outCount = { bytes: 0 };
    const onOutput = () => this.limits.reach({ name: 'output', value: outputBytes });
    const [out, outCap] = sink(o.stdout, process.stdout);
    const [err, errCap] = sink(o.stderr, process.stderr);
    this.stdoutCapture = outCap;
    this.stderrCapture = errCap;
    const tty = ttyFlags(o);
    const stdin = new LimitedInput(this.stdinSource(o.stdin, tty.stdin), stdinBytes, () =>
      this.limits.reach({ name: 'stdin', value: stdinBytes }),
    );
    return {
      stdin,
      stdout: new LimitedSink(out, outCount, outputBytes, onOutput),
      stderr: new LimitedSink(err, outCount, outputBytes, onOutput),
      isatty: tty,
      terminal: this.terminalHooks(),
    };
  }

  /** Keeps (and copies to `guestStderr`, when asked) what the guest process writes on its own stderr. */
  watchGuestStderr(stderr: Readable, heap: boolean): void {
    stderr.on('data', (b: Buffer) => {
      this.o.guestStderr?.write(b);
      if (heap) this.limits.heapExhaustion.see(b);
      if (this.guestStderr.length < GUEST_STDERR_KEPT)
        this.guestStderr += b.toString('utf8', 0, GUEST_STDERR_KEPT - this.guestStderr.length);
    });
  }

  /** The session's terminal: settings and pending input go to the host terminal when the guest has it. */
  private terminalHooks(): Session['terminal'] {
    const t = this.hostTerminal;
    return t
      ? { termios: undefined, apply: (termios, flush) => t.apply(termios, flush), available: () => t.available() }
      : { termios: undefined };
  }

  private stdinSource(opt: StdinOption | undefined, ttyIn: boolean): InputSource {
    this.hostTerminal = undefined;
    if (opt === undefined || opt === 'ignore') return new BufferInput(Buffer.alloc(0));
    if (opt === 'inherit' && ttyIn && process.stdin.isTTY) {
      // The guest's own terminal: its settings are applied here, its signal characters reach it.
      // Raw on the host from the start, so nothing typed ahead is echoed twice (host, then here).
      this.hostTerminal = new HostTerminal(process.stdin, {
        signal: (sig) => this.control.child?.interrupt?.(sig),
        giveUp: () =>
          this.control.fatal(
            'aborted',
            new Error(`the guest did not answer ${INTERRUPTS_TO_GIVE_UP} interrupts typed at the terminal; run ended`),
          ),
      });
      this.hostTerminal.start();
      return this.hostTerminal;
    }
    if (opt === 'inherit') return new StreamInput(process.stdin);
    if (typeof opt === 'string') return new BufferInput(Buffer.from(opt));
    if (Buffer.isBuffer(opt)) return new BufferInput(opt);
    if (opt instanceof Readable) return new StreamInput(opt);
    throw new TypeError('option stdin: expected a Buffer, string, Readable, "inherit" or "ignore"');
  }
}
