/* Generated from src/supervisor/contract/contract.json by scripts/gen-contract.mjs (npm run gen:contract): do not edit. */
#ifndef PYPY_BOX_CONTRACT_H
#define PYPY_BOX_CONTRACT_H

/* Commands of the controller after a forwarded call (final ones end the call). */
#define CMD_READ 'R' /* R ptr size: guest memory, after a status byte */
#define CMD_STRING 'Z' /* Z ptr maxlen: a NUL-terminated guest string, after a status byte and its u64 length */
#define CMD_WRITE 'W' /* W ptr size bytes: into guest memory */
#define CMD_ERRNO 'E' /* E i32: the errno of a result of -1 */
#define CMD_VIRTUAL 'V' /* V target flags: a virtual placeholder installed in the guest; answered with a status byte and its i64 number */
#define CMD_LISTING 'L' /* L size records: the getdents64 records of the directory this open returns (relayed guests: the dirent records of the stream opendir returns) */
#define CMD_RELAY_HOST_FILE 'H' /* H fd vdev hostdev ino len path: relayed guests, the read-only host file this open returns; the supervisor answers its read, lseek, fstat64 and close */
#define CMD_RESULT 'i' /* final: i i64: the call's result */
#define CMD_OPEN_HOST 'o' /* final: o flags len path: a host file opened by the supervisor as the call's result */
#define CMD_SEALED_COPY 'm' /* final: m flags pathlen contentlen stat path content: a sealed copy of a small read-only file as the call's result */
#define CMD_CONTINUE 'C' /* final: C: the call runs natively (descriptor calls only) */

/* The first byte of the supervisor's reply to R, Z and V. */
#define STATUS_OK '+'
#define STATUS_FAULT '!'

/* A report starts with this byte where a call's signature length would be. */
#define REPORT_MARKER 0

/* Report grants besides an index; on the wire a u16, 65536 plus the code (GRANT_WIRE). */
#define GRANT_NONE (-1) /* answered without a grant (identity, working directory, randomness, standard streams) */
#define GRANT_MISSING_NAME (-2) /* a name missing from a fully known directory of the controller's tree */
#define GRANT_REPEATED_ANSWER (-3) /* the controller's last answer to the same question, repeated */
#define GRANT_OWN_TREE (-4) /* a directory, symlink or small file of the controller's own tree, from what it handed over */
#define GRANT_WIRE(g) ((uint16_t)((g) < 0 ? 65536 + (g) : (g)))

/* Limits both sides keep. */
#define VIRTUAL_FD_BASE 512 /* virtual descriptors are numbered from here up; real ones stay below */
#define MAX_CHUNK 1048576 /* the largest R, W, Z, m transfer through the supervisor's buffer */
#define MAX_LISTING 262144 /* the largest listing sent with an open (L) */
#define MAX_FRAME 1048576 /* the largest word frame (configuration, start message, go message) */
#define MAX_ERRNO 4095 /* the kernel's errno range */
#define MAX_GRANTS 256 /* delegated host grants (--grant) */
#define MAX_LINKS 256 /* virtual symlinks handed over (--link) */
#define MAX_DIRS 256 /* fully known directories (--dir) */
#define MAX_NAMES 1024 /* other names in those directories (--name) */
#define MAX_HOST_DEVS 512 /* host mounts with their device numbers (--host-dev) */
#define NOTE_FD 3 /* the descriptor the notes arrive on */
#define MAX_NOTES_BYTES 16384 /* the most note bytes a run may send (a handful of lines, two for each kind of refusal kept) */
#define REPORT_DELAY_MS 10 /* how long a report may wait for the next forwarded call */
#define MAX_ABSENT 64 /* names shown as missing in directories that refuse unknown names (--absent) */
#define MAX_REFUSAL_KINDS 32 /* kinds of refusal the supervisor keeps (more are only counted) */

/* The notes' keywords (the first word of each line) and the limit names they carry. */
#define NOTE_WALLS "walls" /* walls LIST: the walls in force, comma-separated */
#define NOTE_WALLS_PLUS "walls+" /* walls+ LIST: walls the supervisor adds for the run's caps */
#define NOTE_LIMIT "limit" /* limit NAME VALUE: a limit ended the guest */
#define NOTE_REACHED "reached" /* reached NAME VALUE COUNT: a limit refused something, the run went on */
#define NOTE_EXEC_FAILED "exec-failed" /* exec-failed REASON ERRNO: the program could not be executed */
#define NOTE_WALL_FAILED "wall-failed" /* wall-failed WALL REASON ERRNO: a wall asked for could not be set up */
#define NOTE_START_FAILED "start-failed" /* start-failed REASON ERRNO: the run could not start */
#define NOTE_EXIT "exit" /* exit STATUS: the guest's wait status */
#define NOTE_REFUSED "refused" /* refused NAME ERRNO COUNT DETAIL: a call the sandbox forbids, refused (the repeats of a kind come again at the end) */
#define NOTE_REFUSED_MORE "refused-more" /* refused-more COUNT: refusals of kinds past the supervisor's table, only counted */
#define NOTE_STALLED "stalled" /* stalled PART MS: a relayed guest owed PART (reply: the path the relay asked it for; answer: reading its answer) for MS milliseconds, the stall time; the supervisor ended the run */
#define LIMIT_NAME_HEAP "heap"
#define LIMIT_NAME_CPU "cpu"
#define LIMIT_NAME_MEMORY "memory"
#define REACHED_NAME_OPEN_FILES "open-files"
#define REACHED_NAME_TASKS "tasks"

/* Signatures the relay answers itself, by group (the controller turns each group on). */
#define RELAY_CLOCK_CALLS_TIME "time(p)i"
#define RELAY_CLOCK_CALLS_GETTIMEOFDAY "gettimeofday(pp)i"
#define RELAY_CLOCK_CALLS_CLOCK_GETTIME "clock_gettime(ip)i"
#define RELAY_PATH_CALLS_STAT64 "stat64(pp)i"
#define RELAY_PATH_CALLS_LSTAT64 "lstat64(pp)i"
#define RELAY_PATH_CALLS_ACCESS "access(pi)i"
#define RELAY_PATH_CALLS_OPEN "open(pii)i"
#define RELAY_DIR_CALLS_OPENDIR "opendir(p)p"
#define RELAY_DIR_CALLS_READDIR "readdir(p)p"
#define RELAY_DIR_CALLS_REWINDDIR "rewinddir(p)v"
#define RELAY_DIR_CALLS_CLOSEDIR "closedir(p)i"
#define RELAY_DIR_CALLS_FDOPENDIR "fdopendir(i)p"
#define RELAY_FILE_CALLS_OPEN "open(pii)i"
#define RELAY_FILE_CALLS_READ "read(ipi)i"
#define RELAY_FILE_CALLS_LSEEK "lseek(iii)i"
#define RELAY_FILE_CALLS_FSTAT64 "fstat64(ip)i"
#define RELAY_FILE_CALLS_CLOSE "close(i)i"

/* The command server's frames: a byte, a u32 little-endian length, that many bytes. */
#define FRAME_REQUEST 'Q' /* client: the invocation (NUL-terminated words: cwd, umask, tty bits, rows, columns, argc, the arguments, then the environment) */
#define FRAME_INPUT 'I' /* client: bytes read from its standard input */
#define FRAME_INPUT_END 'D' /* client: its standard input ended */
#define FRAME_SIGNAL 'S' /* client: a signal it received (u8 number), for the run to take as its own */
#define FRAME_RESIZE 'W' /* client: its terminal's new size (u16 rows, u16 columns) */
#define FRAME_OUTPUT_CLOSED 'C' /* client: writing to its descriptor (u8: 1 or 2) failed (EPIPE) */
#define FRAME_STDOUT 'O' /* worker: bytes for the client's standard output */
#define FRAME_STDERR 'E' /* worker: bytes for the client's standard error */
#define FRAME_ECHO 'T' /* worker: echo for the terminal on the client's standard input */
#define FRAME_WANT_INPUT 'N' /* worker: read standard input (again) */
#define FRAME_HOLD_INPUT 'H' /* worker: stop reading standard input until asked again (its buffer is full) */
#define FRAME_RAW 'R' /* worker: the terminal on standard input raw (u8 1) or as it was (u8 0) */
#define FRAME_EXIT 'X' /* worker or server: the command ended (u8 code, u8 signal number or 0) */

/* Every value above, for test/contract.test.ts to compare with the TypeScript module. */
#define CONTRACT_NUMBERS(X) X(CMD_READ) X(CMD_STRING) X(CMD_WRITE) X(CMD_ERRNO) X(CMD_VIRTUAL) X(CMD_LISTING) X(CMD_RELAY_HOST_FILE) X(CMD_RESULT) X(CMD_OPEN_HOST) X(CMD_SEALED_COPY) X(CMD_CONTINUE) X(STATUS_OK) X(STATUS_FAULT) X(REPORT_MARKER) X(GRANT_NONE) X(GRANT_MISSING_NAME) X(GRANT_REPEATED_ANSWER) X(GRANT_OWN_TREE) X(VIRTUAL_FD_BASE) X(MAX_CHUNK) X(MAX_LISTING) X(MAX_FRAME) X(MAX_ERRNO) X(MAX_GRANTS) X(MAX_LINKS) X(MAX_DIRS) X(MAX_NAMES) X(MAX_HOST_DEVS) X(NOTE_FD) X(MAX_NOTES_BYTES) X(REPORT_DELAY_MS) X(MAX_ABSENT) X(MAX_REFUSAL_KINDS) X(FRAME_REQUEST) X(FRAME_INPUT) X(FRAME_INPUT_END) X(FRAME_SIGNAL) X(FRAME_RESIZE) X(FRAME_OUTPUT_CLOSED) X(FRAME_STDOUT) X(FRAME_STDERR) X(FRAME_ECHO) X(FRAME_WANT_INPUT) X(FRAME_HOLD_INPUT) X(FRAME_RAW) X(FRAME_EXIT)
#define CONTRACT_STRINGS(X) X(NOTE_WALLS) X(NOTE_WALLS_PLUS) X(NOTE_LIMIT) X(NOTE_REACHED) X(NOTE_EXEC_FAILED) X(NOTE_WALL_FAILED) X(NOTE_START_FAILED) X(NOTE_EXIT) X(NOTE_REFUSED) X(NOTE_REFUSED_MORE) X(NOTE_STALLED) X(LIMIT_NAME_HEAP) X(LIMIT_NAME_CPU) X(LIMIT_NAME_MEMORY) X(REACHED_NAME_OPEN_FILES) X(REACHED_NAME_TASKS) X(RELAY_CLOCK_CALLS_TIME) X(RELAY_CLOCK_CALLS_GETTIMEOFDAY) X(RELAY_CLOCK_CALLS_CLOCK_GETTIME) X(RELAY_PATH_CALLS_STAT64) X(RELAY_PATH_CALLS_LSTAT64) X(RELAY_PATH_CALLS_ACCESS) X(RELAY_PATH_CALLS_OPEN) X(RELAY_DIR_CALLS_OPENDIR) X(RELAY_DIR_CALLS_READDIR) X(RELAY_DIR_CALLS_REWINDDIR) X(RELAY_DIR_CALLS_CLOSEDIR) X(RELAY_DIR_CALLS_FDOPENDIR) X(RELAY_FILE_CALLS_OPEN) X(RELAY_FILE_CALLS_READ) X(RELAY_FILE_CALLS_LSEEK) X(RELAY_FILE_CALLS_FSTAT64) X(RELAY_FILE_CALLS_CLOSE)
#endif
