import { Errno, GuestErrno } from '../platform/index.js';
import type { ArgValue } from '../protocol/decoder.js';

/** Decoding of guest-supplied values: never trusted, never an assertion. */

export function fdArg(v: ArgValue): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0x7fffffff)
    throw new GuestErrno(Errno.EBADF, `bad descriptor ${String(v)}`);
  return v;
}

/** A C `int` argument (flags, modes, whence): wider values are refused. */
export function intArg(v: ArgValue, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < -0x80000000 || v > 0xffffffff)
    throw new GuestErrno(Errno.EINVAL, `bad ${what} ${String(v)}`);
  return v;
}

/** A byte count: negative (a size_t above SSIZE_MAX) is EINVAL; a huge one is served up to `cap`. */
export function countArg(v: ArgValue, cap: number): number {
  if (typeof v === 'bigint') {
    if (v < 0n) throw new GuestErrno(Errno.EINVAL, `negative count ${v}`);
    return cap;
  }
  if (v < 0 || !Number.isInteger(v)) throw new GuestErrno(Errno.EINVAL, `negative count ${v}`);
  return Math.min(v, cap);
}

/** A file offset (off_t); values beyond 2^53 are reported as overflow rather than rounded. */
export function offsetArg(v: ArgValue): number {
  if (typeof v !== 'number' || !Number.isInteger(v))
    throw new GuestErrno(Errno.EOVERFLOW, `offset ${String(v)} out of range`);
  return v;
}

export function ptrArg(v: ArgValue): bigint {
  return typeof v === 'bigint' ? v : BigInt(v);
}
