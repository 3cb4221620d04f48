import os from 'node:os';
import { ProtocolError } from '../../protocol/errors.js';
import type { Note } from '../../supervisor/notes.js';

type StartFailure = Extract<Note, { kind: 'exec-failed' | 'wall-failed' | 'start-failed' }>;

/** A supervisor's reason, with the errno's name when it has one: `...: Resource temporarily unavailable (EAGAIN)`. */
function withErrnoName(text: string, errno: number): string {
  const name = Object.entries(os.constants.errno).find(([, n]) => n === errno)?.[0];
  return errno > 0 && name ? `${text} (${name})` : text;
}

/**
 * What the supervisor's notes told of the run besides limits and refusals: the walls in force,
 * and why the guest could not be started (the first note of each kind).
 */
export class SupervisorAccount {
  readonly walls: string[] = [];
  private readonly failures = new Map<StartFailure['kind'], StartFailure>();
  private stall: Extract<Note, { kind: 'stalled' }> | undefined;

  wallsInForce(note: Extract<Note, { kind: 'walls' }>): void {
    this.walls.push(...note.walls);
  }

  startFailed(note: StartFailure): void {
    if (!this.failures.has(note.kind)) this.failures.set(note.kind, note);
  }

  /** The relay ended a guest that owed its part past the stall time (the first such note counts). */
  guestStalled(note: Extract<Note, { kind: 'stalled' }>): void {
    this.stall ??= note;
  }

  /** Whether the supervisor ended the guest itself (its exit status is then not the guest's). */
  get endedGuest(): boolean {
    return this.stall !== undefined;
  }

  /** The relay's stall as the controller's own stall check words it: a protocol error of the guest's. */
  stallError(): ProtocolError | undefined {
    const s = this.stall;
    if (!s) return undefined;
    const what = s.part === 'reply' ? 'sent none of its reply to the supervisor' : 'read none of its answer';
    return new ProtocolError('stalled', `guest stalled: it ${what} for ${s.ms} ms (the stall time)`);
  }

  /** Why the guest was not started, as the supervisor said: exec first, then a wall, then the start itself. */
  startFailure(): Error | undefined {
    const failures = this.failures;
    const exec = failures.get('exec-failed');
    if (exec) return new Error(exec.reason);
    const wall = failures.get('wall-failed') as Extract<StartFailure, { kind: 'wall-failed' }> | undefined;
    if (wall) return new Error(`the ${wall.wall} wall could not be set up (${wall.reason}); the guest was not started`);
    const start = failures.get('start-failed');
    if (start) return new Error(withErrnoName(start.reason, start.errno));
    return undefined;
  }
}
