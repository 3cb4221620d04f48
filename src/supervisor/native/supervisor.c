/*
 * pypy-box supervisor: runs a stock interpreter under a seccomp filter and hands every system
 * call that reaches the outside world to the controller, in the sandbox-2 wire protocol, over
 * this process's own stdin (controller -> supervisor) and stdout (supervisor -> controller).
 *
 * Usage: pypy-box-supervisor [--heap BYTES] [--as BYTES] [--cpu SECONDS] [--nofile N] [--fsize BYTES]
 *                            [--memory BYTES] [--tasks N] [--max-fds N] [--cgroup off|auto|required]
 *                            -- PROGRAM ARGV0 [ARGS...]
 * The guest gets this process's environment. Its fds 0, 1 and 2 are virtual (placeholders):
 * reads and writes on them are forwarded like any other virtual descriptor.
 *
 * Protocol extensions (see docs/protocol.md of the project): every reply to R and Z starts with a
 * status byte ('+' ok, '!' fault: the guest's pointer was bad, nothing follows); paths travel with
 * the call (kind 's'); command 'V' (inject a virtual placeholder); and instead of a result, 'o'
 * (open a host file the controller chose and return it as the call's descriptor) or 'C' (let the
 * call run natively, for descriptor calls only).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#if !defined(__x86_64__)
#error "the pypy-box supervisor supports x86-64 Linux only for now"
#endif

#include "bpf.h"
#include "cgroup.h"
#include "identity.h"
#include "syscalls.h"
#include "walls.h"
#include "words.h"

/*
 * Where the child keeps the socket that carries the listener fd, and for a standby child where its
 * run arrives (GO_FD) and the notes it keeps for its walls note: below VIRTUAL_FD_BASE, so that the
 * filter lets it use and close them without a round trip.
 */
#define SOCK_FD 509
#define GO_FD 510
#define NOTE_CHILD_FD 511
#define MAX_CHUNK (1 << 20) /* largest single transfer through the supervisor's buffer */
#define PLACEHOLDER_PREFIX "pypy-box-"
#define VIRTUAL_NAME PLACEHOLDER_PREFIX "virtual" /* a name for humans; identity is by inode */
#define NOTE_FD 3           /* optional: notes for the controller (walls in force, limits hit) */

static int listener = -1;
static uint64_t heap_limit; /* resident bytes the guest may use (0 = no limit) */
static pid_t guest_pid = -1; /* the interpreter (may differ from child: PID namespace relays) */
static pid_t child = -1;
static int placeholder = -1;
/* The guest's standard streams: placeholders of their own, so the supervisor can tell them apart. */
static int stdio_placeholder[3] = {-1, -1, -1};
static int exec_done = 0;
static char *iobuf;

static int note_fd = -1;

/*
 * The run's caps beyond the rlimits (--memory, --tasks, --max-fds, --cgroup; see limit_option):
 * memory and tasks in a cgroup where the host allows it (cgroup.h), else by rlimits and polling;
 * the open-file limit over every descriptor the guest holds, real and virtual.
 */
static struct {
  uint64_t memory, tasks, fds, cpu;
  enum cgroup_mode cgroup;
  pid_t owner;          /* the supervisor: only it removes the run's cgroup */
  uint64_t memory_poll; /* without a cgroup: resident memory and memfds polled against this */
  uint64_t fd_estimate; /* an upper bound of the guest's descriptors (0: count them next time) */
  uint64_t fd_refusals; /* new descriptors refused with EMFILE at the limit */
  uint64_t guest_cpu_us; /* the ended guest's CPU time, from wait4 */
  uint64_t task_refusals; /* without a cgroup: new threads refused at the task cap (count_tasks) */
} caps = {0, 0, 0, 0, CGROUP_AUTO, 0, 0, 0, 0, 0, 0};
/*
 * The guest's wait status, written by the PID namespace's init as soon as the guest has ended
 * (read end here, write end in init): the run's end is told to the controller at once, while the
 * namespaces are still being torn down (see end_early).
 */
static int early_status[2] = {-1, -1};
static int told_early; /* the controller has the status and our streams are closed */

/* A line for the controller on the notes descriptor (when it gave one). */
static void note(const char *fmt, const char *a, unsigned long long b) {
  if (note_fd < 0) return;
  char line[512];
  int n = snprintf(line, sizeof line, fmt, a, b);
  if (n > 0) (void)!write(note_fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/*
 * A run that cannot start says why: the note `start-failed TEXT ERRNO` (errno 0: none), which the
 * controller makes the run's error; on stderr when there are no notes. TEXT names what failed.
 */
static void say_start_failed(const char *text, int err) {
  /* A note is one line of printable ASCII, short enough for note(): a path may be neither. */
  char line[400];
  size_t n = 0;
  for (; text[n] && n < sizeof line - 1; n++) line[n] = text[n] >= 0x20 && text[n] <= 0x7e ? text[n] : '?';
  line[n] = 0;
  if (note_fd >= 0) note("start-failed %s %llu\n", line, (unsigned long long)err);
  else fprintf(stderr, "pypy-box-supervisor: %s\n", text);
}

/* In the guest's child (or its PID namespace's init): `what` failed (with errno if err); the child ends. */
static void child_failed_with(const char *what, int err) {
  char text[400];
  snprintf(text, sizeof text, "the guest's child: %s%s%s", what, err ? ": " : "", err ? strerror(err) : "");
  say_start_failed(text, err);
  _exit(127);
}

static void child_failed(const char *what) {
  child_failed_with(what, errno);
}

/*
 * Ends the guest and waits for every process below us (the supervisor is their subreaper): none
 * is left as a zombie for whoever is pid 1, which in a container may never reap them (and the
 * guests' uid would run into its process limit). Async-signal-safe.
 */
static void end_guest(void) {
  if (child > 0) kill(child, SIGKILL);
  int status;
  for (;;) {
    pid_t p = waitpid(-1, &status, __WALL);
    if (p < 0 && errno != EINTR) break;
  }
  if (getpid() == caps.owner) cgroup_remove(); /* nothing of the run is left in it */
}

static void fatal(const char *what) {
  fprintf(stderr, "pypy-box-supervisor: %s: %s\n", what, strerror(errno));
  end_guest();
  _exit(126);
}

/* In the supervisor, before the guest runs: the run ends, having said why (say_start_failed). */
static void stop_before_start(const char *text, int err) {
  say_start_failed(text, err);
  end_guest();
  _exit(127);
}

/* As stop_before_start: `what` failed (with errno if err). */
static void start_failed(const char *what, int err) {
  char text[400];
  snprintf(text, sizeof text, "%s%s%s", what, err ? ": " : "", err ? strerror(err) : "");
  stop_before_start(text, err);
}

static void protocol_fatal(const char *what) {
  fprintf(stderr, "pypy-box-supervisor: protocol error: %s\n", what);
  end_guest();
  _exit(126);
}

/* A protocol error about one word of a message: shown cut short and printable (it came from outside). */
static void word_fatal(const char *what, const char *word) {
  char shown[65];
  size_t n = 0;
  for (; n < sizeof shown - 1 && word[n]; n++) shown[n] = word[n] >= 0x20 && word[n] < 0x7f ? word[n] : '?';
  shown[n] = 0;
  fprintf(stderr, "pypy-box-supervisor: protocol error: %s: \"%s\"\n", what, shown);
  end_guest();
  _exit(126);
}

/* A message refused by read_words (words.h). */
static void frame_fatal(const char *which, enum frame_status s) {
  fprintf(stderr, "pypy-box-supervisor: protocol error: %s: %s\n", which, frame_error(s));
  end_guest();
  _exit(126);
}

/* SIGTERM from the controller (a timeout, an abort): end the guest, then die of SIGKILL as asked before. */
static void on_term(int sig) {
  (void)sig;
  end_guest();
  signal(SIGKILL, SIG_DFL);
  kill(getpid(), SIGKILL);
}

/*
 * The guest's process, pinned by a pidfd as soon as its first notification names it, so a
 * signal meant for it never reaches another process that took its number after it ended.
 */
static volatile int guest_pidfd = -1;

static void know_guest(pid_t pid) {
  if (guest_pid >= 0) return;
  guest_pid = pid;
  guest_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
}

/*
 * SIGUSR1 and SIGUSR2 from the controller: the interrupt and quit characters were typed at the
 * terminal with the guest's ISIG set. The guest gets SIGINT or SIGQUIT, as from a terminal; the
 * controller cannot send them itself (the guest runs under its own uid, in its own namespaces).
 * Async-signal-safe; nothing happens before the guest is known.
 */
static void on_terminal_signal(int sig) {
  int saved = errno;
  int fd = guest_pidfd;
  if (fd >= 0) (void)syscall(SYS_pidfd_send_signal, fd, sig == SIGUSR1 ? SIGINT : SIGQUIT, NULL, 0);
  errno = saved;
}

static void take_terminal_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_terminal_signal;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, NULL);
  sigaction(SIGUSR2, &sa, NULL);
}

/*
 * Forks the guest's child and records it in `child` with SIGTERM held off meanwhile: on_term ends
 * the guest through `child`, and a SIGTERM taken between the fork and that store would find none,
 * then wait forever for a child it never killed (its guest waiting on us for an answer).
 */
static pid_t fork_child(void) {
  sigset_t term, old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigprocmask(SIG_BLOCK, &term, &old);
  child = fork();
  sigprocmask(SIG_SETMASK, &old, NULL);
  return child;
}

/* Before any child exists: orphans below us come back to us, and SIGTERM ends everything cleanly. */
static void become_reaper(void) {
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_term;
  sigfillset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
}

/* ---- the controller's pipes ---- */

static void out_all(const void *p, size_t n) {
  const char *c = p;
  while (n) {
    ssize_t k = write(1, c, n);
    if (k < 0) {
      if (errno == EINTR) continue;
      fatal("write to controller");
    }
    c += k;
    n -= (size_t)k;
  }
}

/* The controller is gone (end of its input): so is the guest. */
static void controller_gone(void) {
  end_guest();
  _exit(125);
}

static void in_all(void *p, size_t n) {
  char *c = p;
  while (n) {
    ssize_t k = read(0, c, n);
    if (k == 0) controller_gone();
    if (k < 0) {
      if (errno == EINTR) continue;
      fatal("read from controller");
    }
    c += k;
    n -= (size_t)k;
  }
}

static uint64_t in64(void) {
  uint64_t v;
  in_all(&v, 8);
  return v;
}

/* ---- guest memory ---- */

static int guest_read(pid_t pid, uint64_t addr, void *buf, size_t n) {
  while (n) {
    struct iovec local = {buf, n}, remote = {(void *)(uintptr_t)addr, n};
    ssize_t k = process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (k <= 0) return -1;
    buf = (char *)buf + k;
    addr += (uint64_t)k;
    n -= (size_t)k;
  }
  return 0;
}

static int guest_write(pid_t pid, uint64_t addr, const void *buf, size_t n) {
  while (n) {
    struct iovec local = {(void *)buf, n}, remote = {(void *)(uintptr_t)addr, n};
    ssize_t k = process_vm_writev(pid, &local, 1, &remote, 1, 0);
    if (k <= 0) return -1;
    buf = (const char *)buf + k;
    addr += (uint64_t)k;
    n -= (size_t)k;
  }
  return 0;
}

#include "local.h"

/* ---- seccomp ---- */

/* A buffer for SECCOMP_IOCTL_NOTIF_RECV as large as this kernel's notifications (*size: that size). */
static struct seccomp_notif *notif_buffer(size_t *size) {
  struct seccomp_notif_sizes sizes;
  if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0) fatal("SECCOMP_GET_NOTIF_SIZES");
  *size = sizes.seccomp_notif > sizeof(struct seccomp_notif) ? sizes.seccomp_notif : sizeof(struct seccomp_notif);
  struct seccomp_notif *req = calloc(1, *size);
  if (!req) fatal("calloc");
  return req;
}

static int notif_id_valid(uint64_t id) {
  return ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

static void respond(uint64_t id, int64_t val, int error, int cont) {
  struct seccomp_notif_resp resp;
  memset(&resp, 0, sizeof resp);
  resp.id = id;
  if (cont) resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  else if (error) resp.error = -error;
  else resp.val = val;
  /* ENOENT: the guest thread died or was interrupted meanwhile; nothing to answer. */
  if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0 && errno != ENOENT) fatal("SECCOMP_IOCTL_NOTIF_SEND");
}

/*
 * Answers the call with a descriptor of ours, installed in the guest atomically as the call's
 * result, then closed here. Returns the guest's number, or -1 with errno; a guest thread that went
 * away meanwhile (ENOENT) needs no answer, any other failure is answered with its errno.
 */
static int answer_fd(uint64_t id, int fd, int cloexec) {
  struct seccomp_notif_addfd add;
  memset(&add, 0, sizeof add);
  add.id = id;
  add.flags = SECCOMP_ADDFD_FLAG_SEND;
  add.srcfd = (uint32_t)fd;
  add.newfd_flags = cloexec ? O_CLOEXEC : 0;
  int got = ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &add);
  int e = errno;
  close(fd);
  if (got < 0 && e != ENOENT) respond(id, 0, e, 0);
  errno = e;
  return got;
}

static int inject(uint64_t id, int srcfd, int target, int cloexec) {
  struct seccomp_notif_addfd add;
  memset(&add, 0, sizeof add);
  add.id = id;
  add.srcfd = (uint32_t)srcfd;
  add.newfd_flags = cloexec ? O_CLOEXEC : 0;
  if (target >= 0) {
    add.flags = SECCOMP_ADDFD_FLAG_SETFD;
    add.newfd = (uint32_t)target;
  }
  int fd = ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &add);
  return fd < 0 ? -errno : fd;
}

/* What a guest descriptor refers to: one of our placeholders (and which), or not. */
enum fd_kind { FD_REAL, FD_VIRTUAL, FD_STDIN, FD_STDOUT, FD_STDERR };

/* Inode numbers of our placeholders (virtual, stdin, stdout, stderr), all on the memfd device. */
static ino_t placeholder_ino[4];
static dev_t placeholder_dev;

/*
 * By identity, not by name: the guest may create memfds too, and name them as it likes. The
 * descriptor's magic link is followed to the open file itself and compared with ours.
 */
static enum fd_kind fd_kind_of(pid_t pid, int64_t fd) {
  if (fd < 0 || fd > INT_MAX) return FD_VIRTUAL; /* let the controller answer EBADF */
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)pid, (int)fd);
  struct stat st;
  if (stat(path, &st) < 0) return FD_VIRTUAL; /* not open: the controller answers EBADF */
  if (st.st_dev != placeholder_dev) return FD_REAL;
  for (int k = 0; k < 4; k++)
    if (st.st_ino == placeholder_ino[k]) return k == 0 ? FD_VIRTUAL : (enum fd_kind)(FD_STDIN + k - 1);
  return FD_REAL;
}

/* A descriptor of the guest is virtual when it refers to one of the supervisor's placeholders. */
static int fd_is_virtual(pid_t pid, int64_t fd) {
  return fd_kind_of(pid, fd) != FD_REAL;
}

/* Resident bytes of the guest (all its threads). */
static uint64_t guest_rss(void) {
  char path[64], buf[128];
  snprintf(path, sizeof path, "/proc/%d/statm", (int)(guest_pid > 0 ? guest_pid : child));
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  unsigned long long size = 0, resident = 0;
  if (sscanf(buf, "%llu %llu", &size, &resident) != 2) return 0;
  return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void note_refusals(void);

/*
 * Limits that refused something without ending the run, as `reached NAME VALUE COUNT` lines for
 * the controller's limitsReached: new descriptors past the open-file limit, new tasks past the
 * cgroup's task cap. The repeats of reported refusals go first (note_refusals).
 */
static void note_reached(void) {
  note_refusals();
  char limit[64];
  if (caps.fd_refusals) {
    snprintf(limit, sizeof limit, "open-files %llu", (unsigned long long)caps.fds);
    note("reached %s %llu\n", limit, (unsigned long long)caps.fd_refusals);
  }
  uint64_t tasks = cgroup_task_refusals() + caps.task_refusals;
  if (tasks) {
    snprintf(limit, sizeof limit, "tasks %llu", (unsigned long long)caps.tasks);
    note("reached %s %llu\n", limit, (unsigned long long)tasks);
  }
}

/* Ends the guest for exceeding a limit; the controller reads this line to say which. */
static void limit_hit(const char *name, uint64_t value) {
  if (child > 0) kill(child, SIGKILL);
  flush_reports();
  note_reached();
  note("limit %s %llu\n", name, (unsigned long long)value);
  end_guest();
  _exit(125);
}

/*
 * The numeric limits, one row each: the option, the largest value taken, and where it is kept (a
 * field of struct walls, or the heap limit the supervisor enforces itself). A waiting child gets
 * the walls' ones in its go message, in this order (send_go, await_go).
 */
#define HEAP_LIMIT ((size_t)-1)
static const struct number_option {
  const char *option;
  size_t field; /* offsetof(struct walls, ...), or HEAP_LIMIT */
  uint64_t max;
} NUMBER_OPTIONS[] = {
  {"--as", offsetof(struct walls, as), UINT64_MAX},
  {"--cpu", offsetof(struct walls, cpu), UINT32_MAX}, /* its hard limit is one more second */
  {"--nofile", offsetof(struct walls, nofile), INT_MAX},
  {"--fsize", offsetof(struct walls, fsize), UINT64_MAX},
  {"--nproc", offsetof(struct walls, nproc), INT_MAX},
  {"--heap", HEAP_LIMIT, UINT64_MAX},
};
#define N_NUMBER_OPTIONS (sizeof NUMBER_OPTIONS / sizeof NUMBER_OPTIONS[0])

static rlim_t *wall_limit_field(struct walls *w, const struct number_option *o) {
  return (rlim_t *)((char *)w + o->field);
}

/* A numeric limit option and its value. Returns 1 (set), 0 (not one of them) or -1 (a bad value). */
static int number_option(struct walls *w, const char *option, const char *value) {
  for (size_t k = 0; k < N_NUMBER_OPTIONS; k++) {
    const struct number_option *o = &NUMBER_OPTIONS[k];
    if (strcmp(option, o->option) != 0) continue;
    uint64_t v;
    if (parse_uint(value, o->max, &v) < 0) return -1;
    if (o->field == HEAP_LIMIT) heap_limit = v;
    else *wall_limit_field(w, o) = v;
    return 1;
  }
  return 0;
}

/*
 * Bytes held in the guest's memfds and other shared-memory files (their allocated blocks): memory
 * that is no address space and shows in no resident count until mapped: the heap cap of a stock
 * guest, and its memory cap without a cgroup, count it with the resident memory (a mapped memfd
 * is counted twice: on the safe side).
 */
static uint64_t guest_shm_bytes(void) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/fd", (int)(guest_pid > 0 ? guest_pid : child));
  DIR *d = opendir(path);
  if (!d) return 0;
  uint64_t total = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    struct stat st;
    if (e->d_name[0] == '.' || fstatat(dirfd(d), e->d_name, &st, 0) < 0) continue;
    if (st.st_dev == placeholder_dev && S_ISREG(st.st_mode) && st.st_blocks > 0) total += (uint64_t)st.st_blocks * 512;
  }
  closedir(d);
  return total;
}

#define HEAP_CHECK_MS 20
static uint64_t last_heap_check;

/* Resident memory and memfds against the heap cap, and against the memory cap without a cgroup. */
static void check_heap(uint64_t more) {
  if (!heap_limit && !caps.memory_poll) return;
  uint64_t held = guest_rss() + more + guest_shm_bytes();
  if (heap_limit && held > heap_limit) limit_hit("heap", heap_limit);
  if (caps.memory_poll && held > caps.memory_poll) limit_hit("memory", caps.memory_poll);
}

/* ---- the task cap without a cgroup ---- */

/*
 * The guest's threads, from /proc/PID/status (UINT64_MAX when it cannot be read: no new thread). Without a cgroup the task
 * cap is RLIMIT_NPROC, which the kernel does not apply to uid 0: a guest that keeps root's uid
 * (dropRoot off) would start threads without end. So without a cgroup the filter sends every new
 * thread here, and the supervisor counts the guest's threads before it lets one more start.
 */
static uint64_t count_guest_threads(pid_t pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "re");
  if (!f) return UINT64_MAX;
  uint64_t n = UINT64_MAX;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "Threads:", 8) == 0) {
      n = strtoull(line + 8, NULL, 10);
      break;
    }
  fclose(f);
  return n;
}

/* Whether one more thread fits under the task cap; a refusal is counted for limitsReached. */
static int thread_fits(pid_t pid) {
  if (!caps.tasks) return 1;
  if (count_guest_threads(pid) < caps.tasks) return 1;
  caps.task_refusals++;
  return 0;
}

/* ---- the open-file limit over every descriptor ---- */

static uint64_t count_guest_fds(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
  DIR *d = opendir(path);
  if (!d) return 0;
  uint64_t n = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

static int guest_fd_open(pid_t pid, uint64_t fd) {
  char path[64];
  struct stat st;
  if ((int64_t)(int32_t)(uint32_t)fd < 0) return 0;
  snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)pid, (int)(int32_t)(uint32_t)fd);
  return lstat(path, &st) == 0;
}

/* How many descriptors this call would give the guest (FD_MAKERS). */
static uint64_t new_fds(const struct seccomp_notif *req) {
  for (size_t k = 0; k < N_FD_MAKERS; k++) {
    const struct fd_maker *m = &FD_MAKERS[k];
    if (m->nr != req->data.nr) continue;
    const __u64 *a = req->data.args;
    switch (m->when) {
    case MAKES_ALWAYS: return m->count;
    case MAKES_IF_FIRST_ARG_NEG1: return (int32_t)(uint32_t)a[0] == -1 ? m->count : 0;
    case MAKES_IF_TARGET_FREE: return guest_fd_open((pid_t)req->pid, a[1]) ? 0 : m->count;
    case MAKES_IF_DUPFD: return (a[1] & 0xffffffffu) == F_DUPFD || (a[1] & 0xffffffffu) == F_DUPFD_CLOEXEC ? m->count : 0;
    }
  }
  return 0;
}

/*
 * Whether the descriptors this call makes fit under the open-file limit; they are counted in when
 * they do. Every call that gives the guest a descriptor comes through here (FD_MAKERS) and closes
 * only lower the true count, so the estimate stays an upper bound: /proc is read only near the limit.
 */
static int fds_fit(const struct seccomp_notif *req) {
  uint64_t more = caps.fds ? new_fds(req) : 0;
  if (!more) return 1;
  if (!caps.fd_estimate || caps.fd_estimate + more > caps.fds) caps.fd_estimate = count_guest_fds((pid_t)req->pid);
  if (caps.fd_estimate + more > caps.fds) {
    caps.fd_refusals++;
    return 0;
  }
  caps.fd_estimate += more;
  return 1;
}

static const struct syscall_fate *fate_of(int nr) {
  for (size_t k = 0; k < N_FATES; k++)
    if (FATES[k].nr == nr) return &FATES[k];
  return NULL;
}

/* ---- the filter ---- */

/*
 * fcntl and ioctl on a real descriptor (a host file, or the guest's own pipe) run natively only
 * for what cannot reach beyond the guest: no locks on host files, no signal owners, no O_ASYNC.
 * One table serves the filter (descriptors 3..511, decided without a notification) and the
 * supervisor (real descriptors elsewhere).
 */
struct fd_command_rule {
  int nr;
  int refuse;               /* errno for a command not listed */
  unsigned notify[2];       /* always to the supervisor (descriptors the controller counts) */
  size_t n_notify;
  unsigned allow[8];        /* run natively */
  size_t n_allow;
  unsigned checked, mask;   /* runs unless its third argument has a bit of mask (if mask != 0) */
};

static const struct fd_command_rule FD_COMMAND_RULES[] = {
  {SYS_ioctl, ENOTTY, {0}, 0, {FIONREAD, FIOCLEX, FIONCLEX, FIONBIO}, 4, 0, 0},
  {SYS_fcntl, EPERM, {F_DUPFD, F_DUPFD_CLOEXEC}, 2,
   {F_GETFD, F_SETFD, F_GETFL, F_GETPIPE_SZ, F_SETPIPE_SZ, F_GET_SEALS, F_ADD_SEALS}, 7, F_SETFL, O_ASYNC},
};

static const struct fd_command_rule *fd_command_rule(int nr) {
  for (size_t k = 0; k < sizeof FD_COMMAND_RULES / sizeof FD_COMMAND_RULES[0]; k++)
    if (FD_COMMAND_RULES[k].nr == nr) return &FD_COMMAND_RULES[k];
  return NULL;
}

/*
 * Whether a command always goes to the controller (it makes a descriptor the controller counts).
 * Commands are unsigned ints: the low word, as the kernel and the filter read them.
 */
static int fd_command_forwarded(int nr, uint64_t cmd) {
  const struct fd_command_rule *r = fd_command_rule(nr);
  for (size_t k = 0; r && k < r->n_notify; k++)
    if ((uint32_t)cmd == r->notify[k]) return 1;
  return 0;
}

/* The errno to refuse a command on a real descriptor with, or 0 to let it run. */
static int native_fd_refusal(int nr, uint64_t cmd, uint64_t arg) {
  const struct fd_command_rule *r = fd_command_rule(nr);
  if (!r) return 0;
  for (size_t k = 0; k < r->n_allow; k++)
    if ((unsigned)cmd == r->allow[k]) return 0;
  if (r->mask && (unsigned)cmd == r->checked) return (arg & r->mask) ? r->refuse : 0;
  return r->refuse;
}

/*
 * Calls that name a process by their first argument (a pid): only the guest itself, compared on
 * all 64 bits, so that neither an upper half (the kernel would use the low one), nor a negative
 * pid (every process, or a process group) nor 0 (the caller's process group) slips past.
 */
struct self_rule {
  int nr;
  int zero_is_self;   /* 0 names the caller itself, never a group */
  int null_arg;       /* an argument that must be NULL in all 64 bits, or -1 */
  uint32_t otherwise; /* the action when it is not NULL (refused where there is none) */
};

static const struct self_rule SELF_RULES[] = {
  {SYS_kill, 0, -1, SECCOMP_RET_ERRNO | EPERM},
  {SYS_tgkill, 0, -1, SECCOMP_RET_ERRNO | EPERM},
  {SYS_rt_sigqueueinfo, 0, -1, SECCOMP_RET_ERRNO | EPERM},
  /*
   * The guest may read its limits, never set them: one that raised its own CPU limit would die of
   * SIGKILL at the hard limit instead of being reported as over its CPU limit. Setting one goes
   * to the supervisor, which lets our own child set its limits before exec (a standby child
   * learns them after its filter is in place) and refuses it with EPERM from the exec on.
   */
  {SYS_prlimit64, 1, 2, SECCOMP_RET_USER_NOTIF},
};

static const struct self_rule *self_rule(int nr) {
  for (size_t k = 0; k < sizeof SELF_RULES / sizeof SELF_RULES[0]; k++)
    if (SELF_RULES[k].nr == nr) return &SELF_RULES[k];
  return NULL;
}

/* prctl options that touch only the calling thread's name or the names of its own mappings. */
static const uint32_t PRCTL_ALLOWED[] = {PR_SET_NAME, PR_GET_NAME, PR_SET_VMA, PR_GET_DUMPABLE};

/* clone flags that would give even a thread new namespaces. */
#define CLONE_NEW_NAMESPACES \
  (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET)

/* Anonymous mappings below this size run natively; larger ones pass the supervisor's heap check. */
#define NATIVE_ANON_MMAP_BYTES (1u << 20)

/* System call numbers with this bit belong to the x32 ABI. */
#define X32_SYSCALL_BIT 0x40000000u

/*
 * Argument widths. seccomp shows every argument as 64 bits. Where the kernel takes an int (a
 * descriptor, a command, a flag word, an option), it reads the low 32 bits only, whatever the
 * upper half holds; the filter then reads the low word only, so both see the same value. Pids,
 * pointers and lengths are compared on all 64 bits.
 */

static struct bpf_asm filter; /* some 150 KiB: kept off the stack */

/* x86-64 calls only: another architecture or the x32 ABI (other numbers) ends the process. Leaves nr in A. */
static void emit_prologue(struct bpf_asm *a) {
  bpf_scope(a);
  bpf_ld_arch(a);
  bpf_jeq(a, AUDIT_ARCH_X86_64, "x86-64", NULL);
  bpf_ret(a, SECCOMP_RET_KILL_PROCESS);
  bpf_bind(a, "x86-64");
  bpf_ld_nr(a);
  bpf_jge(a, X32_SYSCALL_BIT, NULL, "numbers");
  bpf_ret(a, SECCOMP_RET_KILL_PROCESS);
  bpf_bind(a, "numbers");
}

/* The socket that hands the listener to the supervisor, before exec (its descriptor: low word). */
static void emit_listener_handover(struct bpf_asm *a) {
  bpf_scope(a);
  bpf_jeq(a, SYS_sendmsg, NULL, "next");
  bpf_ld_arg_lo(a, 0);
  bpf_jeq(a, SOCK_FD, "allow", NULL);
  bpf_ld_nr(a); /* any other sendmsg: the table's rule decides */
  bpf_goto(a, "next");
  bpf_bind(a, "allow");
  bpf_ret(a, SECCOMP_RET_ALLOW);
  bpf_bind(a, "next");
}

/* How many leading arguments of an FDN/FDX call are descriptors. */
static int descriptor_args(int nr) {
  return nr == SYS_dup2 || nr == SYS_dup3 ? 2 : 1;
}

/*
 * The bodies below follow a match on the call's number; every path through them returns, so the
 * next call's test still finds the number in A. Labels: "allow", "refuse", "notify".
 */

/* FDN/FDX: native when every descriptor argument is a real one, 3 <= fd < VIRTUAL_FD_BASE. */
static void emit_fd_native(struct bpf_asm *a, int nr) {
  for (int i = 0; i < descriptor_args(nr); i++) bpf_int_arg_in(a, i, 3, VIRTUAL_FD_BASE, NULL, "notify");
  bpf_ret(a, SECCOMP_RET_ALLOW);
  bpf_bind(a, "notify");
  bpf_ret(a, SECCOMP_RET_USER_NOTIF);
}

/*
 * An fd-command rule: on descriptors 3..511 the command is decided here (an unsigned int: low
 * word); commands that make descriptors and other descriptors go to the supervisor.
 */
static void emit_fd_command(struct bpf_asm *a, const struct fd_command_rule *r) {
  if (r->n_notify) bpf_ld_arg_lo(a, 1);
  for (size_t k = 0; k < r->n_notify; k++) bpf_jeq(a, r->notify[k], "notify", NULL);
  bpf_int_arg_in(a, 0, 3, VIRTUAL_FD_BASE, NULL, "notify");
  bpf_ld_arg_lo(a, 1);
  for (size_t k = 0; k < r->n_allow; k++) bpf_jeq(a, r->allow[k], "allow", NULL);
  if (r->mask) {
    /* The checked bits (O_ASYNC) lie in the low word, the only one fcntl reads for its flags. */
    bpf_jeq(a, r->checked, NULL, "refuse");
    bpf_ld_arg_lo(a, 2);
    bpf_jset(a, r->mask, "refuse", "allow");
  }
  bpf_bind(a, "refuse");
  bpf_ret(a, SECCOMP_RET_ERRNO | ((unsigned)r->refuse & SECCOMP_RET_DATA));
  bpf_bind(a, "allow");
  bpf_ret(a, SECCOMP_RET_ALLOW);
  bpf_bind(a, "notify");
  bpf_ret(a, SECCOMP_RET_USER_NOTIF);
}

/*
 * mmap: anonymous and small (the length is 64-bit: both words), or of a real descriptor, runs
 * natively; the rest goes to the supervisor. MAP_ANONYMOUS is a bit of the low word of the flags,
 * and the descriptor an int.
 */
static void emit_mmap(struct bpf_asm *a) {
  bpf_ld_arg_lo(a, 3);
  bpf_jset(a, MAP_ANONYMOUS, "anonymous", NULL);
  bpf_int_arg_in(a, 4, 3, VIRTUAL_FD_BASE, "allow", "notify");
  bpf_bind(a, "anonymous");
  bpf_ld_arg_hi(a, 1);
  bpf_jeq(a, 0, NULL, "notify");
  bpf_ld_arg_lo(a, 1);
  bpf_jge(a, NATIVE_ANON_MMAP_BYTES, "notify", "allow");
  bpf_bind(a, "allow");
  bpf_ret(a, SECCOMP_RET_ALLOW);
  bpf_bind(a, "notify");
  bpf_ret(a, SECCOMP_RET_USER_NOTIF);
}

/*
 * clone: a thread (CLONE_THREAD) without new namespaces; anything else would be a new process or
 * new namespaces. The flags are an unsigned long, but the kernel keeps their low 32 bits only.
 */
/* What the filter lets clone do (emit_clone): a thread without new namespaces (low word of the flags). */
static int clone_is_thread(uint64_t flags) {
  return !((uint32_t)flags & CLONE_NEW_NAMESPACES) && ((uint32_t)flags & CLONE_THREAD);
}

static void emit_clone(struct bpf_asm *a, int count_tasks) {
  bpf_ld_arg_lo(a, 0);
  bpf_jset(a, CLONE_NEW_NAMESPACES, "refuse", NULL);
  bpf_jset(a, CLONE_THREAD, "allow", "refuse");
  bpf_bind(a, "allow");
  bpf_ret(a, count_tasks ? SECCOMP_RET_USER_NOTIF : SECCOMP_RET_ALLOW); /* see thread_fits */
  bpf_bind(a, "refuse"); /* a new process or new namespaces: refused and reported (refusals.h) */
  bpf_ret(a, SECCOMP_RET_USER_NOTIF);
}

/* A SELF rule: the first argument is the guest (or 0 where that means itself), all 64 bits. */
static void emit_self(struct bpf_asm *a, const struct self_rule *r, pid_t self) {
  bpf_arg_eq64(a, 0, (uint64_t)self, "pid", r->zero_is_self ? "zero?" : "refuse");
  if (r->zero_is_self) {
    bpf_bind(a, "zero?");
    bpf_arg_eq64(a, 0, 0, "pid", "refuse");
  }
  bpf_bind(a, "pid");
  if (r->null_arg >= 0) {
    bpf_arg_eq64(a, r->null_arg, 0, "allow", "not null");
    bpf_bind(a, "not null");
    bpf_ret(a, r->otherwise);
  }
  bpf_bind(a, "allow");
  bpf_ret(a, SECCOMP_RET_ALLOW);
  bpf_bind(a, "refuse"); /* another process: refused with EPERM and reported by the supervisor */
  bpf_ret(a, SECCOMP_RET_USER_NOTIF);
}

/* prctl: the listed options only (the option is an int: low word). */
static void emit_prctl(struct bpf_asm *a) {
  bpf_ld_arg_lo(a, 0);
  for (size_t k = 0; k < sizeof PRCTL_ALLOWED / sizeof PRCTL_ALLOWED[0]; k++) bpf_jeq(a, PRCTL_ALLOWED[k], "allow", NULL);
  bpf_ret(a, SECCOMP_RET_ERRNO | EPERM);
  bpf_bind(a, "allow");
  bpf_ret(a, SECCOMP_RET_ALLOW);
}

static void emit_fate(struct bpf_asm *a, const struct syscall_fate *f, pid_t self) {
  switch (f->fate) {
  case ALLOW:
    bpf_ret(a, SECCOMP_RET_ALLOW);
    return;
  case ERR:
    bpf_ret(a, SECCOMP_RET_ERRNO | ((unsigned)f->err & SECCOMP_RET_DATA));
    return;
  case FD:
    if (fd_command_rule(f->nr)) {
      emit_fd_command(a, fd_command_rule(f->nr));
      return;
    }
    bpf_ret(a, SECCOMP_RET_USER_NOTIF);
    return;
  case FWD:
  case EXEC:
  case REFUSE: /* the supervisor answers the errno and reports the refusal */
  case NEWFD: /* the supervisor counts the guest's descriptors first */
  case DUP:
    bpf_ret(a, SECCOMP_RET_USER_NOTIF);
    return;
  case FDN:
  case FDX:
    emit_fd_native(a, f->nr);
    return;
  case MMAP:
    emit_mmap(a);
    return;
  case CLONE:
    emit_clone(a, !run_cgroup.version);
    return;
  case SELF:
    if (!self_rule(f->nr)) {
      bpf_fail(a, "a SELF call without a rule in SELF_RULES", f->sig);
      return;
    }
    emit_self(a, self_rule(f->nr), self);
    return;
  case PRCTL:
    emit_prctl(a);
    return;
  }
  bpf_fail(a, "a fate the filter does not know", f->sig);
}

/* One listed call: its number, then its fate; any other number goes on to the next call's test. */
static void emit_call(struct bpf_asm *a, const struct syscall_fate *f, pid_t self) {
  bpf_scope(a);
  bpf_jeq(a, (uint32_t)f->nr, NULL, "next");
  emit_fate(a, f, self);
  bpf_bind(a, "next");
}

/*
 * Builds the filter: arch check, then one block per listed call in the table's order (frequent
 * calls first: a call is found after the tests of all calls before it), ENOSYS for the rest.
 * A filter that cannot be assembled ends the child: the guest never runs without it.
 */
static struct sock_fprog build_filter(pid_t self) {
  struct bpf_asm *a = &filter;
  bpf_init(a);
  emit_prologue(a);
  emit_listener_handover(a);
  for (size_t k = 0; k < N_FATES; k++) emit_call(a, &FATES[k], self);
  bpf_ret(a, SECCOMP_RET_ERRNO | ENOSYS);
  int n = bpf_link(a);
  if (n < 0) {
    fprintf(stderr, "pypy-box-supervisor: cannot assemble the seccomp filter: %s\n", a->error);
    _exit(127);
  }
  return (struct sock_fprog){(unsigned short)n, a->insn};
}

static void pass_on_status(int status);

/* How the guest ended, as init hands it on: its wait status and CPU time (for the CPU limit). */
struct guest_end {
  int status;
  uint64_t cpu_us;
};

static uint64_t cpu_us_of(const struct rusage *ru) {
  return (uint64_t)ru->ru_utime.tv_sec * 1000000u + (uint64_t)ru->ru_utime.tv_usec + (uint64_t)ru->ru_stime.tv_sec * 1000000u + (uint64_t)ru->ru_stime.tv_usec;
}

/* waitpid that keeps the CPU time of what it reaped (with what that had reaped) in caps. */
static pid_t wait_guest(pid_t pid, int *status) {
  struct rusage ru;
  pid_t got = wait4(pid, status, 0, &ru);
  if (got > 0) caps.guest_cpu_us = cpu_us_of(&ru);
  return got;
}

/* A one-byte message able to carry one descriptor (the listener, from the child to us). */
struct fd_message {
  char byte;
  struct iovec iov;
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int))];
  } u;
  struct msghdr msg;
};

static void fd_message_init(struct fd_message *m) {
  memset(m, 0, sizeof *m);
  m->byte = 'L';
  m->iov.iov_base = &m->byte;
  m->iov.iov_len = 1;
  m->msg.msg_iov = &m->iov;
  m->msg.msg_iovlen = 1;
  m->msg.msg_control = m->u.buf;
  m->msg.msg_controllen = sizeof m->u.buf;
}

/*
 * A PID namespace of its own, where the kernel allows it: the guest sees no other process. A small
 * init (pid 1) runs the guest as pid 2, since pid 1 would ignore its own abort(), and hands the
 * guest's end back through a pipe; the calling process relays it. Returns in the guest only.
 */
/* Relay and init keep none of the controller's streams: those end when the supervisor closes them. */
static void drop_controller_streams(void) {
  for (int fd = 0; fd < 3; fd++) close(fd);
  if (note_fd >= 0) close(note_fd), note_fd = -1;
}

static void enter_pid_namespace(struct walls *w) {
  if (!w->namespaces || !strstr(w->active, "user-ns")) return;
  if (unshare(CLONE_NEWPID) != 0) {
    if (w->namespaces == NAMESPACES_REQUIRED) child_failed("the PID namespace was asked for and cannot be made");
    return;
  }
  int status_pipe[2];
  if (pipe2(status_pipe, O_CLOEXEC) < 0) child_failed("pipe2 for the PID namespace's init");
  pid_t init = fork();
  if (init < 0) child_failed("fork of the PID namespace's init");
  if (init > 0) {
    drop_controller_streams();
    close(early_status[1]);
    close(status_pipe[1]);
    struct guest_end end;
    ssize_t got = read(status_pipe[0], &end, sizeof end);
    int init_status;
    while (wait_guest(init, &init_status) < 0 && errno == EINTR) {
    }
    if (got == (ssize_t)sizeof end) caps.guest_cpu_us = end.cpu_us;
    pass_on_status(got == (ssize_t)sizeof end ? end.status : init_status);
  }
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) child_failed("PR_SET_PDEATHSIG in the PID namespace's init");
  pid_t guest = fork();
  if (guest < 0) child_failed("fork of the guest in its PID namespace");
  if (guest > 0) {
    drop_controller_streams();
    close(status_pipe[0]);
    struct guest_end end;
    while (wait_guest(guest, &end.status) < 0)
      if (errno != EINTR) _exit(126);
    end.cpu_us = caps.guest_cpu_us;
    (void)!write(early_status[1], &end, sizeof end);
    (void)!write(status_pipe[1], &end, sizeof end);
    _exit(0);
  }
  close(early_status[1]);
  close(status_pipe[0]);
  close(status_pipe[1]);
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) child_failed("PR_SET_PDEATHSIG in the guest");
  wall_note(w, "pid-ns");
}

/* ---- the child: walls, filter, exec ---- */

/* In the guest's child, while it still has the identity that may: into the run's cgroup, if any. */
static int join_run_cgroup(void) {
  if (cgroup_join() == 0) return 0;
  fprintf(stderr, "pypy-box-supervisor: cannot join the run's cgroup: %s\n", strerror(errno));
  return -1;
}

/*
 * A child started ahead of its run (standby): it waits behind the filter, in its namespaces, for
 * the run's limits, program, arguments and environment on GO_FD (see send_go), then sets the
 * limits, writes the walls note and executes the program.
 */
static char **await_go(struct walls *w) {
  static const char *const bad = "the run sent to the waiting child is malformed";
  struct words go;
  int got = read_words(GO_FD, MAX_FRAME, 0, &go);
  if (got == FRAME_NONE) _exit(0); /* no run: the supervisor gave this child up (discard_premade) */
  if (got != FRAME_OK) child_failed_with(bad, 0);
  close(GO_FD);
  /* The walls' limits (NUMBER_OPTIONS), the number of exec words, those, then the environment. */
  size_t at = 0;
  for (size_t k = 0; k < N_NUMBER_OPTIONS; k++) {
    const struct number_option *o = &NUMBER_OPTIONS[k];
    uint64_t v;
    if (o->field == HEAP_LIMIT) continue;
    if (at >= go.n || parse_uint(go.word[at++], o->max, &v) < 0) child_failed_with(bad, 0);
    *wall_limit_field(w, o) = v;
  }
  uint64_t argc;
  if (at >= go.n || parse_uint(go.word[at], go.n - at - 1, &argc) < 0 || argc < 2) child_failed_with(bad, 0);
  char **exec_words = go.word + at + 1;
  if (clearenv() != 0) child_failed("clearenv");
  for (size_t k = argc; exec_words[k]; k++) {
    if (!env_word_ok(exec_words[k])) child_failed_with(bad, 0);
    if (putenv(exec_words[k]) != 0) child_failed("putenv");
  }
  exec_words[argc] = NULL;
  if (apply_limits(w) < 0) child_failed("setrlimit");
  return exec_words;
}

static void child_main(int sock, struct walls *w, char **argv, int standby) {
  pid_t parent = getppid();
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) child_failed("PR_SET_PDEATHSIG");
  if (getppid() != parent) _exit(127); /* the supervisor is gone: nobody to tell */
  if (dup2(sock, SOCK_FD) < 0) child_failed("dup2 of the listener's socket");
  if (join_run_cgroup() < 0) child_failed("joining the run's cgroup");
  if ((standby ? apply_isolation(w) : apply_walls(w)) < 0) child_failed("setting up the walls");
  enter_pid_namespace(w);
  /* Built once our pid is final, and while stderr still reaches the controller (errors). */
  struct sock_fprog fprog = build_filter(getpid());
  /* The notes stay open until exec (close-on-exec), for a failure to be told. */
  if (note_fd >= 0) {
    if (dup3(note_fd, NOTE_CHILD_FD, O_CLOEXEC) < 0) child_failed("dup3 of the notes descriptor");
    note_fd = NOTE_CHILD_FD;
  } else if (standby) child_failed_with("a waiting child needs the notes descriptor", 0);
  if (!standby) note("walls seccomp-user-notify,parent-death-signal,%s%.0llu\n", w->active, 0);
  for (int fd = 0; fd < 3; fd++)
    if (dup2(stdio_placeholder[fd], fd) < 0) child_failed("dup2 of a standard stream's placeholder");
  syscall(SYS_close_range, 3, SOCK_FD - 1, 0);
  if (!standby) close(GO_FD);
  syscall(SYS_close_range, NOTE_CHILD_FD + 1, ~0U, 0);
  int lfd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &fprog);
  if (lfd < 0) child_failed("seccomp filter with a user-notification listener");
  struct fd_message m;
  fd_message_init(&m);
  struct cmsghdr *c = CMSG_FIRSTHDR(&m.msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &lfd, sizeof(int));
  if (sendmsg(SOCK_FD, &m.msg, 0) < 0) child_failed("sendmsg of the seccomp listener");
  /* From here on every call is seen by the supervisor, which lets these through. */
  close(lfd);
  close(SOCK_FD);
  if (standby) {
    argv = await_go(w);
    note("walls seccomp-user-notify,parent-death-signal,%s%.0llu\n", w->active, 0);
  }
  static char *no_env[] = {NULL};
  execve(argv[0], argv + 1, environ ? environ : no_env);
  int err = errno;
  char what[PATH_MAX + 16];
  snprintf(what, sizeof what, "exec of %s", argv[0]);
  child_failed_with(what, err);
}

static int receive_listener(int sock) {
  struct fd_message m;
  fd_message_init(&m);
  ssize_t n = recvmsg(sock, &m.msg, MSG_CMSG_CLOEXEC);
  if (n <= 0) return -1;
  struct cmsghdr *c = CMSG_FIRSTHDR(&m.msg);
  if (!c || c->cmsg_type != SCM_RIGHTS) return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

/* ---- forwarding one call ---- */

/* One message: signature, arguments and up to two paths. */
static unsigned char callbuf[1 + 255 + 6 * 8 + 2 * (9 + PATH_MAX)];

/* Reads a NUL-terminated string of at most `max` bytes from the guest, page by page. */
static int read_string(pid_t pid, uint64_t ptr, uint64_t max, unsigned char *out, uint64_t *len) {
  uint64_t n = 0;
  if (ptr == 0) return -1;
  while (n < max) {
    uint64_t addr = ptr + n;
    uint64_t room = 4096 - (addr & 4095);
    if (room > max - n) room = max - n;
    if (guest_read(pid, addr, out + n, room) < 0) return -1;
    void *nul = memchr(out + n, 0, room);
    if (nul) {
      *len = (uint64_t)((unsigned char *)nul - out);
      return 0;
    }
    n += room;
  }
  *len = n;
  return 0;
}

#include "refusals.h"

/* Where the path strings of the message in callbuf start, by argument (NULL: not a path or bad). */
static const char *call_paths[6];
static size_t call_path_lens[6];

/* Encodes a call as it goes on the wire into callbuf; returns its length. */
static size_t encode_call(const struct seccomp_notif *req, const struct syscall_fate *f) {
  const char *sig = f->sig;
  size_t len = strlen(sig);
  const char *kinds = strchr(sig, '(') + 1;
  size_t nargs = (size_t)(strchr(sig, ')') - kinds);
  unsigned char *msg = callbuf;
  msg[0] = (unsigned char)len;
  memcpy(msg + 1, sig, len);
  size_t kinds_at = (size_t)(kinds - sig);
  for (size_t k = 0; k < nargs; k++)
    if (kinds[k] == 'l') msg[1 + kinds_at + k] = 'i'; /* the wire knows one integer kind */
  for (size_t k = 0; k < nargs; k++) {
    uint64_t v = req->data.args[k];
    if (kinds[k] == 'i') v = (uint64_t)(int64_t)(int32_t)(uint32_t)v;
    memcpy(msg + 1 + len + 8 * k, &v, 8);
  }
  size_t used = 1 + len + 8 * nargs;
  /* Paths go along with the call: status byte, u64 length, bytes (read once, page by page). */
  for (size_t k = 0; k < nargs; k++) {
    call_paths[k] = NULL;
    if (kinds[k] != 's') continue;
    uint64_t n;
    if (used + 9 + PATH_MAX > sizeof callbuf || read_string((pid_t)req->pid, req->data.args[k], PATH_MAX, callbuf + used + 9, &n) < 0) {
      callbuf[used++] = '!';
      continue;
    }
    callbuf[used] = '+';
    memcpy(callbuf + used + 1, &n, 8);
    call_paths[k] = (const char *)callbuf + used + 9;
    call_path_lens[k] = n;
    used += 9 + n;
  }
  return used;
}

/*
 * The calls the controller delegated (local.h): answered here when the path resolves into a
 * delegated grant, then reported. Returns 1 when answered.
 */
static int answer_locally(const struct seccomp_notif *req, int nr, size_t msg_len) {
  if (nr < 0 || nr >= 512 || !local_calls[nr]) return 0;
  uint64_t t0 = mono_ns();
  const __u64 *a = req->data.args;
  static char host[PATH_MAX + 1];
  host[0] = 0;
  int64_t result = -1;
  int err = 0, g = -1;
  switch (nr) {
  case SYS_getuid: case SYS_geteuid: case SYS_getgid: case SYS_getegid: {
    int which = nr == SYS_getuid ? 0 : nr == SYS_geteuid ? 1 : nr == SYS_getgid ? 2 : 3;
    if (ids[which] < 0) return 0;
    result = ids[which];
    g = NO_GRANT;
    break;
  }
  case SYS_fstat:
  case SYS_newfstatat: {
    /* fstat of a virtual descriptor on a granted host directory (see dir_fds). */
    int64_t dfd = (int64_t)(int32_t)(uint32_t)a[0];
    int empty = nr == SYS_fstat || ((a[3] & AT_EMPTY_PATH) && call_paths[1] && call_path_lens[1] == 0);
    int di = empty ? dir_fd_index(dfd) : -1;
    if (di >= 0) {
      struct stat st, out;
      int gi = dir_fds[di].grant;
      if (host_stat(dir_fds[di].host, gi, &st) != 0 || !S_ISDIR(st.st_mode)) return 0;
      virtual_stat(&st, grants[gi].dev, &out);
      if (guest_write((pid_t)req->pid, nr == SYS_fstat ? a[1] : a[2], &out, sizeof out) < 0) err = EFAULT;
      else result = 0;
      memcpy(host, dir_fds[di].host, strlen(dir_fds[di].host) + 1);
      g = gi;
      break;
    }
    if (nr == SYS_fstat) return 0;
    const uint64_t flags = a[3] & 0xffffffffu;
    const char *p = call_paths[1];
    if (!p || (flags & ~(uint64_t)(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT))) return 0;
    if (cwd_stat_ok && flags == 0 && call_path_lens[1] == cwd_len && memcmp(p, cwd, cwd_len) == 0) {
      if (guest_write((pid_t)req->pid, a[2], cwd_stat, sizeof cwd_stat) < 0) err = EFAULT;
      else result = 0;
      g = REPEATED;
      break;
    }
    g = local_stat(req, p, call_path_lens[1], !(flags & AT_SYMLINK_NOFOLLOW), a[2], &result, &err, host);
    break;
  }
  case SYS_stat:
  case SYS_lstat:
    if (!call_paths[0]) return 0;
    g = local_stat(req, call_paths[0], call_path_lens[0], nr == SYS_stat, a[1], &result, &err, host);
    break;
  case SYS_access:
    if (!call_paths[0]) return 0;
    g = local_access(call_paths[0], call_path_lens[0], a[1] & 0xffffffffu, &result, &err, host);
    break;
  case SYS_faccessat:
  case SYS_faccessat2:
    if (!call_paths[1] || (nr == SYS_faccessat2 && (a[3] & 0xffffffffu))) return 0;
    g = local_access(call_paths[1], call_path_lens[1], a[2] & 0xffffffffu, &result, &err, host);
    break;
  case SYS_getdents64:
    g = local_getdents(req, (int64_t)(int32_t)(uint32_t)a[0], a[1], a[2] & 0xffffffffu, &result, &err);
    break;
  case SYS_close: {
    /* The kernel closes it; the controller drops it from its table when the report arrives,
     * before any later call of the guest (reports go first). */
    forget_dir_fd((int64_t)(int32_t)(uint32_t)a[0]);
    forget_listing((int64_t)(int32_t)(uint32_t)a[0]);
    respond(req->id, 0, 0, 1);
    report(callbuf, msg_len, 0, 0, -1, t0, NULL);
    return 1;
  }
  case SYS_getcwd: {
    if (!cwd_known || a[1] > (1ull << 53)) return 0; /* sizes past 2^53: the controller's answer */
    int64_t size = (int64_t)a[1];
    if (size < (int64_t)cwd_len + 1) err = ERANGE;
    else if (guest_write((pid_t)req->pid, a[0], cwd, cwd_len + 1) < 0) err = EFAULT;
    else result = (int64_t)cwd_len + 1;
    g = NO_GRANT;
    break;
  }
  case SYS_readlink:
  case SYS_readlinkat: {
    int at = nr == SYS_readlinkat;
    if (!call_paths[at]) return 0;
    g = local_readlink(req, call_paths[at], call_path_lens[at], a[at + 1], (int64_t)(int32_t)(uint32_t)a[at + 2], &result, &err, host);
    break;
  }
  case SYS_getrandom:
    if (local_getrandom(req, a[0], (int64_t)a[1], &result, &err) < 0) return 0;
    g = NO_GRANT;
    break;
  case SYS_uname:
    if (!utsname_known) return 0;
    if (guest_write((pid_t)req->pid, a[0], utsname_bytes, sizeof utsname_bytes) < 0) err = EFAULT;
    else result = 0;
    g = NO_GRANT;
    break;
  case SYS_open:
  case SYS_openat: {
    int at = nr == SYS_openat;
    if (!call_paths[at]) return 0;
    int fd = -1;
    g = local_open(call_paths[at], call_path_lens[at], a[at + 1] & 0xffffffffu, &fd, &err, host);
    if (g == -1) return 0;
    if (fd >= 0) {
      int got = answer_fd(req->id, fd, (a[at + 1] & O_CLOEXEC) != 0);
      err = got < 0 ? errno : 0;
      report(callbuf, msg_len, got < 0 ? -1 : got, got < 0 ? err : 0, g, t0, host);
      return 1;
    }
    result = -1;
    break;
  }
  default:
    return 0;
  }
  if (g == -1) return 0;
  /* Answered here: grant g (or NO_GRANT, MISSING, REPEATED, a link), reported in call order. */
  respond(req->id, result, err, 0);
  report(callbuf, msg_len, result, err, g, t0, host);
  return 1;
}

/*
 * The guest's own standard streams, while fds 0-2 still hold them and none is a terminal
 * (--stdio-local): fstat describes a pipe, lseek is ESPIPE, ioctl is ENOTTY (close-on-exec flags
 * run natively), as the controller answers them.
 */
static int answer_stdio(const struct seccomp_notif *req, int nr, size_t msg_len) {
  if (!local_stdio) return 0;
  const __u64 *a = req->data.args;
  int64_t fd = (int64_t)(int32_t)(uint32_t)a[0];
  if (fd < 0 || fd > 2) return 0;
  uint64_t statbuf = 0;
  switch (nr) {
  case SYS_fstat:
    statbuf = a[1];
    break;
  case SYS_newfstatat:
    if (!(a[3] & AT_EMPTY_PATH) || !call_paths[1] || call_path_lens[1] != 0) return 0;
    statbuf = a[2];
    break;
  case SYS_lseek:
  case SYS_ioctl:
    break;
  default:
    return 0;
  }
  if (fd_kind_of((pid_t)req->pid, fd) != (enum fd_kind)(FD_STDIN + fd)) return 0;
  uint64_t t0 = mono_ns();
  int64_t result = -1;
  int err = 0, cont = 0;
  if (nr == SYS_lseek) err = ESPIPE;
  else if (nr == SYS_ioctl) {
    unsigned cmd = (unsigned)a[1];
    if (cmd == FIOCLEX || cmd == FIONCLEX) cont = 1, result = 0;
    else err = ENOTTY;
  } else {
    struct stat st;
    memset(&st, 0, sizeof st);
    st.st_dev = 5;
    st.st_ino = 3;
    st.st_nlink = 1;
    st.st_mode = S_IFIFO | 0600;
    st.st_uid = (uid_t)ids[0];
    st.st_gid = (gid_t)ids[2];
    st.st_blksize = 4096;
    if (guest_write((pid_t)req->pid, statbuf, &st, sizeof st) < 0) err = EFAULT;
    else result = 0;
  }
  respond(req->id, result, err, cont);
  report(callbuf, msg_len, cont ? 0 : result, err, -1, t0, NULL);
  return 1;
}

/* Calls that change nothing the guest could stat (anything else forgets the working directory's stat). */
static int changes_nothing(const struct seccomp_notif *req, int nr) {
  switch (nr) {
  case SYS_newfstatat: case SYS_stat: case SYS_lstat: case SYS_access: case SYS_faccessat: case SYS_faccessat2:
  case SYS_getcwd: case SYS_readlink: case SYS_readlinkat: case SYS_getuid: case SYS_geteuid: case SYS_getgid:
  case SYS_getegid: case SYS_getrandom: case SYS_uname:
    return 1;
  case SYS_open:
  case SYS_openat: {
    /* Opening something of a read-only host grant (a directory of the interpreter's library). */
    int at = nr == SYS_openat;
    uint64_t flags = req->data.args[at + 1];
    if ((flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC | 020000000 /* O_TMPFILE without O_DIRECTORY */)) || !call_paths[at]) return 0;
    static char host[PATH_MAX + 1];
    int err = 0;
    return resolve_local(call_paths[at], call_path_lens[at], !(flags & O_NOFOLLOW), host, &err) >= 0;
  }
  default:
    return 0;
  }
}

static void forward(const struct seccomp_notif *req, const struct syscall_fate *f) {
  size_t used = encode_call(req, f);
  if (answer_stdio(req, req->data.nr, used)) return;
  if (answer_locally(req, req->data.nr, used)) return;
  int nr = req->data.nr;
  if (nr == SYS_chdir || nr == SYS_fchdir) cwd_known = 0;
  if (nr == SYS_close) forget_dir_fd((int64_t)(int32_t)(uint32_t)req->data.args[0]), forget_listing((int64_t)(int32_t)(uint32_t)req->data.args[0]);
  if (nr == SYS_dup2 || nr == SYS_dup3) forget_dir_fd((int64_t)(int32_t)(uint32_t)req->data.args[1]), forget_listing((int64_t)(int32_t)(uint32_t)req->data.args[1]);
  if (nr == SYS_getdents64 || nr == SYS_lseek) forget_listings(); /* the controller may move a shared position */
  free(pending_listing);
  pending_listing = NULL;
  /* An open of a granted host directory: the descriptor the controller gives is remembered. */
  int dir_grant = (nr == SYS_open || nr == SYS_openat) ? pending_dir_grant : -1;
  pending_dir_grant = -1;
  if (!changes_nothing(req, nr)) cwd_stat_ok = 0;
  /* A stat of the working directory: its answer may be repeated later (see local.h). */
  int learn = cwd_stat_cacheable && cwd_known && nr == SYS_newfstatat && (req->data.args[3] & 0xffffffffu) == 0 &&
              call_paths[1] && call_path_lens[1] == cwd_len && memcmp(call_paths[1], cwd, cwd_len) == 0;
  int learned = 0;
  flush_reports_with(callbuf, used);

  pid_t pid = (pid_t)req->pid;
  int err = 0, fault = 0;
  for (;;) {
    unsigned char cmd;
    in_all(&cmd, 1);
    switch (cmd) {
    case 'R': {
      uint64_t ptr = in64(), size = in64();
      if (size > MAX_CHUNK) protocol_fatal("R larger than the supervisor's chunk");
      if (guest_read(pid, ptr, iobuf + 1, size) < 0 || !notif_id_valid(req->id)) {
        out_all("!", 1);
        fault = 1;
      } else {
        iobuf[0] = '+';
        out_all(iobuf, size + 1);
      }
      break;
    }
    case 'Z': {
      uint64_t ptr = in64(), maxlen = in64();
      if (maxlen > MAX_CHUNK) maxlen = MAX_CHUNK;
      uint64_t n = 0;
      int bad = 0;
      /* Read page by page so a string that ends just before unmapped memory still works. */
      while (n < maxlen) {
        uint64_t addr = ptr + n;
        uint64_t room = 4096 - (addr & 4095);
        if (room > maxlen - n) room = maxlen - n;
        if (guest_read(pid, addr, iobuf + 9 + n, room) < 0) {
          bad = 1;
          break;
        }
        void *nul = memchr(iobuf + 9 + n, 0, room);
        if (nul) {
          n = (uint64_t)((char *)nul - (iobuf + 9));
          break;
        }
        n += room;
      }
      if (bad || !notif_id_valid(req->id)) {
        out_all("!", 1);
        fault = 1;
      } else {
        iobuf[0] = '+';
        memcpy(iobuf + 1, &n, 8);
        out_all(iobuf, 9 + n);
      }
      break;
    }
    case 'W': {
      uint64_t ptr = in64(), size = in64();
      if (size > MAX_CHUNK) protocol_fatal("W larger than the supervisor's chunk");
      in_all(iobuf, size);
      if (guest_write(pid, ptr, iobuf, size) < 0) fault = 1;
      if (learn && ptr == req->data.args[2] && size == sizeof cwd_stat) memcpy(cwd_stat, iobuf, size), learned = 1;
      break;
    }
    case 'E': {
      int32_t e;
      in_all(&e, 4);
      /* The kernel's errno range (MAX_ERRNO); respond() negates it, and 0 means none. */
      if (e < 0 || e > 4095) protocol_fatal("E with an errno outside 0..4095");
      err = e;
      break;
    }
    case 'V': { /* a virtual descriptor: the placeholder, at a chosen number or the lowest free */
      int64_t target = (int64_t)in64();
      uint64_t flags = in64();
      int64_t res = inject(req->id, placeholder, target >= 0 && target <= INT_MAX ? (int)target : -1, (flags & O_CLOEXEC) != 0);
      out_all("+", 1);
      out_all(&res, 8);
      break;
    }
    case 'o': { /* final answer: open a host file, inject it, and return its number to the guest */
      uint64_t flags = in64(), plen = in64();
      if (plen == 0 || plen >= PATH_MAX) protocol_fatal("bad path length in o");
      in_all(iobuf, plen);
      iobuf[plen] = 0;
      /* O_NONBLOCK, then checked: a name swapped for a FIFO on the host must not block us. */
      int hfd = open(iobuf, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK);
      if (hfd < 0) {
        respond(req->id, 0, errno, 0);
        return;
      }
      struct stat hst;
      if (fstat(hfd, &hst) < 0 || !S_ISREG(hst.st_mode) || fcntl(hfd, F_SETFL, 0) < 0) {
        close(hfd);
        respond(req->id, 0, EACCES, 0);
        return;
      }
      answer_fd(req->id, hfd, (flags & O_CLOEXEC) != 0);
      return;
    }
    case 'm': { /* final answer: a sealed copy of a small read-only virtual file (local.h) */
      uint64_t flags = in64(), plen = in64(), clen = in64();
      if (plen == 0 || plen >= PATH_MAX || clen > MAX_CHUNK || (nr != SYS_open && nr != SYS_openat)) protocol_fatal("bad m");
      struct stat st;
      char vpath[PATH_MAX];
      in_all(&st, sizeof st);
      in_all(vpath, plen);
      vpath[plen] = 0;
      in_all(iobuf, clen);
      int k = vfile_get(vpath, &st, (unsigned char *)iobuf, clen);
      int fd = k < 0 ? -ENFILE : vfile_open(k);
      if (fd < 0) {
        respond(req->id, 0, -fd, 0);
        return;
      }
      answer_fd(req->id, fd, (flags & O_CLOEXEC) != 0);
      return;
    }
    case 'L': { /* the listing of the directory this open returns (see keep_listing) */
      uint64_t size = in64();
      if (size > MAX_LISTING || (nr != SYS_open && nr != SYS_openat) || pending_listing) protocol_fatal("L out of place or too large");
      pending_listing = malloc(size ? size : 1);
      if (!pending_listing) fatal("malloc");
      in_all(pending_listing, size);
      pending_listing_len = size;
      break;
    }
    case 'C':
      if (f->fate != FD && f->fate != FDN && f->fate != FDX && f->fate != DUP) protocol_fatal("C (continue) answered to a call that may not run natively");
      respond(req->id, 0, fault ? EFAULT : 0, !fault);
      return;
    case 'i': {
      int64_t v = (int64_t)in64();
      if (learn) cwd_stat_ok = learned && !fault && !err && v == 0;
      if (dir_grant >= 0 && !fault && !(err && v == -1) && v >= VIRTUAL_FD_BASE) remember_dir_fd(v, pending_dir, dir_grant);
      if (pending_listing && !fault && !(err && v == -1)) keep_listing(v);
      free(pending_listing);
      pending_listing = NULL;
      if (fault) respond(req->id, 0, EFAULT, 0);
      else if (err && v == -1) respond(req->id, 0, err, 0);
      else respond(req->id, v, 0, 0);
      return;
    }
    default: {
      char what[64];
      snprintf(what, sizeof what, "unexpected command byte 0x%02x", cmd);
      protocol_fatal(what);
    }
    }
  }
}

/* A copy of the guest's descriptor in this process (-errno on failure). */
static int fetch_guest_fd(int64_t fd) {
  static int pidfd = -1;
  static pid_t pidfd_of = -1;
  if (pidfd_of != guest_pid) {
    if (pidfd >= 0) close(pidfd);
    pidfd = (int)syscall(SYS_pidfd_open, guest_pid, 0);
    pidfd_of = guest_pid;
  }
  int local = (int)syscall(SYS_pidfd_getfd, pidfd, (int)fd, 0);
  return local < 0 ? -errno : local;
}

/* fstat of a real descriptor, answered here (see describe_real_fd). */
static void answer_real_fstat(const struct seccomp_notif *req, int64_t fd, uint64_t buf) {
  int local = fetch_guest_fd(fd);
  if (local < 0) {
    respond(req->id, 0, -local, 0);
    return;
  }
  struct stat st;
  int rc = describe_real_fd(local, &st);
  close(local);
  if (rc < 0) respond(req->id, 0, -rc, 0);
  else if (guest_write((pid_t)req->pid, buf, &st, sizeof st) < 0 || !notif_id_valid(req->id)) respond(req->id, 0, EFAULT, 0);
  else respond(req->id, 0, 0, 0);
}

/*
 * newfstatat(fd, "", buf, AT_EMPTY_PATH) on a real descriptor is fstat: answered here, from the
 * descriptor itself, without a round trip. The path is read once into our memory; only an empty
 * one takes this path, so the kernel never resolves a name the guest could still change.
 */
static int stat_real_fd(const struct seccomp_notif *req) {
  int64_t fd = (int64_t)(int32_t)(uint32_t)req->data.args[0];
  if (!(req->data.args[3] & AT_EMPTY_PATH) || fd < 0 || fd > INT_MAX) return 0;
  /* 3..511 are real by construction; elsewhere (0-2, 512+) only the guest's own files are. */
  if ((fd < 3 || fd >= VIRTUAL_FD_BASE) && fd_kind_of((pid_t)req->pid, fd) != FD_REAL) return 0;
  char first;
  if (guest_read((pid_t)req->pid, req->data.args[1], &first, 1) < 0 || first != 0) return 0;
  answer_real_fstat(req, fd, req->data.args[2]);
  return 1;
}

/* dup, dup2, dup3 between real descriptors (3..VIRTUAL_FD_BASE-1, as the filter decides FDX calls). */
static int dup_between_real(const struct seccomp_notif *req) {
  int args = req->data.nr == SYS_dup ? 1 : 2;
  for (int k = 0; k < args; k++) {
    uint32_t fd = (uint32_t)req->data.args[k];
    if (fd < 3 || fd >= VIRTUAL_FD_BASE) return 0;
  }
  return 1;
}

/*
 * A call refused at the open-file limit: EMFILE, and reported in call order when it would have
 * gone to the controller (opens, fcntl F_DUPFD, dups that involve a virtual descriptor).
 */
static void refuse_at_fd_limit(const struct seccomp_notif *req, const struct syscall_fate *f) {
  uint64_t t0 = mono_ns();
  int forwarded = f->fate == FWD || f->fate == FD || (f->fate == DUP && !dup_between_real(req));
  size_t used = forwarded ? encode_call(req, f) : 0;
  respond(req->id, 0, EMFILE, 0);
  if (forwarded) report(callbuf, used, -1, EMFILE, NO_GRANT, t0, NULL);
}

static void handle(const struct seccomp_notif *req) {
  int nr = req->data.nr;
  know_guest((pid_t)req->pid); /* the first call comes from the main thread */
  if (!exec_done) {
    /* Our own child between installing the filter and starting the interpreter. */
    if (nr == SYS_execve) exec_done = 1;
    respond(req->id, 0, 0, 1);
    return;
  }
  const struct syscall_fate *f = fate_of(nr);
  if (!f) {
    respond(req->id, 0, ENOSYS, 0);
    return;
  }
  if (!fds_fit(req)) {
    refuse_at_fd_limit(req, f);
    return;
  }
  switch (f->fate) {
  case EXEC:
  case REFUSE:
    refuse_reported(req, f->sig, f->fate == EXEC ? EPERM : f->err);
    return;
  case MMAP:
    if (req->data.args[3] & MAP_ANONYMOUS) {
      check_heap(req->data.args[1]);
      respond(req->id, 0, 0, 1);
    } else if (fd_is_virtual((pid_t)req->pid, (int64_t)req->data.args[4])) respond(req->id, 0, ENODEV, 0);
    else respond(req->id, 0, 0, 1);
    return;
  case FDN:
  case FD:
    /* fcntl F_DUPFD / F_DUPFD_CLOEXEC makes a descriptor: the controller keeps count of those. */
    if (fd_command_forwarded(nr, req->data.args[1])) {
      forward(req, f);
      return;
    }
    if (!fd_is_virtual((pid_t)req->pid, (int64_t)req->data.args[0])) {
      if (nr == SYS_fstat) {
        answer_real_fstat(req, (int64_t)(int32_t)(uint32_t)req->data.args[0], req->data.args[1]);
        return;
      }
      int refuse = native_fd_refusal(nr, req->data.args[1], req->data.args[2]);
      if (refuse) respond(req->id, 0, refuse, 0);
      else respond(req->id, 0, 0, 1);
      return;
    }
    forward(req, f);
    return;
  case FWD:
    if (nr == SYS_newfstatat && stat_real_fd(req)) return;
    forward(req, f);
    return;
  case FDX:
    forward(req, f);
    return;
  case CLONE: /* a new thread, without a cgroup (see thread_fits); or anything else, refused */
    if (!clone_is_thread(req->data.args[0])) refuse_reported(req, f->sig, EPERM);
    else if (thread_fits((pid_t)req->pid)) respond(req->id, 0, 0, 1);
    else respond(req->id, 0, EAGAIN, 0);
    return;
  case SELF: /* another process, or prlimit64 setting a limit of the guest's own (see SELF_RULES) */
    refuse_reported(req, f->sig, EPERM);
    return;
  case NEWFD:
    respond(req->id, 0, 0, 1);
    return;
  case DUP:
    if (dup_between_real(req)) respond(req->id, 0, 0, 1);
    else forward(req, f);
    return;
  default: /* ALLOW/ERR/... never notify */
    respond(req->id, 0, ENOSYS, 0);
  }
}

/*
 * Why the guest ended, when a limit ended it (`limit NAME VALUE` on the notes, before its status):
 * CPU time (SIGXCPU at the soft limit, or SIGKILL at the hard one: its CPU time tells), memory (the
 * cgroup's OOM killer). Limits that only refused something come first (note_reached).
 */
static void note_end_limits(int status) {
  note_reached();
  if (!WIFSIGNALED(status)) return;
  int sig = WTERMSIG(status);
  if (sig == SIGXCPU || (sig == SIGKILL && caps.cpu && caps.guest_cpu_us / 1000000u >= caps.cpu)) note("limit %s %llu\n", "cpu", (unsigned long long)caps.cpu);
  else if (sig == SIGKILL && cgroup_oom_killed()) note("limit %s %llu\n", "memory", (unsigned long long)caps.memory);
}

/*
 * The guest has ended (no task left on the listener, or the relay exited). With a PID namespace,
 * init has written the guest's wait status (or died, leaving end of input): the controller is told
 * now — the last reports, a limit note, `exit STATUS` on the notes — and every stream to it is
 * closed, so the run ends without waiting for the namespaces to be torn down. Then the relay is
 * reaped as before (pass_on_status), with nothing left to say.
 */
static void end_early(void) {
  if (early_status[0] < 0) return;
  struct guest_end end;
  ssize_t got = read(early_status[0], &end, sizeof end);
  close(early_status[0]);
  early_status[0] = -1;
  if (got != (ssize_t)sizeof end) return; /* init died first: the relay's exit tells */
  flush_reports();
  caps.guest_cpu_us = end.cpu_us;
  note_end_limits(end.status);
  note("exit %s%llu\n", "", (unsigned)end.status);
  close(note_fd);
  note_fd = -1;
  close(1);
  close(2);
  told_early = 1;
}

static void pass_on_status(int status) {
  if (!told_early) flush_reports(), note_end_limits(status);
  end_guest(); /* what is left below us: already ended, only to be reaped */
  if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
    signal(sig, SIG_DFL);
    sigset_t all;
    sigemptyset(&all);
    sigaddset(&all, sig);
    sigprocmask(SIG_UNBLOCK, &all, NULL);
    kill(getpid(), sig);
  }
  _exit(126);
}

#include "protocol_guest.h"

/*
 * Options that hand over local answers (local.h), on the command line or in the configuration
 * read from stdin. Returns 1 (consumed; *k is on its last word), 0 (not one of them) or -1 (a bad
 * value; *k is still on the option).
 */
static int local_option(int argc, char **argv, int *k) {
  const char *o = argv[*k];
  if (strcmp(o, "--stdio-local") == 0) {
    local_stdio = 1;
    return 1;
  }
  if (*k + 2 < argc && strcmp(o, "--link") == 0) {
    if (add_link(argv[*k + 1], argv[*k + 2]) < 0) return -1;
    *k += 2;
    return 1;
  }
  if (*k + 1 >= argc) return 0;
  const char *v = argv[*k + 1];
  int ok;
  if (strcmp(o, "--dir") == 0) ok = add_dir(v) == 0;
  else if (strcmp(o, "--name") == 0) ok = add_name(v) == 0;
  else if (strcmp(o, "--absent") == 0) ok = add_absent(v) == 0;
  else if (strcmp(o, "--host-dev") == 0) ok = add_host_dev(v) == 0;
  else if (strcmp(o, "--cwd") == 0) {
    ok = v[0] == '/' && strlen(v) < PATH_MAX;
    if (ok) free(cwd), cwd = dup_or_die(v), cwd_len = strlen(v), cwd_known = 1;
  } else if (strcmp(o, "--cwd-stat") == 0) ok = (cwd_stat_cacheable = strcmp(v, "repeat") == 0);
  else if (strcmp(o, "--grant") == 0) ok = add_grant(v) == 0;
  else if (strcmp(o, "--local") == 0) ok = set_local_calls(v) == 0;
  else if (strcmp(o, "--uname") == 0) ok = set_utsname(v) == 0;
  else if (strcmp(o, "--stat") == 0) ok = add_own_stat(v) == 0;
  else if (strcmp(o, "--file") == 0) ok = add_vfile(v) == 0;
  else if (strcmp(o, "--owner") == 0) {
    uint64_t owner[2];
    ok = parse_uint_fields(v, ':', 2, UINT32_MAX, owner) == 0;
    if (ok) owner_uid = (uint32_t)owner[0], owner_gid = (uint32_t)owner[1];
  } else if (strcmp(o, "--ids") == 0) {
    uint64_t id[4];
    ok = parse_uint_fields(v, ',', 4, UINT32_MAX, id) == 0;
    for (int j = 0; ok && j < 4; j++) ids[j] = (int64_t)id[j];
  } else if (strcmp(o, "--max-path") == 0) {
    uint64_t max;
    ok = parse_uint(v, PATH_MAX, &max) == 0 && max >= 2;
    if (ok) local_max_path = (size_t)max;
  } else return 0;
  if (!ok) return -1;
  ++*k;
  return 1;
}

/*
 * --config-stdin: the controller sends the local-answer options after starting us (it decides
 * them while we start the guest): u32 length, then NUL-terminated words.
 */
static void read_config(void) {
  struct words cfg;
  enum frame_status s = read_words(0, MAX_FRAME, 1, &cfg);
  if (s == FRAME_NONE || s == FRAME_CUT) controller_gone();
  if (s == FRAME_IO) fatal("read from controller");
  if (s != FRAME_OK) frame_fatal("configuration", s);
  int n = (int)cfg.n; /* at most MAX_FRAME words */
  for (int k = 0; k < n; k++)
    if (local_option(n, cfg.word, &k) != 1) word_fatal("bad word in the configuration", cfg.word[k]);
  free_words(&cfg); /* the tables keep copies */
}

/*
 * --standby: a spare started before its run (the controller keeps one ready). Everything of the
 * run comes on stdin first, in the configuration's framing: u32 length, then NUL-terminated
 * words: the number of arguments, the arguments (as they would follow the program name), then
 * the guest's environment as NAME=VALUE words. The caller continues as if started with them.
 * End of input before that (the controller went away) ends the spare quietly.
 */
static char **standby(int *argc_out, char *self) {
  struct words msg;
  enum frame_status s = read_words(0, MAX_FRAME, 0, &msg);
  if (s == FRAME_NONE) {
    end_guest(); /* a child waiting for its run: ended and reaped, no zombie left for pid 1 */
    _exit(0);
  }
  if (s == FRAME_CUT) controller_gone();
  if (s == FRAME_IO) fatal("read from controller");
  if (s != FRAME_OK) frame_fatal("start message", s);
  /* The count, then that many arguments: at least one, and all inside the message. */
  uint64_t argc;
  if (parse_uint(msg.word[0], msg.n - 1, &argc) < 0 || argc == 0) word_fatal("start message with a bad argument count", msg.word[0]);
  if (clearenv() != 0) fatal("clearenv");
  for (size_t k = 1 + argc; k < msg.n; k++)
    if (!env_word_ok(msg.word[k]) || putenv(msg.word[k]) != 0) word_fatal("bad environment word in the start message", msg.word[k]);
  msg.word[0] = self; /* the words stay allocated: argv and the environment point into them */
  msg.word[argc + 1] = NULL;
  *argc_out = (int)argc + 1;
  return msg.word;
}

static int bad_option(const char *name, const char *value) {
  fprintf(stderr, "pypy-box-supervisor: bad value for %s: %s\n", name, value);
  return 2;
}

/* The controller's streams: bigger pipes, the notes descriptor; and we reap all below us. */
static void prepare_streams(void) {
  static int done;
  if (done++) return;
  /* Larger pipes to the controller: an answer of a whole 1 MiB chunk (W, its bytes, the result)
   * fits in one write, without waiting for the guest to drain the pipe; 1 MiB where 2 is refused. */
  for (int fd = 0; fd < 2; fd++)
    if (fcntl(fd, F_SETPIPE_SZ, 2 << 20) < 0) fcntl(fd, F_SETPIPE_SZ, 1 << 20);
  if (fcntl(NOTE_FD, F_GETFD) >= 0) {
    note_fd = fcntl(NOTE_FD, F_DUPFD_CLOEXEC, 10);
    close(NOTE_FD);
  }
  become_reaper();
}

/* The controller that started us, as the first thing we learn (see die_with_controller). */
static pid_t controller_pid;

/*
 * From here on, the controller's death ends us (SIGTERM, on_term: the guest ended and the run's
 * cgroup removed). If it died before, we were already reparented: to pid 1, or to a subreaper
 * (a service manager, a container's init), so the parent is compared with the one we started with.
 */
static void die_with_controller(void) {
  if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0) fatal("PR_SET_PDEATHSIG");
  if (getppid() != controller_pid) _exit(125);
}

/* What a stock guest's supervisor needs before its child: the buffer, the placeholders. */
static void prepare_stock(void) {
  static int done;
  if (done++) return;
  die_with_controller();
  iobuf = malloc(MAX_CHUNK + 16);
  if (!iobuf) fatal("malloc");
  placeholder = (int)syscall(SYS_memfd_create, VIRTUAL_NAME, 0);
  if (placeholder < 0) fatal("memfd_create");
  static const char *const stdio_names[3] = {PLACEHOLDER_PREFIX "stdin", PLACEHOLDER_PREFIX "stdout", PLACEHOLDER_PREFIX "stderr"};
  struct stat pst;
  if (fstat(placeholder, &pst) < 0) fatal("fstat");
  placeholder_dev = pst.st_dev;
  placeholder_ino[0] = pst.st_ino;
  for (int k = 0; k < 3; k++) {
    stdio_placeholder[k] = (int)syscall(SYS_memfd_create, stdio_names[k], MFD_CLOEXEC);
    if (stdio_placeholder[k] < 0 || fstat(stdio_placeholder[k], &pst) < 0) fatal("memfd_create");
    placeholder_ino[k + 1] = pst.st_ino;
  }
  signal(SIGPIPE, SIG_IGN);
}

/* Write end of a standby child's GO_FD (-1: none waiting). */
static int premade_go = -1;

/* Starts the guest's child and takes its listener; standby: the child then waits for send_go. */
static void start_child(struct walls *w, char **guest_argv, int standby) {
  int sv[2], go[2] = {-1, -1};
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) start_failed("socketpair for the guest's child", errno);
  if (pipe2(early_status, O_CLOEXEC) < 0 || (standby && pipe2(go, O_CLOEXEC) < 0)) start_failed("pipe2 for the guest's child", errno);
  fork_child();
  if (child < 0) start_failed("fork of the guest's child", errno);
  if (child == 0) {
    close(sv[0]);
    close(early_status[0]);
    if (standby) {
      close(go[1]);
      if (dup2(go[0], GO_FD) < 0) child_failed("dup2 of the run's pipe");
    }
    child_main(sv[1], w, guest_argv, standby);
  }
  close(sv[1]);
  close(early_status[1]);
  if (standby) {
    close(go[0]);
    premade_go = go[1];
    /* A run refused before it starts (status 2: main returns) ends and reaps the waiting child
     * first: its processes would be left as zombies for pid 1, which may never reap them. */
    atexit(end_guest);
  }
  listener = receive_listener(sv[0]);
  close(sv[0]);
  if (listener < 0) {
    /* The child has told why, when it could (start-failed); this line comes after it. */
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    child = -1;
    char what[160];
    if (WIFSIGNALED(status)) snprintf(what, sizeof what, "the guest's child was killed by signal %d before handing over its seccomp listener", WTERMSIG(status));
    else snprintf(what, sizeof what, "the guest's child ended (exit status %d) before handing over its seccomp listener", WEXITSTATUS(status));
    start_failed(what, 0);
  }
}

/* The run, for the child waiting since standby: limits, program and arguments, environment. */
static void send_go(struct walls *w, char **guest_argv) {
  struct frame go = {0};
  char num[24];
  for (size_t k = 0; k < N_NUMBER_OPTIONS; k++) {
    if (NUMBER_OPTIONS[k].field == HEAP_LIMIT) continue;
    snprintf(num, sizeof num, "%llu", (unsigned long long)*wall_limit_field(w, &NUMBER_OPTIONS[k]));
    frame_add(&go, num);
  }
  size_t argc = 0;
  while (guest_argv[argc]) argc++;
  snprintf(num, sizeof num, "%zu", argc);
  frame_add(&go, num);
  for (size_t k = 0; k < argc; k++) frame_add(&go, guest_argv[k]);
  for (char **e = environ; e && *e; e++) frame_add(&go, *e); /* clearenv may leave it NULL */
  if (go.too_big) protocol_fatal("run too large for the waiting child");
  if (write_frame(premade_go, &go) < 0) fatal("write to the waiting child");
  close(premade_go);
  premade_go = -1;
}

/* A child started ahead that the run cannot use (other walls, a protocol guest): ended, reaped. */
static void discard_premade(void) {
  if (premade_go < 0) return;
  close(premade_go);
  premade_go = -1;
  close(listener);
  listener = -1;
  close(early_status[0]);
  early_status[0] = -1;
  end_guest(); /* the child and everything below it (parent-death signals), reaped */
  child = -1;
}

/*
 * The run's own uid when the walls drop root (identity.h): claimed now, kept until we end. Without
 * one the run does not start. Otherwise no claim is kept.
 */
static void take_identity(struct walls *w) {
  w->run_id = 0;
  if (!w->drop_root || geteuid() != 0) {
    release_id();
    return;
  }
  w->run_id = claim_id();
  if (!w->run_id) stop_before_start(id_failure, id_errno);
}

/* A child started ahead runs as the uid claimed then: it serves a run of the same range only. */
static uint32_t premade_id;

/*
 * The run's caps (see caps): --memory BYTES, --tasks N, --max-fds N (0: none) and
 * --cgroup off|auto|required. Returns like local_option.
 */
static int limit_option(int argc, char **argv, int *k) {
  static const struct { const char *name; enum cgroup_mode mode; } modes[] = {{"off", CGROUP_OFF}, {"auto", CGROUP_AUTO}, {"required", CGROUP_REQUIRED}};
  if (*k + 1 >= argc) return 0;
  const char *o = argv[*k], *v = argv[*k + 1];
  uint64_t *number = strcmp(o, "--memory") == 0 ? &caps.memory : strcmp(o, "--tasks") == 0 ? &caps.tasks : strcmp(o, "--max-fds") == 0 ? &caps.fds : NULL;
  int ok = 0;
  if (number) ok = parse_uint(v, UINT64_MAX, number) == 0; /* words.h */
  else if (strcmp(o, "--cgroup") == 0) {
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++)
      if (strcmp(v, modes[m].name) == 0) caps.cgroup = modes[m].mode, ok = 1;
  } else return 0;
  ++*k;
  return ok ? 1 : -1;
}

/*
 * The memory and task caps of the run, before its child starts: in a cgroup where the host allows
 * it (the walls say cgroup-v2 or cgroup-v1); else as rlimits (RLIMIT_AS, RLIMIT_FSIZE, which also
 * caps every memfd or tmpfs file the guest writes, and RLIMIT_NPROC: rlimit-memory) and, for a
 * stock guest, resident memory plus memfds polled against the cap (memory-poll). A cgroup that was
 * asked for (--cgroup required) and cannot be made stops the run here (fail closed). A child
 * started ahead (standby) is kept only if it is in the group the run needs.
 */
static void set_up_caps(struct walls *w, int protocol) {
  caps.cpu = w->cpu;
  int other_walls = protocol || w->namespaces != NAMESPACES_WHERE_ALLOWED || !w->drop_root;
  int wrong_group = caps.cgroup == CGROUP_OFF ? run_cgroup.version != 0 : caps.cgroup == CGROUP_REQUIRED && !run_cgroup.version;
  if (premade_go >= 0 && (other_walls || wrong_group)) discard_premade(); /* its group goes with it */
  const char *wall = NULL;
  int err = 0;
  if (caps.cgroup != CGROUP_OFF) {
    if (run_cgroup.version) wall = run_cgroup.version == 2 ? "cgroup-v2" : "cgroup-v1";
    else if (premade_go < 0) wall = cgroup_make(); /* a child waiting outside any group stays so */
    err = errno;
    if (wall && cgroup_set_limits(caps.memory, caps.tasks) < 0) {
      err = errno;
      discard_premade();
      cgroup_remove();
      wall = NULL;
    }
    if (!wall && caps.cgroup == CGROUP_REQUIRED) {
      char why[200];
      snprintf(why, sizeof why, "no writable cgroup v2 with memory and pids, nor v1 memory and pids hierarchies: %s", strerror(err ? err : ENOENT));
      fprintf(stderr, "pypy-box-supervisor: the cgroup wall was asked for and cannot be made (%s)\n", why);
      note("wall-failed cgroup %s %llu\n", why, (unsigned long long)(err ? err : ENOENT));
      end_guest();
      _exit(127);
    }
  }
  if (wall) {
    note("walls+ %s%.0llu\n", wall, 0);
    return;
  }
  if (caps.memory) {
    uint64_t as = caps.memory > (UINT64_MAX - (512ull << 20)) / 2 ? 0 : caps.memory * 2 + (512ull << 20);
    if (!w->fsize || w->fsize > caps.memory) w->fsize = caps.memory;
    if (as && (!w->as || w->as > as)) w->as = as;
    if (!protocol) caps.memory_poll = caps.memory;
  }
  if (caps.tasks && (!w->nproc || w->nproc > caps.tasks)) w->nproc = caps.tasks;
  if (caps.memory || caps.tasks) note("walls+ rlimit-memory%s%.0llu\n", caps.memory_poll ? ",memory-poll" : "", 0);
}

int main(int argc, char **argv) {
  take_terminal_signals();
  controller_pid = getppid();
  caps.owner = getpid();
  if (argc >= 2 && strcmp(argv[1], "--standby") == 0) {
    /* A spare claims its uid (from the default range) as it starts, as it would for its run. */
    if (geteuid() == 0) claim_id();
    if (argc == 3 && strcmp(argv[2], "stock") == 0 && (geteuid() != 0 || id_claimed)) {
      /* A stock guest's child with the default walls, started before its run is known. */
      struct walls dw;
      memset(&dw, 0, sizeof dw);
      dw.namespaces = NAMESPACES_WHERE_ALLOWED;
      dw.drop_root = 1;
      dw.run_id = premade_id = id_claimed;
      prepare_streams();
      prepare_stock();
      caps.owner = getpid();
      cgroup_make(); /* where the host allows it: the child joins it now, the caps come with the run */
      start_child(&dw, NULL, 1);
    }
    argv = standby(&argc, argv[0]);
  }
  struct walls w;
  memset(&w, 0, sizeof w);
  w.namespaces = NAMESPACES_WHERE_ALLOWED;
  w.drop_root = 1;
  int protocol_guest = 0, config_stdin = 0, local, number;
  const char *wall_lib = NULL;
  int k = 1;
  for (; k < argc && strcmp(argv[k], "--") != 0; k++) {
    if (strcmp(argv[k], "--protocol-guest") == 0) protocol_guest = 1;
    else if (strcmp(argv[k], "--no-namespaces") == 0) w.namespaces = NAMESPACES_OFF;
    else if (strcmp(argv[k], "--require-namespaces") == 0) w.namespaces = NAMESPACES_REQUIRED;
    else if (strcmp(argv[k], "--keep-uid") == 0) w.drop_root = 0;
    else if (k + 1 < argc && strcmp(argv[k], "--wall") == 0) wall_lib = argv[++k];
    else if (strcmp(argv[k], "--config-stdin") == 0) config_stdin = 1;
    else if (identity_option(argc, argv, &k)) continue;
    else if ((local = limit_option(argc, argv, &k)) != 0) { if (local < 0) return bad_option(argv[k - 1], argv[k]); }
    else if ((local = local_option(argc, argv, &k)) != 0) {
      if (local < 0) return bad_option(argv[k], argv[k + 1]);
    }
    else if (k + 1 < argc && (number = number_option(&w, argv[k], argv[k + 1])) != 0) {
      if (number < 0) return bad_option(argv[k], argv[k + 1]);
      k++;
    } else {
      fprintf(stderr, "pypy-box-supervisor: unknown option %s\n", argv[k]);
      return 2;
    }
  }
  if (k >= argc || argc - k < 3) {
    fprintf(stderr, "usage: pypy-box-supervisor [--protocol-guest [--wall LIB]] [--heap N] [--as N] [--cpu N] [--nofile N] [--fsize N] [--memory N] [--tasks N] [--max-fds N] [--cgroup off|auto|required] [--no-namespaces|--require-namespaces] [--keep-uid] [--uid-range FIRST:COUNT] [--uid-lock FILE] [--grant DEV:PATH]... [--link PATH TARGET]... [--dir ERRNO:PATH]... [--stdio-local] [--local CALLS] [--owner UID:GID] [--ids U,EU,G,EG] [--uname HEX] [--stat HEX:PATH]... [--file STATHEX:HEX:PATH]... [--max-path N] [--config-stdin] -- PROGRAM ARGV0 [ARGS...]\n       pypy-box-supervisor --standby [stock|protocol]   (the arguments and environment follow on stdin)\n");
    return 2;
  }
  char **guest_argv = argv + k + 1;
  prepare_streams();
  /* A child started ahead runs as the uid claimed then: it serves a run of the same range only. */
  if (geteuid() == 0 && !(id_claim_matches() && id_claimed == premade_id)) discard_premade(); /* before its uid may be given up */
  set_up_caps(&w, protocol_guest);
  take_identity(&w);
  if (protocol_guest) {
    discard_premade();
    die_with_controller();
    launch_protocol_guest(&w, wall_lib, guest_argv);
  }
  prepare_stock();
  if (premade_go >= 0) send_go(&w, guest_argv);
  else start_child(&w, guest_argv, 0);
  /* The guest is starting meanwhile; its first forwarded call waits for this. */
  if (config_stdin) read_config();
  /*
   * Linux 6.6+: wake the guest synchronously when answering (the waker hands its CPU to the woken
   * thread), which shortens every notification round trip. Older kernels refuse; that is fine.
   */
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif
  ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
  int pidfd = (int)syscall(SYS_pidfd_open, child, 0);
  if (pidfd < 0) fatal("pidfd_open");

  size_t req_size;
  struct seccomp_notif *req = notif_buffer(&req_size);

  for (;;) {
    struct pollfd pfd[3] = {{listener, POLLIN, 0}, {pidfd, POLLIN, 0}, {0, POLLIN, 0}};
    /* Reports wait for the next forwarded call, but never more than 10 ms. */
    long age = reports_age_ms();
    int timeout = heap_limit || caps.memory_poll ? HEAP_CHECK_MS : -1;
    if (age >= 0 && (timeout < 0 || 10 - age < timeout)) timeout = age >= 10 ? 0 : (int)(10 - age);
    int ready = poll(pfd, 3, timeout);
    if (ready < 0) {
      if (errno == EINTR) continue;
      fatal("poll");
    }
    if (reports_age_ms() >= 10 || (ready == 0 && reports_used)) flush_reports();
    uint64_t now = mono_ns();
    if ((heap_limit || caps.memory_poll) && now - last_heap_check >= HEAP_CHECK_MS * 1000000ull) {
      last_heap_check = now;
      check_heap(0);
    }
    if (pfd[0].revents & POLLIN) {
      memset(req, 0, req_size);
      if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req) < 0) {
        if (errno == EINTR || errno == ENOENT) continue;
        if (errno == ENOTCONN) pfd[1].revents |= POLLIN; /* no guest task left: see below */
        else fatal("SECCOMP_IOCTL_NOTIF_RECV");
      } else {
        handle(req);
        continue;
      }
    }
    if (pfd[2].revents & (POLLIN | POLLHUP | POLLERR)) {
      /* Between calls the controller sends nothing: input now means it is gone or broken. */
      char c;
      if (read(0, &c, 1) <= 0) {
        end_guest();
        _exit(125);
      }
      protocol_fatal("controller sent bytes while no call was in flight");
    }
    if (pfd[1].revents & POLLIN) {
      end_early();
      int status;
      if (wait_guest(child, &status) == child) pass_on_status(status);
      fatal("waitpid");
    }
  }
}
