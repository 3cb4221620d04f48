import type { Note } from '../../supervisor/notes.js';
import type { Limits } from '../options.js';
import type { LimitHit, LimitName, Outcome, RunResult } from '../result.js';
import { HeapExhaustion } from './heap-exhaustion.js';

type SupervisorLimitNote = Extract<Note, { kind: 'limit' }>;
type ReachedNote = Extract<Note, { kind: 'reached' }>;

/** How a limit ended the run: its outcome, and the limit and signal when they are known. */
export interface LimitEnding {
  outcome: Extract<Outcome, 'timeout' | 'limit'>;
  limit?: LimitHit;
  signal?: NodeJS.Signals | null;
}

/**
 * The controller's side of one run's limits: the limit that ended it (output, stdin, the
 * wall-clock timeout, or one the supervisor noted), the limits calls ran into while the run went
 * on (`limitsReached`), and how a guest's end maps to a limit's outcome. The limits themselves
 * are enforced where the resource is: handlers and the kernel's tables (session.limits), the /tmp
 * quota (vfs), the output and input sinks here (limited-io.ts), the supervisor's caps and walls
 * (command-line.ts).
 */
export class RunLimits {
  /** The limit the controller ended the run for (the first one). */
  hit: LimitHit | null = null;
  timedOut = false;
  /** A sandboxed PyPy's heap cap, recognised from its own stderr. */
  readonly heapExhaustion = new HeapExhaustion();
  /** The first limit the supervisor ended the guest for (a `limit` note). */
  private supervisorEnded: SupervisorLimitNote | undefined;
  /** Limits the supervisor refused calls for (`reached` notes), kept apart and added up at the end. */
  private readonly supervisorReached: ReachedNote[] = [];
  /** Limits the controller's handlers refused calls for. */
  private readonly reached = new Map<string, { name: LimitName; value: number; calls: number }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly values: Limits,
    /** Ends the run (kills the guest). */
    private readonly stop: () => void,
  ) {}

  /** A call refused for a limit (a GuestErrno's `limit`): counted, the run goes on. */
  refusedCall(limit: { name: string; value: number }): void {
    const r = this.reached.get(limit.name) ?? { name: limit.name as LimitName, value: limit.value, calls: 0 };
    r.calls++;
    this.reached.set(limit.name, r);
  }

  /** A limit that ends the run (output, stdin): the first one is reported. */
  reach(limit: LimitHit): void {
    if (!this.hit) this.hit = limit;
    this.stop();
  }

  /** A `limit` or `reached` note of the supervisor. */
  noted(note: SupervisorLimitNote | ReachedNote): void {
    if (note.kind === 'limit') this.supervisorEnded ??= note;
    else this.supervisorReached.push(note);
  }

  startTimer(): void {
    if (this.values.timeoutMs <= 0) return;
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.stop();
    }, this.values.timeoutMs);
  }

  stopTimer(): void {
    clearTimeout(this.timer);
  }

  /** The controller's own refusals and those the supervisor reported (reached lines). */
  limitsReached(): RunResult['limitsReached'] {
    const all = new Map(this.reached);
    for (const { name, value, count } of this.supervisorReached) {
      const r = all.get(name) ?? { name, value, calls: 0 };
      all.set(name, { ...r, calls: r.calls + count });
    }
    return [...all.values()];
  }

  /** Whether a limit ended the guest, which died of `signal` (null: exited or unknown). */
  ending(signal: NodeJS.Signals | null, killedByUs: boolean): LimitEnding | undefined {
    if (this.timedOut) return { outcome: 'timeout', signal, limit: { name: 'timeout', value: this.values.timeoutMs } };
    if (this.hit) return { outcome: 'limit', signal };
    if (this.supervisorEnded) {
      const { name, value } = this.supervisorEnded;
      return { outcome: 'limit', limit: { name, value: name === 'cpu' ? this.values.cpuSeconds : value } };
    }
    if (this.heapExhaustion.endedRun(signal) && !killedByUs)
      return { outcome: 'limit', signal, limit: { name: 'heap', value: this.values.heapBytes } };
    return undefined;
  }
}
