/**
 * The kernel's `struct termios` (36 bytes on Linux: four flag words, c_line, 19 control
 * characters): the settings a guest reads and writes with TCGETS/TCSETS, and what the
 * controller's line discipline (line-discipline.ts) acts on.
 */

import { LP64_LINUX, NCCS } from '../platform/structs.js';
import { TERMIOS_C, TERMIOS_I, TERMIOS_L, TERMIOS_O, TERMIOS_V } from '../platform/flags.js';

const T = LP64_LINUX.termios;
const CC = T.offsets.c_cc;

export const TERMIOS_BYTES = T.size;

/** c_iflag */
export const I = TERMIOS_I;
/** c_lflag */
export const L = TERMIOS_L;
/** Indices into c_cc */
export const V = {
  INTR: TERMIOS_V.VINTR,
  QUIT: TERMIOS_V.VQUIT,
  ERASE: TERMIOS_V.VERASE,
  KILL: TERMIOS_V.VKILL,
  EOF: TERMIOS_V.VEOF,
  TIME: TERMIOS_V.VTIME,
  MIN: TERMIOS_V.VMIN,
  START: TERMIOS_V.VSTART,
  STOP: TERMIOS_V.VSTOP,
  SUSP: TERMIOS_V.VSUSP,
  EOL: TERMIOS_V.VEOL,
  WERASE: TERMIOS_V.VWERASE,
  LNEXT: TERMIOS_V.VLNEXT,
  EOL2: TERMIOS_V.VEOL2,
} as const;

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
  b.writeUInt32LE(I.ICRNL | I.IXON, T.offsets.c_iflag);
  b.writeUInt32LE(TERMIOS_O.OPOST | TERMIOS_O.ONLCR, T.offsets.c_oflag);
  b.writeUInt32LE(TERMIOS_C.B38400 | TERMIOS_C.CS8 | TERMIOS_C.CREAD, T.offsets.c_cflag);
  b.writeUInt32LE(L.ISIG | L.ICANON | L.ECHO | L.ECHOE | L.ECHOK | L.ECHOCTL | L.ECHOKE | L.IEXTEN, T.offsets.c_lflag);
  // ^C ^\ DEL ^U ^D, VTIME 0, VMIN 1, VSWTC 0, ^Q ^S ^Z, VEOL 0, ^R ^O ^W ^V
  const cc = [3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22];
  cc.forEach((v, k) => (b[CC + k] = v));
  return b;
}

export function parseTermios(b: Buffer): Termios {
  if (b.length < TERMIOS_BYTES) throw new RangeError(`termios: ${b.length} bytes, expected ${TERMIOS_BYTES}`);
  const o = T.offsets;
  return {
    iflag: b.readUInt32LE(o.c_iflag),
    oflag: b.readUInt32LE(o.c_oflag),
    cflag: b.readUInt32LE(o.c_cflag),
    lflag: b.readUInt32LE(o.c_lflag),
    cc: Uint8Array.from(b.subarray(CC, CC + NCCS)),
  };
}

/** Whether byte `c` is control character `v` (0 is _POSIX_VDISABLE: the character is off). */
export function isChar(t: Termios, v: number, c: number): boolean {
  const x = t.cc[v]!;
  return x !== 0 && x === c;
}
