/*
 * A stock guest that tries every argument rule of the supervisor's seccomp filter with crafted
 * arguments: upper halves set, negative numbers, zero, itself, other processes. It prints one line
 * per attempt, "NAME RESULT ERRNO" (ERRNO is "-" when the call succeeded), for test/filter.test.ts.
 *
 * Usage: probe-args CONTROLLER_PID VICTIM_PID   (two processes outside the sandbox it must not reach)
 *        probe-args x32                         (one x32-ABI call: the filter ends the process)
 *
 * Signals that would reach one other process are real ones (SIGUSR2 to the controller, which
 * counts them; SIGKILL to the victim, which the test watches), so a hole shows even where the
 * kernel would not report it. Every target that may name many processes (pid 1, 0, any negative
 * pid: a group, or -1 for all) gets signal 0 only: a hole shows as a success, without harm.
 * It refuses to run outside a seccomp filter, and with pids that are not single other processes:
 * run natively as root, a probe that works would do what a broken filter lets through.
 *
 * The controller asks a stock interpreter for its paths before the run (src/guest/profile.ts):
 * asked that way, this program answers as an interpreter without a library would.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/prctl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#define HI (1L << 32) /* an upper half the kernel ignores for 32-bit arguments */

static void report(const char *name, long ret) {
  int e = errno;
  if (ret < 0) {
    const char *en = strerrorname_np(e);
    printf("%s %ld %s\n", name, ret, en ? en : "?");
  } else printf("%s %ld -\n", name, ret);
  fflush(stdout);
}

/* Each attempt: a raw system call, its outcome reported under the name the test knows it by. */
#define TRY(name, ...) \
  do { \
    errno = 0; \
    long ret_ = syscall(__VA_ARGS__); \
    report(name, ret_); \
  } while (0)

static long self, controller, victim;

static void probe_kill(void) {
  TRY("kill(self,0)", SYS_kill, self, 0);
  TRY("kill(0,0)", SYS_kill, 0L, 0);
  TRY("kill(-1,0)", SYS_kill, -1L, 0);
  TRY("kill(-self,0)", SYS_kill, -self, 0);
  TRY("kill(1,0)", SYS_kill, 1L, 0);
  TRY("kill(hi|self,0)", SYS_kill, HI | self, 0);
  TRY("kill(hi|0,0)", SYS_kill, HI, 0);
  TRY("kill(u32 -1,0)", SYS_kill, 0xffffffffL, 0);
  TRY("kill(controller,USR2)", SYS_kill, controller, SIGUSR2);
  TRY("kill(hi|controller,USR2)", SYS_kill, HI | controller, SIGUSR2);
  TRY("kill(victim,KILL)", SYS_kill, victim, SIGKILL);
  TRY("kill(hi|victim,KILL)", SYS_kill, HI | victim, SIGKILL);
  TRY("kill(-victim,0)", SYS_kill, -victim, 0);
}

static void probe_tgkill(void) {
  long tid = syscall(SYS_gettid);
  TRY("tgkill(self,tid,0)", SYS_tgkill, self, tid, 0);
  TRY("tgkill(hi|self,tid,0)", SYS_tgkill, HI | self, tid, 0);
  TRY("tgkill(-1,tid,0)", SYS_tgkill, -1L, tid, 0);
  TRY("tgkill(controller,controller,USR2)", SYS_tgkill, controller, controller, SIGUSR2);
  TRY("tgkill(hi|controller,controller,USR2)", SYS_tgkill, HI | controller, controller, SIGUSR2);
  TRY("tgkill(hi|victim,victim,KILL)", SYS_tgkill, HI | victim, victim, SIGKILL);
}

static void probe_sigqueue(void) {
  /* SI_QUEUE: what a process may send another, so only the filter stands in the way. */
  siginfo_t info;
  memset(&info, 0, sizeof info);
  info.si_code = SI_QUEUE;
  info.si_pid = (pid_t)self;
  TRY("rt_sigqueueinfo(self,0)", SYS_rt_sigqueueinfo, self, 0, &info);
  TRY("rt_sigqueueinfo(0,0)", SYS_rt_sigqueueinfo, 0L, 0, &info);
  TRY("rt_sigqueueinfo(-1,0)", SYS_rt_sigqueueinfo, -1L, 0, &info);
  TRY("rt_sigqueueinfo(hi|self,0)", SYS_rt_sigqueueinfo, HI | self, 0, &info);
  TRY("rt_sigqueueinfo(controller,USR2)", SYS_rt_sigqueueinfo, controller, SIGUSR2, &info);
  TRY("rt_sigqueueinfo(hi|controller,USR2)", SYS_rt_sigqueueinfo, HI | controller, SIGUSR2, &info);
  TRY("rt_sigqueueinfo(hi|victim,KILL)", SYS_rt_sigqueueinfo, HI | victim, SIGKILL, &info);
}

static void probe_prlimit(void) {
  struct rlimit old, cur;
  getrlimit(RLIMIT_NOFILE, &cur); /* setting the limit it has: harmless even through a hole */
  TRY("prlimit64(0,read)", SYS_prlimit64, 0L, RLIMIT_NOFILE, NULL, &old);
  TRY("prlimit64(self,read)", SYS_prlimit64, self, RLIMIT_NOFILE, NULL, &old);
  TRY("prlimit64(0,set)", SYS_prlimit64, 0L, RLIMIT_NOFILE, &cur, NULL);
  TRY("prlimit64(self,set)", SYS_prlimit64, self, RLIMIT_NOFILE, &cur, &old);
  TRY("prlimit64(0,set hi|NULL)", SYS_prlimit64, 0L, RLIMIT_NOFILE, HI, NULL);
  TRY("prlimit64(hi|0,read)", SYS_prlimit64, HI, RLIMIT_NOFILE, NULL, &old);
  TRY("prlimit64(hi|self,read)", SYS_prlimit64, HI | self, RLIMIT_NOFILE, NULL, &old);
  TRY("prlimit64(-1,read)", SYS_prlimit64, -1L, RLIMIT_NOFILE, NULL, &old);
  TRY("prlimit64(1,read)", SYS_prlimit64, 1L, RLIMIT_NOFILE, NULL, &old);
  TRY("prlimit64(controller,read)", SYS_prlimit64, controller, RLIMIT_NOFILE, NULL, &old);
  TRY("prlimit64(hi|controller,read)", SYS_prlimit64, HI | controller, RLIMIT_NOFILE, NULL, &old);
  /* The libc way of setting a limit ends in the same call. */
  errno = 0;
  report("setrlimit(NOFILE)", setrlimit(RLIMIT_NOFILE, &cur));
}

static void *thread_body(void *arg) {
  return arg;
}

/* A clone that went through as a new process must not run on: its child leaves at once. */
static void try_clone(const char *name, long flags) {
  errno = 0;
  long ret = syscall(SYS_clone, flags, 0L, 0L, 0L, 0L);
  if (ret == 0) _exit(0);
  report(name, ret);
}

static void probe_clone(void) {
  pthread_t t;
  int e = pthread_create(&t, NULL, thread_body, NULL);
  if (e == 0) pthread_join(t, NULL);
  errno = e;
  report("pthread_create", e ? -1 : 0);
  try_clone("clone(SIGCHLD)", SIGCHLD);
  try_clone("clone(VM|SIGHAND)", CLONE_VM | CLONE_SIGHAND);
  try_clone("clone(hi|SIGCHLD)", HI | SIGCHLD);
  /* CLONE_THREAD without CLONE_SIGHAND: the kernel refuses it (EINVAL) once the filter lets it by. */
  try_clone("clone(THREAD)", CLONE_THREAD);
  try_clone("clone(hi|THREAD)", HI | CLONE_THREAD);
  static const struct {
    const char *name;
    long flag;
  } ns[] = {
      {"clone(THREAD|NEWNS)", CLONE_NEWNS},     {"clone(THREAD|NEWCGROUP)", CLONE_NEWCGROUP},
      {"clone(THREAD|NEWUTS)", CLONE_NEWUTS},   {"clone(THREAD|NEWIPC)", CLONE_NEWIPC},
      {"clone(THREAD|NEWUSER)", CLONE_NEWUSER}, {"clone(THREAD|NEWPID)", CLONE_NEWPID},
      {"clone(THREAD|NEWNET)", CLONE_NEWNET},
  };
  for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) try_clone(ns[k].name, CLONE_THREAD | ns[k].flag);
  TRY("clone3", SYS_clone3, NULL, 0L);
}

static void probe_prctl(void) {
  char name[16] = "probe";
  TRY("prctl(SET_NAME)", SYS_prctl, PR_SET_NAME, name, 0L, 0L, 0L);
  TRY("prctl(GET_NAME)", SYS_prctl, PR_GET_NAME, name, 0L, 0L, 0L);
  TRY("prctl(hi|GET_NAME)", SYS_prctl, HI | PR_GET_NAME, name, 0L, 0L, 0L);
  TRY("prctl(GET_DUMPABLE)", SYS_prctl, PR_GET_DUMPABLE, 0L, 0L, 0L, 0L);
  TRY("prctl(SET_DUMPABLE)", SYS_prctl, PR_SET_DUMPABLE, 1L, 0L, 0L, 0L);
  TRY("prctl(hi|SET_DUMPABLE)", SYS_prctl, HI | PR_SET_DUMPABLE, 1L, 0L, 0L, 0L);
  TRY("prctl(SET_PDEATHSIG)", SYS_prctl, PR_SET_PDEATHSIG, 0L, 0L, 0L, 0L);
  TRY("prctl(SET_NO_NEW_PRIVS)", SYS_prctl, PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L);
  TRY("prctl(SET_SECCOMP)", SYS_prctl, PR_SET_SECCOMP, 0L, 0L, 0L, 0L);
  TRY("prctl(SET_CHILD_SUBREAPER)", SYS_prctl, PR_SET_CHILD_SUBREAPER, 1L, 0L, 0L, 0L);
  TRY("prctl(SET_PTRACER)", SYS_prctl, PR_SET_PTRACER, -1L, 0L, 0L, 0L);
}

/* fcntl and ioctl on a real descriptor in the filter's range (3..511), and on one beyond it. */
static void probe_fd_commands(int fd, const char *at) {
  char name[64];
  struct flock lock = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
  int n = 0;
  struct termios tio;
#define AT(call, what) (snprintf(name, sizeof name, "%s(%s) %s", call, at, what), name)
  TRY(AT("fcntl", "F_GETFL"), SYS_fcntl, fd, F_GETFL, 0L);
  TRY(AT("fcntl", "F_SETFL O_NONBLOCK"), SYS_fcntl, fd, F_SETFL, (long)O_NONBLOCK);
  TRY(AT("fcntl", "F_SETFL hi|O_NONBLOCK"), SYS_fcntl, fd, F_SETFL, HI | O_NONBLOCK);
  TRY(AT("fcntl", "F_SETFL O_ASYNC"), SYS_fcntl, fd, F_SETFL, (long)O_ASYNC);
  TRY(AT("fcntl", "F_SETOWN"), SYS_fcntl, fd, F_SETOWN, self);
  TRY(AT("fcntl", "hi|F_SETOWN"), SYS_fcntl, fd, HI | F_SETOWN, self);
  TRY(AT("fcntl", "F_SETLK"), SYS_fcntl, fd, F_SETLK, &lock);
  TRY(AT("fcntl", "hi|F_GETFD"), SYS_fcntl, fd, HI | F_GETFD, 0L);
  TRY(AT("fcntl", "F_GETPIPE_SZ"), SYS_fcntl, fd, F_GETPIPE_SZ, 0L);
  TRY(AT("ioctl", "FIONREAD"), SYS_ioctl, fd, FIONREAD, &n);
  TRY(AT("ioctl", "hi|FIONREAD"), SYS_ioctl, fd, HI | FIONREAD, &n);
  TRY(AT("ioctl", "TCGETS"), SYS_ioctl, fd, TCGETS, &tio);
  TRY(AT("ioctl", "TIOCSTI"), SYS_ioctl, fd, TIOCSTI, "x");
#undef AT
}

/* Descriptor arguments: the kernel reads their low 32 bits, and so does the filter. */
static void probe_descriptors(void) {
  int p[2];
  if (pipe(p) < 0) {
    report("pipe", -1);
    return;
  }
  char buf[4] = {0};
  TRY("write(pipe)", SYS_write, p[1], "x", 1L);
  TRY("write(hi|pipe)", SYS_write, HI | p[1], "y", 1L);
  TRY("read(hi|pipe)", SYS_read, HI | p[0], buf, 2L);
  report(strcmp(buf, "xy") == 0 ? "read(hi|pipe) got xy" : "read(hi|pipe) got other", 0);
  TRY("dup2(hi|pipe,511)", SYS_dup2, HI | p[0], 511L);
  probe_fd_commands(511, "511");
  TRY("close(hi|511)", SYS_close, HI | 511L);
  TRY("fcntl(511) F_GETFD after close", SYS_fcntl, 511L, F_GETFD, 0L);
  /* A real descriptor beyond the filter's range: made by the controller, checked by the supervisor. */
  long high = syscall(SYS_fcntl, p[0], F_DUPFD, 600L);
  report(high >= 600 ? "fcntl F_DUPFD 600" : "fcntl F_DUPFD 600 (below 600)", high < 0 ? -1 : 0);
  if (high >= 600) probe_fd_commands((int)high, ">511");
  long again = syscall(SYS_fcntl, p[0], HI | F_DUPFD, 600L);
  report(again >= 600 ? "fcntl hi|F_DUPFD 600" : "fcntl hi|F_DUPFD 600 (below 600)", again < 0 ? -1 : 0);
  /* The listener handover's sendmsg: that descriptor is closed before exec; others are refused. */
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  TRY("sendmsg(509)", SYS_sendmsg, 509L, &msg, 0L);
  TRY("sendmsg(hi|509)", SYS_sendmsg, HI | 509L, &msg, 0L);
  TRY("sendmsg(pipe)", SYS_sendmsg, p[1], &msg, 0L);
  /* mmap: anonymous, of a real descriptor (also with an upper half), of a virtual one. */
  TRY("mmap(anonymous)", SYS_mmap, NULL, 4096L, PROT_READ, (long)(MAP_PRIVATE | MAP_ANONYMOUS), -1L, 0L);
  long mfd = syscall(SYS_memfd_create, "probe", 0L);
  if (mfd < 0 || ftruncate((int)mfd, 4096) < 0) report("memfd", -1);
  TRY("mmap(memfd)", SYS_mmap, NULL, 4096L, PROT_READ, (long)MAP_PRIVATE, mfd, 0L);
  TRY("mmap(hi|memfd)", SYS_mmap, NULL, 4096L, PROT_READ, (long)MAP_PRIVATE, HI | mfd, 0L);
  TRY("mmap(stdin)", SYS_mmap, NULL, 4096L, PROT_READ, (long)MAP_PRIVATE, 0L, 0L);
}

/* A second program or a second process: refused (one that went through leaves at once). */
static void probe_exec(void) {
  static char *const argv[] = {"true", NULL}, *const envp[] = {NULL};
  TRY("execve", SYS_execve, "/bin/true", argv, envp);
  TRY("execveat", SYS_execveat, AT_FDCWD, "/bin/true", argv, envp, 0);
  errno = 0;
  long pid = syscall(SYS_fork);
  if (pid == 0) _exit(0);
  report("fork", pid);
}

/* Calls the table refuses outright, and one it does not list. */
static void probe_refused(void) {
  probe_exec();
  TRY("socket", SYS_socket, AF_UNIX, SOCK_STREAM, 0);
  TRY("tkill(self)", SYS_tkill, self, 0);
  TRY("setrlimit", SYS_setrlimit, RLIMIT_NOFILE, NULL);
}

/* What the controller's profile of a stock interpreter asks: implementation, prefixes, path. */
static int answer_profile_query(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "-S") != 0) return 0;
  printf("[\"probe-args\", \"/\", \"/\", [], [], []]\n");
  return 1;
}

/* Under a filter, PR_GET_SECCOMP is refused or says 2; natively it says 0. */
static int under_seccomp(void) {
  return prctl(PR_GET_SECCOMP, 0, 0, 0, 0) != 0;
}

int main(int argc, char **argv) {
  if (answer_profile_query(argc, argv)) return 0;
  if (!under_seccomp()) {
    fprintf(stderr, "probe-args: runs only under a seccomp filter (the supervisor's)\n");
    return 2;
  }
  if (argc == 2 && strcmp(argv[1], "x32") == 0) {
    TRY("x32 getpid", 0x40000000L | SYS_getpid);
    return 0;
  }
  if (argc != 3) {
    fprintf(stderr, "usage: probe-args CONTROLLER_PID VICTIM_PID | probe-args x32\n");
    return 2;
  }
  self = syscall(SYS_getpid);
  controller = strtol(argv[1], NULL, 10);
  victim = strtol(argv[2], NULL, 10);
  if (controller <= 1 || victim <= 1 || controller == self || victim == self || controller > INT32_MAX ||
      victim > INT32_MAX) {
    fprintf(stderr, "probe-args: CONTROLLER_PID and VICTIM_PID must name single other processes\n");
    return 2;
  }
  probe_kill();
  probe_tgkill();
  probe_sigqueue();
  probe_prlimit();
  probe_clone();
  probe_prctl();
  probe_descriptors();
  probe_refused();
  printf("done\n");
  return 0;
}
