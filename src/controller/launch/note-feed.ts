import type { Readable } from 'node:stream';
import { NoteReader, type Note } from '../../supervisor/notes.js';

/** What a reader of the notes is told: each chunk's notes, typed, or why the notes are broken. */
export interface NoteListener {
  notes(notes: Note[]): void;
  /** A malformed note, too many, or one cut short at the end (a ProtocolError). */
  broken(err: unknown): void;
}

/**
 * The supervisor's notes of one guest, parsed once as their bytes come and handed to every
 * listener in the order they subscribed: the transport's early end (`exit`), then the run.
 */
export class NoteFeed {
  private readonly reader = new NoteReader();
  private readonly listeners: NoteListener[] = [];

  constructor(stream: Readable) {
    stream.on('data', (b: Buffer) => this.feed(() => this.reader.add(b)));
    stream.on('end', () => this.feed(() => (this.reader.end(), [])));
  }

  subscribe(listener: NoteListener): void {
    this.listeners.push(listener);
  }

  private feed(read: () => Note[]): void {
    let notes: Note[];
    try {
      notes = read();
    } catch (err) {
      for (const l of this.listeners) l.broken(err);
      return;
    }
    if (notes.length) for (const l of this.listeners) l.notes(notes);
  }
}
