/**
 * A warm worker of the command server: a `pypy-box` process with what `interact` needs loaded,
 * that runs its clients' command lines one at a time, each as the client's own process would (its
 * directory, umask, environment, arguments; its streams and terminal through its socket), as the
 * library runs job after job in one process (a Pool, a queue worker). The server hands it a client,
 * and is told when it is free again.
 */
import type net from 'node:net';
import { constants as osConstants } from 'node:os';
import { Readable, Writable } from 'node:stream';
import { closeSpareSupervisor } from '../controller/launch/spare.js';
import { FRAME } from '../supervisor/contract/contract.js';
import { ClientInput, ClientLine, ClientOutput } from './client-streams.js';
import { ClientFrames, FrameError, parseInvocation, type Frame, type Invocation } from './frames.js';

/** Signals a client passes on: the run takes them as the command takes its own. */
const PASSED_ON = new Set(['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT']);
/** Runs of `interact -c pass` a worker makes before it is ready (the default interpreter). */
const WARM_UP_RUNS = 3;
/** A client that has not sent its request within this is let go (the client sends it at once). */
const REQUEST_WAIT_MS = 5000;
/** A run that does not end within this of its client going away ends the worker. */
const HANGUP_GRACE_MS = 3000;

interface Streams {
  stdin: ClientInput;
  stdout: ClientOutput;
  stderr: ClientOutput;
}

type Main = (argv: string[]) => Promise<number>;

/** A client's run is going on in this process. */
let running = false;
/**
 * The umask and directory the spare supervisor was started with (the run's it was started in):
 * the guest inherits them from it. Unknown at first (the warm-up's).
 */
let spareContext = '';

export async function serveInvocations(): Promise<void> {
  const { main, prewarm } = await import('../cli/main.js');
  await prewarm();
  // A process's first runs are its slowest (V8 compiles and optimises as it goes: 130, 90, 100 ms
  // before 50-60 ms here): a few runs of its own, unseen, before it takes a client's.
  setIdleStreams();
  for (let i = 0; i < WARM_UP_RUNS; i++) await main(['interact', '-c', 'pass']);
  process.on('message', (message, handle) => {
    if (message === 'invocation' && handle) new ClientRun(handle as net.Socket, main).listen();
  });
  // The server ended (idle, stopped, killed): a worker between runs ends too, one in a run after it.
  process.once('disconnect', () => {
    if (!running) process.exit(0);
  });
  process.send?.('ready');
}

/** One client's run in this process. */
class ClientRun {
  private readonly line: ClientLine;
  private readonly frames = new ClientFrames();
  private streams: Streams | undefined;
  private hungUp = false;
  private finished = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly main: Main,
  ) {
    const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (typeof fd !== 'number' || fd < 0) throw new Error('a client socket without its descriptor');
    this.line = new ClientLine(fd, () => this.hangUp());
  }

  listen(): void {
    // A client stopped or hung before its request must not keep this worker from others.
    const waiting = setTimeout(() => this.streams || this.hangUp(), REQUEST_WAIT_MS);
    this.socket.once('close', () => clearTimeout(waiting));
    this.socket.on('data', (chunk: Buffer) => this.receive(chunk));
    this.socket.once('end', () => this.hangUp());
    this.socket.on('error', () => this.hangUp());
  }

  private receive(chunk: Buffer): void {
    try {
      for (const f of this.frames.push(chunk)) {
        if (this.streams) this.passOn(f, this.streams);
        else if (f.type === FRAME.request) this.start(parseInvocation(f.payload));
        else throw new FrameError('a frame before the request');
      }
    } catch (err) {
      this.line.send(FRAME.stderr, Buffer.from(`pypy-box: the command server's client: ${(err as Error).message}\n`));
      if (this.streams)
        this.hangUp(); // its run is ended, and this process with it
      else this.finish(126);
    }
  }

  /** The invocation becomes this process's own, and the command line runs. */
  private start(inv: Invocation): void {
    running = true;
    process.chdir(inv.cwd);
    process.umask(inv.umask);
    for (const key of Object.keys(process.env)) delete process.env[key];
    Object.assign(process.env, inv.env);
    process.argv = [process.argv[0]!, process.argv[1]!, ...inv.args];
    const size = { rows: inv.rows, columns: inv.columns };
    const streams: Streams = (this.streams = {
      stdin: new ClientInput(this.line, inv.tty.stdin),
      stdout: new ClientOutput(this.line, FRAME.stdout, inv.tty.stdout ? size : undefined),
      stderr: new ClientOutput(this.line, FRAME.stderr, inv.tty.stderr ? size : undefined),
    });
    setStandardStreams(streams);
    // A spare started for another client's umask and directory would give the guest those.
    const context = `${inv.umask}:${inv.cwd}`;
    const fresh = context === spareContext ? Promise.resolve() : closeSpareSupervisor();
    spareContext = context;
    fresh
      .then(() => this.main(inv.args))
      .then(
        (code) => this.finish(code),
        (err: unknown) => {
          streams.stderr.write(`pypy-box: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
          this.finish(1);
        },
      );
  }

  /** The run ended: its status to the client, and the worker free for the next. */
  private finish(code: number): void {
    if (this.finished) return;
    this.finished = true;
    this.line.send(FRAME.exit, Buffer.from([code & 0xff, 0]));
    this.line.close();
    this.socket.destroy();
    setIdleStreams();
    running = false;
    // A run its client left is not trusted to have ended cleanly: this process takes no other.
    // (A client gone before its request ran nothing: the worker goes on.)
    if ((this.hungUp && this.streams) || !process.connected) process.exit(0);
    process.send?.('free');
  }

  private passOn(f: Frame, s: Streams): void {
    switch (f.type) {
      case FRAME.input:
        return s.stdin.received(Buffer.from(f.payload));
      case FRAME.inputEnd:
        return s.stdin.received(null);
      case FRAME.signal:
        return takeSignal(f.payload[0] ?? 0);
      case FRAME.resize:
        if (f.payload.length !== 4) throw new FrameError('a resize frame of the wrong size');
        s.stdout.resized(f.payload.readUInt16LE(0), f.payload.readUInt16LE(2));
        return s.stderr.resized(f.payload.readUInt16LE(0), f.payload.readUInt16LE(2));
      case FRAME.outputClosed:
        return (f.payload[0] === 2 ? s.stderr : s.stdout).readerGone();
      default:
        throw new FrameError('a second request');
    }
  }

  /** The client went away (its terminal closed, it was killed): the run ends as on SIGTERM. */
  private hangUp(): void {
    if (this.hungUp || this.finished) return;
    this.hungUp = true;
    this.line.close();
    this.socket.destroy();
    if (!this.streams) return this.finish(0); // gone before its request: nothing ran
    setTimeout(() => process.exit(129), HANGUP_GRACE_MS).unref();
    takeSignal(process.listenerCount('SIGTERM') > 0 ? osConstants.signals.SIGTERM : osConstants.signals.SIGHUP);
  }
}

/** A signal the client got: handled as the command handles its own, or its default action. */
function takeSignal(number: number): void {
  const name = Object.entries(osConstants.signals).find(([, n]) => n === number)?.[0];
  if (!name || !PASSED_ON.has(name)) return;
  if (process.listenerCount(name) > 0) process.emit(name as NodeJS.Signals, name as NodeJS.Signals);
  else process.kill(process.pid, name);
}

function setStandardStreams(s: { stdin: NodeJS.ReadableStream; stdout: Writable; stderr: Writable }): void {
  for (const name of ['stdin', 'stdout', 'stderr'] as const)
    Object.defineProperty(process, name, { value: s[name], configurable: true, enumerable: true, writable: false });
}

/** Between runs (and in the warm-up): nothing read, everything written dropped. */
function setIdleStreams(): void {
  const nowhere = () => new Writable({ write: (_chunk, _encoding, done) => done() });
  setStandardStreams({ stdin: Readable.from([]), stdout: nowhere(), stderr: nowhere() });
}
