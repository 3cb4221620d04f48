/* How a run ends (see end.h). */
#define _GNU_SOURCE
#include "end.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "limits.h"
#include "notes.h"
#include "reports.h"

/*
 * The run that SIGTERM and the fatal exits end, and whose guest the terminal's signals reach. A
 * signal handler has no arguments, and the fatal exits are reached from deep inside the wire and
 * the parsers, where passing the run along would only be for this: the one file-scope pointer of
 * the supervisor, set by take_terminal_signals and end_watch.
 */
static struct run *watched;

/*
 * SIGKILL to everything of the run below us, whatever it was doing. The child made itself the
 * leader of its own process group before it forked anything (fork_child): the group reaches the
 * PID namespace's relay, its init and the guest, even when init has not yet set (or has lost with
 * a change of credentials) its parent-death signal; init killed from outside its namespace takes
 * every process of the namespace with it. The child itself is killed by pid as well, for a group
 * not yet made. Whatever left the group (setsid, setpgid: refused by the filter, but a protocol
 * guest has none) is still in the run's cgroup, where there is one, and in its PID namespace.
 * The child's pid, once reaped, is not reused before the whole pid range has gone round.
 */
static void kill_below(struct run *run) {
  if (run->child > 0) kill(-run->child, SIGKILL), kill(run->child, SIGKILL);
  if (getpid() == run->owner) cgroup_kill(&run->cgroup);
}

/*
 * The listener and the socket it may still be travelling on: closed, a notification in flight
 * fails instead of waiting for an answer nobody would give (the guest blocked on it, its init on
 * the guest, we on init), should anything of the run have escaped the kill.
 */
static void drop_listener(struct run *run) {
  if (run->listener_sock >= 0) close(run->listener_sock), run->listener_sock = -1;
  if (run->listener >= 0) close(run->listener), run->listener = -1;
}

void end_guest(struct run *run) {
  uint64_t give_up = mono_ns() + END_WAIT_MS * 1000000ull;
  long nap_ns = 100000;
  kill_below(run);
  drop_listener(run);
  for (;;) {
    int status;
    pid_t p = waitpid(-1, &status, __WALL | WNOHANG);
    if (p > 0 || (p < 0 && errno == EINTR)) continue;
    if (p < 0 || mono_ns() >= give_up) break; /* ECHILD: nothing is left below us */
    /* Something is still going: a namespace being torn down, or a task forked meanwhile. */
    struct timespec nap = {0, nap_ns};
    nanosleep(&nap, NULL);
    if (nap_ns < 20000000) nap_ns *= 2;
    kill_below(run);
  }
  if (getpid() == run->owner) cgroup_remove(&run->cgroup); /* nothing of the run is left in it */
}

/* Ends the watched run's guest, if any, and exits. Async-signal-safe. */
__attribute__((noreturn)) static void end_with(int code) {
  if (watched) end_guest(watched);
  _exit(code);
}

static void end_watched(void) {
  if (watched) end_guest(watched);
}

void end_at_exit(void) {
  atexit(end_watched);
}

/* SIGTERM from the controller (a timeout, an abort): end the guest, then die of SIGKILL as asked before. */
static void on_term(int sig) {
  (void)sig;
  if (watched) end_guest(watched);
  signal(SIGKILL, SIG_DFL);
  kill(getpid(), SIGKILL);
}

/* Async-signal-safe: the pidfd is set once, before or after; errno is kept. */
static void on_terminal_signal(int sig) {
  int saved = errno;
  int fd = watched ? watched->guest.signal_pidfd : -1;
  if (fd >= 0) (void)syscall(SYS_pidfd_send_signal, fd, sig == SIGUSR1 ? SIGINT : SIGQUIT, NULL, 0);
  errno = saved;
}

void take_terminal_signals(struct run *run) {
  watched = run;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_terminal_signal;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &sa, NULL);
  sigaction(SIGUSR2, &sa, NULL);
}

void end_watch(struct run *run) {
  watched = run;
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_term;
  sigfillset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
}

void fatal(const char *what) {
  fprintf(stderr, "pypy-box-supervisor: %s: %s\n", what, strerror(errno));
  end_with(126);
}

void protocol_fatal(const char *what) {
  fprintf(stderr, "pypy-box-supervisor: protocol error: %s\n", what);
  end_with(126);
}

void guest_broke(const struct notes *notes, const char *what) {
  if (notes->fd < 0) fprintf(stderr, "pypy-box-supervisor: protocol error: %s\n", what);
  end_with(126);
}

void word_fatal(const char *what, const char *word) {
  char shown[65];
  size_t n = 0;
  for (; n < sizeof shown - 1 && word[n]; n++) shown[n] = word[n] >= 0x20 && word[n] < 0x7f ? word[n] : '?';
  shown[n] = 0;
  fprintf(stderr, "pypy-box-supervisor: protocol error: %s: \"%s\"\n", what, shown);
  end_with(126);
}

void frame_fatal(const char *which, enum frame_status s) {
  fprintf(stderr, "pypy-box-supervisor: protocol error: %s: %s\n", which, frame_error(s));
  end_with(126);
}

void controller_gone(void) {
  end_with(125);
}

void stop_before_start(struct run *run, const char *text, int err) {
  say_start_failed(&run->notes, text, err);
  end_guest(run);
  _exit(127);
}

void start_failed(struct run *run, const char *what, int err) {
  char text[400];
  snprintf(text, sizeof text, "%s%s%s", what, err ? ": " : "", err ? strerror(err) : "");
  stop_before_start(run, text, err);
}

void child_failed_with(const struct notes *notes, const char *what, int err) {
  char text[400];
  snprintf(text, sizeof text, "the guest's child: %s%s%s", what, err ? ": " : "", err ? strerror(err) : "");
  say_start_failed(notes, text, err);
  _exit(127);
}

void child_failed(const struct notes *notes, const char *what) {
  child_failed_with(notes, what, errno);
}

static uint64_t cpu_us_of(const struct rusage *ru) {
  return (uint64_t)ru->ru_utime.tv_sec * 1000000u + (uint64_t)ru->ru_utime.tv_usec +
         (uint64_t)ru->ru_stime.tv_sec * 1000000u + (uint64_t)ru->ru_stime.tv_usec;
}

pid_t wait_guest(struct run *run, pid_t pid, int *status) {
  struct rusage ru;
  pid_t got = wait4(pid, status, 0, &ru);
  if (got > 0) run->limits.guest_cpu_us = cpu_us_of(&ru);
  return got;
}

void end_early(struct run *run) {
  if (run->early_status[0] < 0) return;
  struct guest_end end;
  ssize_t got = read(run->early_status[0], &end, sizeof end);
  close(run->early_status[0]);
  run->early_status[0] = -1;
  if (got != (ssize_t)sizeof end) return; /* init died first: the relay's exit tells */
  reports_flush(&run->reports);
  run->limits.guest_cpu_us = end.cpu_us;
  note_end_limits(run, end.status);
  note(&run->notes, NOTE_EXIT " %s%llu\n", "", (unsigned)end.status);
  close(run->notes.fd);
  run->notes.fd = -1;
  close(1);
  close(2);
  run->told_early = 1;
}

void pass_on_status(struct run *run, int status) {
  if (!run->told_early) reports_flush(&run->reports), note_end_limits(run, status);
  end_guest(run); /* what is left below us: already ended, only to be reaped */
  if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
    signal(sig, SIG_DFL);
    sigset_t all;
    sigemptyset(&all);
    sigaddset(&all, sig);
    sigprocmask(SIG_UNBLOCK, &all, NULL);
    kill(getpid(), sig);
  }
  _exit(126);
}
