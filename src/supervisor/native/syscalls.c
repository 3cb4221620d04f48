/* The fate table and the descriptor makers (see syscalls.h for what each fate means). */
#include "syscalls.h"

#include <errno.h>
#include <string.h>
#include <sys/syscall.h>

#define A(name) {SYS_##name, #name, ALLOW, 0}
#define F(name, kinds) {SYS_##name, #name "(" kinds ")i", FWD, 0}
#define D(name, kinds) {SYS_##name, #name "(" kinds ")i", FD, 0}
#define DN(name, kinds) {SYS_##name, #name "(" kinds ")i", FDN, 0}
#define DX(name, kinds) {SYS_##name, #name "(" kinds ")i", FDX, 0}
#define DU(name, kinds) {SYS_##name, #name "(" kinds ")i", DUP, 0}
#define E(name, e) {SYS_##name, #name, ERR, e}
#define X(name, f) {SYS_##name, #name, f, 0}

const struct syscall_fate FATES[] = {
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

const size_t N_FATES = sizeof FATES / sizeof FATES[0];

const struct fd_maker FD_MAKERS[] = {
  {SYS_pipe, 2, MAKES_ALWAYS}, {SYS_pipe2, 2, MAKES_ALWAYS}, {SYS_eventfd, 1, MAKES_ALWAYS},
  {SYS_eventfd2, 1, MAKES_ALWAYS}, {SYS_epoll_create, 1, MAKES_ALWAYS}, {SYS_epoll_create1, 1, MAKES_ALWAYS},
  {SYS_timerfd_create, 1, MAKES_ALWAYS}, {SYS_memfd_create, 1, MAKES_ALWAYS},
  {SYS_signalfd4, 1, MAKES_IF_FIRST_ARG_NEG1}, {SYS_open, 1, MAKES_ALWAYS}, {SYS_openat, 1, MAKES_ALWAYS},
  {SYS_creat, 1, MAKES_ALWAYS}, {SYS_dup, 1, MAKES_ALWAYS}, {SYS_dup2, 1, MAKES_IF_TARGET_FREE},
  {SYS_dup3, 1, MAKES_IF_TARGET_FREE}, {SYS_fcntl, 1, MAKES_IF_DUPFD},
};

const size_t N_FD_MAKERS = sizeof FD_MAKERS / sizeof FD_MAKERS[0];

const struct syscall_fate *fate_of(int nr) {
  for (size_t k = 0; k < N_FATES; k++)
    if (FATES[k].nr == nr) return &FATES[k];
  return NULL;
}

int syscall_named(const char *name, size_t n) {
  if (n == 0) return -1;
  for (size_t k = 0; k < N_FATES; k++) {
    const char *sig = FATES[k].sig;
    if (strncmp(sig, name, n) == 0 && (sig[n] == 0 || sig[n] == '(')) return FATES[k].nr;
  }
  return -1;
}
