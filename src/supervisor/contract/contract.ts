// Generated from src/supervisor/contract/contract.json by scripts/gen-contract.mjs (npm run gen:contract): do not edit.

/** Commands of the controller after a forwarded call, as bytes. */
export const COMMAND = {
  /** R ptr size: guest memory, after a status byte. */
  read: 0x52, // 'R'
  /** Z ptr maxlen: a NUL-terminated guest string, after a status byte and its u64 length. */
  string: 0x5a, // 'Z'
  /** W ptr size bytes: into guest memory. */
  write: 0x57, // 'W'
  /** E i32: the errno of a result of -1. */
  errno: 0x45, // 'E'
  /** V target flags: a virtual placeholder installed in the guest; answered with a status byte and its i64 number. */
  virtual: 0x56, // 'V'
  /** L size records: the getdents64 records of the directory this open returns (relayed guests: the dirent records of the stream opendir returns). */
  listing: 0x4c, // 'L'
  /** H fd vdev hostdev ino len path: relayed guests, the read-only host file this open returns; the supervisor answers its read, lseek, fstat64 and close. */
  relayHostFile: 0x48, // 'H'
  /** Final: i i64: the call's result. */
  result: 0x69, // 'i'
  /** Final: o flags len path: a host file opened by the supervisor as the call's result. */
  openHost: 0x6f, // 'o'
  /** Final: m flags pathlen contentlen stat path content: a sealed copy of a small read-only file as the call's result. */
  sealedCopy: 0x6d, // 'm'
  /** Final: C: the call runs natively (descriptor calls only). */
  continue: 0x43, // 'C'
} as const;

/** The first byte of the supervisor's reply to R, Z and V. */
export const STATUS = {
  ok: 0x2b, // '+'
  fault: 0x21, // '!'
} as const;

/** A report starts with this byte where a call's signature length would be. */
export const REPORT_MARKER = 0;

/** Report grants besides an index; on the wire a u16, 65536 plus the code. */
export const GRANT = {
  /** answered without a grant (identity, working directory, randomness, standard streams). */
  none: -1,
  /** a name missing from a fully known directory of the controller's tree. */
  missingName: -2,
  /** the controller's last answer to the same question, repeated. */
  repeatedAnswer: -3,
  /** a directory, symlink or small file of the controller's own tree, from what it handed over. */
  ownTree: -4,
} as const;

/** Limits both sides keep. */
export const LIMITS = {
  /** virtual descriptors are numbered from here up; real ones stay below. */
  virtualFdBase: 512,
  /** the largest R, W, Z, m transfer through the supervisor's buffer. */
  maxChunk: 1048576,
  /** the largest listing sent with an open (L). */
  maxListing: 262144,
  /** the largest word frame (configuration, start message, go message). */
  maxFrame: 1048576,
  /** the kernel's errno range. */
  maxErrno: 4095,
  /** delegated host grants (--grant). */
  maxGrants: 256,
  /** virtual symlinks handed over (--link). */
  maxLinks: 256,
  /** fully known directories (--dir). */
  maxDirs: 256,
  /** other names in those directories (--name). */
  maxNames: 1024,
  /** host mounts with their device numbers (--host-dev). */
  maxHostDevs: 512,
  /** the descriptor the notes arrive on. */
  noteFd: 3,
  /** the most note bytes a run may send (a handful of lines, two for each kind of refusal kept). */
  maxNotesBytes: 16384,
  /** how long a report may wait for the next forwarded call. */
  reportDelayMs: 10,
  /** names shown as missing in directories that refuse unknown names (--absent). */
  maxAbsent: 64,
  /** kinds of refusal the supervisor keeps (more are only counted). */
  maxRefusalKinds: 32,
} as const;

/** The notes' keywords (the first word of each line). */
export const NOTE = {
  /** walls LIST: the walls in force, comma-separated. */
  walls: 'walls',
  /** walls+ LIST: walls the supervisor adds for the run's caps. */
  wallsPlus: 'walls+',
  /** limit NAME VALUE: a limit ended the guest. */
  limit: 'limit',
  /** reached NAME VALUE COUNT: a limit refused something, the run went on. */
  reached: 'reached',
  /** exec-failed REASON ERRNO: the program could not be executed. */
  execFailed: 'exec-failed',
  /** wall-failed WALL REASON ERRNO: a wall asked for could not be set up. */
  wallFailed: 'wall-failed',
  /** start-failed REASON ERRNO: the run could not start. */
  startFailed: 'start-failed',
  /** exit STATUS: the guest's wait status. */
  exit: 'exit',
  /** refused NAME ERRNO COUNT DETAIL: a call the sandbox forbids, refused (the repeats of a kind come again at the end). */
  refused: 'refused',
  /** refused-more COUNT: refusals of kinds past the supervisor's table, only counted. */
  refusedMore: 'refused-more',
  /** stalled PART MS: a relayed guest owed PART (reply: the path the relay asked it for; answer: reading its answer) for MS milliseconds, the stall time; the supervisor ended the run. */
  stalled: 'stalled',
} as const;

/** Limits that end the guest (`limit NAME VALUE`). */
export const LIMIT_NAMES = ['heap', 'cpu', 'memory'] as const;
/** Limits that refuse calls, the run going on (`reached NAME VALUE COUNT`). */
export const REACHED_NAMES = ['open-files', 'tasks'] as const;

/** Signatures the relay answers itself, by group (the controller turns each group on). */
export const RELAY = {
  clockCalls: {
    time: 'time(p)i',
    gettimeofday: 'gettimeofday(pp)i',
    clockGettime: 'clock_gettime(ip)i',
  },
  pathCalls: {
    stat64: 'stat64(pp)i',
    lstat64: 'lstat64(pp)i',
    access: 'access(pi)i',
    open: 'open(pii)i',
  },
  dirCalls: {
    opendir: 'opendir(p)p',
    readdir: 'readdir(p)p',
    rewinddir: 'rewinddir(p)v',
    closedir: 'closedir(p)i',
    fdopendir: 'fdopendir(i)p',
  },
  fileCalls: {
    open: 'open(pii)i',
    read: 'read(ipi)i',
    lseek: 'lseek(iii)i',
    fstat64: 'fstat64(ip)i',
    close: 'close(i)i',
  },
} as const;

/** The command server's frames: a byte, a u32 little-endian length, that many bytes. */
export const FRAME = {
  /** client: the invocation (NUL-terminated words: cwd, umask, tty bits, rows, columns, argc, the arguments, then the environment). */
  request: 0x51, // 'Q'
  /** client: bytes read from its standard input. */
  input: 0x49, // 'I'
  /** client: its standard input ended. */
  inputEnd: 0x44, // 'D'
  /** client: a signal it received (u8 number), for the run to take as its own. */
  signal: 0x53, // 'S'
  /** client: its terminal's new size (u16 rows, u16 columns). */
  resize: 0x57, // 'W'
  /** client: writing to its descriptor (u8: 1 or 2) failed (EPIPE). */
  outputClosed: 0x43, // 'C'
  /** worker: bytes for the client's standard output. */
  stdout: 0x4f, // 'O'
  /** worker: bytes for the client's standard error. */
  stderr: 0x45, // 'E'
  /** worker: echo for the terminal on the client's standard input. */
  echo: 0x54, // 'T'
  /** worker: read standard input (again). */
  wantInput: 0x4e, // 'N'
  /** worker: stop reading standard input until asked again (its buffer is full). */
  holdInput: 0x48, // 'H'
  /** worker: the terminal on standard input raw (u8 1) or as it was (u8 0). */
  raw: 0x52, // 'R'
  /** worker or server: the command ended (u8 code, u8 signal number or 0). */
  exit: 0x58, // 'X'
} as const;

/** Every value above by its name in the C header, for test/contract.test.ts. */
export const C_NAMES: Readonly<Record<string, number | string>> = {
  CMD_READ: 82,
  CMD_STRING: 90,
  CMD_WRITE: 87,
  CMD_ERRNO: 69,
  CMD_VIRTUAL: 86,
  CMD_LISTING: 76,
  CMD_RELAY_HOST_FILE: 72,
  CMD_RESULT: 105,
  CMD_OPEN_HOST: 111,
  CMD_SEALED_COPY: 109,
  CMD_CONTINUE: 67,
  STATUS_OK: 43,
  STATUS_FAULT: 33,
  REPORT_MARKER: 0,
  GRANT_NONE: -1,
  GRANT_MISSING_NAME: -2,
  GRANT_REPEATED_ANSWER: -3,
  GRANT_OWN_TREE: -4,
  VIRTUAL_FD_BASE: 512,
  MAX_CHUNK: 1048576,
  MAX_LISTING: 262144,
  MAX_FRAME: 1048576,
  MAX_ERRNO: 4095,
  MAX_GRANTS: 256,
  MAX_LINKS: 256,
  MAX_DIRS: 256,
  MAX_NAMES: 1024,
  MAX_HOST_DEVS: 512,
  NOTE_FD: 3,
  MAX_NOTES_BYTES: 16384,
  REPORT_DELAY_MS: 10,
  MAX_ABSENT: 64,
  MAX_REFUSAL_KINDS: 32,
  FRAME_REQUEST: 81,
  FRAME_INPUT: 73,
  FRAME_INPUT_END: 68,
  FRAME_SIGNAL: 83,
  FRAME_RESIZE: 87,
  FRAME_OUTPUT_CLOSED: 67,
  FRAME_STDOUT: 79,
  FRAME_STDERR: 69,
  FRAME_ECHO: 84,
  FRAME_WANT_INPUT: 78,
  FRAME_HOLD_INPUT: 72,
  FRAME_RAW: 82,
  FRAME_EXIT: 88,
  NOTE_WALLS: 'walls',
  NOTE_WALLS_PLUS: 'walls+',
  NOTE_LIMIT: 'limit',
  NOTE_REACHED: 'reached',
  NOTE_EXEC_FAILED: 'exec-failed',
  NOTE_WALL_FAILED: 'wall-failed',
  NOTE_START_FAILED: 'start-failed',
  NOTE_EXIT: 'exit',
  NOTE_REFUSED: 'refused',
  NOTE_REFUSED_MORE: 'refused-more',
  NOTE_STALLED: 'stalled',
  LIMIT_NAME_HEAP: 'heap',
  LIMIT_NAME_CPU: 'cpu',
  LIMIT_NAME_MEMORY: 'memory',
  REACHED_NAME_OPEN_FILES: 'open-files',
  REACHED_NAME_TASKS: 'tasks',
  RELAY_CLOCK_CALLS_TIME: 'time(p)i',
  RELAY_CLOCK_CALLS_GETTIMEOFDAY: 'gettimeofday(pp)i',
  RELAY_CLOCK_CALLS_CLOCK_GETTIME: 'clock_gettime(ip)i',
  RELAY_PATH_CALLS_STAT64: 'stat64(pp)i',
  RELAY_PATH_CALLS_LSTAT64: 'lstat64(pp)i',
  RELAY_PATH_CALLS_ACCESS: 'access(pi)i',
  RELAY_PATH_CALLS_OPEN: 'open(pii)i',
  RELAY_DIR_CALLS_OPENDIR: 'opendir(p)p',
  RELAY_DIR_CALLS_READDIR: 'readdir(p)p',
  RELAY_DIR_CALLS_REWINDDIR: 'rewinddir(p)v',
  RELAY_DIR_CALLS_CLOSEDIR: 'closedir(p)i',
  RELAY_DIR_CALLS_FDOPENDIR: 'fdopendir(i)p',
  RELAY_FILE_CALLS_OPEN: 'open(pii)i',
  RELAY_FILE_CALLS_READ: 'read(ipi)i',
  RELAY_FILE_CALLS_LSEEK: 'lseek(iii)i',
  RELAY_FILE_CALLS_FSTAT64: 'fstat64(ip)i',
  RELAY_FILE_CALLS_CLOSE: 'close(i)i',
};

/** One row of the fate table (src/supervisor/native/syscalls.h says what each fate means). */
export interface SyscallRow {
  name: string;
  fate: 'ALLOW' | 'FWD' | 'FD' | 'FDN' | 'FDX' | 'DUP' | 'MMAP' | 'CLONE' | 'SELF' | 'PRCTL' | 'EXEC' | 'NEWFD' | 'ERR' | 'REFUSE';
  /** Argument kinds (p pointer, s path sent along, l 64-bit integer, i C int) of a call the controller may see. */
  kinds?: string;
  /** The errno name of an ERR or REFUSE row (0: accepted, nothing done). */
  errno?: string;
  /** The supervisor may answer it from what it was handed (--local). */
  local?: true;
  /** Answered for the guest's own standard streams (--stdio-local). */
  stdio?: true;
}

/** Every system call a stock interpreter may make, in the filter's order; any other is refused with ENOSYS. */
export const SYSCALLS: readonly SyscallRow[] = [
  { name: 'brk', fate: 'ALLOW' },
  { name: 'mmap', fate: 'MMAP' },
  { name: 'munmap', fate: 'ALLOW' },
  { name: 'mprotect', fate: 'ALLOW' },
  { name: 'mremap', fate: 'ALLOW' },
  { name: 'madvise', fate: 'ALLOW' },
  { name: 'msync', fate: 'ALLOW' },
  { name: 'mincore', fate: 'ALLOW' },
  { name: 'mlock', fate: 'ALLOW' },
  { name: 'munlock', fate: 'ALLOW' },
  { name: 'membarrier', fate: 'ALLOW' },
  { name: 'futex', fate: 'ALLOW' },
  { name: 'set_robust_list', fate: 'ALLOW' },
  { name: 'get_robust_list', fate: 'ALLOW' },
  { name: 'set_tid_address', fate: 'ALLOW' },
  { name: 'rseq', fate: 'ALLOW' },
  { name: 'arch_prctl', fate: 'ALLOW' },
  { name: 'sched_yield', fate: 'ALLOW' },
  { name: 'sched_getaffinity', fate: 'ALLOW' },
  { name: 'sched_getparam', fate: 'ALLOW' },
  { name: 'sched_getscheduler', fate: 'ALLOW' },
  { name: 'sched_get_priority_max', fate: 'ALLOW' },
  { name: 'sched_get_priority_min', fate: 'ALLOW' },
  { name: 'getpriority', fate: 'ALLOW' },
  { name: 'rt_sigaction', fate: 'ALLOW' },
  { name: 'rt_sigprocmask', fate: 'ALLOW' },
  { name: 'rt_sigreturn', fate: 'ALLOW' },
  { name: 'rt_sigpending', fate: 'ALLOW' },
  { name: 'rt_sigtimedwait', fate: 'ALLOW' },
  { name: 'rt_sigsuspend', fate: 'ALLOW' },
  { name: 'sigaltstack', fate: 'ALLOW' },
  { name: 'restart_syscall', fate: 'ALLOW' },
  { name: 'pause', fate: 'ALLOW' },
  { name: 'exit', fate: 'ALLOW' },
  { name: 'exit_group', fate: 'ALLOW' },
  { name: 'getpid', fate: 'ALLOW' },
  { name: 'getppid', fate: 'ALLOW' },
  { name: 'gettid', fate: 'ALLOW' },
  { name: 'getpgrp', fate: 'ALLOW' },
  { name: 'getpgid', fate: 'ALLOW' },
  { name: 'getsid', fate: 'ALLOW' },
  { name: 'getrusage', fate: 'ALLOW' },
  { name: 'times', fate: 'ALLOW' },
  { name: 'clock_gettime', fate: 'ALLOW' },
  { name: 'clock_getres', fate: 'ALLOW' },
  { name: 'gettimeofday', fate: 'ALLOW' },
  { name: 'time', fate: 'ALLOW' },
  { name: 'nanosleep', fate: 'ALLOW' },
  { name: 'clock_nanosleep', fate: 'ALLOW' },
  { name: 'getitimer', fate: 'ALLOW' },
  { name: 'setitimer', fate: 'ALLOW' },
  { name: 'alarm', fate: 'ALLOW' },
  { name: 'timer_create', fate: 'ALLOW' },
  { name: 'timer_settime', fate: 'ALLOW' },
  { name: 'timer_gettime', fate: 'ALLOW' },
  { name: 'timer_getoverrun', fate: 'ALLOW' },
  { name: 'timer_delete', fate: 'ALLOW' },
  { name: 'getcpu', fate: 'ALLOW' },
  { name: 'poll', fate: 'ALLOW' },
  { name: 'ppoll', fate: 'ALLOW' },
  { name: 'select', fate: 'ALLOW' },
  { name: 'pselect6', fate: 'ALLOW' },
  { name: 'epoll_ctl', fate: 'ALLOW' },
  { name: 'epoll_wait', fate: 'ALLOW' },
  { name: 'epoll_pwait', fate: 'ALLOW' },
  { name: 'timerfd_settime', fate: 'ALLOW' },
  { name: 'timerfd_gettime', fate: 'ALLOW' },
  { name: 'getrlimit', fate: 'ALLOW' },
  { name: 'wait4', fate: 'ALLOW' },
  { name: 'waitid', fate: 'ALLOW' },
  { name: 'umask', fate: 'ALLOW' },
  { name: 'capget', fate: 'ALLOW' },
  { name: 'clone', fate: 'CLONE' },
  { name: 'kill', fate: 'SELF' },
  { name: 'tgkill', fate: 'SELF' },
  { name: 'rt_sigqueueinfo', fate: 'SELF' },
  { name: 'prlimit64', fate: 'SELF' },
  { name: 'prctl', fate: 'PRCTL' },
  { name: 'epoll_create', fate: 'NEWFD' },
  { name: 'epoll_create1', fate: 'NEWFD' },
  { name: 'eventfd', fate: 'NEWFD' },
  { name: 'eventfd2', fate: 'NEWFD' },
  { name: 'pipe', fate: 'NEWFD' },
  { name: 'pipe2', fate: 'NEWFD' },
  { name: 'timerfd_create', fate: 'NEWFD' },
  { name: 'signalfd4', fate: 'NEWFD' },
  { name: 'memfd_create', fate: 'NEWFD' },
  { name: 'read', fate: 'FDN', kinds: 'ipl' },
  { name: 'write', fate: 'FDN', kinds: 'ipl' },
  { name: 'pread64', fate: 'FDN', kinds: 'ipll' },
  { name: 'pwrite64', fate: 'FDN', kinds: 'ipll' },
  { name: 'readv', fate: 'FDN', kinds: 'ipi' },
  { name: 'writev', fate: 'FDN', kinds: 'ipi' },
  { name: 'preadv', fate: 'FDN', kinds: 'ipill' },
  { name: 'pwritev', fate: 'FDN', kinds: 'ipill' },
  { name: 'preadv2', fate: 'FDN', kinds: 'ipilli' },
  { name: 'pwritev2', fate: 'FDN', kinds: 'ipilli' },
  { name: 'lseek', fate: 'FDN', kinds: 'ili', stdio: true },
  { name: 'fstat', fate: 'FD', kinds: 'ip', local: true, stdio: true },
  { name: 'close', fate: 'FDX', kinds: 'i', local: true },
  { name: 'fcntl', fate: 'FD', kinds: 'iil' },
  { name: 'ioctl', fate: 'FD', kinds: 'iip', stdio: true },
  { name: 'dup', fate: 'DUP', kinds: 'i' },
  { name: 'dup2', fate: 'DUP', kinds: 'ii' },
  { name: 'dup3', fate: 'DUP', kinds: 'iii' },
  { name: 'fsync', fate: 'FDN', kinds: 'i' },
  { name: 'fdatasync', fate: 'FDN', kinds: 'i' },
  { name: 'ftruncate', fate: 'FDN', kinds: 'il' },
  { name: 'fadvise64', fate: 'FDN', kinds: 'illi' },
  { name: 'getdents64', fate: 'FDN', kinds: 'ipi', local: true },
  { name: 'fchdir', fate: 'FD', kinds: 'i' },
  { name: 'fallocate', fate: 'FDN', kinds: 'iill' },
  { name: 'fchmod', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'fchown', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'fstatfs', fate: 'ERR', errno: 'ENOSYS' },
  { name: 'fgetxattr', fate: 'ERR', errno: 'ENOTSUP' },
  { name: 'flistxattr', fate: 'ERR', errno: 'ENOTSUP' },
  { name: 'flock', fate: 'ERR', errno: '0' },
  { name: 'open', fate: 'FWD', kinds: 'sii', local: true },
  { name: 'openat', fate: 'FWD', kinds: 'isii', local: true },
  { name: 'creat', fate: 'FWD', kinds: 'si' },
  { name: 'stat', fate: 'FWD', kinds: 'sp', local: true },
  { name: 'lstat', fate: 'FWD', kinds: 'sp', local: true },
  { name: 'newfstatat', fate: 'FWD', kinds: 'ispi', local: true, stdio: true },
  { name: 'access', fate: 'FWD', kinds: 'si', local: true },
  { name: 'faccessat', fate: 'FWD', kinds: 'isi', local: true },
  { name: 'faccessat2', fate: 'FWD', kinds: 'isii', local: true },
  { name: 'readlink', fate: 'FWD', kinds: 'spi', local: true },
  { name: 'readlinkat', fate: 'FWD', kinds: 'ispi', local: true },
  { name: 'mkdir', fate: 'FWD', kinds: 'si' },
  { name: 'mkdirat', fate: 'FWD', kinds: 'isi' },
  { name: 'rmdir', fate: 'FWD', kinds: 's' },
  { name: 'unlink', fate: 'FWD', kinds: 's' },
  { name: 'unlinkat', fate: 'FWD', kinds: 'isi' },
  { name: 'rename', fate: 'FWD', kinds: 'ss' },
  { name: 'renameat', fate: 'FWD', kinds: 'isis' },
  { name: 'renameat2', fate: 'FWD', kinds: 'isisi' },
  { name: 'symlink', fate: 'FWD', kinds: 'ss' },
  { name: 'symlinkat', fate: 'FWD', kinds: 'sis' },
  { name: 'chdir', fate: 'FWD', kinds: 's' },
  { name: 'getcwd', fate: 'FWD', kinds: 'pl', local: true },
  { name: 'truncate', fate: 'FWD', kinds: 'sl' },
  { name: 'utime', fate: 'FWD', kinds: 'pp' },
  { name: 'utimes', fate: 'FWD', kinds: 'pp' },
  { name: 'utimensat', fate: 'FWD', kinds: 'ippi' },
  { name: 'futimesat', fate: 'FWD', kinds: 'ipp' },
  { name: 'chmod', fate: 'FWD', kinds: 'pi' },
  { name: 'fchmodat', fate: 'FWD', kinds: 'ipi' },
  { name: 'chown', fate: 'FWD', kinds: 'pii' },
  { name: 'lchown', fate: 'FWD', kinds: 'pii' },
  { name: 'fchownat', fate: 'FWD', kinds: 'ipiii' },
  { name: 'statfs', fate: 'FWD', kinds: 'pp' },
  { name: 'getxattr', fate: 'FWD', kinds: 'pppl' },
  { name: 'lgetxattr', fate: 'FWD', kinds: 'pppl' },
  { name: 'listxattr', fate: 'FWD', kinds: 'ppl' },
  { name: 'llistxattr', fate: 'FWD', kinds: 'ppl' },
  { name: 'uname', fate: 'FWD', kinds: 'p', local: true },
  { name: 'getuid', fate: 'FWD', kinds: '', local: true },
  { name: 'geteuid', fate: 'FWD', kinds: '', local: true },
  { name: 'getgid', fate: 'FWD', kinds: '', local: true },
  { name: 'getegid', fate: 'FWD', kinds: '', local: true },
  { name: 'getresuid', fate: 'FWD', kinds: 'ppp' },
  { name: 'getresgid', fate: 'FWD', kinds: 'ppp' },
  { name: 'getgroups', fate: 'FWD', kinds: 'ip' },
  { name: 'getrandom', fate: 'FWD', kinds: 'pli', local: true },
  { name: 'sysinfo', fate: 'FWD', kinds: 'p' },
  { name: 'execve', fate: 'EXEC' },
  { name: 'execveat', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'fork', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'vfork', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'clone3', fate: 'ERR', errno: 'ENOSYS' },
  { name: 'socket', fate: 'REFUSE', errno: 'EACCES' },
  { name: 'socketpair', fate: 'REFUSE', errno: 'EACCES' },
  { name: 'connect', fate: 'REFUSE', errno: 'EACCES' },
  { name: 'accept', fate: 'REFUSE', errno: 'EACCES' },
  { name: 'accept4', fate: 'REFUSE', errno: 'EACCES' },
  { name: 'bind', fate: 'REFUSE', errno: 'EACCES' },
  { name: 'listen', fate: 'REFUSE', errno: 'EACCES' },
  { name: 'sendto', fate: 'REFUSE', errno: 'EACCES' },
  { name: 'recvfrom', fate: 'REFUSE', errno: 'EACCES' },
  { name: 'sendmsg', fate: 'REFUSE', errno: 'EACCES' },
  { name: 'recvmsg', fate: 'REFUSE', errno: 'EACCES' },
  { name: 'sendmmsg', fate: 'REFUSE', errno: 'EACCES' },
  { name: 'recvmmsg', fate: 'REFUSE', errno: 'EACCES' },
  { name: 'shutdown', fate: 'REFUSE', errno: 'EACCES' },
  { name: 'getsockname', fate: 'REFUSE', errno: 'EACCES' },
  { name: 'getpeername', fate: 'REFUSE', errno: 'EACCES' },
  { name: 'setsockopt', fate: 'REFUSE', errno: 'EACCES' },
  { name: 'getsockopt', fate: 'REFUSE', errno: 'EACCES' },
  { name: 'link', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'linkat', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'mknod', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'mknodat', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'ptrace', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'process_vm_readv', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'process_vm_writev', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'kcmp', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'pidfd_open', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'pidfd_getfd', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'pidfd_send_signal', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'tkill', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'mount', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'umount2', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'pivot_root', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'chroot', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'swapon', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'swapoff', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'reboot', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'sethostname', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'setdomainname', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'init_module', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'finit_module', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'delete_module', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'kexec_load', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'kexec_file_load', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'bpf', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'perf_event_open', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'keyctl', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'add_key', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'request_key', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'unshare', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'setns', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'userfaultfd', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'io_uring_setup', fate: 'ERR', errno: 'ENOSYS' },
  { name: 'io_uring_enter', fate: 'ERR', errno: 'ENOSYS' },
  { name: 'io_uring_register', fate: 'ERR', errno: 'ENOSYS' },
  { name: 'io_setup', fate: 'ERR', errno: 'ENOSYS' },
  { name: 'fanotify_init', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'inotify_init', fate: 'ERR', errno: 'ENOSYS' },
  { name: 'inotify_init1', fate: 'ERR', errno: 'ENOSYS' },
  { name: 'name_to_handle_at', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'open_by_handle_at', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'quotactl', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'acct', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'syslog', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'setuid', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'setgid', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'setreuid', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'setregid', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'setresuid', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'setresgid', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'setfsuid', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'setfsgid', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'setgroups', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'setpgid', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'setsid', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'setpriority', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'capset', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'ioperm', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'iopl', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'modify_ldt', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'personality', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'seccomp', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'settimeofday', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'clock_settime', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'adjtimex', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'clock_adjtime', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'sched_setaffinity', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'sched_setscheduler', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'sched_setparam', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'migrate_pages', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'move_pages', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'mbind', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'set_mempolicy', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'vhangup', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'msgget', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'semget', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'shmget', fate: 'REFUSE', errno: 'EPERM' },
  { name: 'mq_open', fate: 'ERR', errno: 'ENOSYS' },
  { name: 'close_range', fate: 'ERR', errno: 'ENOSYS' },
  { name: 'openat2', fate: 'ERR', errno: 'ENOSYS' },
  { name: 'statx', fate: 'ERR', errno: 'ENOSYS' },
  { name: 'copy_file_range', fate: 'ERR', errno: 'EXDEV' },
  { name: 'sendfile', fate: 'ERR', errno: 'ENOSYS' },
  { name: 'splice', fate: 'ERR', errno: 'EINVAL' },
  { name: 'tee', fate: 'ERR', errno: 'EINVAL' },
  { name: 'vmsplice', fate: 'ERR', errno: 'EINVAL' },
  { name: 'fsetxattr', fate: 'ERR', errno: 'ENOTSUP' },
  { name: 'setxattr', fate: 'ERR', errno: 'ENOTSUP' },
  { name: 'lsetxattr', fate: 'ERR', errno: 'ENOTSUP' },
  { name: 'removexattr', fate: 'ERR', errno: 'ENOTSUP' },
  { name: 'lremovexattr', fate: 'ERR', errno: 'ENOTSUP' },
  { name: 'fremovexattr', fate: 'ERR', errno: 'ENOTSUP' },
  { name: 'sync', fate: 'ERR', errno: '0' },
  { name: 'syncfs', fate: 'ERR', errno: '0' },
];
