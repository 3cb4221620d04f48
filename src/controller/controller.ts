import os from 'node:os';
import { Readable, Writable } from 'node:stream';
import { CallContext, CONTINUE, Refusal, InjectFileCopy, InjectHostFile, type Answer, type Handler } from '../handlers/context.js';
import { ExitRequested } from '../handlers/pypy/process.js';
import { pypyHandlers } from '../handlers/pypy/table.js';
import { FileTable } from '../kernel/files.js';
import { BufferInput, CaptureSink, StreamInput, StreamSink, type InputSource, type OutputSink } from '../kernel/io.js';
import { Clock, type Identity, type Session } from '../kernel/session.js';
import { ACCESS, Errno, GuestErrno, hostPlatform } from '../platform/index.js';
import { Policy, type Decision } from '../policy/policy.js';
import { MISSING_NAME, OWN_TREE, REPEATED_ANSWER, type DecodedCall } from '../protocol/decoder.js';
import { ProtocolError } from '../protocol/errors.js';
import type { ResultKind } from '../protocol/signature.js';
import { TraceWriter, type CallRecord } from '../trace/trace.js';
import { GuestChannel } from '../protocol/channel.js';
import { HostTerminal, INTERRUPTS_TO_GIVE_UP } from './host-terminal.js';
import { spawnGuest, type GuestTransport } from './spawn.js';
import { normalizeOptions, type ControllerOptions, type Limits, type OutputOption, type StdinOption } from './options.js';
import { SandboxError, type LimitHit, type LimitName, type RunResult, type SandboxErrorKind } from './result.js';
import { buildVfs, DEFAULT_ARGV0, vfsRecipe } from './setup.js';
import { addInterpreterFootprint } from '../guest/footprint.js';
import { linuxHandlers } from '../handlers/linux/table.js';
import { supervisorPath, wallLibraryPath } from '../supervisor/locate.js';
import { wordFrame } from '../supervisor/words.js';
import { delegate, hostDevices, listsLocally, reportableCalls, type Delegation } from '../supervisor/delegation.js';
import { NoteReader, type Note } from '../supervisor/notes.js';
import { DenialLog } from './denials.js';
import { checkOptionsForGuest } from './guest-options.js';
import { stockEnv } from '../guest/stand-ins.js';
import { sandboxedEnv } from './setup.js';
import { checkReport } from '../supervisor/reports.js';
import { defaultInterpreter, stockProfile, type StockProfile } from '../guest/profile.js';
import { OutsideError, VirtualFS } from '../vfs/vfs.js';
import { LIMITS } from '../supervisor/contract/contract.js';
import { HeapExhaustion } from './heap-exhaustion.js';
import { openTraceFile } from './trace-file.js';

const GUEST_STDERR_KEPT = 64 * 1024;

const DEFAULT_IDENTITY: Identity = { uid: 1000, gid: 1000, euid: 1000, egid: 1000, pid: 4200, ppid: 4199, hostname: 'sandbox' };

function failValue(kind: ResultKind): number | bigint | undefined {
  return kind === 'p' ? 0n : kind === 'v' ? undefined : -1;
}

function signalDescription(sig: string | null): string | null {
  if (!sig) return null;
  const descriptions: Record<string, string> = {
    SIGSEGV: 'Segmentation fault', SIGABRT: 'Aborted', SIGKILL: 'Killed', SIGBUS: 'Bus error', SIGILL: 'Illegal instruction',
    SIGFPE: 'Floating point exception', SIGTERM: 'Terminated', SIGSYS: 'Bad system call', SIGXCPU: 'CPU time limit exceeded',
    SIGPIPE: 'Broken pipe', SIGINT: 'Interrupt', SIGHUP: 'Hangup', SIGTRAP: 'Trace/breakpoint trap',
  };
  return descriptions[sig] ?? sig;
}

/** A limit-checking output sink: past the cap the run ends with limit 'output'. */
class LimitedSink implements OutputSink {
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

class LimitedInput implements InputSource {
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

/**
 * Runs one guest: launches it, answers its calls from the handler tables, the VFS and the policy,
 * enforces the limits, and reports what happened. One Controller may run several times; each run
 * gets a fresh session (descriptors, environment) and, unless a VFS was given, a fresh filesystem.
 */
export class Controller {
  readonly options: ReturnType<typeof normalizeOptions>;
  /** A PyPy translated with --sandbox speaks the protocol itself; a stock interpreter runs under the supervisor. */
  readonly guestKind: 'sandboxed-pypy' | 'stock';
  private readonly handlers: Record<string, Handler>;

  constructor(options: ControllerOptions) {
    this.options = normalizeOptions(options);
    this.guestKind = this.options.executable !== undefined ? 'sandboxed-pypy' : 'stock';
    checkOptionsForGuest(this.options, this.guestKind, new Set(Object.keys(linuxHandlers)));
    this.handlers = { ...(this.guestKind === 'stock' ? linuxHandlers : pypyHandlers), ...this.options.handlers };
  }

  /** The interpreter a stock guest runs (resolved from `python`, or the system default). */
  interpreter(): string | undefined {
    if (this.guestKind !== 'stock') return undefined;
    return this.options.python ?? defaultInterpreter();
  }

  /** The signatures this controller answers (for capability checks). */
  supportedSignatures(): string[] {
    return Object.keys(this.handlers).sort();
  }

  async run(): Promise<RunResult> {
    let stock: StockProfile | undefined;
    if (this.guestKind === 'stock') {
      try {
        stock = await stockProfile(this.interpreter()!);
      } catch (err) {
        throw new SandboxError('spawn', `cannot prepare the stock interpreter: ${(err as Error).message}`, emptyResult(), { cause: err });
      }
    }
    return new Run(this.options, this.handlers, stock).start();
  }
}

class Run {
  private readonly limits: Limits;
  private policy!: Policy;
  private session!: Session;
  private readonly started = process.hrtime.bigint();
  private readonly abort = new AbortController();
  private stdoutCapture!: CaptureSink | undefined;
  private stderrCapture!: CaptureSink | undefined;
  private trace!: TraceWriter | undefined;
  private recording!: boolean;
  private child!: GuestTransport;
  private channel!: GuestChannel;
  private ctx!: CallContext;
  private guestStderr = '';
  private readonly heapExhaustion = new HeapExhaustion();
  /** The supervisor's notes (walls in force, limits hit, how the guest ended), checked as they come. */
  private readonly notes = new NoteReader();
  /** Signatures the supervisor may report answering itself (from the delegation, once known). */
  private reportable: ReadonlySet<string> | undefined;
  /** The run has been wound up: answers still in flight are dropped. */
  private over = false;
  private calls = 0;
  private readonly denials = new DenialLog();
  private readonly unknown: Record<string, number> = {};
  private limitHit: LimitHit | null = null;
  private timedOut = false;
  private ending: { kind: SandboxErrorKind; error: Error } | undefined;
  private killedByUs = false;
  private timer: NodeJS.Timeout | undefined;
  private currentSig = '';
  private vfs!: VirtualFS;
  private identity!: Identity;
  /** What the supervisor answers itself (stock guests; see src/supervisor/delegation.ts). */
  private delegation: Delegation | undefined;
  /** The supervisor started before the filesystem was built (stock guests), or why it could not be. */
  private early: GuestTransport | undefined;
  private earlyError: Error | undefined;
  private configSent = false;
  /** Recipe of this run's local answers (computed before the tree is built), if reusable. */
  private key: string | undefined;

  constructor(
    private readonly o: ReturnType<typeof normalizeOptions>,
    private readonly handlers: Record<string, Handler>,
    private readonly stock?: StockProfile,
  ) {
    this.limits = o.limits;
    // A stock guest's supervisor starts first: it starts the interpreter while the filesystem is
    // built here, and waits for the local-answer configuration before serving any call.
    if (stock && !o.transport && !o.signal?.aborted) {
      try {
        const cmd = this.command();
        this.early = spawnGuest(cmd.file, cmd.args, cmd.argv0, cmd.env, cmd.supervised, o.spareSupervisor !== false);
        // The same recipe as a recent run: its local answers go out now, before the tree is built.
        const key = (this.key = this.cacheKey());
        const hit = key !== undefined ? delegations.get(key) : undefined;
        if (hit && Date.now() - hit.at < DELEGATION_TTL_MS) {
          this.delegation = hit.delegation;
          this.configSent = true;
          this.early.stdin.write(configurationBytes(hit.words));
        }
      } catch (err) {
        this.earlyError = err as Error;
      }
    }
    try {
      this.setUp(o, stock);
    } catch (err) {
      this.early?.kill();
      throw err;
    }
  }

  /** What makes two runs' local answers the same: the tree's recipe, identity, handlers, terminals. */
  private cacheKey(): string | undefined {
    const o = this.o;
    if (!this.stock || o.localAnswers === false || (o.policy && o.policy.listRules().length > 0)) return undefined;
    const recipe = vfsRecipe(o, this.limits, o.policy ?? new Policy(), this.stock);
    if (recipe === undefined) return undefined;
    const replaced = Object.keys(o.handlers ?? {}).sort();
    return JSON.stringify([recipe, replaced, this.ttyFlags(o)]);
  }

  private setUp(o: ReturnType<typeof normalizeOptions>, stock: StockProfile | undefined): void {
    this.policy = o.policy ? o.policy.clone() : new Policy();
    const vfs = o.vfs ?? buildVfs(o, this.limits, this.policy, stock);
    // A tree the caller built gets the interpreter's own installation too, or it could not start.
    if (o.vfs && stock) addInterpreterFootprint(o.vfs, this.policy, stock);
    this.vfs = vfs;
    const platform = o.platform ?? hostPlatform();
    const identity: Identity = { ...DEFAULT_IDENTITY, ...o.identity };
    if (o.identity?.uid !== undefined && o.identity.euid === undefined) identity.euid = o.identity.uid;
    if (o.identity?.gid !== undefined && o.identity.egid === undefined) identity.egid = o.identity.gid;
    const files = new FileTable(vfs, this.policy, platform.open, { maxOpenFiles: this.limits.openFiles, maxOpenDirs: this.limits.openDirs }, o.cwd ?? '/tmp', (d) => this.onDecision(d));
    const outCount = { bytes: 0 };
    const onOutput = () => this.hitLimit({ name: 'output', value: this.limits.outputBytes });
    const sink = (opt: OutputOption | undefined, inherit: Writable): [OutputSink, CaptureSink | undefined] => {
      if (opt === undefined || opt === 'capture') {
        const c = new CaptureSink();
        return [c, c];
      }
      if (opt === 'inherit') return [new StreamSink(inherit), undefined];
      if (opt === 'ignore') return [{ write: () => undefined }, undefined];
      if (typeof opt === 'function') return [{ write: opt }, undefined];
      return [new StreamSink(opt), undefined];
    };
    const [out, outCap] = sink(o.stdout, process.stdout);
    const [err, errCap] = sink(o.stderr, process.stderr);
    this.stdoutCapture = outCap;
    this.stderrCapture = errCap;
    const tty = this.ttyFlags(o);
    this.session = {
      files,
      env: new Map(Object.entries(stock ? (o.env ?? {}) : sandboxedEnv(o.env))),
      identity,
      clock: new Clock(o.clock),
      platform,
      // The supervisor moves at most one chunk (1 MiB) per command.
      limits: { maxIoBytes: stock ? Math.min(this.limits.ioChunkBytes, LIMITS.maxChunk) : this.limits.ioChunkBytes, maxPathLength: this.limits.pathLength },
      stdin: new LimitedInput(this.stdinSource(o.stdin, tty.stdin), this.limits.stdinBytes, () => this.hitLimit({ name: 'stdin', value: this.limits.stdinBytes })),
      stdout: new LimitedSink(out, outCount, this.limits.outputBytes, onOutput),
      stderr: new LimitedSink(err, outCount, this.limits.outputBytes, onOutput),
      isatty: tty,
      terminal: this.terminalHooks(),
      home: stock ? stock.argv0 : (o.argv0 ?? DEFAULT_ARGV0),
      guestStrings: new Map(),
      environPtr: undefined,
      requestedExit: undefined,
      signal: this.abort.signal,
      localListings: listsLocally(this.delegation),
    };
    this.identity = identity;
    this.trace = o.traceFile ? openTraceFile(o.traceFile) : undefined;
    this.recording = this.trace !== undefined || o.onCall !== undefined;
  }

  private ttyFlags(o: ControllerOptions): Session['isatty'] {
    const inherited = {
      stdin: o.stdin === 'inherit' && Boolean(process.stdin.isTTY),
      stdout: o.stdout === 'inherit' && Boolean(process.stdout.isTTY),
      stderr: o.stderr === 'inherit' && Boolean(process.stderr.isTTY),
    };
    if (o.tty === undefined) return inherited;
    if (typeof o.tty === 'boolean') return { stdin: o.tty, stdout: o.tty, stderr: o.tty };
    return { stdin: o.tty.stdin ?? inherited.stdin, stdout: o.tty.stdout ?? inherited.stdout, stderr: o.tty.stderr ?? inherited.stderr };
  }

  private hostTerminal: HostTerminal | undefined;

  /** The session's terminal: settings and pending input go to the host terminal when the guest has it. */
  private terminalHooks(): Session['terminal'] {
    const t = this.hostTerminal;
    return t ? { termios: undefined, apply: (termios, flush) => t.apply(termios, flush), available: () => t.available() } : { termios: undefined };
  }

  private stdinSource(opt: StdinOption | undefined, ttyIn: boolean): InputSource {
    this.hostTerminal = undefined;
    if (opt === undefined || opt === 'ignore') return new BufferInput(Buffer.alloc(0));
    if (opt === 'inherit' && ttyIn && process.stdin.isTTY) {
      // The guest's own terminal: its settings are applied here, its signal characters reach it.
      // Raw on the host from the start, so nothing typed ahead is echoed twice (host, then here).
      this.hostTerminal = new HostTerminal(process.stdin, {
        signal: (sig) => this.child?.interrupt?.(sig),
        giveUp: () => this.fatal('aborted', new Error(`the guest did not answer ${INTERRUPTS_TO_GIVE_UP} interrupts typed at the terminal; run ended`)),
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

  private onDecision(d: Decision): void {
    if (this.ctx) this.ctx.decision = d;
    if (d.allow) return;
    this.denials.decision(this.currentSig, d);
  }

  private argv0(): string {
    return this.stock ? this.stock.argv0 : (this.o.argv0 ?? DEFAULT_ARGV0);
  }

  /** Walls as supervisor options. */
  private wallArgs(): string[] {
    const w = this.o.walls;
    const args: string[] = [];
    if (w === false || (typeof w === 'object' && w.namespaces === false)) args.push('--no-namespaces');
    // Asked for by name: a host that cannot make them stops the run instead of running without.
    else if (typeof w === 'object' && w.namespaces === true) args.push('--require-namespaces');
    if (w === false || (typeof w === 'object' && w.dropRoot === false)) args.push('--keep-uid');
    const ids = this.o.identityRange;
    if (ids?.first !== undefined) args.push('--uid-range', `${ids.first}:${ids.count}`);
    if (ids?.lockFile !== undefined) args.push('--uid-lock', ids.lockFile);
    if (this.limits.cpuSeconds > 0) args.push('--cpu', String(this.limits.cpuSeconds));
    args.push('--memory', String(this.limits.memoryBytes), '--tasks', String(this.limits.tasks), '--cgroup', cgroupMode(w));
    // Every descriptor counts, the guest's own pipes and memfds as well as the controller's files.
    if (this.stock) args.push('--max-fds', String(this.limits.openFiles));
    if (this.limits.heapBytes > 0) {
      // Resident memory is the limit for stock guests; the address-space cap behind it leaves room
      // for what interpreters reserve without touching.
      if (this.stock) args.push('--heap', String(this.limits.heapBytes));
      args.push('--as', String(this.limits.heapBytes * 2 + 512 * 1024 * 1024));
    }
    // Virtual descriptors of a stock guest are numbered from 512 up, so its limit leaves room for them.
    args.push('--nofile', String(this.stock ? LIMITS.virtualFdBase + this.limits.openFiles + 64 : Math.max(this.limits.openFiles, 16)));
    // Threads and processes: the cgroup's task cap (--tasks); where no cgroup can be made the
    // supervisor sets RLIMIT_NPROC to it instead (per user: not the precise count a cgroup keeps).
    return args;
  }

  /** What is executed: the supervisor with the interpreter, or the sandboxed binary behind its walls. */
  private command(): { file: string; args: string[]; env: Record<string, string>; argv0?: string; supervised?: boolean } {
    const o = this.o;
    const args = o.args ?? [];
    if (this.stock) {
      return { file: supervisorPath(), args: [...this.wallArgs(), '--config-stdin', '--', this.stock.binary, this.stock.argv0, ...args], env: stockEnv(o.env), supervised: true };
    }
    const heap = this.limits.heapBytes > 0 ? ['--heapsize', String(this.limits.heapBytes)] : [];
    if (o.walls === false) {
      return { file: o.executable!, args: [...heap, ...args], env: {}, argv0: this.argv0() };
    }
    // Walls asked for and not buildable here stop the run (fail closed): never run without them.
    let supervisor: string;
    try {
      supervisor = supervisorPath();
    } catch (err) {
      throw new Error(`the walls cannot be set up: ${(err as Error).message}`, { cause: err });
    }
    const seccomp = !(typeof o.walls === 'object' && o.walls.seccomp === false);
    const wall = seccomp ? wallLibraryPath() : undefined;
    if (seccomp && !wall) {
      throw new Error('the seccomp-strict wall cannot be set up: its library (build/native/libpypybox-wall.so) is not built; run "npm run build:native"');
    }
    return {
      file: supervisor,
      args: ['--protocol-guest', ...(wall ? ['--wall', wall] : []), ...this.wallArgs(), '--', o.executable!, this.argv0(), ...heap, ...args],
      env: {},
      supervised: true,
    };
  }

  /**
   * What the supervisor may answer itself, sent as its configuration (u32 length, NUL-terminated
   * words): decided now that the filesystem exists.
   */
  private configuration(): Buffer {
    if (this.o.localAnswers !== false) {
      this.delegation = delegate(this.vfs, this.policy, this.handlers, this.identity, this.session.platform, this.limits.pathLength, Object.values(this.session.isatty).some(Boolean), this.session.files.getcwd());
    }
    this.session.localListings = listsLocally(this.delegation);
    // Host files behind real descriptors are described as their names are (every run).
    const words = [...(this.delegation?.args ?? []), ...hostDevices(this.vfs)];
    if (this.key !== undefined) {
      if (delegations.size >= 64) delegations.clear();
      delegations.set(this.key, { delegation: this.delegation, words, at: Date.now() });
    }
    return configurationBytes(words);
  }

  async start(): Promise<RunResult> {
    const o = this.o;
    if (o.signal?.aborted) {
      this.early?.kill();
      return this.finishEarly('aborted', abortError(o.signal, 'aborted before start'));
    }
    if (this.earlyError) return this.finishEarly('spawn', this.earlyError);
    let cmd: ReturnType<Run['command']>;
    try {
      cmd = o.transport || this.early ? { file: '(started)', args: [], env: {} } : this.command();
    } catch (err) {
      return this.finishEarly('spawn', err as Error);
    }
    this.trace?.write({ type: 'header', format: 'pypy-box-trace', version: 1, started: new Date().toISOString(), executable: this.stock?.binary ?? o.executable!, argv: [this.argv0(), ...(o.args ?? [])], guest: this.stock ? `stock ${this.stock.binary}` : 'sandboxed-pypy' });
    try {
      this.child = this.early ?? (o.transport ? o.transport() : spawnGuest(cmd.file, cmd.args, cmd.argv0, cmd.env, cmd.supervised, o.spareSupervisor !== false));
    } catch (err) {
      return this.finishEarly('spawn', err as Error);
    }
    const child = this.child;
    o.control?.attach({ interrupt: (sig) => child.interrupt?.(sig), vfs: this.vfs });
    this.channel = new GuestChannel(child.stdout, child.stdin, (call) => this.dispatch(call), (err) => this.fatal(err instanceof ProtocolError ? 'protocol' : 'internal', err), this.stock !== undefined, Math.max(4 << 20, 2 * this.limits.ioChunkBytes + (1 << 20)), (call) => this.reported(call), this.limits.stallMs);
    this.ctx = new CallContext(this.session, this.channel);
    // Large reads go into one buffer kept for the run, reused once the last answer has been
    // written out (an answer's data is written without copying); small ones are copied anyway.
    let lent: Buffer | undefined;
    this.session.files.readBuffer = (length) => {
      if (length < 16 * 1024 || !this.channel.drained) return undefined;
      if (!lent || lent.length < length) lent = Buffer.allocUnsafe(Math.max(length, lent ? lent.length : 0));
      return lent.subarray(0, length);
    };
    if (this.stock && !o.transport && !this.configSent) {
      try {
        child.stdin.write(this.configuration());
      } catch (err) {
        child.kill();
        await child.done;
        return this.finishEarly('internal', err as Error);
      }
    }
    child.notes?.on('data', (b: Buffer) => this.noted(() => this.notes.add(b).forEach((n) => this.refused(n))));
    child.notes?.on('end', () => this.noted(() => this.notes.end()));
    child.stderr.on('data', (b: Buffer) => {
      o.guestStderr?.write(b);
      if (!this.stock && this.limits.heapBytes > 0) this.heapExhaustion.see(b);
      if (this.guestStderr.length < GUEST_STDERR_KEPT) this.guestStderr += b.toString('utf8', 0, GUEST_STDERR_KEPT - this.guestStderr.length);
    });
    if (this.limits.timeoutMs > 0) {
      this.timer = setTimeout(() => {
        this.timedOut = true;
        this.kill();
      }, this.limits.timeoutMs);
    }
    const onAbort = () => this.fatal('aborted', abortError(o.signal!, 'run aborted by its AbortSignal'));
    o.signal?.addEventListener('abort', onAbort, { once: true });
    // A supervisor says how the guest ended before it has finished tearing its namespaces down.
    const done = await (child.told ? Promise.race([child.done, child.told]) : child.done);
    o.signal?.removeEventListener('abort', onAbort);
    return this.finish(done);
  }

  private readonly reached = new Map<string, { name: LimitName; value: number; calls: number }>();

  private noteLimit(limit: { name: string; value: number }): void {
    const r = this.reached.get(limit.name) ?? { name: limit.name as LimitName, value: limit.value, calls: 0 };
    r.calls++;
    this.reached.set(limit.name, r);
  }

  private hitLimit(limit: LimitHit): void {
    if (!this.limitHit) this.limitHit = limit;
    this.kill();
  }

  private kill(): void {
    this.killedByUs = true;
    this.channel?.close();
    this.child?.kill();
  }

  /** The caller's onCall hook: what it throws ends the run, named as the hook's. */
  private hook(rec: CallRecord): void {
    if (!this.o.onCall) return;
    try {
      this.o.onCall(rec);
    } catch (err) {
      throw new Error(`the onCall hook threw: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }

  private fatal(kind: SandboxErrorKind, error: Error): void {
    if (!this.ending) this.ending = { kind, error };
    this.kill();
  }

  /** Reads notes from the supervisor; a malformed one ends the run like a protocol violation. */
  private noted(read: () => void): void {
    try {
      read();
    } catch (err) {
      this.fatal(err instanceof ProtocolError ? 'protocol' : 'internal', err as Error);
    }
  }

  /** A call the supervisor refused (a `refused` note): a denial, a call, a line of the trace. */
  private refused(note: Note): void {
    if (note.kind !== 'refused' && note.kind !== 'refused-more') return;
    const rec = this.denials.refusal(note);
    this.calls += note.count;
    if (rec === undefined || !this.recording) return;
    const full: CallRecord = { ...rec, seq: this.calls, t: Number((process.hrtime.bigint() - this.started) / 1000n) };
    this.trace?.write(full);
    this.hook(full);
  }

  // ---- the per-call path ----

  private dispatch(call: DecodedCall): void {
    this.calls++;
    const ctx = this.ctx;
    ctx.reset();
    ctx.strings = call.strings;
    const sig = call.sig.text;
    this.currentSig = sig;
    const t0 = this.recording ? process.hrtime.bigint() : 0n;
    const handler = this.handlers[sig];
    if (handler === undefined) {
      this.unknown[sig] = (this.unknown[sig] ?? 0) + 1;
      if (this.o.unknownCalls === 'fail') {
        this.fatal('unsupported-call', new Error(`guest called ${sig}, which this controller does not implement (unknownCalls: 'fail')`));
        return;
      }
      this.answerError(call, new GuestErrno(Errno.ENOSYS, `no handler for ${sig}`), t0);
      return;
    }
    let r;
    try {
      r = handler(ctx, call.args);
    } catch (err) {
      this.answerError(call, err, t0);
      return;
    }
    if (r instanceof Promise) {
      r.then(
        (v) => this.answer(call, v, t0),
        (err) => this.answerError(call, err, t0),
      );
    } else {
      this.answer(call, r, t0);
    }
  }

  /** A call the supervisor answered itself: counted and recorded like any other. */
  private reported(call: DecodedCall): void {
    // Checked like guest input: a bad report is a protocol error (thrown to the channel).
    this.reportable ??= reportableCalls(this.delegation);
    checkReport(call, this.reportable, this.delegation?.grants.length ?? 0);
    this.calls++;
    const r = call.report!;
    // A close the kernel did: the descriptor leaves the controller's table too, before any later call.
    if (call.sig.text === 'close(i)i') this.session.files.drop(call.args[0] as number);
    // A listing answered from the records sent at open: the descriptor's position moves the same way.
    const listed = call.sig.text === 'getdents64(ipi)i';
    if (listed && r.result > 0n) this.advanceListing(call.args[0] as number, call.args[2]!, Number(r.result));
    const missing = r.grant === MISSING_NAME;
    if (missing && r.errno === Errno.EACCES) {
      // Outside the sandbox's filesystem: a denial, counted like the controller's own.
      this.currentSig = call.sig.text;
      this.onDecision({ allow: false, op: reportedOp(call), vpath: r.hostPath, errno: r.errno, reason: new OutsideError(r.hostPath).reason });
    }
    if (!this.recording) return;
    const grant = r.grant >= 0 ? this.delegation?.grants[r.grant] : undefined;
    const path = call.strings?.values().next().value ?? undefined;
    const native = call.sig.text === 'close(i)i';
    const rec: CallRecord = {
      type: 'call',
      seq: this.calls,
      t: Number((r.startNs - this.started) / 1000n),
      sig: call.sig.text,
      args: call.args,
      result: native ? undefined : r.result >= BigInt(Number.MIN_SAFE_INTEGER) && r.result <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(r.result) : r.result,
      toGuest: 0,
      fromGuest: 0,
      us: Math.round(r.spentNs / 1000),
      note: 'answered by the supervisor',
    };
    if (path) rec.path = path.toString('utf8');
    if (r.errno) rec.errno = r.errno;
    if (native) rec.reason = 'runs natively';
    else if (listed) rec.reason = 'from the listing made when the directory was opened';
    else if (missing && r.errno === Errno.EACCES) {
      rec.allowed = false;
      rec.reason = new OutsideError(r.hostPath).reason;
    } else if (missing) rec.reason = `${r.hostPath} does not exist`;
    else if (r.grant === OWN_TREE && !r.errno) {
      rec.allowed = true;
      rec.reason = 'virtual file of the sandbox';
    } else if (r.grant === REPEATED_ANSWER) {
      rec.allowed = true;
      rec.reason = 'the last answer for this name, repeated: no call since could have changed it';
    }
    else if (grant && r.errno !== Errno.ENOENT) {
      rec.allowed = true;
      rec.reason = `host ${r.hostPath || grant.hostPath} under ${grant.reason}`;
    } else if (r.errno === Errno.ENOENT) rec.reason = `${rec.path ?? 'the name'} does not exist`;
    this.trace?.write(rec);
    this.hook(rec);
  }

  /** The supervisor answered getdents64 from a listing: one the controller sent, packed as it would. */
  private advanceListing(fd: number, count: number | bigint, answered: number): void {
    try {
      // The kernel reads the count as an unsigned int.
      this.session.files.advanceListing(fd, Number(BigInt.asUintN(32, BigInt(count))), answered);
    } catch (err) {
      throw new ProtocolError('bad-report', `report from the supervisor of getdents64(ipi)i: ${(err as Error).message}`);
    }
  }

  private answer(call: DecodedCall, value: Answer, t0: bigint): void {
    if (this.killedByUs || this.over) return;
    const kind = call.sig.result;
    if (value === CONTINUE) {
      if (this.recording) this.record(call, undefined, 0, 'runs natively', t0);
      this.channel.finish(this.ctx.enc.continueNative().flush());
      return;
    }
    if (value instanceof InjectHostFile) {
      if (this.recording) this.record(call, undefined, 0, undefined, t0);
      this.channel.finish(this.ctx.enc.openAndReturn(value.hostPath, value.cloexec).flush());
      return;
    }
    if (value instanceof InjectFileCopy) {
      if (this.recording) this.record(call, undefined, 0, undefined, t0);
      this.channel.finish(this.ctx.enc.fileCopy(value.vpath, value.stat, value.content, value.cloexec).flush());
      return;
    }
    try {
      this.ctx.enc.result(kind, kind === 'v' ? undefined : (value ?? 0));
    } catch (err) {
      this.fatal('internal', new Error(`handler for ${call.sig.text} returned ${String(value)}, not a ${kind} result`, { cause: err }));
      return;
    }
    if (this.recording) this.record(call, kind === 'v' ? undefined : (value ?? 0), 0, undefined, t0);
    this.channel.finish(this.ctx.enc.flush());
  }

  private answerError(call: DecodedCall, err: unknown, t0: bigint): void {
    if (this.killedByUs || this.over) return;
    if (err instanceof GuestErrno) {
      if (err.limit) this.noteLimit(err.limit);
      const denied = err instanceof Refusal;
      if (denied) this.denials.add({ sig: call.sig.text, op: 'call', path: '', errno: err.errno, reason: err.reason });
      const kind = call.sig.result;
      this.ctx.enc.discard(); // what the handler queued before failing is not sent
      this.ctx.enc.errno(err.errno).result(kind, failValue(kind));
      if (this.recording) this.record(call, failValue(kind), err.errno, err.reason, t0, denied);
      this.channel.finish(this.ctx.enc.flush());
      return;
    }
    if (err instanceof ExitRequested) {
      if (this.recording) this.record(call, undefined, 0, `exit status ${err.status}`, t0);
      this.kill();
      return;
    }
    if (err instanceof ProtocolError) {
      this.fatal('protocol', err);
      return;
    }
    this.fatal('internal', new Error(`handler for ${call.sig.text} failed: ${(err as Error)?.message ?? String(err)}`, { cause: err }));
  }

  private record(call: DecodedCall, result: number | bigint | undefined, errno: number, reason: string | undefined, t0: bigint, denied = false): void {
    const ctx = this.ctx;
    const now = process.hrtime.bigint();
    const d = ctx.decision;
    const rec: CallRecord = {
      type: 'call',
      seq: this.calls,
      t: Number((t0 - this.started) / 1000n),
      sig: call.sig.text,
      args: call.args,
      result,
      toGuest: ctx.bytesToGuest,
      fromGuest: ctx.bytesFromGuest,
      us: Number((now - t0) / 1000n),
    };
    if (ctx.path !== undefined) rec.path = ctx.path;
    if (ctx.path2 !== undefined) rec.path2 = ctx.path2;
    if (ctx.note !== undefined) rec.note = ctx.note;
    if (errno) rec.errno = errno;
    if (d) {
      rec.allowed = d.allow;
      rec.reason = d.reason;
    } else if (reason) rec.reason = reason;
    if (denied) rec.allowed = false;
    this.trace?.write(rec);
    this.hook(rec);
  }

  // ---- the end ----

  private baseResult(): RunResult {
    return {
      outcome: 'killed',
      exitCode: null,
      signal: null,
      signalDescription: null,
      timedOut: this.timedOut,
      limit: this.limitHit,
      stdout: this.stdoutCapture?.take() ?? Buffer.alloc(0),
      stderr: this.stderrCapture?.take() ?? Buffer.alloc(0),
      guestStderr: this.guestStderr,
      calls: this.calls,
      denials: this.denials.count,
      denied: this.denials.kept,
      unknownCalls: this.unknown,
      limitsReached: this.limitsReached(),
      durationMs: Number((process.hrtime.bigint() - this.started) / 1000n) / 1000,
      walls: this.notes.all('walls').flatMap((n) => n.walls),
      vfs: this.session.files.vfs,
    };
  }

  /** The controller's own refusals and those the supervisor reported (reached lines). */
  private limitsReached(): RunResult['limitsReached'] {
    const all = new Map(this.reached);
    for (const { name, value, count } of this.notes.all('reached')) {
      const r = all.get(name) ?? { name, value, calls: 0 };
      all.set(name, { ...r, calls: r.calls + count });
    }
    return [...all.values()];
  }

  private cleanup(): void {
    clearTimeout(this.timer);
    this.abort.abort();
    this.session.files.closeAll();
    this.session.stdin.close();
  }

  private finishEarly(kind: SandboxErrorKind, error: Error): never {
    this.cleanup();
    const result = this.baseResult();
    this.trace?.write({ type: 'footer', outcome: 'killed', exitCode: null, signal: null, calls: 0, denials: 0, durationMs: result.durationMs, error: error.message });
    this.trace?.close();
    const what = kind === 'spawn' ? `cannot start ${this.stock?.binary ?? this.o.executable}: ${error.message}` : error.message;
    throw new SandboxError(kind, what, result, { cause: kind === 'aborted' ? error.cause : error });
  }

  private finish(done: { exitCode?: number; signal?: string; failed?: boolean; message?: string; originalMessage?: string }): RunResult {
    this.over = true;
    // What the guest still owed when it ended (a call it started, a reply to R/Z/M): cut short.
    const owed = this.channel.owed();
    this.channel.close();
    this.cleanup();
    const r = this.baseResult();
    const signal = (done.signal ?? null) as NodeJS.Signals | null;
    if (this.session.requestedExit !== undefined) {
      r.outcome = 'exited';
      r.exitCode = this.session.requestedExit;
    } else if (this.timedOut) {
      r.outcome = 'timeout';
      r.signal = signal;
      r.limit = { name: 'timeout', value: this.limits.timeoutMs };
    } else if (this.limitHit) {
      r.outcome = 'limit';
      r.signal = signal;
    } else if (this.notes.find('limit')) {
      const { name, value } = this.notes.find('limit')!;
      r.outcome = 'limit';
      r.limit = { name, value: name === 'cpu' ? this.limits.cpuSeconds : value };
    } else if (this.heapExhaustion.endedRun(signal) && !this.killedByUs) {
      r.outcome = 'limit';
      r.signal = signal;
      r.limit = { name: 'heap', value: this.limits.heapBytes };
    } else if (signal && !(this.killedByUs && signal === 'SIGKILL')) {
      r.outcome = 'signaled';
      r.signal = signal;
    } else if (done.exitCode !== undefined && !this.killedByUs) {
      r.outcome = 'exited';
      r.exitCode = done.exitCode;
    } else {
      r.signal = signal;
    }
    r.signalDescription = signalDescription(r.signal);
    // A call cut short is a violation however the guest ended; a reply cut short too, unless the
    // guest died of a signal (a crash while answering, e.g. at a bad address, tells more).
    if (!this.ending && !this.killedByUs && owed && (owed.kind === 'call' || !signal)) {
      this.ending = { kind: 'protocol', error: new ProtocolError('truncated', `guest ended in the middle of ${owed.what}`, owed.bytes) };
    }
    const execFailed = this.notes.find('exec-failed');
    if (!this.ending && execFailed) this.ending = { kind: 'spawn', error: new Error(execFailed.reason) };
    const wallFailed = this.notes.find('wall-failed');
    if (!this.ending && wallFailed) {
      this.ending = { kind: 'spawn', error: new Error(`the ${wallFailed.wall} wall could not be set up (${wallFailed.reason}); the guest was not started`) };
    }
    const startFailed = this.notes.find('start-failed');
    if (!this.ending && startFailed) this.ending = { kind: 'spawn', error: new Error(withErrnoName(startFailed.reason, startFailed.errno)) };
    if (!this.ending && done.exitCode === undefined && !signal && (done.failed ?? false)) {
      this.ending = { kind: 'spawn', error: new Error(done.originalMessage ?? done.message ?? 'the guest could not be started') };
    }
    const error = this.ending ? this.describe(this.ending) : undefined;
    this.trace?.write({ type: 'footer', outcome: r.outcome, exitCode: r.exitCode, signal: r.signal, calls: r.calls, denials: r.denials, durationMs: r.durationMs, error: error?.message });
    this.trace?.close();
    if (error) throw error;
    return r;
  }

  private describe(e: { kind: SandboxErrorKind; error: Error }): SandboxError {
    const r = this.baseResult();
    const head =
      e.kind === 'protocol' ? 'guest broke the sandbox protocol'
      : e.kind === 'unsupported-call' ? 'guest made a call the controller refuses to guess at'
      : e.kind === 'aborted' ? 'run aborted'
      : e.kind === 'spawn' ? `cannot start ${this.stock?.binary ?? this.o.executable}`
      : 'controller error';
    let msg = `${head}: ${e.error.message}`;
    if (this.guestStderr.trim()) msg += `\nguest stderr: ${this.guestStderr.trim().slice(0, 2000)}`;
    // An abort's cause is the AbortSignal's own reason.
    return new SandboxError(e.kind, msg, { ...r, outcome: 'killed' }, { cause: e.kind === 'aborted' ? e.error.cause : e.error });
  }
}

/** An abort with its signal's reason in the message and as the cause (the SandboxError's cause too). */
function abortError(signal: AbortSignal, what: string): Error {
  const reason: unknown = signal.reason;
  const text = reason instanceof Error ? reason.message : typeof reason === 'string' ? reason : reason === undefined ? '' : String(reason);
  // AbortController.abort() without a reason gives a DOMException "This operation was aborted": nothing to add.
  const plain = reason instanceof Error && reason.name === 'AbortError';
  return new Error(text && !plain ? `${what} (${text})` : what, { cause: reason });
}

/** A supervisor's reason, with the errno's name when it has one: `...: Resource temporarily unavailable (EAGAIN)`. */
function withErrnoName(text: string, errno: number): string {
  const name = Object.entries(os.constants.errno).find(([, n]) => n === errno)?.[0];
  return errno > 0 && name ? `${text} (${name})` : text;
}

/** The supervisor's --cgroup: required when asked for, off with the walls (or alone), else where the host allows. */
function cgroupMode(w: ControllerOptions['walls']): 'required' | 'off' | 'auto' {
  if (w === false) return 'off';
  if (typeof w === 'object' && w.cgroup !== undefined) return w.cgroup ? 'required' : 'off';
  return 'auto';
}

/** A result for runs that never started. */
function emptyResult(): RunResult {
  return {
    outcome: 'killed', exitCode: null, signal: null, signalDescription: null, timedOut: false, limit: null,
    stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), guestStderr: '', calls: 0, denials: 0, denied: [],
    unknownCalls: {}, limitsReached: [], durationMs: 0, walls: [], vfs: new VirtualFS(),
  };
}

/** The policy operation a reported call stands for (as the Linux handlers would decide it). */
function reportedOp(call: DecodedCall): 'stat' | 'read' {
  const name = call.sig.name;
  if (name === 'open' || name === 'openat') return 'read';
  if (name === 'access') return (Number(call.args[1]) & ACCESS.R_OK) !== 0 ? 'read' : 'stat';
  if (name === 'faccessat' || name === 'faccessat2') return (Number(call.args[2]) & ACCESS.R_OK) !== 0 ? 'read' : 'stat';
  return 'stat';
}

/**
 * Local answers by recipe (see Run.cacheKey), reused for a short while: deciding them needs the
 * built tree, and a run that reuses them lets its guest start before the tree exists. Whatever the
 * host changed since, the supervisor checks at every call (it never follows a symlink, opens only
 * regular files and forwards every doubtful case).
 */
const delegations = new Map<string, { delegation: Delegation | undefined; words: string[]; at: number }>();
const DELEGATION_TTL_MS = 10_000;

/** The supervisor's configuration: its words in one frame. */
function configurationBytes(list: string[]): Buffer {
  return wordFrame(list);
}
