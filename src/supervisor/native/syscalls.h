/*
 * The fate of every system call a stock interpreter may make under the supervisor. One table:
 * a call that is not listed here is refused with ENOSYS by the filter.
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
 *   REFUSE  (what E() makes of an EPERM or EACCES entry) refused with that errno by the supervisor, which reports it to the
 *           controller as a denial (refusals.h): the guest asked for something the sandbox forbids
 */
#ifndef PYPY_BOX_SYSCALLS_H
#define PYPY_BOX_SYSCALLS_H
#include <errno.h>
#include <sys/syscall.h>

enum fate { ALLOW, FWD, FD, FDN, FDX, MMAP, CLONE, SELF, PRCTL, EXEC, ERR, NEWFD, DUP, REFUSE };

/* Virtual descriptors are placed at this number and above; real ones stay below it. */
#define VIRTUAL_FD_BASE 512

/*
 * Argument kinds in this table: p pointer, s pointer to a path (its string is read at once and
 * sent along after the arguments, saving the controller a Z round trip), l 64-bit integer (sizes,
 * offsets), i C int (sent sign-extended from 32 bits: the kernel leaves the upper half of an int
 * argument undefined). On the wire l and i are both 'i'; s stays 's'.
 */
struct syscall_fate {
  int nr;
  const char *sig; /* NAME(KINDS)i for FWD/FD/FDX; the name for the others */
  enum fate fate;
  int err;
};

#define A(name) {SYS_##name, #name, ALLOW, 0}
#define F(name, kinds) {SYS_##name, #name "(" kinds ")i", FWD, 0}
#define D(name, kinds) {SYS_##name, #name "(" kinds ")i", FD, 0}
#define DN(name, kinds) {SYS_##name, #name "(" kinds ")i", FDN, 0}
#define DX(name, kinds) {SYS_##name, #name "(" kinds ")i", FDX, 0}
#define DU(name, kinds) {SYS_##name, #name "(" kinds ")i", DUP, 0}
#define E(name, e) {SYS_##name, #name, (e) == EPERM || (e) == EACCES ? REFUSE : ERR, e}
#define X(name, f) {SYS_##name, #name, f, 0}

static const struct syscall_fate FATES[] = {
  /* ---- memory, threads, signals, time: the guest's own business ---- */
  A(brk), X(mmap, MMAP), A(munmap), A(mprotect), A(mremap), A(madvise), A(msync), A(mincore),
  A(mlock), A(munlock), A(membarrier), A(futex), A(set_robust_list), A(get_robust_list),
  A(set_tid_address), A(rseq), A(arch_prctl), A(sched_yield), A(sched_getaffinity),
  A(sched_getparam), A(sched_getscheduler), A(sched_get_priority_max), A(sched_get_priority_min),
  A(getpriority), A(rt_sigaction), A(rt_sigprocmask), A(rt_sigreturn), A(rt_sigpending),
  A(rt_sigtimedwait), A(rt_sigsuspend), A(sigaltstack), A(restart_syscall), A(pause),
  A(exit), A(exit_group), A(getpid), A(getppid), A(gettid), A(getpgrp), A(getpgid), A(getsid),
  A(getrusage), A(times), A(clock_gettime), A(clock_getres), A(gettimeofday), A(time),
  A(nanosleep), A(clock_nanosleep), A(getitimer), A(setitimer), A(alarm), A(timer_create),
  A(timer_settime), A(timer_gettime), A(timer_getoverrun), A(timer_delete), A(getcpu),
  A(poll), A(ppoll), A(select), A(pselect6), A(epoll_ctl),
  A(epoll_wait), A(epoll_pwait), A(timerfd_settime), A(timerfd_gettime), A(getrlimit),
  A(wait4), A(waitid), A(umask), A(capget),
  X(clone, CLONE), X(kill, SELF), X(tgkill, SELF), X(rt_sigqueueinfo, SELF), X(prlimit64, SELF),
  X(prctl, PRCTL),
  X(epoll_create, NEWFD), X(epoll_create1, NEWFD), X(eventfd, NEWFD), X(eventfd2, NEWFD), X(pipe, NEWFD),
  X(pipe2, NEWFD), X(timerfd_create, NEWFD), X(signalfd4, NEWFD), X(memfd_create, NEWFD),

  /* ---- descriptors ---- */
  DN(read, "ipl"), DN(write, "ipl"), DN(pread64, "ipll"), DN(pwrite64, "ipll"), DN(readv, "ipi"),
  DN(writev, "ipi"), DN(preadv, "ipill"), DN(pwritev, "ipill"), DN(preadv2, "ipilli"),
  /* fstat is FD, not FDN: a host file is described the way a stat of its name is (supervisor).
   * ioctl and fcntl on 3..511 are decided in the filter (see build_filter), as the supervisor's
   * native_fd_refusal would; on other descriptors (and fcntl F_DUPFD*) they go to the supervisor. */
  DN(pwritev2, "ipilli"), DN(lseek, "ili"), D(fstat, "ip"), DX(close, "i"), D(fcntl, "iil"),
  D(ioctl, "iip"), DU(dup, "i"), DU(dup2, "ii"), DU(dup3, "iii"), DN(fsync, "i"), DN(fdatasync, "i"),
  DN(ftruncate, "il"), DN(fadvise64, "illi"), DN(getdents64, "ipi"), D(fchdir, "i"),
  DN(fallocate, "iill"),
  /* Never natively on a real descriptor: they would change or reveal the host file behind it. */
  E(fchmod, EPERM), E(fchown, EPERM), E(fstatfs, ENOSYS), E(fgetxattr, ENOTSUP), E(flistxattr, ENOTSUP),
  E(flock, 0), /* advisory locks: accepted, and nothing is locked on the host */

  /* ---- names, identity, randomness: decided by the controller ---- */
  F(open, "sii"), F(openat, "isii"), F(creat, "si"), F(stat, "sp"), F(lstat, "sp"),
  F(newfstatat, "ispi"), F(access, "si"), F(faccessat, "isi"), F(faccessat2, "isii"),
  F(readlink, "spi"), F(readlinkat, "ispi"), F(mkdir, "si"), F(mkdirat, "isi"), F(rmdir, "s"),
  F(unlink, "s"), F(unlinkat, "isi"), F(rename, "ss"), F(renameat, "isis"),
  F(renameat2, "isisi"), F(symlink, "ss"), F(symlinkat, "sis"), F(chdir, "s"), F(getcwd, "pl"),
  F(truncate, "sl"), F(utime, "pp"), F(utimes, "pp"), F(utimensat, "ippi"), F(futimesat, "ipp"),
  F(chmod, "pi"), F(fchmodat, "ipi"), F(chown, "pii"), F(lchown, "pii"), F(fchownat, "ipiii"),
  F(statfs, "pp"), F(getxattr, "pppl"), F(lgetxattr, "pppl"), F(listxattr, "ppl"),
  F(llistxattr, "ppl"), F(uname, "p"), F(getuid, ""), F(geteuid, ""), F(getgid, ""),
  F(getegid, ""), F(getresuid, "ppp"), F(getresgid, "ppp"), F(getgroups, "ip"),
  F(getrandom, "pli"), F(sysinfo, "p"),
  X(execve, EXEC),

  /* ---- refused ---- */
  E(execveat, EPERM), E(fork, EPERM), E(vfork, EPERM), E(clone3, ENOSYS),
  E(socket, EACCES), E(socketpair, EACCES), E(connect, EACCES), E(accept, EACCES),
  E(accept4, EACCES), E(bind, EACCES), E(listen, EACCES), E(sendto, EACCES),
  E(recvfrom, EACCES), E(sendmsg, EACCES), E(recvmsg, EACCES), E(sendmmsg, EACCES),
  E(recvmmsg, EACCES), E(shutdown, EACCES), E(getsockname, EACCES), E(getpeername, EACCES),
  E(setsockopt, EACCES), E(getsockopt, EACCES),
  E(link, EPERM), E(linkat, EPERM), E(mknod, EPERM), E(mknodat, EPERM),
  E(ptrace, EPERM), E(process_vm_readv, EPERM), E(process_vm_writev, EPERM), E(kcmp, EPERM),
  E(pidfd_open, EPERM), E(pidfd_getfd, EPERM), E(pidfd_send_signal, EPERM), E(tkill, EPERM),
  E(mount, EPERM), E(umount2, EPERM), E(pivot_root, EPERM), E(chroot, EPERM),
  E(swapon, EPERM), E(swapoff, EPERM), E(reboot, EPERM), E(sethostname, EPERM),
  E(setdomainname, EPERM), E(init_module, EPERM), E(finit_module, EPERM),
  E(delete_module, EPERM), E(kexec_load, EPERM), E(kexec_file_load, EPERM), E(bpf, EPERM),
  E(perf_event_open, EPERM), E(keyctl, EPERM), E(add_key, EPERM), E(request_key, EPERM),
  E(unshare, EPERM), E(setns, EPERM), E(userfaultfd, EPERM), E(io_uring_setup, ENOSYS),
  E(io_uring_enter, ENOSYS), E(io_uring_register, ENOSYS), E(io_setup, ENOSYS),
  E(fanotify_init, EPERM), E(inotify_init, ENOSYS), E(inotify_init1, ENOSYS),
  E(name_to_handle_at, EPERM), E(open_by_handle_at, EPERM), E(quotactl, EPERM), E(acct, EPERM),
  E(syslog, EPERM), E(setuid, EPERM), E(setgid, EPERM), E(setreuid, EPERM), E(setregid, EPERM),
  E(setresuid, EPERM), E(setresgid, EPERM), E(setfsuid, EPERM), E(setfsgid, EPERM),
  E(setgroups, EPERM), E(setpgid, EPERM), E(setsid, EPERM), E(setpriority, EPERM),
  E(capset, EPERM), E(ioperm, EPERM), E(iopl, EPERM), E(modify_ldt, EPERM),
  E(personality, EPERM), E(seccomp, EPERM), E(settimeofday, EPERM), E(clock_settime, EPERM),
  E(adjtimex, EPERM), E(clock_adjtime, EPERM), E(sched_setaffinity, EPERM),
  E(sched_setscheduler, EPERM), E(sched_setparam, EPERM), E(migrate_pages, EPERM),
  E(move_pages, EPERM), E(mbind, EPERM), E(set_mempolicy, EPERM), E(vhangup, EPERM),
  E(msgget, EPERM), E(semget, EPERM), E(shmget, EPERM), E(mq_open, ENOSYS),
  E(close_range, ENOSYS), E(openat2, ENOSYS), E(statx, ENOSYS), E(copy_file_range, EXDEV),
  E(sendfile, ENOSYS), E(splice, EINVAL), E(tee, EINVAL), E(vmsplice, EINVAL),
  E(fsetxattr, ENOTSUP), E(setxattr, ENOTSUP), E(lsetxattr, ENOTSUP), E(removexattr, ENOTSUP),
  E(lremovexattr, ENOTSUP), E(fremovexattr, ENOTSUP), E(sync, 0), E(syncfs, 0),
};

#undef A
#undef F
#undef D
#undef DX
#undef DU
#undef DN
#undef E
#undef X

#define N_FATES (sizeof FATES / sizeof FATES[0])

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

static const struct fd_maker FD_MAKERS[] = {
  {SYS_pipe, 2, MAKES_ALWAYS}, {SYS_pipe2, 2, MAKES_ALWAYS}, {SYS_eventfd, 1, MAKES_ALWAYS},
  {SYS_eventfd2, 1, MAKES_ALWAYS}, {SYS_epoll_create, 1, MAKES_ALWAYS}, {SYS_epoll_create1, 1, MAKES_ALWAYS},
  {SYS_timerfd_create, 1, MAKES_ALWAYS}, {SYS_memfd_create, 1, MAKES_ALWAYS},
  {SYS_signalfd4, 1, MAKES_IF_FIRST_ARG_NEG1}, {SYS_open, 1, MAKES_ALWAYS}, {SYS_openat, 1, MAKES_ALWAYS},
  {SYS_creat, 1, MAKES_ALWAYS}, {SYS_dup, 1, MAKES_ALWAYS}, {SYS_dup2, 1, MAKES_IF_TARGET_FREE},
  {SYS_dup3, 1, MAKES_IF_TARGET_FREE}, {SYS_fcntl, 1, MAKES_IF_DUPFD},
};

#define N_FD_MAKERS (sizeof FD_MAKERS / sizeof FD_MAKERS[0])
#endif
