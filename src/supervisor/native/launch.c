/* Starting the stock guest (see launch.h). */
#define _GNU_SOURCE
#include "launch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "end.h"
#include "filter.h"
#include "limits.h"
#include "listener.h"
#include "notes.h"
#include "words.h"

pid_t fork_child(struct run *run) {
  sigset_t term, old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigprocmask(SIG_BLOCK, &term, &old);
  run->child = fork();
  /* Its own process group, made on both sides: there before either goes on (end_guest kills it). */
  if (run->child == 0) setpgid(0, 0);
  else if (run->child > 0) setpgid(run->child, run->child);
  sigprocmask(SIG_SETMASK, &old, NULL);
  return run->child;
}

int join_run_cgroup(struct run *run) {
  if (cgroup_join(&run->cgroup) == 0) return 0;
  fprintf(stderr, "pypy-box-supervisor: cannot join the run's cgroup: %s\n", strerror(errno));
  return -1;
}

/* Relay and init keep none of the controller's streams: those end when the supervisor closes them. */
static void drop_controller_streams(struct run *run) {
  for (int fd = 0; fd < 3; fd++) close(fd);
  if (run->notes.fd >= 0) close(run->notes.fd), run->notes.fd = -1;
}

/* The calling process, once init is forked: relays the guest's end as its own. */
__attribute__((noreturn)) static void relay_guest_end(struct run *run, pid_t init, int status_pipe[2]) {
  drop_controller_streams(run);
  close(run->early_status[1]);
  close(status_pipe[1]);
  struct guest_end end;
  ssize_t got = read(status_pipe[0], &end, sizeof end);
  int init_status;
  while (wait_guest(run, init, &init_status) < 0 && errno == EINTR) {
  }
  if (got == (ssize_t)sizeof end) run->limits.guest_cpu_us = end.cpu_us;
  pass_on_status(run, got == (ssize_t)sizeof end ? end.status : init_status);
}

/* The namespace's init: waits for the guest and hands its end on, early and to the relay. */
__attribute__((noreturn)) static void init_guest_end(struct run *run, pid_t guest, int status_pipe[2]) {
  drop_controller_streams(run);
  struct guest_end end;
  while (wait_guest(run, guest, &end.status) < 0)
    if (errno != EINTR) _exit(126);
  end.cpu_us = run->limits.guest_cpu_us;
  (void)!write(run->early_status[1], &end, sizeof end);
  (void)!write(status_pipe[1], &end, sizeof end);
  _exit(0);
}

/*
 * In init, once its parent-death signal is set: whether the relay still lives. getppid cannot tell
 * (the relay is outside the namespace: 0 either way); the relay holds the status pipe's read end
 * until it ends, and a pipe without readers polls as an error on its write end.
 */
static int relay_alive(int status_write_end) {
  struct pollfd p = {status_write_end, POLLOUT, 0};
  return poll(&p, 1, 0) >= 0 && !(p.revents & POLLERR);
}

void enter_pid_namespace(struct run *run, struct walls *w) {
  const struct notes *notes = &run->notes;
  if (!w->namespaces || !strstr(w->active, "user-ns")) return;
  if (unshare(CLONE_NEWPID) != 0) {
    if (w->namespaces == NAMESPACES_REQUIRED) child_failed(notes, "the PID namespace was asked for and cannot be made");
    return;
  }
  int status_pipe[2];
  if (pipe2(status_pipe, O_CLOEXEC) < 0) child_failed(notes, "pipe2 for the PID namespace's init");
  pid_t init = fork();
  if (init < 0) child_failed(notes, "fork of the PID namespace's init");
  if (init > 0) relay_guest_end(run, init, status_pipe);
  close(status_pipe[0]);
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) child_failed(notes, "PR_SET_PDEATHSIG in the PID namespace's init");
  if (!relay_alive(status_pipe[1])) _exit(127); /* it died before the signal was set: nobody to tell */
  pid_t guest = fork();
  if (guest < 0) child_failed(notes, "fork of the guest in its PID namespace");
  if (guest > 0) init_guest_end(run, guest, status_pipe);
  close(run->early_status[1]);
  close(status_pipe[1]);
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) child_failed(notes, "PR_SET_PDEATHSIG in the guest");
  wall_note(w, "pid-ns");
}

/* A one-byte message able to carry one descriptor (the listener, from the child to us). */
struct fd_message {
  char byte;
  struct iovec iov;
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int))];
  } u;
  struct msghdr msg;
};

static void fd_message_init(struct fd_message *m) {
  memset(m, 0, sizeof *m);
  m->byte = 'L';
  m->iov.iov_base = &m->byte;
  m->iov.iov_len = 1;
  m->msg.msg_iov = &m->iov;
  m->msg.msg_iovlen = 1;
  m->msg.msg_control = m->u.buf;
  m->msg.msg_controllen = sizeof m->u.buf;
}

static void send_listener(const struct notes *notes, int lfd) {
  struct fd_message m;
  fd_message_init(&m);
  struct cmsghdr *c = CMSG_FIRSTHDR(&m.msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &lfd, sizeof(int));
  if (sendmsg(SOCK_FD, &m.msg, 0) < 0) child_failed(notes, "sendmsg of the seccomp listener");
}

static int receive_listener(int sock) {
  struct fd_message m;
  fd_message_init(&m);
  ssize_t n = recvmsg(sock, &m.msg, MSG_CMSG_CLOEXEC);
  if (n <= 0) return -1;
  struct cmsghdr *c = CMSG_FIRSTHDR(&m.msg);
  if (!c || c->cmsg_type != SCM_RIGHTS) return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

/*
 * A child started ahead of its run (standby): it waits behind the filter, in its namespaces, for
 * the run's limits, program, arguments and environment on GO_FD (see send_go), then sets the
 * limits and returns the words to execute.
 */
static char **await_go(struct run *run, struct walls *w) {
  static const char *const bad = "the run sent to the waiting child is malformed";
  const struct notes *notes = &run->notes;
  struct words go;
  int got = read_words(GO_FD, MAX_FRAME, 0, &go);
  if (got == FRAME_NONE) _exit(0); /* no run: the supervisor gave this child up (discard_premade) */
  if (got != FRAME_OK) child_failed_with(notes, bad, 0);
  close(GO_FD);
  /* The walls' limits, the number of exec words, those, then the environment. */
  size_t at = 0;
  if (wall_limits_from_words(w, go.word, go.n, &at) < 0) child_failed_with(notes, bad, 0);
  uint64_t argc;
  if (at >= go.n || parse_uint(go.word[at], go.n - at - 1, &argc) < 0 || argc < 2) child_failed_with(notes, bad, 0);
  char **exec_words = go.word + at + 1;
  if (clearenv() != 0) child_failed(notes, "clearenv");
  for (size_t k = argc; exec_words[k]; k++) {
    if (!env_word_ok(exec_words[k])) child_failed_with(notes, bad, 0);
    if (putenv(exec_words[k]) != 0) child_failed(notes, "putenv");
  }
  exec_words[argc] = NULL;
  if (apply_limits(w) < 0) child_failed(notes, "setrlimit");
  return exec_words;
}

/* The child's descriptors before its filter: the notes kept apart, stdio the placeholders, nothing else. */
static void arrange_child_fds(struct run *run, int standby) {
  struct notes *notes = &run->notes;
  /* The notes stay open until exec (close-on-exec), for a failure to be told. */
  if (notes->fd >= 0) {
    if (dup3(notes->fd, NOTE_CHILD_FD, O_CLOEXEC) < 0) child_failed(notes, "dup3 of the notes descriptor");
    notes->fd = NOTE_CHILD_FD;
  } else if (standby) child_failed_with(notes, "a waiting child needs the notes descriptor", 0);
  for (int fd = 0; fd < 3; fd++)
    if (dup2(run->guest.stdio_placeholder[fd], fd) < 0) child_failed(notes, "dup2 of a standard stream's placeholder");
  syscall(SYS_close_range, 3, SOCK_FD - 1, 0);
  if (!standby) close(GO_FD);
  syscall(SYS_close_range, NOTE_CHILD_FD + 1, ~0U, 0);
}

__attribute__((noreturn)) static void child_main(struct run *run, int sock, struct walls *w, char **argv, int standby) {
  const struct notes *notes = &run->notes;
  pid_t parent = getppid();
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) child_failed(notes, "PR_SET_PDEATHSIG");
  if (getppid() != parent) _exit(127); /* the supervisor is gone: nobody to tell */
  if (dup2(sock, SOCK_FD) < 0) child_failed(notes, "dup2 of the listener's socket");
  if (join_run_cgroup(run) < 0) child_failed(notes, "joining the run's cgroup");
  if ((standby ? apply_isolation(w) : apply_walls(w)) < 0) child_failed(notes, "setting up the walls");
  /* The new credentials cleared the parent-death signal until the walls set it again. */
  if (getppid() != parent) _exit(127);
  enter_pid_namespace(run, w);
  /* Built once our pid is final, and while stderr still reaches the controller (errors). */
  struct sock_fprog fprog = build_filter(getpid(), !run->cgroup.version);
  arrange_child_fds(run, standby);
  int killable;
  int lfd = install_listener_filter(&fprog, &killable);
  if (lfd < 0) child_failed(notes, "seccomp filter with a user-notification listener");
  if (killable) wall_note(w, "killable-wait");
  send_listener(notes, lfd);
  /* Told once the supervisor holds the listener: a write here could be one it must answer. */
  if (!standby) note(notes, NOTE_WALLS " seccomp-user-notify,parent-death-signal,%s%.0llu\n", w->active, 0);
  /* From here on every call is seen by the supervisor, which lets these through. */
  close(lfd);
  close(SOCK_FD);
  if (standby) {
    argv = await_go(run, w);
    note(notes, NOTE_WALLS " seccomp-user-notify,parent-death-signal,%s%.0llu\n", w->active, 0);
  }
  static char *no_env[] = {NULL};
  execve(argv[0], argv + 1, environ ? environ : no_env);
  int err = errno;
  char what[PATH_MAX + 16];
  snprintf(what, sizeof what, "exec of %s", argv[0]);
  child_failed_with(notes, what, err);
}

/* The child ended before handing its listener over: the run does not start. */
__attribute__((noreturn)) static void child_gave_no_listener(struct run *run) {
  /* The child has told why, when it could (start-failed); this line comes after it. */
  int status = 0;
  while (waitpid(run->child, &status, 0) < 0 && errno == EINTR) {
  }
  run->child = -1;
  char what[160];
  if (WIFSIGNALED(status))
    snprintf(what, sizeof what, "the guest's child was killed by signal %d before handing over its seccomp listener",
             WTERMSIG(status));
  else
    snprintf(what, sizeof what, "the guest's child ended (exit status %d) before handing over its seccomp listener",
             WEXITSTATUS(status));
  start_failed(run, what, 0);
}

/*
 * The guest's child keeps its descriptors at SOCK_FD..NOTE_CHILD_FD: a soft limit on descriptors
 * below them (`ulimit -Sn 256`) is raised to reach them, as any process may up to its hard limit
 * (the walls set the guest's own); a hard limit below them ends the run saying so.
 */
static void reach_child_descriptors(struct run *run) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur > NOTE_CHILD_FD) return;
  if (rl.rlim_max <= NOTE_CHILD_FD)
    start_failed(run,
                 "the limit on open descriptors (RLIMIT_NOFILE, ulimit -n) is below 512, which the guest's child needs",
                 EMFILE);
  rl.rlim_cur = NOTE_CHILD_FD + 1;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) start_failed(run, "raising RLIMIT_NOFILE to 512", errno);
}

void start_child(struct run *run, struct walls *w, char **guest_argv, int standby) {
  int sv[2], go[2] = {-1, -1};
  reach_child_descriptors(run);
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    start_failed(run, "socketpair for the guest's child", errno);
  if (pipe2(run->early_status, O_CLOEXEC) < 0 || (standby && pipe2(go, O_CLOEXEC) < 0))
    start_failed(run, "pipe2 for the guest's child", errno);
  fork_child(run);
  if (run->child < 0) start_failed(run, "fork of the guest's child", errno);
  if (run->child == 0) {
    close(sv[0]);
    close(run->early_status[0]);
    if (standby) {
      close(go[1]);
      if (dup2(go[0], GO_FD) < 0) child_failed(&run->notes, "dup2 of the run's pipe");
    }
    child_main(run, sv[1], w, guest_argv, standby);
  }
  run->listener_sock = sv[0]; /* closed by end_guest meanwhile: a listener in flight goes with it */
  close(sv[1]);
  close(run->early_status[1]);
  if (standby) {
    close(go[0]);
    run->premade_go = go[1];
    /* A run refused before it starts (status 2: main returns) ends and reaps the waiting child
     * first: its processes would be left as zombies for pid 1, which may never reap them. */
    end_at_exit();
  }
  run->listener = receive_listener(sv[0]);
  run->listener_sock = -1;
  close(sv[0]);
  if (run->listener < 0) child_gave_no_listener(run);
}

void send_go(struct run *run, struct walls *w, char **guest_argv) {
  struct frame go = {0};
  char num[24];
  wall_limits_to_frame(w, &go);
  size_t argc = 0;
  while (guest_argv[argc]) argc++;
  snprintf(num, sizeof num, "%zu", argc);
  frame_add(&go, num);
  for (size_t k = 0; k < argc; k++) frame_add(&go, guest_argv[k]);
  for (char **e = environ; e && *e; e++) frame_add(&go, *e); /* clearenv may leave it NULL */
  if (go.too_big) protocol_fatal("run too large for the waiting child");
  if (write_frame(run->premade_go, &go) < 0) fatal("write to the waiting child");
  close(run->premade_go);
  run->premade_go = -1;
}

void discard_premade(struct run *run) {
  if (run->premade_go < 0) return;
  close(run->premade_go);
  run->premade_go = -1;
  close(run->listener);
  run->listener = -1;
  close(run->early_status[0]);
  run->early_status[0] = -1;
  end_guest(run); /* the child and everything below it (parent-death signals), reaped */
  run->child = -1;
}

void take_identity(struct run *run, struct walls *w) {
  w->run_id = 0;
  if (!w->drop_root || geteuid() != 0) {
    release_id(&run->id);
    return;
  }
  w->run_id = claim_id(&run->id);
  if (!w->run_id) stop_before_start(run, run->id.failure, run->id.err);
}
