import type { GuestChannel } from '../../protocol/channel.js';
import { ProtocolError } from '../../protocol/errors.js';
import { VirtualFS } from '../../vfs/vfs.js';
import type { Dispatcher } from '../dispatch/dispatcher.js';
import type { GuestEnd } from '../launch/spawn.js';
import type { RunLimits } from '../limits/run-limits.js';
import { SandboxError, type RunResult, type SandboxErrorKind } from '../result.js';
import type { Ending } from '../run-control.js';
import type { Stdio } from '../stdio/streams.js';
import type { SupervisorAccount } from './supervisor-account.js';

/** How the guest ended as its transport saw it (`originalMessage`: the start error's own text). */
export type GuestExit = GuestEnd & { originalMessage?: string };

function signalDescription(sig: string | null): string | null {
  if (!sig) return null;
  const descriptions: Record<string, string> = {
    SIGSEGV: 'Segmentation fault',
    SIGABRT: 'Aborted',
    SIGKILL: 'Killed',
    SIGBUS: 'Bus error',
    SIGILL: 'Illegal instruction',
    SIGFPE: 'Floating point exception',
    SIGTERM: 'Terminated',
    SIGSYS: 'Bad system call',
    SIGXCPU: 'CPU time limit exceeded',
    SIGPIPE: 'Broken pipe',
    SIGINT: 'Interrupt',
    SIGHUP: 'Hangup',
    SIGTRAP: 'Trace/breakpoint trap',
  };
  return descriptions[sig] ?? sig;
}

/**
 * The outcome of a run the guest ended (or the controller, without an error): an exit it asked
 * for, a limit, a signal, its exit status; `killed` when the controller killed it for nothing else.
 */
export function settleOutcome(
  r: RunResult,
  done: GuestExit,
  requestedExit: number | undefined,
  limits: RunLimits,
  killedByUs: boolean,
): void {
  const signal = (done.signal ?? null) as NodeJS.Signals | null;
  const byLimit = requestedExit === undefined ? limits.ending(signal, killedByUs) : undefined;
  if (requestedExit !== undefined) {
    r.outcome = 'exited';
    r.exitCode = requestedExit;
  } else if (byLimit) {
    Object.assign(r, byLimit);
  } else if (signal && !(killedByUs && signal === 'SIGKILL')) {
    r.outcome = 'signaled';
    r.signal = signal;
  } else if (done.exitCode !== undefined && !killedByUs) {
    r.outcome = 'exited';
    r.exitCode = done.exitCode;
  } else {
    r.signal = signal;
  }
  r.signalDescription = signalDescription(r.signal);
}

/**
 * Why a run that got as far as its guest ends in an error, when the controller did not already
 * end it for one: a call or reply cut short, the supervisor's account of a failed start, a
 * supervisor that ended before it started the guest, or a guest that could not be started at all.
 */
export function endingAfterGuest(
  done: GuestExit,
  owed: ReturnType<GuestChannel['owed']>,
  killedByUs: boolean,
  account: SupervisorAccount,
  supervised: boolean,
): Ending | undefined {
  const signal = done.signal ?? null;
  // A call cut short is a violation however the guest ended; a reply cut short too, unless the
  // guest died of a signal (a crash while answering, e.g. at a bad address, tells more).
  if (!killedByUs && owed && (owed.kind === 'call' || !signal)) {
    return {
      kind: 'protocol',
      error: new ProtocolError('truncated', `guest ended in the middle of ${owed.what}`, owed.bytes),
    };
  }
  const stalled = account.stallError();
  if (stalled) return { kind: 'protocol', error: stalled };
  const failed = account.startFailure();
  if (failed) return { kind: 'spawn', error: failed };
  // The supervisor tells the walls in force before the guest's program runs: without that note,
  // what ended was the supervisor (killed, crashed, or not the supervisor at all), and its exit
  // status is not the guest's.
  if (supervised && !killedByUs && account.walls.length === 0) {
    const how = signal ? `killed by ${signal}` : `exit status ${done.exitCode ?? 'unknown'}`;
    return { kind: 'spawn', error: new Error(`the supervisor ended (${how}) before starting the guest`) };
  }
  if (done.exitCode === undefined && !signal && (done.failed ?? false)) {
    return {
      kind: 'spawn',
      error: new Error(done.originalMessage ?? done.message ?? 'the guest could not be started'),
    };
  }
  return undefined;
}

/** The error a run ends with: its kind's heading, the reason, and the guest's own stderr. */
export function describeEnding(e: Ending, result: RunResult, guestStderr: string, started: string): SandboxError {
  const head =
    e.kind === 'protocol'
      ? 'guest broke the sandbox protocol'
      : e.kind === 'unsupported-call'
        ? 'guest made a call the controller refuses to guess at'
        : e.kind === 'aborted'
          ? 'run aborted'
          : e.kind === 'spawn'
            ? `cannot start ${started}`
            : 'controller error';
  let msg = `${head}: ${e.error.message}`;
  if (guestStderr.trim()) msg += `\nguest stderr: ${guestStderr.trim().slice(0, 2000)}`;
  // An abort's cause is the AbortSignal's own reason.
  return new SandboxError(
    e.kind,
    msg,
    { ...result, outcome: 'killed' },
    { cause: e.kind === 'aborted' ? e.error.cause : e.error },
  );
}

/** The error of a run that ended before its guest started (`started`: what was to be started). */
export function earlyError(kind: SandboxErrorKind, error: Error, result: RunResult, started: string): SandboxError {
  const what = kind === 'spawn' ? `cannot start ${started}: ${error.message}` : error.message;
  return new SandboxError(kind, what, result, { cause: kind === 'aborted' ? error.cause : error });
}

/** An abort with its signal's reason in the message and as the cause (the SandboxError's cause too). */
export function abortError(signal: AbortSignal, what: string): Error {
  const reason: unknown = signal.reason;
  const text =
    reason instanceof Error
      ? reason.message
      : typeof reason === 'string'
        ? reason
        : reason === undefined
          ? ''
          : String(reason);
  // AbortController.abort() without a reason gives a DOMException "This operation was aborted": nothing to add.
  const plain = reason instanceof Error && reason.name === 'AbortError';
  return new Error(text && !plain ? `${what} (${text})` : what, { cause: reason });
}

/** A result for runs that never started. */
export function emptyResult(): RunResult {
  return {
    outcome: 'killed',
    exitCode: null,
    signal: null,
    signalDescription: null,
    timedOut: false,
    limit: null,
    stdout: Buffer.alloc(0),
    stderr: Buffer.alloc(0),
    guestStderr: '',
    calls: 0,
    denials: 0,
    denied: [],
    unknownCalls: {},
    limitsReached: [],
    durationMs: 0,
    walls: [],
    vfs: new VirtualFS(),
  };
}

/** The phases a result is read from. */
export interface ResultSources {
  stdio: Stdio;
  calls: Dispatcher;
  limits: RunLimits;
  account: SupervisorAccount;
  vfs: VirtualFS;
  /** When the run started (hrtime). */
  started: bigint;
}

/** Everything the run has to show so far, as if the controller had killed the guest (settleOutcome says otherwise). */
export function resultSoFar(s: ResultSources): RunResult {
  return {
    outcome: 'killed',
    exitCode: null,
    signal: null,
    signalDescription: null,
    timedOut: s.limits.timedOut,
    limit: s.limits.hit,
    stdout: s.stdio.stdoutCapture?.take() ?? Buffer.alloc(0),
    stderr: s.stdio.stderrCapture?.take() ?? Buffer.alloc(0),
    guestStderr: s.stdio.guestStderr,
    calls: s.calls.calls,
    denials: s.calls.denials.count,
    denied: s.calls.denials.kept,
    unknownCalls: s.calls.unknown,
    limitsReached: s.limits.limitsReached(),
    durationMs: Number((process.hrtime.bigint() - s.started) / 1000n) / 1000,
    walls: [...s.account.walls],
    vfs: s.vfs,
  };
}
