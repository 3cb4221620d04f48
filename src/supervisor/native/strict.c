/* The strict wall's table and its filter (see strict.h). */
#include "strict.h"

#include <linux/audit.h>
#include <sys/syscall.h>

#define FD_IN(lo, hi) \
  { 0, (lo), (hi), 0 }
static const struct strict_row STRICT_TABLE[] = {
    /* the protocol: requests on stdin, answers on stdout, fatal messages on stderr (first: most frequent) */
    {SYS_read, STRICT_ALLOW, 0, 1, {FD_IN(0, 1)}},
    {SYS_write, STRICT_ALLOW, 0, 1, {FD_IN(1, 3)}},
    /* library files the supervisor handed over (the guest holds no other descriptor) */
    {SYS_read, STRICT_ALLOW, 0, 1, {FD_IN(3, STRICT_FILE_FDS_END)}},
    {SYS_pread64, STRICT_ALLOW, 0, 1, {FD_IN(3, STRICT_FILE_FDS_END)}},
    {SYS_fstat, STRICT_ALLOW, 0, 1, {FD_IN(3, STRICT_FILE_FDS_END)}},
    {SYS_close, STRICT_ALLOW, 0, 0, {{0}}},
    /* its own memory */
    {SYS_mmap, STRICT_ALLOW, 0, 0, {{0}}},
    {SYS_munmap, STRICT_ALLOW, 0, 0, {{0}}},
    {SYS_mremap, STRICT_ALLOW, 0, 0, {{0}}},
    {SYS_mprotect, STRICT_ALLOW, 0, 0, {{0}}},
    {SYS_madvise, STRICT_ALLOW, 0, 0, {{0}}},
    {SYS_brk, STRICT_ALLOW, 0, 0, {{0}}},
    /* threads' bookkeeping that libc sets up at start */
    {SYS_arch_prctl, STRICT_ALLOW, 0, 0, {{0}}},
    {SYS_set_tid_address, STRICT_ALLOW, 0, 0, {{0}}},
    {SYS_set_robust_list, STRICT_ALLOW, 0, 0, {{0}}},
    {SYS_rseq, STRICT_ALLOW, 0, 0, {{0}}},
    {SYS_futex, STRICT_ALLOW, 0, 0, {{0}}},
    /* signals, to itself only */
    {SYS_rt_sigreturn, STRICT_ALLOW, 0, 0, {{0}}},
    {SYS_rt_sigprocmask, STRICT_ALLOW, 0, 0, {{0}}},
    {SYS_rt_sigaction, STRICT_ALLOW, 0, 0, {{0}}},
    {SYS_sigaltstack, STRICT_ALLOW, 0, 0, {{0}}},
    {SYS_tgkill, STRICT_ALLOW, 0, 1, {{0, 0, 0, 1}}},
    /* time, randomness, identity of itself */
    {SYS_nanosleep, STRICT_ALLOW, 0, 0, {{0}}},
    {SYS_clock_nanosleep, STRICT_ALLOW, 0, 0, {{0}}},
    {SYS_clock_gettime, STRICT_ALLOW, 0, 0, {{0}}},
    {SYS_gettimeofday, STRICT_ALLOW, 0, 0, {{0}}},
    {SYS_getrandom, STRICT_ALLOW, 0, 0, {{0}}},
    {SYS_getpid, STRICT_ALLOW, 0, 0, {{0}}},
    {SYS_gettid, STRICT_ALLOW, 0, 0, {{0}}},
    {SYS_sched_yield, STRICT_ALLOW, 0, 0, {{0}}},
    {SYS_restart_syscall, STRICT_ALLOW, 0, 0, {{0}}},
    /* reading its own limits (pid 0, no new value): libc asks for the stack size */
    {SYS_prlimit64, STRICT_ALLOW, 0, 2, {{0, 0, 1, 0}, {2, 0, 1, 0}}},
    {SYS_exit, STRICT_ALLOW, 0, 0, {{0}}},
    {SYS_exit_group, STRICT_ALLOW, 0, 0, {{0}}},
    /* the supervisor's child handing its listener over, before execve */
    {SYS_sendmsg, STRICT_ALLOW, 0, 1, {FD_IN(STRICT_HANDOFF_FD, STRICT_HANDOFF_FD + 1)}},
    /*
   * The preloaded library adding the same filter once more, window closed: SET_MODE_FILTER with no
   * flags only (a listener of the guest's own would take our notifications; TSYNC is not needed).
   */
    {SYS_seccomp, STRICT_ALLOW, 0, 2, {{0, SECCOMP_SET_MODE_FILTER, SECCOMP_SET_MODE_FILTER + 1, 0}, {1, 0, 1, 0}}},
    /* the loader's window (answered by the supervisor, see protocol_guest.h) */
    {SYS_execve, STRICT_LOADER, EPERM, 0, {{0}}},
    {SYS_openat, STRICT_LOADER, EACCES, 0, {{0}}},
    {SYS_open, STRICT_LOADER, EACCES, 0, {{0}}},
    {SYS_readlink, STRICT_LOADER, EACCES, 0, {{0}}},
    {SYS_newfstatat, STRICT_LOADER, EACCES, 0, {{0}}},
};
#undef FD_IN
#define STRICT_ROWS (sizeof STRICT_TABLE / sizeof STRICT_TABLE[0])

/* The row's errno for a call of the window (EPERM when the call has no LOADER row). */
int strict_loader_errno(int nr) {
  for (size_t k = 0; k < STRICT_ROWS; k++)
    if (STRICT_TABLE[k].nr == nr && STRICT_TABLE[k].fate == STRICT_LOADER) return STRICT_TABLE[k].err;
  return STRICT_REFUSAL;
}

/* A condition in the current scope: on failure, to "next" (the next row). */
static void strict_cond(struct bpf_asm *a, const struct strict_cond *c, pid_t self) {
  if (c->self) {
    bpf_arg_eq64(a, c->arg, (uint64_t)(uint32_t)self, NULL, "next");
    return;
  }
  bpf_ld_arg_hi(a, c->arg);
  bpf_jeq(a, 0, NULL, "next");
  bpf_ld_arg_lo(a, c->arg);
  bpf_jge(a, c->hi, "next", NULL);
  if (c->lo) bpf_jge(a, c->lo, NULL, "next");
}

/*
 * Assembles the strict filter for the process `self` (its pid as it sees itself). window: the
 * LOADER rows notify the supervisor; else they are refused with their errno. Returns the number
 * of instructions (in a->insn), or -1 with a->error.
 */
int strict_filter(struct bpf_asm *a, pid_t self, int window) {
  bpf_init(a);
  /* Another architecture's numbers (i386, x32) mean other calls: none is allowed. */
  bpf_scope(a);
  bpf_ld_arch(a);
  bpf_jeq(a, AUDIT_ARCH_X86_64, "native", NULL);
  bpf_ret(a, SECCOMP_RET_ERRNO | STRICT_REFUSAL);
  bpf_bind(a, "native");
  bpf_ld_nr(a);
  bpf_jge(a, 0x40000000, NULL, "rows"); /* __X32_SYSCALL_BIT */
  bpf_ret(a, SECCOMP_RET_ERRNO | STRICT_REFUSAL);
  bpf_bind(a, "rows");
  for (size_t k = 0; k < STRICT_ROWS; k++) {
    const struct strict_row *r = &STRICT_TABLE[k];
    bpf_scope(a);
    bpf_ld_nr(a);
    bpf_jeq(a, (uint32_t)r->nr, NULL, "next");
    for (int c = 0; c < r->n_cond; c++) strict_cond(a, &r->cond[c], self);
    if (r->fate == STRICT_ALLOW) bpf_ret(a, SECCOMP_RET_ALLOW);
    else bpf_ret(a, window ? SECCOMP_RET_USER_NOTIF : SECCOMP_RET_ERRNO | ((uint32_t)r->err & SECCOMP_RET_DATA));
    bpf_bind(a, "next");
  }
  bpf_ret(a, SECCOMP_RET_ERRNO | STRICT_REFUSAL);
  return bpf_link(a);
}
