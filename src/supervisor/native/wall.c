/*
 * libpypybox-wall.so: preloaded into a guest that speaks the protocol itself (a PyPy translated
 * with --sandbox). Its constructor runs after the dynamic loader has mapped every library and
 * before the program's main, and installs a seccomp filter that leaves the guest nothing but its
 * protocol streams: read on fd 0, write on fds 1 and 2, its own memory, its own signals, exit.
 * Anything else kills it (SIGSYS), except a few harmless probes that libc makes (of the standard
 * streams, of the machine's size and identity), which fail with EPERM.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if !defined(__x86_64__)
#error "the pypy-box wall supports x86-64 Linux only for now"
#endif

#define LD_NR BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
#define LD_ARG(i) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[i]))
#define LD_ARG_HI(i) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[i]) + 4)
#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))
#define IS(nr, skip) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, (skip))
#define ALLOW(nr) IS(nr, 1), RET(SECCOMP_RET_ALLOW)
#define DENY(nr) IS(nr, 1), RET(SECCOMP_RET_ERRNO | EPERM)

__attribute__((constructor)) static void pypy_box_wall(void) {
  const char *on = getenv("PYPY_BOX_WALL");
  if (!on || strcmp(on, "1") != 0) return;
  unsetenv("PYPY_BOX_WALL");
  unsetenv("LD_PRELOAD");
  pid_t self = getpid();
  struct sock_filter f[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
    RET(SECCOMP_RET_KILL_PROCESS),
    LD_NR,
    BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1),
    RET(SECCOMP_RET_KILL_PROCESS),
    /* read(0, ...) */
    IS(SYS_read, 6), LD_ARG_HI(0), BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 3), LD_ARG(0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1), RET(SECCOMP_RET_ALLOW), RET(SECCOMP_RET_KILL_PROCESS),
    LD_NR,
    /* write(1 or 2, ...) */
    IS(SYS_write, 8), LD_ARG_HI(0), BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 5), LD_ARG(0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1, 2, 0), BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 2, 1, 0),
    RET(SECCOMP_RET_KILL_PROCESS), RET(SECCOMP_RET_ALLOW), RET(SECCOMP_RET_KILL_PROCESS),
    LD_NR,
    /* signals to itself only (raise, abort) */
    IS(SYS_tgkill, 4), LD_ARG(0), BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)self, 0, 1), RET(SECCOMP_RET_ALLOW),
    RET(SECCOMP_RET_KILL_PROCESS),
    LD_NR,
    ALLOW(SYS_mmap), ALLOW(SYS_munmap), ALLOW(SYS_mremap), ALLOW(SYS_mprotect), ALLOW(SYS_madvise), ALLOW(SYS_brk),
    ALLOW(SYS_exit), ALLOW(SYS_exit_group), ALLOW(SYS_rt_sigreturn), ALLOW(SYS_rt_sigprocmask), ALLOW(SYS_rt_sigaction),
    ALLOW(SYS_sigaltstack), ALLOW(SYS_futex), ALLOW(SYS_nanosleep), ALLOW(SYS_clock_nanosleep), ALLOW(SYS_clock_gettime),
    ALLOW(SYS_gettimeofday), ALLOW(SYS_getpid), ALLOW(SYS_gettid), ALLOW(SYS_sched_yield), ALLOW(SYS_restart_syscall),
    ALLOW(SYS_getrandom), ALLOW(SYS_prlimit64),
    /* probes libc makes of the standard streams and of the machine: refused, harmlessly */
    DENY(SYS_newfstatat), DENY(SYS_fstat), DENY(SYS_ioctl), DENY(SYS_lseek), DENY(SYS_fcntl),
    DENY(SYS_sysinfo), DENY(SYS_sched_getaffinity), DENY(SYS_uname), DENY(SYS_getrlimit),
    DENY(SYS_getuid), DENY(SYS_geteuid), DENY(SYS_getgid), DENY(SYS_getegid),
    RET(SECCOMP_RET_KILL_PROCESS),
  };
  struct sock_fprog prog = {(unsigned short)(sizeof f / sizeof f[0]), f};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) {
    static const char msg[] = "pypy-box-wall: cannot install the seccomp filter\n";
    (void)!write(2, msg, sizeof msg - 1);
    _exit(126);
  }
}
