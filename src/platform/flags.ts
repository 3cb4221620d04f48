/**
 * Flag and request numbers the controller reads in guests' arguments or writes into their memory,
 * the same on x86-64 and aarch64 Linux (the open() flags differ and sit in each platform's table).
 * test/platform-layouts.test.ts checks them against the C headers.
 */

/** The *at() calls' flags. */
export const AT = { AT_FDCWD: -100, AT_SYMLINK_NOFOLLOW: 0x100, AT_REMOVEDIR: 0x200, AT_EMPTY_PATH: 0x1000 } as const;

/** lseek() whence. */
export const SEEK = { SEEK_SET: 0, SEEK_CUR: 1, SEEK_END: 2 } as const;

/** getrusage() who. */
export const RUSAGE = { RUSAGE_SELF: 0, RUSAGE_CHILDREN: -1, RUSAGE_THREAD: 1 } as const;

/** pathconf() names. */
export const PATHCONF = { _PC_LINK_MAX: 0, _PC_NAME_MAX: 3, _PC_PATH_MAX: 4 } as const;

/** Clock ids. */
export const CLOCK = {
  CLOCK_REALTIME: 0,
  CLOCK_MONOTONIC: 1,
  CLOCK_PROCESS_CPUTIME_ID: 2,
  CLOCK_THREAD_CPUTIME_ID: 3,
  CLOCK_MONOTONIC_RAW: 4,
  CLOCK_REALTIME_COARSE: 5,
  CLOCK_MONOTONIC_COARSE: 6,
  CLOCK_BOOTTIME: 7,
  CLOCK_REALTIME_ALARM: 8,
  CLOCK_BOOTTIME_ALARM: 9,
} as const;

/** access() modes. */
export const ACCESS = { R_OK: 4, W_OK: 2, X_OK: 1, F_OK: 0 } as const;

/** ioctl requests on terminals and descriptors. */
export const IOCTL = {
  TCGETS: 0x5401,
  TCSETS: 0x5402,
  TCSETSW: 0x5403,
  TCSETSF: 0x5404,
  TIOCGPGRP: 0x540f,
  TIOCGWINSZ: 0x5413,
  TIOCSWINSZ: 0x5414,
  FIONREAD: 0x541b,
  FIONCLEX: 0x5450,
  FIOCLEX: 0x5451,
} as const;

/** termios c_iflag bits. */
export const TERMIOS_I = { ISTRIP: 0o40, INLCR: 0o100, IGNCR: 0o200, ICRNL: 0o400, IXON: 0o2000 } as const;
/** termios c_oflag bits. */
export const TERMIOS_O = { OPOST: 0o1, ONLCR: 0o4 } as const;
/** termios c_cflag bits. */
export const TERMIOS_C = { B38400: 0o17, CS8: 0o60, CREAD: 0o200 } as const;
/** termios c_lflag bits. */
export const TERMIOS_L = {
  ISIG: 0o1,
  ICANON: 0o2,
  ECHO: 0o10,
  ECHOE: 0o20,
  ECHOK: 0o40,
  ECHONL: 0o100,
  NOFLSH: 0o200,
  ECHOCTL: 0o1000,
  ECHOKE: 0o4000,
  IEXTEN: 0o100000,
} as const;
/** Indices into termios c_cc. */
export const TERMIOS_V = {
  VINTR: 0,
  VQUIT: 1,
  VERASE: 2,
  VKILL: 3,
  VEOF: 4,
  VTIME: 5,
  VMIN: 6,
  VSTART: 8,
  VSTOP: 9,
  VSUSP: 10,
  VEOL: 11,
  VREPRINT: 12,
  VDISCARD: 13,
  VWERASE: 14,
  VLNEXT: 15,
  VEOL2: 16,
} as const;

/** fcntl() commands. */
export const FCNTL = {
  F_DUPFD: 0,
  F_GETFD: 1,
  F_SETFD: 2,
  F_GETFL: 3,
  F_SETFL: 4,
  F_DUPFD_CLOEXEC: 1030,
  FD_CLOEXEC: 1,
} as const;

/** renameat2() flags. */
export const RENAME = { RENAME_NOREPLACE: 1 } as const;
