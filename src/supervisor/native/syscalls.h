/*
 * The fate of every system call a stock interpreter may make under the supervisor. One table, one
 * row per call, written in the contract (src/supervisor/contract/contract.json, "syscalls") and
 * generated into syscall_table.c: a call that is not listed there is refused with ENOSYS by the
 * filter. Each row also says whether the supervisor may answer the call itself from what the
 * controller handed it (CALL_LOCAL, local.h) and for the guest's own standard streams (CALL_STDIO).
 *
 *   ALLOW   runs natively: it only touches the guest's own memory, threads, signals or timers
 *   FWD     forwarded to the controller as a protocol call NAME(KINDS)i; never runs natively
 *   FD      first argument is a descriptor: on a descriptor the supervisor injected from a real
 *           file it runs natively; on a virtual descriptor it is forwarded like FWD
 *   FDN     like FD, but decided in the filter: descriptors 3..VIRTUAL_FD_BASE-1 are the guest's
 *           own or injected real files (virtual descriptors live at VIRTUAL_FD_BASE and above, and
 *           0-2 are virtual), so the call runs natively without a round trip; only data calls
 *           that cannot change a host file are FDN
 *   FDX     descriptor bookkeeping (close, dup*): native between real descriptors (decided in the
 *           filter like FDN, for every descriptor argument); otherwise forwarded so the
 *           controller's table stays right, and it may let the call run natively afterwards ('C')
 *   MMAP    anonymous mappings run natively; file mappings only of injected real files
 *   CLONE   new threads only (CLONE_THREAD), without new namespaces; anything else is EPERM
 *   SELF    signals and limits only for the guest itself: the first argument is its pid in all 64
 *           bits (or 0 for limits), else EPERM; limits may be read, not set (rules: SELF_RULES)
 *   PRCTL   harmless options only (thread names, VMA names)
 *   EXEC    the one execve that starts the interpreter; every later one is refused with EPERM
 *   NEWFD   makes a descriptor of the guest's own (a pipe, an eventfd, ...): runs natively once the
 *           supervisor has checked the guest's descriptors against the open-file limit (EMFILE past it)
 *   DUP     like FDX, but always seen by the supervisor, which checks a copy that makes a new
 *           descriptor against the open-file limit before it lets it run natively
 *   ERR     refused with the errno given, silently: an answer the guest's libc takes as "not
 *           there" (ENOSYS, ENOTSUP, EXDEV, EINVAL) and falls back from, or a harmless no-op (0)
 *   REFUSE  refused with the errno given by the supervisor, which reports it to the controller
 *           as a denial (refusals.h): the guest asked for something the sandbox forbids
 */
#ifndef PYPY_BOX_SYSCALLS_H
#define PYPY_BOX_SYSCALLS_H
#include <stddef.h>

#include "contract.h"

enum fate { ALLOW, FWD, FD, FDN, FDX, MMAP, CLONE, SELF, PRCTL, EXEC, ERR, NEWFD, DUP, REFUSE };

/* Virtual descriptors are placed at VIRTUAL_FD_BASE and above (contract.h); real ones stay below it. */

/*
 * Argument kinds in this table: p pointer, s pointer to a path (its string is read at once and
 * sent along after the arguments, saving the controller a Z round trip), l 64-bit integer (sizes,
 * offsets), i C int (sent sign-extended from 32 bits: the kernel leaves the upper half of an int
 * argument undefined). On the wire l and i are both 'i'; s stays 's'.
 */
struct syscall_fate {
  int nr;
  const char *sig; /* NAME(KINDS)i for FWD/FD/FDN/FDX/DUP; the name for the others */
  enum fate fate;
  int err;
  unsigned flags; /* CALL_LOCAL, CALL_STDIO */
};

#define CALL_LOCAL 1u /* may be answered from what the controller handed over (--local) */
#define CALL_STDIO 2u /* answered for the guest's own standard streams (--stdio-local) */

/* The table, in the filter's order (frequent calls first), and its length. */
extern const struct syscall_fate FATES[];
extern const size_t N_FATES;

/* The row of a call, or NULL (not listed: ENOSYS). */
const struct syscall_fate *fate_of(int nr);

/* The number of the call named by the n bytes at name (its name or whole signature), or -1. */
int syscall_named(const char *name, size_t n);

/*
 * The calls that give the guest new descriptors, and how many: what the open-file limit counts
 * (--max-fds) besides the descriptors the guest already holds. A call may make them only in one
 * case (when): always, with a first argument of -1 (signalfd4 makes one, else changes one), onto a
 * number not open yet (dup2, dup3), or for F_DUPFD-like commands (fcntl).
 */
enum fd_maker_case { MAKES_ALWAYS, MAKES_IF_FIRST_ARG_NEG1, MAKES_IF_TARGET_FREE, MAKES_IF_DUPFD };

struct fd_maker {
  int nr;
  unsigned count;
  enum fd_maker_case when;
};

extern const struct fd_maker FD_MAKERS[];
extern const size_t N_FD_MAKERS;
#endif
