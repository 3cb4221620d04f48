/**
 * The kernel's `struct termios` (36 bytes on Linux: four flag words, c_line, 19 control
 * characters): the settings a guest reads and writes with TCGETS/TCSETS, and what the
 * controller's line discipline (line-discipline.ts) acts on.
 */

export const TERMIOS_BYTES = 36;

/** c_iflag */
export const I = { ISTRIP: 0o40, INLCR: 0o100, IGNCR: 0o200, ICRNL: 0o400, IXON: 0o2000 } as const;
/** c_lflag */
export const L = { ISIG: 0o1, ICANON: 0o2, ECHO: 0o10, ECHOE: 0o20, ECHOK: 0o40, ECHONL: 0o100, NOFLSH: 0o200, ECHOCTL: 0o1000, ECHOKE: 0o4000, IEXTEN: 0o100000 } as const;
/** Indices into c_cc */
export const V = { INTR: 0, QUIT: 1, ERASE: 2, KILL: 3, EOF: 4, TIME: 5, MIN: 6, START: 8, STOP: 9, SUSP: 10, EOL: 11, WERASE: 14, LNEXT: 15, EOL2: 16 } as const;

export interface Termios {
  iflag: number;
  oflag: number;
  cflag: number;
  lflag: number;
  cc: Uint8Array;
}

/** A sane cooked terminal, as a new Linux pty starts: what a guest told it has a terminal sees first. */
export function defaultTermios(): Buffer {
  const b = Buffer.alloc(TERMIOS_BYTES);
  b.writeUInt32LE(0o2400, 0); // ICRNL | IXON
  b.writeUInt32LE(0o5, 4); // OPOST | ONLCR
  b.writeUInt32LE(0o277, 8); // B38400 | CS8 | CREAD
  b.writeUInt32LE(0o105073, 12); // ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN
  const cc = [3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22];
  cc.forEach((v, k) => (b[17 + k] = v));
  return b;
}

export function parseTermios(b: Buffer): Termios {
  if (b.length < TERMIOS_BYTES) throw new RangeError(`termios: ${b.length} bytes, expected ${TERMIOS_BYTES}`);
  return { iflag: b.readUInt32LE(0), oflag: b.readUInt32LE(4), cflag: b.readUInt32LE(8), lflag: b.readUInt32LE(12), cc: Uint8Array.from(b.subarray(17, 36)) };
}

/** Whether byte `c` is control character `v` (0 is _POSIX_VDISABLE: the character is off). */
export function isChar(t: Termios, v: number, c: number): boolean {
  const x = t.cc[v]!;
  return x !== 0 && x === c;
}
