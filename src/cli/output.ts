import type { Writable } from 'node:stream';

/** Terminal styling for the CLI; off with --nocolor, NO_COLOR, or when the stream is not a terminal. */
export function styler(enabled: boolean) {
  const wrap = (code: string) => (s: string) => (enabled ? `\x1b[${code}m${s}\x1b[0m` : s);
  return { dim: wrap('2'), red: wrap('31'), yellow: wrap('33'), cyan: wrap('36'), bold: wrap('1') };
}

/**
 * Guest bytes shown on a terminal: control characters other than newline, tab, carriage return
 * and backspace are escaped, so a guest cannot drive the terminal with escape sequences.
 */
export function escapeControls(data: Buffer): Buffer {
  let clean = true;
  for (const b of data) {
    if ((b < 0x20 && b !== 0x0a && b !== 0x09 && b !== 0x0d && b !== 0x08) || b === 0x7f) {
      clean = false;
      break;
    }
  }
  if (clean) return data;
  const out: number[] = [];
  for (const b of data) {
    if ((b < 0x20 && b !== 0x0a && b !== 0x09 && b !== 0x0d && b !== 0x08) || b === 0x7f) {
      for (const c of `\\x${b.toString(16).padStart(2, '0')}`) out.push(c.charCodeAt(0));
    } else out.push(b);
  }
  return Buffer.from(out);
}

/**
 * Writes a command's whole output; 'closed' when its reader went away first (`| head`: EPIPE), which
 * the command reports as a program killed by SIGPIPE would (141), quietly.
 */
export function printAll(stream: Writable, text: string): Promise<'written' | 'closed'> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) =>
      err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED' ? resolve('closed') : reject(err);
    stream.once('error', onError);
    stream.write(text, (err) => {
      if (err) return onError(err);
      stream.off('error', onError);
      resolve('written');
    });
  });
}

export function guestWriter(
  stream: Writable,
  raw: boolean,
  color: ((s: string) => string) | null,
): (data: Buffer) => void {
  return (data) => {
    if (stream.destroyed || stream.writableEnded) return; // a reader that went away (EPIPE): the run is being ended
    const shown = raw ? data : escapeControls(data);
    stream.write(color ? color(shown.toString('utf8')) : shown);
  };
}
