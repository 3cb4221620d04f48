import { CallContext, CONTINUE, Refusal, InjectFileCopy, InjectHostFile, type Answer } from '../../handlers/context.js';
import { ExitRequested } from '../../handlers/pypy/process.js';
import type { Session } from '../../kernel/session.js';
import { Errno, GuestErrno } from '../../platform/index.js';
import type { Decision } from '../../policy/policy.js';
import type { GuestChannel } from '../../protocol/channel.js';
import type { DecodedCall } from '../../protocol/decoder.js';
import { ProtocolError } from '../../protocol/errors.js';
import type { ResultKind } from '../../protocol/signature.js';
import type { Note } from '../../supervisor/notes.js';
import type { RunLimits } from '../limits/run-limits.js';
import type { ControllerOptions } from '../options.js';
import { answeredRecord, callRecord, micros } from '../records/call-record.js';
import type { Recorder } from '../records/recorder.js';
import type { RunControl } from '../run-control.js';
import { DenialLog } from './denials.js';
import type { HandlerTable } from './handler-table.js';

/** What a failed call returns beside its errno: -1, a null pointer, or nothing. */
function failValue(kind: ResultKind): number | bigint | undefined {
  return kind === 'p' ? 0n : kind === 'v' ? undefined : -1;
}

/**
 * The call loop: each call the channel decodes is looked up by signature in the handler table,
 * its handler runs, and its answer (or errno) goes back on the channel and into the records.
 * Calls the supervisor answered or refused itself are counted here too (reported.ts, refused).
 */
export class Dispatcher {
  /** Calls made so far, however answered. */
  calls = 0;
  readonly denials = new DenialLog();
  readonly unknown: Record<string, number> = {};
  /** The signature of the call being answered (denials are filed under it). */
  currentSig = '';
  private ctx: CallContext | undefined;

  constructor(
    private readonly o: Pick<ControllerOptions, 'unknownCalls'>,
    private readonly handlers: HandlerTable,
    private readonly limits: RunLimits,
    private readonly records: Recorder,
    private readonly control: RunControl,
  ) {}

  /** The channel the answers go on, once the guest is started. */
  connect(session: Session, channel: GuestChannel): void {
    this.ctx = new CallContext(session, channel);
  }

  /** A policy decision made for the current call (every one is recorded; a refusal is a denial). */
  onDecision(d: Decision): void {
    if (this.ctx) this.ctx.decision = d;
    if (d.allow) return;
    this.denials.decision(this.currentSig, d);
  }

  dispatch(call: DecodedCall): void {
    this.calls++;
    const ctx = this.ctx!;
    ctx.reset();
    ctx.strings = call.strings;
    const sig = call.sig.text;
    this.currentSig = sig;
    const t0 = this.records.on ? process.hrtime.bigint() : 0n;
    const handler = this.handlers.bySig[sig];
    if (handler === undefined) {
      this.unknown[sig] = (this.unknown[sig] ?? 0) + 1;
      if (this.o.unknownCalls === 'fail') {
        this.control.fatal(
          'unsupported-call',
          new Error(`guest called ${sig}, which this controller does not implement (unknownCalls: 'fail')`),
        );
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

  /** A call the supervisor refused (a `refused` note): a denial, a call, a line of the trace. */
  refused(note: Extract<Note, { kind: 'refused' | 'refused-more' }>): void {
    const refusal = this.denials.refusal(note);
    this.calls += note.count;
    if (refusal === undefined || !this.records.on) return;
    const now = process.hrtime.bigint();
    this.records.call(
      callRecord(refusal, { seq: this.calls, t: micros(this.records.started, now), us: 0 }, refusal.facts),
    );
  }

  private answer(call: DecodedCall, value: Answer, t0: bigint): void {
    if (this.control.stopped) return;
    const ctx = this.ctx!;
    const channel = this.control.channel!;
    const kind = call.sig.result;
    if (value === CONTINUE) {
      this.record(call, undefined, 0, 'runs natively', t0);
      channel.finish(ctx.enc.continueNative().flush());
      return;
    }
    if (value instanceof InjectHostFile) {
      this.record(call, undefined, 0, undefined, t0);
      channel.finish(ctx.enc.openAndReturn(value.hostPath, value.cloexec).flush());
      return;
    }
    if (value instanceof InjectFileCopy) {
      this.record(call, undefined, 0, undefined, t0);
      channel.finish(ctx.enc.fileCopy(value.vpath, value.stat, value.content, value.cloexec).flush());
      return;
    }
    try {
      ctx.enc.result(kind, kind === 'v' ? undefined : (value ?? 0));
    } catch (err) {
      this.control.fatal(
        'internal',
        new Error(`handler for ${call.sig.text} returned ${String(value)}, not a ${kind} result`, { cause: err }),
      );
      return;
    }
    this.record(call, kind === 'v' ? undefined : (value ?? 0), 0, undefined, t0);
    channel.finish(ctx.enc.flush());
  }

  private answerError(call: DecodedCall, err: unknown, t0: bigint): void {
    if (this.control.stopped) return;
    const ctx = this.ctx!;
    if (err instanceof GuestErrno) {
      if (err.limit) this.limits.refusedCall(err.limit);
      const denied = err instanceof Refusal;
      if (denied) this.denials.add({ sig: call.sig.text, op: 'call', path: '', errno: err.errno, reason: err.reason });
      const kind = call.sig.result;
      ctx.enc.discard(); // what the handler queued before failing is not sent
      ctx.enc.errno(err.errno).result(kind, failValue(kind));
      this.record(call, failValue(kind), err.errno, err.reason, t0, denied);
      this.control.channel!.finish(ctx.enc.flush());
      return;
    }
    if (err instanceof ExitRequested) {
      this.record(call, undefined, 0, `exit status ${err.status}`, t0);
      this.control.kill();
      return;
    }
    if (err instanceof ProtocolError) {
      this.control.fatal('protocol', err);
      return;
    }
    this.control.fatal(
      'internal',
      new Error(`handler for ${call.sig.text} failed: ${(err as Error)?.message ?? String(err)}`, { cause: err }),
    );
  }

  private record(
    call: DecodedCall,
    result: number | bigint | undefined,
    errno: number,
    reason: string | undefined,
    t0: bigint,
    denied = false,
  ): void {
    if (!this.records.on) return;
    this.records.call(
      answeredRecord(
        call,
        this.ctx!,
        { seq: this.calls, started: this.records.started, t0 },
        result,
        errno,
        reason,
        denied,
      ),
    );
  }
}
