import type { StockProfile } from '../guest/profile.js';
import { addInterpreterFootprint } from '../guest/footprint.js';
import type { Session } from '../kernel/session.js';
import { Policy } from '../policy/policy.js';
import { GuestChannel } from '../protocol/channel.js';
import { ProtocolError } from '../protocol/errors.js';
import { Dispatcher } from './dispatch/dispatcher.js';
import type { HandlerTable } from './dispatch/handler-table.js';
import { SupervisorReports } from './dispatch/reported.js';
import { guestArgv0 } from './launch/command.js';
import { Launch } from './launch/launch.js';
import { routeNotes } from './launch/note-router.js';
import type { GuestTransport } from './launch/spawn.js';
import { RunLimits } from './limits/run-limits.js';
import type { ControllerOptions, Limits } from './options.js';
import {
  abortError,
  describeEnding,
  earlyError,
  endingAfterGuest,
  resultSoFar,
  settleOutcome,
  type GuestExit,
} from './outcome/ending.js';
import { SupervisorAccount } from './outcome/supervisor-account.js';
import { Recorder } from './records/recorder.js';
import type { RunResult, SandboxErrorKind } from './result.js';
import { RunControl } from './run-control.js';
import { buildVfs } from './setup/filesystem.js';
import { buildSession, fileTable } from './setup/session.js';
import { Stdio } from './stdio/streams.js';

/**
 * One run of a guest, phase by phase: set up (filesystem, session, standard streams), launch,
 * the call loop, and the outcome. Each phase is an object of its own (see the folders beside
 * this file); the run holds them and passes what one needs of another.
 */
export class Run {
  private readonly control = new RunControl();
  private readonly limits: RunLimits;
  private readonly launch: Launch;
  private readonly stdio: Stdio;
  private readonly account = new SupervisorAccount();
  private records!: Recorder;
  private calls!: Dispatcher;
  private session!: Session;

  constructor(
    private readonly o: ControllerOptions & { limits: Limits },
    handlers: HandlerTable,
    private readonly stock?: StockProfile,
  ) {
    const started = process.hrtime.bigint();
    this.limits = new RunLimits(o.limits, () => this.control.kill());
    this.stdio = new Stdio(o, this.limits, this.control);
    this.launch = new Launch(o, o.limits, stock, handlers);
    this.launch.startEarly();
    try {
      this.setUp(handlers, started);
    } catch (err) {
      this.launch.abandon();
      throw err;
    }
  }

  /** The guest's filesystem, its session and streams, and where its calls are recorded. */
  private setUp(handlers: HandlerTable, started: bigint): void {
    const { o, stock } = this;
    // The run's own policy: building the tree adds grants to it.
    const policy = o.policy ? o.policy.clone() : new Policy();
    const vfs = o.vfs ?? buildVfs(o, o.limits, policy, stock);
    // A tree the caller built gets the interpreter's own installation too, or it could not start.
    if (o.vfs && stock) addInterpreterFootprint(o.vfs, policy, stock);
    const files = fileTable(o, o.limits, vfs, policy, (d) => this.calls.onDecision(d));
    this.session = buildSession(
      o,
      o.limits,
      stock,
      files,
      this.stdio.streams(),
      this.control.abort.signal,
      this.launch.listsLocally(),
    );
    this.records = new Recorder(o, started);
    this.calls = new Dispatcher(o, handlers, this.limits, this.records, this.control);
  }

  async start(): Promise<RunResult> {
    const o = this.o;
    if (o.signal?.aborted) {
      this.launch.abandon();
      return this.finishEarly('aborted', abortError(o.signal, 'aborted before start'));
    }
    if (this.launch.earlyError) return this.finishEarly('spawn', this.launch.earlyError);
    let cmd: ReturnType<Launch['command']>;
    try {
      this.launch.relayFor(this.session.files.vfs);
      cmd = this.launch.command();
    } catch (err) {
      return this.finishEarly('spawn', err as Error);
    }
    this.records.header({
      executable: this.startedWhat(),
      argv: [guestArgv0(o, this.stock), ...(o.args ?? [])],
      guest: this.stock ? `stock ${this.stock.binary}` : 'sandboxed-pypy',
    });
    let child: GuestTransport;
    try {
      child = this.control.child = this.launch.transport(cmd);
    } catch (err) {
      return this.finishEarly('spawn', err as Error);
    }
    this.connect(child);
    if (this.launch.needsConfiguration()) {
      try {
        child.stdin.write(this.launch.configuration(this.session));
      } catch (err) {
        child.kill();
        await child.done;
        return this.finishEarly('internal', err as Error);
      }
    }
    this.listen(child);
    this.limits.startTimer();
    const onAbort = () => this.control.fatal('aborted', abortError(o.signal!, 'run aborted by its AbortSignal'));
    o.signal?.addEventListener('abort', onAbort, { once: true });
    // A supervisor says how the guest ended before it has finished tearing its namespaces down.
    const done = await (child.told ? Promise.race([child.done, child.told]) : child.done);
    o.signal?.removeEventListener('abort', onAbort);
    return this.finish(done);
  }

  /** The protocol over the guest's pipes: its calls go to the dispatcher, the supervisor's reports beside them. */
  private connect(child: GuestTransport): void {
    const { ioChunkBytes, stallMs } = this.o.limits;
    const reports = new SupervisorReports(this.calls, this.launch, this.session, this.records);
    this.o.control?.attach({ interrupt: (sig) => child.interrupt?.(sig), vfs: this.session.files.vfs });
    const channel = new GuestChannel(
      child.stdout,
      child.stdin,
      (call) => this.calls.dispatch(call),
      (err) => this.control.fatal(err instanceof ProtocolError ? 'protocol' : 'internal', err),
      this.stock !== undefined ? 'supervisor' : this.launch.relayed ? 'relay' : 'guest',
      Math.max(4 << 20, 2 * ioChunkBytes + (1 << 20)),
      (call) => reports.reported(call),
      stallMs,
    );
    this.control.channel = channel;
    this.calls.connect(this.session, channel);
    // Large reads go into one buffer kept for the run, reused once the last answer has been
    // written out (an answer's data is written without copying); small ones are copied anyway.
    let lent: Buffer | undefined;
    this.session.files.readBuffer = (length) => {
      if (length < 16 * 1024 || !channel.drained) return undefined;
      if (!lent || lent.length < length) lent = Buffer.allocUnsafe(Math.max(length, lent ? lent.length : 0));
      return lent.subarray(0, length);
    };
  }

  /** The supervisor's notes to the phases they concern (a malformed one ends the run), and the guest's own stderr. */
  private listen(child: GuestTransport): void {
    const { calls, limits, account } = this;
    routeNotes(child, { calls, limits, account }, (err) =>
      this.control.fatal(err instanceof ProtocolError ? 'protocol' : 'internal', err as Error),
    );
    this.stdio.watchGuestStderr(child.stderr, !this.stock && this.o.limits.heapBytes > 0);
  }

  // ---- the end ----

  /** What was to be started, for messages. */
  private startedWhat(): string {
    return this.stock?.binary ?? this.o.executable!;
  }

  private result(): RunResult {
    return resultSoFar({
      stdio: this.stdio,
      calls: this.calls,
      limits: this.limits,
      account: this.account,
      vfs: this.session.files.vfs,
      started: this.records.started,
    });
  }

  private cleanup(): void {
    this.limits.stopTimer();
    this.control.abort.abort();
    this.session.files.closeAll();
    this.session.stdin.close();
  }

  private finishEarly(kind: SandboxErrorKind, error: Error): never {
    this.cleanup();
    const result = this.result();
    this.records.footer({
      outcome: 'killed',
      exitCode: null,
      signal: null,
      calls: 0,
      denials: 0,
      durationMs: result.durationMs,
      error: error.message,
    });
    throw earlyError(kind, error, result, this.startedWhat());
  }

  private finish(done: GuestExit): RunResult {
    const control = this.control;
    control.over = true;
    // What the guest still owed when it ended (a call it started, a reply to R/Z/M): cut short.
    const owed = control.channel!.owed();
    control.channel!.close();
    this.cleanup();
    const r = this.result();
    // A guest the supervisor ended (a stall it saw) was killed as the controller kills one.
    const killed = control.killedByUs || this.account.endedGuest;
    settleOutcome(r, done, this.session.requestedExit, this.limits, killed);
    control.ending ??= endingAfterGuest(done, owed, control.killedByUs, this.account, this.launch.supervised);
    const error = control.ending
      ? describeEnding(control.ending, this.result(), this.stdio.guestStderr, this.startedWhat())
      : undefined;
    this.records.footer({
      outcome: r.outcome,
      exitCode: r.exitCode,
      signal: r.signal,
      calls: r.calls,
      denials: r.denials,
      durationMs: r.durationMs,
      error: error?.message,
    });
    if (error) throw error;
    return r;
  }
}
