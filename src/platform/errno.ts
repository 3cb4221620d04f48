/** Linux errno values (identical on x86-64 and aarch64). */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  ENOEXEC: 8,
  EBADF: 9,
  ECHILD: 10,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ENOTTY: 25,
  EFBIG: 27,
  ENOSPC: 28,
  ESPIPE: 29,
  EROFS: 30,
  EMLINK: 31,
  EPIPE: 32,
  ERANGE: 34,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ELOOP: 40,
  ENODATA: 61,
  EOVERFLOW: 75,
  ENOTSOCK: 88,
  EOPNOTSUPP: 95,
  EAFNOSUPPORT: 97,
  ENOTSUP: 95,
} as const;
type ErrnoName = keyof typeof Errno;

const NAMES = new Map<number, string>();
for (const [k, v] of Object.entries(Errno)) if (!NAMES.has(v)) NAMES.set(v, k);

export function errnoName(e: number): string {
  return NAMES.get(e) ?? `errno ${e}`;
}

/** An errno-carrying failure inside the controller, turned into `E errno` + failure result for the guest. */
export class GuestErrno extends Error {
  override readonly name = 'GuestErrno';
  constructor(
    readonly errno: number,
    readonly reason: string,
    /** Set when a limit refused the call (reported in the run result). */
    readonly limit?: { name: string; value: number },
  ) {
    // An answer to the guest, thrown on the per-call path: no stack trace to capture.
    const depth = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(`${errnoName(errno)}: ${reason}`);
    Error.stackTraceLimit = depth;
  }
}

/** Node's `err.code` strings from host filesystem calls, mapped to guest errnos. */
export function errnoFromNode(err: unknown): number {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code && code in Errno) return Errno[code as ErrnoName];
  return Errno.EIO;
}
