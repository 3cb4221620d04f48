/*
 * Everything the supervisor keeps while it runs, in one place: the run (its processes, the
 * listener, the notes, the limits, the cgroup and the uid claimed), the guest as the supervisor
 * sees it (its placeholders and the buffer for its data) and the options of the command line.
 * One `struct run` lives in main() and is handed to whatever needs it; the answers handed over by
 * the controller have their own struct (struct local, delegation.h).
 */
#ifndef PYPY_BOX_STATE_H
#define PYPY_BOX_STATE_H
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "cgroup.h"
#include "contract.h"
#include "identity.h"
#include "walls.h"

/*
 * Where the child keeps the socket that carries the listener fd, and for a standby child where its
 * run arrives (GO_FD) and the notes it keeps for its walls note: below VIRTUAL_FD_BASE, so that the
 * filter lets it use and close them without a round trip.
 */
#define SOCK_FD 509
#define GO_FD 510
#define NOTE_CHILD_FD 511

/* The notes descriptor (-1: the controller gave none). */
struct notes {
  int fd;
};

/*
 * The run's caps beyond the rlimits (--heap, --memory, --tasks, --max-fds, --cgroup; limits.h):
 * memory and tasks in a cgroup where the host allows it, else by rlimits and polling; the
 * open-file limit over every descriptor the guest holds, real and virtual.
 */
struct limits {
  uint64_t heap; /* resident bytes plus memfds the guest may hold (0 = no limit) */
  uint64_t memory, tasks, fds, cpu;
  enum cgroup_mode cgroup;
  uint64_t memory_poll;     /* without a cgroup: resident memory and memfds polled against this */
  uint64_t fd_estimate;     /* an upper bound of the guest's descriptors (0: count them next time) */
  uint64_t fd_refusals;     /* new descriptors refused with EMFILE at the limit */
  uint64_t guest_cpu_us;    /* the ended guest's CPU time, from wait4 */
  uint64_t task_refusals;   /* without a cgroup: new threads refused at the task cap */
  uint64_t last_heap_check; /* CLOCK_MONOTONIC ns */
};

/* The stock guest as the supervisor sees it: its placeholders, and a buffer for its data. */
struct guest {
  pid_t pid;                 /* the interpreter (may differ from the child: PID namespace relays) */
  volatile int signal_pidfd; /* pid pinned as soon as known: terminal signals go there (end.c) */
  int placeholder;           /* the virtual descriptors' placeholder */
  int stdio_placeholder[3];  /* the standard streams' own, so they can be told apart */
  ino_t placeholder_ino[4];  /* virtual, stdin, stdout, stderr, all on one memfd device */
  dev_t placeholder_dev;
  int pidfd; /* a pidfd of pid (for pidfd_getfd), opened on first use */
  pid_t pidfd_of;
  char *iobuf; /* one chunk (MAX_CHUNK) and a little room */
};

/* Refusals reported as denials (refusals.h): kinds kept, their repeats, and the ones only counted. */
#define REFUSAL_DETAIL_MAX 100 /* the longest detail: a note line stays well under note()'s 512 bytes */
struct refusal {
  int nr;
  int err;
  char detail[REFUSAL_DETAIL_MAX + 1];
  uint64_t repeats; /* after the first, not yet told */
};
struct refusals {
  struct refusal kind[MAX_REFUSAL_KINDS];
  unsigned n;
  uint64_t unkept;
};

/* Reports of calls answered here, waiting to go to the controller in call order (reports.h). */
#define REPORT_BUF (64 * 1024)
struct reports {
  unsigned char buf[REPORT_BUF];
  size_t used;
  struct timespec since; /* when the oldest waiting report was made */
};

struct run {
  pid_t owner;       /* the supervisor: only it removes the run's cgroup */
  pid_t controller;  /* the controller that started us (die_with_controller) */
  pid_t child;       /* the guest's child (or the PID namespace's relay) */
  int listener;      /* the seccomp listener of the child's filter */
  int listener_sock; /* our end of the socket the listener comes on, while it may be on its way */
  int exec_done;     /* the child has started the interpreter */
  /*
   * The guest's wait status, written by the PID namespace's init as soon as the guest has ended
   * (read end here, write end in init): the run's end is told to the controller at once, while
   * the namespaces are still being torn down (end_early).
   */
  int early_status[2];
  int told_early;                       /* the controller has the status and our streams are closed */
  int premade_go;                       /* write end of a standby child's GO_FD (-1: none waiting) */
  uint32_t premade_id;                  /* the uid a standby child runs as: it serves a run of the same range only */
  int streams_prepared, stock_prepared; /* done once, in a standby's start or the run's */
  struct notes notes;
  struct limits limits;
  struct guest guest;
  struct reports reports;
  struct refusals refusals;
  struct run_cgroup cgroup;
  struct identity id;
};

/* The command line (and a standby's start message), parsed. */
struct options {
  struct walls walls;
  int protocol_guest; /* --protocol-guest: the guest speaks the protocol itself */
  int config_stdin;   /* --config-stdin: the local answers' options follow on stdin */
  int relay_calls;    /* --relay-calls: a protocol guest's conversation goes through the supervisor */
  const char *wall_lib;
  char **guest_argv; /* PROGRAM ARGV0 [ARGS...] */
};

/* A run with nothing started: no child, no descriptors, the default caps. */
void run_init(struct run *run);
#endif
