import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { Controller } from '../controller/controller.js';
import { GuestControl } from '../controller/guest-control.js';
import { LIBRARY_LIMITS, OptionError, type ControllerOptions } from '../controller/options.js';
import type { RunResult } from '../controller/result.js';
import { DRIVER_SOURCE } from './driver.js';
import { endOfRun } from './end.js';
import { SessionFiles } from './files.js';
import { FrameReader, FramingError, jsonPayload, requestBytes, type DriverRequest, type Frame } from './frames.js';
import { answerOf, readyInfo, type GuestInfo } from './answers.js';
import {
  SessionClosedError,
  type CallResult,
  type RunOptions,
  type SessionEnd,
  type SessionOptions,
  type SnippetResult,
} from './types.js';

const REFUSED = ['args', 'stdin', 'stdout', 'stderr', 'tty', 'control', 'transport'] as const;
const STRAY_STDERR_KEPT = 64 * 1024;

/** Output of one kind kept for a result, within the per-snippet cap. */
interface Kept {
  out: Buffer[];
  err: Buffer[];
  bytes: number;
  truncated: boolean;
}

const kept = (): Kept => ({ out: [], err: [], bytes: 0, truncated: false });

/** The request on its way: what it printed so far (and what threads printed before it) and how it ends. */
interface Pending extends Kept {
  id: string;
  kind: 'run' | 'call';
  started: bigint;
  background: Kept;
  timedOut: boolean;
  interrupted: boolean;
  timer?: NodeJS.Timeout;
  grace?: NodeJS.Timeout;
  resolve: (r: SnippetResult & { json?: string }) => void;
}

/**
 * A long-lived interpreter behind the same walls, VFS and policy as a Controller run, driven one
 * snippet at a time: globals, imports and the files of its virtual /tmp persist between snippets.
 * One session is one guest process; whatever its code does, it can end only its own session.
 */
export class Session {
  /** The session's virtual /tmp, from the host side. */
  readonly files: SessionFiles;
  /** The interpreter, as it describes itself (version, implementation, whether it can be interrupted). */
  info!: GuestInfo;
  private readonly stdin = new PassThrough().on('error', () => undefined);
  private readonly control = new GuestControl();
  private readonly abort = new AbortController();
  private readonly reader: FrameReader;
  private readonly outputCap: number;
  private readonly graceMs: number;
  private readonly snippetTimeoutMs: number;
  private pending: Pending | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private filesChanged = false;
  private ending: { reason: SessionEnd['reason']; message: string } | undefined;
  private end: SessionEnd | undefined;
  private strayStderr = '';
  private readonly finished: Promise<SessionEnd>;
  private onReady!: (info: GuestInfo) => void;
  private onEnded!: (end: SessionEnd) => void;
  private readonly ready: Promise<GuestInfo>;

  private constructor(options: SessionOptions) {
    this.reader = new FrameReader(options.maxAnswerBytes ?? 8 * 1024 * 1024);
    this.outputCap = options.limits?.outputBytes ?? LIBRARY_LIMITS.outputBytes;
    this.graceMs = options.interruptGraceMs ?? 2000;
    this.snippetTimeoutMs = options.snippetTimeoutMs ?? 0;
    this.files = new SessionFiles(
      () => {
        const vfs = this.control.vfs;
        if (!vfs) throw new SessionClosedError(this.end ?? endOf('error', 'the session has not started'));
        return vfs;
      },
      () => (this.filesChanged = true),
    );
    this.ready = new Promise((resolve) => (this.onReady = resolve));
    this.finished = new Promise((resolve) => (this.onEnded = resolve));
  }

  /** Starts the interpreter and waits until its driver is ready for the first snippet. */
  static async start(options: SessionOptions = {}): Promise<Session> {
    checkSessionOptions(options);
    const { interruptGraceMs: _g, maxAnswerBytes, startTimeoutMs, snippetTimeoutMs: _s, ...rest } = options;
    const maxAnswer = maxAnswerBytes ?? 8 * 1024 * 1024;
    const sandboxed = rest.executable !== undefined;
    const session = new Session(options);
    const controllerOptions: ControllerOptions = {
      ...rest,
      // The driver, with the largest answer it may send. Stock guests write no bytecode caches
      // (-B: the session's /tmp holds only what the code made); a sandboxed PyPy skips site (-S).
      args: [sandboxed ? '-S' : '-B', '-c', DRIVER_SOURCE, String(maxAnswer)],
      stdin: session.stdin,
      stdout: (b) => session.fromGuest(b),
      stderr: (b) => session.strayOutput(b),
      control: session.control,
      signal: session.abort.signal,
      // Output is counted per snippet here; the stream carries every request, unbounded.
      limits: { ...rest.limits, outputBytes: 0, stdinBytes: 0 },
    };
    const controller = new Controller(controllerOptions);
    if (rest.signal) {
      const outer = rest.signal;
      if (outer.aborted) throw new OptionError('signal', 'already aborted');
      const onAbort = () => {
        const why = outer.reason instanceof Error ? ` (${outer.reason.message})` : '';
        session.fail('aborted', `aborted by its AbortSignal${why}`);
      };
      outer.addEventListener('abort', onAbort, { once: true });
      void session.finished.then(() => outer.removeEventListener('abort', onAbort));
    }
    controller.run().then(
      (r) => session.ended(r, undefined),
      (err: unknown) => session.ended(undefined, err),
    );
    const limit = startTimeoutMs ?? 30_000;
    const timer = setTimeout(
      () => session.fail('error', `the interpreter did not become ready within ${limit} ms`),
      limit,
    );
    try {
      const first = await Promise.race([session.ready, session.finished]);
      if ('reason' in first) throw new SessionClosedError(first);
      session.info = first;
      return session;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Why the session ended, once it has. */
  get endedWith(): SessionEnd | undefined {
    return this.end;
  }

  /** Settles when the session has ended, however it ended. */
  closed(): Promise<SessionEnd> {
    return this.finished;
  }

  /** Runs a snippet; its last expression's repr is the result's value. */
  run(code: string, opts: RunOptions = {}): Promise<SnippetResult> {
    if (typeof code !== 'string') throw new TypeError('run(code): expected the code as a string');
    return this.enqueue('run', code, opts);
  }

  /**
   * Calls `module:function` (`:f` or `__main__:f` for one the session defined) with JSON
   * arguments; resolves with its JSON return value in `result`. A value JSON cannot carry is a
   * TypeError naming its type and where it is.
   */
  async call(
    fn: string,
    args: unknown[] = [],
    opts: RunOptions & { kwargs?: Record<string, unknown> } = {},
  ): Promise<CallResult> {
    if (typeof fn !== 'string' || !fn.includes(':'))
      throw new TypeError(`call(fn): expected "module:function", got ${JSON.stringify(fn)}`);
    if (!Array.isArray(args)) throw new TypeError('call(fn, args): expected an array of arguments');
    const r = await this.enqueue('call', JSON.stringify({ fn, args, kwargs: opts.kwargs ?? {} }), opts);
    const { json, ...rest } = r;
    return { ...rest, result: json === undefined ? undefined : (JSON.parse(json) as unknown) };
  }

  /** Interrupts the snippet running now (KeyboardInterrupt); false when none runs or the guest cannot be. */
  interrupt(): boolean {
    const p = this.pending;
    if (!p || p.interrupted || !this.info?.interrupts || this.end) return false;
    p.interrupted = true;
    // The mark goes first: the driver tells this signal from a late one for an earlier snippet.
    this.send({ t: 'mark', id: p.id });
    return this.control.interrupt('SIGINT');
  }

  /** Ends the session: the driver is told to stop (its input ends), killed if it does not. */
  async close(): Promise<SessionEnd> {
    if (this.end) return this.end;
    this.ending ??= { reason: 'closed', message: 'closed by its owner' };
    this.stdin.end();
    const timer = setTimeout(() => this.abort.abort(new Error('the session did not end when closed')), this.graceMs);
    const end = await this.finished;
    clearTimeout(timer);
    return end;
  }

  private enqueue(kind: 'run' | 'call', payload: string, opts: RunOptions): Promise<SnippetResult & { json?: string }> {
    const next = this.queue.then(() => this.request(kind, payload, opts));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private request(kind: 'run' | 'call', payload: string, opts: RunOptions): Promise<SnippetResult & { json?: string }> {
    if (this.end || this.ending)
      return Promise.reject(new SessionClosedError(this.end ?? endOf(this.ending!.reason, this.ending!.message)));
    const timeoutMs = opts.timeoutMs ?? this.snippetTimeoutMs;
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 0)
      throw new OptionError('timeoutMs', `expected a non-negative integer, got ${String(timeoutMs)}`);
    return new Promise((resolve) => {
      const id = randomBytes(8).toString('hex');
      const p: Pending = {
        id,
        kind,
        started: process.hrtime.bigint(),
        ...kept(),
        background: kept(),
        timedOut: false,
        interrupted: false,
        resolve,
      };
      this.pending = p;
      if (timeoutMs > 0) p.timer = setTimeout(() => this.timedOut(p, timeoutMs), timeoutMs);
      const fresh = this.filesChanged;
      this.filesChanged = false;
      this.send({ t: kind, id, fresh, payload });
    });
  }

  /** A request to the driver; none once its input has been ended. */
  private send(req: DriverRequest): void {
    if (!this.stdin.writableEnded && !this.stdin.destroyed) this.stdin.write(requestBytes(req));
  }

  private timedOut(p: Pending, ms: number): void {
    if (this.pending !== p) return;
    p.timedOut = true;
    if (!this.interrupt()) {
      this.fail(
        'timeout',
        `the snippet ran past its timeout (${ms} ms) and this interpreter cannot be interrupted (${this.info.implementation} ${this.info.version} has no signal module): session ended`,
      );
      return;
    }
    p.grace = setTimeout(
      () =>
        this.fail(
          'timeout',
          `the snippet went on ${this.graceMs} ms after its KeyboardInterrupt (timeout ${ms} ms): session ended`,
        ),
      this.graceMs,
    );
  }

  // ---- what the guest sends ----

  private fromGuest(chunk: Buffer): void {
    if (this.end) return;
    let frames: Frame[];
    try {
      frames = this.reader.push(chunk);
      for (const f of frames) this.frame(f);
    } catch (err) {
      if (!(err instanceof FramingError)) throw err;
      this.fail('protocol', err.message);
    }
  }

  private frame(f: Frame): void {
    if (f.kind === 'R') {
      if (this.info) throw new FramingError('a second ready frame');
      this.info = readyInfo(jsonPayload(f));
      this.onReady(this.info);
      return;
    }
    const p = this.pending;
    if (!p) throw new FramingError(`frame ${f.kind} while no snippet runs`);
    if (f.kind === 'O' || f.kind === 'E') return this.output(p, f.kind === 'O' ? p.out : p.err, f.payload);
    if (f.kind === 'o' || f.kind === 'e')
      return this.output(p.background, f.kind === 'o' ? p.background.out : p.background.err, f.payload);
    const answer = answerOf(jsonPayload(f), p.id, p.kind);
    if (answer.dropped > 0) p.background.truncated = true;
    this.settle(p, { value: answer.value, error: answer.error, json: answer.json, ended: null });
  }

  private output(p: Kept, into: Buffer[], data: Buffer): void {
    const room = this.outputCap > 0 ? this.outputCap - p.bytes : data.length;
    if (room < data.length) p.truncated = true;
    if (room <= 0) return;
    const kept = data.subarray(0, room);
    into.push(kept);
    p.bytes += kept.length;
  }

  /** The guest's real stderr: the snippet's stderr too, or kept for the session's end. */
  private strayOutput(b: Buffer): void {
    if (this.pending) return this.output(this.pending, this.pending.err, b);
    if (this.strayStderr.length < STRAY_STDERR_KEPT)
      this.strayStderr += b.toString('utf8', 0, STRAY_STDERR_KEPT - this.strayStderr.length);
  }

  private settle(p: Pending, r: Pick<SnippetResult, 'value' | 'error' | 'ended'> & { json?: string }): void {
    clearTimeout(p.timer);
    clearTimeout(p.grace);
    if (this.pending === p) this.pending = undefined;
    p.resolve({
      stdout: Buffer.concat(p.out).toString('utf8'),
      stderr: Buffer.concat(p.err).toString('utf8'),
      value: r.value,
      error: r.error,
      ...(r.json !== undefined ? { json: r.json } : {}),
      durationMs: Number(process.hrtime.bigint() - p.started) / 1e6,
      timedOut: p.timedOut,
      outputTruncated: p.truncated,
      background: {
        stdout: Buffer.concat(p.background.out).toString('utf8'),
        stderr: Buffer.concat(p.background.err).toString('utf8'),
        truncated: p.background.truncated,
      },
      ended: r.ended,
    });
  }

  // ---- the end ----

  /** Ends the session on its own account: the guest is killed, the reason kept. */
  private fail(reason: SessionEnd['reason'], message: string): void {
    if (this.end) return;
    if (!this.ending || this.ending.reason === 'closed') this.ending = { reason, message };
    this.abort.abort(new Error(message));
  }

  private ended(run: RunResult | undefined, err: unknown): void {
    const end = endOfRun(run, err, this.ending, this.strayStderr);
    this.end = end;
    this.stdin.destroy();
    const p = this.pending;
    if (p) {
      const type = p.timedOut ? 'TimeoutError' : 'SessionEnded';
      this.settle(p, { value: null, error: { type, message: end.message, traceback: '' }, ended: end });
    }
    this.onEnded(end);
  }
}

/** An end decided before the guest's run has ended. */
function endOf(reason: SessionEnd['reason'], message: string): SessionEnd {
  return { reason, message, limit: null, exitCode: null, signal: null, run: undefined };
}

function checkSessionOptions(o: SessionOptions): void {
  if (!o || typeof o !== 'object') throw new OptionError('options', 'expected an object');
  for (const k of REFUSED) {
    if (k in o)
      throw new OptionError(
        k,
        "a session carries its requests on the guest's standard streams: not an option of Session.start",
      );
  }
  for (const k of ['interruptGraceMs', 'maxAnswerBytes', 'startTimeoutMs', 'snippetTimeoutMs'] as const) {
    const v = o[k];
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 0))
      throw new OptionError(k, `expected a non-negative integer, got ${String(v)}`);
  }
  if (o.maxAnswerBytes !== undefined && o.maxAnswerBytes < 1024)
    throw new OptionError('maxAnswerBytes', 'must be at least 1024');
}
