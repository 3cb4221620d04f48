/*
 * A compromised interpreter, run as the sandboxed binary: it speaks no protocol and tries, with
 * raw system calls, to reach past the strict wall. Each attempt prints one line on stderr (the
 * controller keeps it as guestStderr):
 *
 *   ATTACK <name> ret=<return value> errno=<errno>
 *
 * then a few calls the wall allows ("ALLOWED ..."), then "DONE". Usage: attacker WRITABLE_PATH [PLANTED_LINK [PLANTED_FIFO]]: a file it would create if
 * the wall let it; names in its own directory ending in ".so", as the loader's window accepts, that
 * lead elsewhere (a symlink to /etc/passwd, a FIFO).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(const char *name, long ret) {
  char line[160];
  int n = snprintf(line, sizeof line, "ATTACK %s ret=%ld errno=%d\n", name, ret, ret < 0 ? errno : 0);
  (void)!write(2, line, (size_t)n);
}

static sigjmp_buf no_i386;

static void on_segv(int sig) {
  (void)sig;
  siglongjmp(no_i386, 1);
}

/* A call the wall lets through: "ALLOWED <name> ret=<value> errno=<errno>". */
static void allowed(const char *name, long ret) {
  char line[160];
  int n = snprintf(line, sizeof line, "ALLOWED %s ret=%ld errno=%d\n", name, ret, ret < 0 ? errno : 0);
  (void)!write(2, line, (size_t)n);
}

/*
 * open("/etc/passwd") through the i386 entry point (int 0x80), where numbers mean other calls. A
 * kernel without 32-bit emulation answers int 0x80 with SIGSEGV: reported as "unavailable".
 */
static long i386_open(const char *path) {
  char *low = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
  if (low == MAP_FAILED) return -1;
  snprintf(low, 64, "%s", path); /* an address the 32-bit entry point can name */
  long ret;
  __asm__ volatile("int $0x80" : "=a"(ret) : "a"(5), "b"((long)(uintptr_t)low), "c"(0) : "memory");
  if (ret < 0 && ret > -4096) {
    errno = (int)-ret;
    return -1;
  }
  return ret;
}

int main(int argc, char **argv) {
  const char *writable = argc > 1 ? argv[1] : "/tmp/pypy-box-attacker";
  char *sh_argv[] = {"sh", "-c", "echo escaped >&2", NULL};
  static const char msg[] = "x";
  report("open-passwd", syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY));
  report("open-passwd-legacy", syscall(SYS_open, "/etc/passwd", O_RDONLY));
  report("create-file", syscall(SYS_openat, AT_FDCWD, writable, O_WRONLY | O_CREAT | O_TRUNC, 0644));
  report("open-library-for-writing", syscall(SYS_openat, AT_FDCWD, "/usr/lib/x86_64-linux-gnu/libc.so.6", O_RDWR));
  report("open-planted-link", syscall(SYS_openat, AT_FDCWD, argc > 2 ? argv[2] : "/nonexistent/evil.so", O_RDONLY));
  report("open-planted-fifo", syscall(SYS_openat, AT_FDCWD, argc > 3 ? argv[3] : "/nonexistent/fifo.so", O_RDONLY));
  report("socket", syscall(SYS_socket, AF_INET, SOCK_STREAM, 0));
  report("kill-init", syscall(SYS_kill, 1, 0));
  report("kill-upper-bits", syscall(SYS_kill, (1ULL << 32) | 1, 0));
  report("tgkill-init", syscall(SYS_tgkill, 1, 1, 0));
  report("tgkill-upper-bits", syscall(SYS_tgkill, (1ULL << 32) | (uint64_t)getpid(), getpid(), 0));
  report("execve-sh", syscall(SYS_execve, "/bin/sh", sh_argv, NULL));
  report("execveat-sh", syscall(SYS_execveat, AT_FDCWD, "/bin/sh", sh_argv, NULL, 0));
  report("ptrace-traceme", syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0));
  report("ptrace-attach-init", syscall(SYS_ptrace, PTRACE_ATTACH, 1, 0, 0));
  report("write-fd3", syscall(SYS_write, 3, msg, 1));
  report("write-upper-bits", syscall(SYS_write, (1ULL << 32) | 1, msg, 1));
  report("read-upper-bits", syscall(SYS_read, (1ULL << 32), msg, 0));
  report("readlink-other", syscall(SYS_readlink, "/proc/self/cwd", (char[64]){0}, 64));
  report("stat-passwd", syscall(SYS_newfstatat, AT_FDCWD, "/etc/passwd", (char[256]){0}, 0));
  report("listener-of-its-own", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, NULL));
  signal(SIGSEGV, on_segv);
  if (sigsetjmp(no_i386, 1) == 0) report("i386-open-passwd", i386_open("/etc/passwd"));
  else (void)!write(2, "ATTACK i386-open-passwd unavailable\n", 36);
  report("fork", syscall(SYS_fork));
  struct rlimit64_pair {
    uint64_t cur, max;
  } lim = {1 << 20, 1 << 20};
  struct msghdr none;
  memset(&none, 0, sizeof none);
  report("prlimit-raise", syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &lim, NULL));
  report("prlimit-raise-upper-bits", syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, (uintptr_t)&lim | (1ULL << 63), NULL));
  report("prlimit-of-init", syscall(SYS_prlimit64, 1, RLIMIT_NOFILE, NULL, &lim));
  report("prlimit-upper-bits", syscall(SYS_prlimit64, 1ULL << 32, RLIMIT_NOFILE, NULL, &lim));
  report("sendmsg-stdout", syscall(SYS_sendmsg, 1, &none, 0));
  report("sendmsg-handoff-upper-bits", syscall(SYS_sendmsg, (1ULL << 32) | 509, &none, 0));
  report("read-beyond-handed-fds", syscall(SYS_read, 1024, (char[8]){0}, 0));
  report("fstat-stdin", syscall(SYS_fstat, 0, (char[256]){0}));
  report("seccomp-tsync", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, NULL));
  report("seccomp-strict-mode", syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, NULL));
  /* What the wall allows, with the same kind of arguments: these succeed. */
  allowed("tgkill-self", syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), 0));
  allowed("prlimit-read", syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &lim));
  allowed("read-stdin-nothing", syscall(SYS_read, 0, (char[8]){0}, 0));
  allowed("write-stderr-nothing", syscall(SYS_write, 2, msg, 0));
  /* Not an attack: a library, read-only. The loader's window gives it while it is open. */
  report("open-library", syscall(SYS_openat, AT_FDCWD, "/usr/lib/x86_64-linux-gnu/libc.so.6", O_RDONLY | O_CLOEXEC));
  (void)!write(2, "DONE\n", 5);
  return 0;
}
