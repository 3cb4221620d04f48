import { ProtocolError } from '../protocol/errors.js';
import { LIMIT_NAMES, LIMITS, NOTE, REACHED_NAMES } from './contract/contract.js';

/**
 * The supervisor's notes (docs/protocol.md, "Notes"): lines on descriptor 3, read like guest
 * input. One parser, used by the controller and by the transport that waits for `exit`.
 */
export type Note =
  | { kind: 'walls'; walls: string[] }
  | { kind: 'limit'; name: SupervisorLimit; value: number }
  | { kind: 'reached'; name: ReachedLimit; value: number; count: number }
  | { kind: 'exec-failed'; reason: string; errno: number }
  | { kind: 'wall-failed'; wall: string; reason: string; errno: number }
  | { kind: 'start-failed'; reason: string; errno: number }
  | { kind: 'exit'; status: number }
  | { kind: 'refused'; call: string; errno: number; count: number; detail: string }
  | { kind: 'refused-more'; count: number }
  | { kind: 'stalled'; part: 'reply' | 'answer'; ms: number };

/** Limits the supervisor enforces by ending the guest, as their notes name them. */
const SUPERVISOR_LIMITS = LIMIT_NAMES;
type SupervisorLimit = (typeof SUPERVISOR_LIMITS)[number];
/** Limits the supervisor enforces by refusing calls, the run going on (`reached NAME VALUE COUNT`). */
const REACHED_LIMITS = REACHED_NAMES;
type ReachedLimit = (typeof REACHED_LIMITS)[number];

/**
 * The most note bytes a run may send: a handful of short lines, and two lines for each kind of
 * refused call the supervisor keeps (at most maxRefusalKinds, each line under 200 bytes; refusals.h).
 */
const MAX_NOTES_BYTES = LIMITS.maxNotesBytes;
const MAX_ERRNO = LIMITS.maxErrno;
/** A wait status: exit code and signal fit in 16 bits. */
const MAX_WAIT_STATUS = 0xffff;

/** Each note: its words after the keyword, and how they become a Note (null: malformed). */
const wallsNote = (rest: string): Note | null =>
  /^[a-z0-9,-]*$/.test(rest) ? { kind: 'walls', walls: rest.split(',').filter(Boolean) } : null;
const count = (text: string | undefined): number =>
  text !== undefined && /^\d{1,20}$/.test(text) ? Number(text) : NaN;
const NOTE_FORMS: Record<(typeof NOTE)[keyof typeof NOTE], (rest: string) => Note | null> = {
  // Names of walls, comma-separated (the list may end with a comma): the child's, then the
  // supervisor's own for the run's caps (walls+).
  [NOTE.walls]: wallsNote,
  [NOTE.wallsPlus]: wallsNote,
  [NOTE.limit]: (rest) => {
    const m = /^([a-z]+) (\d{1,20})$/.exec(rest);
    const name = SUPERVISOR_LIMITS.find((n) => n === m?.[1]);
    const value = m ? Number(m[2]) : NaN;
    return name && Number.isSafeInteger(value) ? { kind: 'limit', name, value } : null;
  },
  [NOTE.reached]: (rest) => {
    const m = /^([a-z-]+) (\d{1,20}) (\d{1,20})$/.exec(rest);
    const name = REACHED_LIMITS.find((n) => n === m?.[1]);
    const [value, count] = m ? [Number(m[2]), Number(m[3])] : [NaN, NaN];
    return name && Number.isSafeInteger(value) && Number.isSafeInteger(count)
      ? { kind: 'reached', name, value, count }
      : null;
  },
  [NOTE.execFailed]: (rest) => {
    const m = /^(.+) (\d{1,4})$/.exec(rest);
    const errno = m ? Number(m[2]) : NaN;
    return m && errno >= 1 && errno <= MAX_ERRNO ? { kind: 'exec-failed', reason: m[1]!, errno } : null;
  },
  // A wall asked for could not be set up (errno 0: the child ended before its walls were up).
  [NOTE.wallFailed]: (rest) => {
    const m = /^([a-z0-9-]+) (.+) (\d{1,4})$/.exec(rest);
    const errno = m ? Number(m[3]) : NaN;
    return m && errno <= MAX_ERRNO ? { kind: 'wall-failed', wall: m[1]!, reason: m[2]!, errno } : null;
  },
  // The run could not start: what failed, and its errno (0: none). The first such line is the most
  // precise (the supervisor may add its own view after its child's).
  [NOTE.startFailed]: (rest) => {
    const m = /^(.+) (\d{1,4})$/.exec(rest);
    const errno = m ? Number(m[2]) : NaN;
    return m && errno <= MAX_ERRNO ? { kind: 'start-failed', reason: m[1]!, errno } : null;
  },
  // A call the supervisor refused (refusals.h): its name, errno, how many times, the decisive
  // argument (or '-'). The same kind may come again with its repeats; counts add up.
  [NOTE.refused]: (rest) => {
    const m = /^([a-z0-9_]{1,32}) (\d{1,4}) (\d{1,20}) ([\x21-\x7e]{1,100})$/.exec(rest);
    const [errno, n] = m ? [Number(m[2]), count(m[3])] : [NaN, NaN];
    return m && errno >= 1 && errno <= MAX_ERRNO && Number.isSafeInteger(n) && n >= 1
      ? { kind: 'refused', call: m[1]!, errno, count: n, detail: m[4]! }
      : null;
  },
  // Refusals of kinds past the supervisor's table, only counted.
  [NOTE.refusedMore]: (rest) => {
    const n = count(rest);
    return Number.isSafeInteger(n) && n >= 1 ? { kind: 'refused-more', count: n } : null;
  },
  // A relayed guest that owed its reply or the reading of its answer past the stall time.
  [NOTE.stalled]: (rest) => {
    const m = /^(reply|answer) (\d{1,10})$/.exec(rest);
    return m ? { kind: 'stalled', part: m[1] as 'reply' | 'answer', ms: Number(m[2]) } : null;
  },
  [NOTE.exit]: (rest) => {
    const status = /^\d{1,5}$/.test(rest) ? Number(rest) : NaN;
    return status <= MAX_WAIT_STATUS ? { kind: 'exit', status } : null;
  },
};

/** One note line (without its newline). Throws ProtocolError for anything but the forms above. */
export function parseNote(line: string): Note {
  const space = line.indexOf(' ');
  const keyword = space < 0 ? line : line.slice(0, space);
  const form = Object.hasOwn(NOTE_FORMS, keyword) ? NOTE_FORMS[keyword as keyof typeof NOTE_FORMS] : undefined;
  // Printable ASCII only: strerror texts are, and a note is shown in messages.
  const note = form && /^[\x20-\x7e]*$/.test(line) ? form(space < 0 ? '' : line.slice(space + 1)) : null;
  if (!note)
    throw new ProtocolError(
      'bad-note',
      `malformed note from the supervisor: ${JSON.stringify(line.slice(0, 200))}`,
      Buffer.from(line, 'latin1'),
    );
  return note;
}

/**
 * Reads notes as their bytes arrive: complete lines are parsed at once and handed back typed, for
 * the reader's owner to act on by kind; a run's notes past MAX_NOTES_BYTES, or a line left
 * unfinished at the end, are protocol errors too.
 */
export class NoteReader {
  private bytes = 0;
  private partial = '';

  /** Adds bytes: the notes they complete. Throws ProtocolError on a malformed line or too many notes. */
  add(chunk: Buffer): Note[] {
    this.bytes += chunk.length;
    if (this.bytes > MAX_NOTES_BYTES)
      throw new ProtocolError('bad-note', `the supervisor sent more than ${MAX_NOTES_BYTES} bytes of notes`, chunk);
    const lines = (this.partial + chunk.toString('latin1')).split('\n');
    this.partial = lines.pop()!;
    return lines.map(parseNote);
  }

  /** The end of the notes: a line without its newline is a note cut short. */
  end(): void {
    if (this.partial !== '')
      throw new ProtocolError(
        'bad-note',
        `note from the supervisor cut short: ${JSON.stringify(this.partial.slice(0, 200))}`,
        Buffer.from(this.partial, 'latin1'),
      );
  }
}
