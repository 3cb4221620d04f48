/*
 * The strict wall of a guest that speaks the protocol itself (a PyPy translated with --sandbox):
 * one table of what such a guest may do natively, and the seccomp filter assembled from it.
 *
 * The supervisor installs this filter in its child before execve, so the wall never depends on
 * anything the guest's own startup does: dynamic or static, readable or not, setuid or not, the
 * program runs behind it from its first instruction. The filter has a window for the dynamic
 * loader: the calls it needs to find and map the program's libraries (the LOADER rows) go to the
 * supervisor as user notifications, which it answers itself (it opens only library files,
 * read-only, and hands them over; see protocol_guest.h). The preloaded library (wall.c) installs
 * the same filter a second time once the loader is done, with the window closed: the LOADER rows
 * are then refused in the guest without asking anyone. Filters stack, and the stricter answer
 * wins, so a run where the preload did not take effect (a static program) keeps the first filter.
 *
 * Nothing is ever killed: what the table does not allow is refused with an errno the guest
 * survives (EPERM by default), and never let through.
 *
 * Shared by protocol_guest.c and wall.c (the table and the builder: strict.c).
 */
#ifndef PYPY_BOX_STRICT_H
#define PYPY_BOX_STRICT_H
#include <errno.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include "bpf.h"

/*
 * Where the supervisor's child keeps the socket that hands its listener over (and, should execve
 * fail, its errno). Close-on-exec: the program never holds it, and it is the only descriptor
 * sendmsg may use.
 */
#define STRICT_HANDOFF_FD 509
/* Descriptors the guest may read and stat natively besides fd 0: those the supervisor handed over. */
#define STRICT_FILE_FDS_END 1024
/* The errno of every call the table does not allow. */
#define STRICT_REFUSAL EPERM

enum strict_fate {
  STRICT_ALLOW,  /* natively, when every condition holds */
  STRICT_LOADER, /* window open: to the supervisor; window closed: refused with err */
};

/* lo <= argument < hi in all 64 bits; with self set, the argument is the guest's own pid. */
struct strict_cond {
  int arg;
  uint32_t lo, hi;
  int self;
};

/*
 * One row: a call, its fate, and up to two conditions on its arguments. Rows of one call are
 * alternatives (the first that holds decides); a call that no row allows is refused.
 */
struct strict_row {
  int nr;
  enum strict_fate fate;
  int err; /* LOADER rows: the errno once the window is closed (and of a refusal by the supervisor) */
  int n_cond;
  struct strict_cond cond[2];
};

/* The row's errno for a call of the window (EPERM when the call has no LOADER row). */
int strict_loader_errno(int nr);

/*
 * Assembles the strict filter for the process `self` (its pid as it sees itself). window: the
 * LOADER rows notify the supervisor; else they are refused with their errno. Returns the number
 * of instructions (in a->insn), or -1 with a->error.
 */
int strict_filter(struct bpf_asm *a, pid_t self, int window);
#endif
