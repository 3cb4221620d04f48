/* The stock guest's seccomp filter, built from the fate table (see filter.h). */
#define _GNU_SOURCE
#include "filter.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <sched.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bpf.h"
#include "state.h"
#include "syscalls.h"

/*
 * fcntl and ioctl on a real descriptor (a host file, or the guest's own pipe) run natively only
 * for what cannot reach beyond the guest: no locks on host files, no signal owners, no O_ASYNC.
 * One table serves the filter (descriptors 3..511, decided without a notification) and the
 * supervisor (real descriptors elsewhere).
 */
struct fd_command_rule {
  int nr;
  int refuse;         /* errno for a command not listed */
  unsigned notify[2]; /* always to the supervisor (descriptors the controller counts) */
  size_t n_notify;
  unsigned allow[8]; /* run natively */
  size_t n_allow;
  unsigned checked, mask; /* runs unless its third argument has a bit of mask (if mask != 0) */
};

static const struct fd_command_rule FD_COMMAND_RULES[] = {
    {SYS_ioctl, ENOTTY, {0}, 0, {FIONREAD, FIOCLEX, FIONCLEX, FIONBIO}, 4, 0, 0},
    {SYS_fcntl,
     EPERM,
     {F_DUPFD, F_DUPFD_CLOEXEC},
     2,
     {F_GETFD, F_SETFD, F_GETFL, F_GETPIPE_SZ, F_SETPIPE_SZ, F_GET_SEALS, F_ADD_SEALS},
     7,
     F_SETFL,
     O_ASYNC},
};

static const struct fd_command_rule *fd_command_rule(int nr) {
  for (size_t k = 0; k < sizeof FD_COMMAND_RULES / sizeof FD_COMMAND_RULES[0]; k++)
    if (FD_COMMAND_RULES[k].nr == nr) return &FD_COMMAND_RULES[k];
  return NULL;
}

int fd_command_forwarded(int nr, uint64_t cmd) {
  const struct fd_command_rule *r = fd_command_rule(nr);
  for (size_t k = 0; r && k < r->n_notify; k++)
    if ((uint32_t)cmd == r->notify[k]) return 1;
  return 0;
}

int native_fd_refusal(int nr, uint64_t cmd, uint64_t arg) {
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
int clone_is_thread(uint64_t flags) {
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
  for (size_t k = 0; k < sizeof PRCTL_ALLOWED / sizeof PRCTL_ALLOWED[0]; k++)
    bpf_jeq(a, PRCTL_ALLOWED[k], "allow", NULL);
  bpf_ret(a, SECCOMP_RET_ERRNO | EPERM);
  bpf_bind(a, "allow");
  bpf_ret(a, SECCOMP_RET_ALLOW);
}

static void emit_fate(struct bpf_asm *a, const struct syscall_fate *f, pid_t self, int count_tasks) {
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
    case NEWFD:  /* the supervisor counts the guest's descriptors first */
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
      emit_clone(a, count_tasks);
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
static void emit_call(struct bpf_asm *a, const struct syscall_fate *f, pid_t self, int count_tasks) {
  bpf_scope(a);
  bpf_jeq(a, (uint32_t)f->nr, NULL, "next");
  emit_fate(a, f, self, count_tasks);
  bpf_bind(a, "next");
}

struct sock_fprog build_filter(pid_t self, int count_tasks) {
  static struct bpf_asm filter; /* some 150 KiB: kept off the stack */
  struct bpf_asm *a = &filter;
  bpf_init(a);
  emit_prologue(a);
  emit_listener_handover(a);
  for (size_t k = 0; k < N_FATES; k++) emit_call(a, &FATES[k], self, count_tasks);
  bpf_ret(a, SECCOMP_RET_ERRNO | ENOSYS);
  int n = bpf_link(a);
  if (n < 0) {
    fprintf(stderr, "pypy-box-supervisor: cannot assemble the seccomp filter: %s\n", a->error);
    _exit(127);
  }
  return (struct sock_fprog){(unsigned short)n, a->insn};
}
