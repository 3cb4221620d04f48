import { ProtocolError } from '../../protocol/errors.js';
import type { Note } from '../../supervisor/notes.js';
import type { Dispatcher } from '../dispatch/dispatcher.js';
import type { RunLimits } from '../limits/run-limits.js';
import type { SupervisorAccount } from '../outcome/supervisor-account.js';
import { NoteFeed } from './note-feed.js';
import type { GuestTransport } from './spawn.js';

/** The phases of a run that the supervisor's notes concern. */
export interface NoteReaders {
  calls: Dispatcher;
  limits: RunLimits;
  account: SupervisorAccount;
}

/**
 * The supervisor's notes, read as they come (src/supervisor/notes.ts parses them), each handed to
 * the phase it concerns. A malformed note, or a failure acting on one (an error of the onCall hook,
 * say), goes to `broken`, which ends the run.
 */
export function routeNotes(child: GuestTransport, to: NoteReaders, broken: (err: unknown) => void): void {
  const feed = child.noteFeed ?? (child.notes ? new NoteFeed(child.notes) : undefined);
  feed?.subscribe({
    notes: (notes) => {
      try {
        notes.forEach((n) => routeNote(n, to));
      } catch (err) {
        broken(err);
      }
    },
    broken,
  });
}

function routeNote(note: Note, to: NoteReaders): void {
  switch (note.kind) {
    case 'refused':
    case 'refused-more':
      return to.calls.refused(note);
    case 'limit':
    case 'reached':
      return to.limits.noted(note);
    case 'walls':
      return to.account.wallsInForce(note);
    case 'exec-failed':
    case 'wall-failed':
    case 'start-failed':
      return to.account.startFailed(note);
    case 'stalled':
      return to.account.guestStalled(note);
    case 'exit':
      return; // the transport's: it settles `told` (launch/spawn.ts)
    default: {
      const unknown: never = note;
      throw new ProtocolError('bad-note', `note of no known kind: ${JSON.stringify(unknown)}`);
    }
  }
}
