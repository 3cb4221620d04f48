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
  /** L size records: the getdents64 records of the directory this open returns. */
  listing: 0x4c, // 'L'
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
  /** the most note bytes a run may send. */
  maxNotesBytes: 4096,
  /** how long a report may wait for the next forwarded call. */
  reportDelayMs: 10,
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
} as const;

/** Limits that end the guest (`limit NAME VALUE`). */
export const LIMIT_NAMES = ['heap', 'cpu', 'memory'] as const;
/** Limits that refuse calls, the run going on (`reached NAME VALUE COUNT`). */
export const REACHED_NAMES = ['open-files', 'tasks'] as const;

/** Every value above by its name in the C header, for test/contract.test.ts. */
export const C_NAMES: Readonly<Record<string, number | string>> = {
  CMD_READ: 82,
  CMD_STRING: 90,
  CMD_WRITE: 87,
  CMD_ERRNO: 69,
  CMD_VIRTUAL: 86,
  CMD_LISTING: 76,
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
  MAX_NOTES_BYTES: 4096,
  REPORT_DELAY_MS: 10,
  NOTE_WALLS: 'walls',
  NOTE_WALLS_PLUS: 'walls+',
  NOTE_LIMIT: 'limit',
  NOTE_REACHED: 'reached',
  NOTE_EXEC_FAILED: 'exec-failed',
  NOTE_WALL_FAILED: 'wall-failed',
  NOTE_START_FAILED: 'start-failed',
  NOTE_EXIT: 'exit',
  LIMIT_NAME_HEAP: 'heap',
  LIMIT_NAME_CPU: 'cpu',
  LIMIT_NAME_MEMORY: 'memory',
  REACHED_NAME_OPEN_FILES: 'open-files',
  REACHED_NAME_TASKS: 'tasks',
};
