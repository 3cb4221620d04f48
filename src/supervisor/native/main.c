/*
 * pypy-box supervisor: runs a stock interpreter under a seccomp filter and hands every system
 * call that reaches the outside world to the controller, in the sandbox-2 wire protocol, over
 * this process's own stdin (controller -> supervisor) and stdout (supervisor -> controller); or,
 * with --protocol-guest, starts a guest that speaks the protocol itself behind its walls.
 *
 * The guest gets this process's environment. Its fds 0, 1 and 2 are virtual (placeholders):
 * reads and writes on them are forwarded like any other virtual descriptor.
 *
 * Protocol extensions (see docs/protocol.md of the project): every reply to R and Z starts with a
 * status byte ('+' ok, '!' fault: the guest's pointer was bad, nothing follows); paths travel with
 * the call (kind 's'); command 'V' (inject a virtual placeholder); and instead of a result, 'o'
 * (open a host file the controller chose and return it as the call's descriptor) or 'C' (let the
 * call run natively, for descriptor calls only).
 *
 * This file: the command line, the standby start, and the loop that serves the stock guest's
 * notifications. ARCHITECTURE.md says where everything else happens.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if !defined(__x86_64__)
#error "the pypy-box supervisor supports x86-64 Linux only for now"
#endif

#include "delegation.h"
#include "end.h"
#include "guest.h"
#include "handle.h"
#include "launch.h"
#include "limits.h"
#include "listener.h"
#include "config.h"
#include "protocol_guest.h"
#include "reports.h"
#include "state.h"
#include "words.h"

static const char USAGE[] =
    "usage: pypy-box-supervisor [--protocol-guest [--wall LIB] [--relay-calls]] [--heap N] [--as N] [--cpu N] "
    "[--nofile N] [--fsize N] "
    "[--nproc N] [--memory N] [--tasks N] [--max-fds N] [--cgroup off|auto|required] "
    "[--no-namespaces|--require-namespaces] [--keep-uid] [--uid-range FIRST:COUNT] [--uid-lock FILE] "
    "[--grant DEV:PATH]... [--link PATH TARGET]... [--dir ERRNO:PATH]... [--name PATH]... [--absent PATH]... "
    "[--host-dev DEV:PATH]... [--stat HEX:PATH]... [--file STATHEX:HEX:PATH]... [--cwd PATH] [--cwd-stat repeat] "
    "[--stdio-local] [--local CALLS] [--owner UID:GID] [--ids U,EU,G,EG] [--uname HEX] [--max-path N] "
    "[--config-stdin] -- PROGRAM ARGV0 [ARGS...]\n"
    "       pypy-box-supervisor --standby [stock|protocol]   (the arguments and environment follow on stdin)\n";

/* The controller's streams: bigger pipes, the notes descriptor; and we reap all below us. */
static void prepare_streams(struct run *run) {
  if (run->streams_prepared++) return;
  /* Larger pipes to the controller: an answer of a whole 1 MiB chunk (W, its bytes, the result)
   * fits in one write, without waiting for the guest to drain the pipe; 1 MiB where 2 is refused. */
  for (int fd = 0; fd < 2; fd++)
    if (fcntl(fd, F_SETPIPE_SZ, 2 << 20) < 0) fcntl(fd, F_SETPIPE_SZ, 1 << 20);
  if (fcntl(NOTE_FD, F_GETFD) >= 0) {
    run->notes.fd = fcntl(NOTE_FD, F_DUPFD_CLOEXEC, 10);
    close(NOTE_FD);
  }
  end_watch(run);
}

/*
 * From here on, the controller's death ends us (SIGTERM: the guest ended and the run's cgroup
 * removed). If it died before, we were already reparented: to pid 1, or to a subreaper (a
 * service manager, a container's init), so the parent is compared with the one we started with.
 */
static void die_with_controller(const struct run *run) {
  if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0) fatal("PR_SET_PDEATHSIG");
  if (getppid() != run->controller) _exit(125);
}

/* What a stock guest's supervisor needs before its child: the buffer, the placeholders. */
static void prepare_stock(struct run *run) {
  if (run->stock_prepared++) return;
  die_with_controller(run);
  guest_init(&run->guest);
  signal(SIGPIPE, SIG_IGN);
}

/*
 * --standby: a spare started before its run (the controller keeps one ready). Everything of the
 * run comes on stdin first, in the configuration's framing: u32 length, then NUL-terminated
 * words: the number of arguments, the arguments (as they would follow the program name), then
 * the guest's environment as NAME=VALUE words. The caller continues as if started with them.
 * End of input before that (the controller went away) ends the spare quietly.
 */
static char **standby_start_message(struct run *run, int *argc_out, char *self) {
  struct words msg;
  enum frame_status s = read_words(0, MAX_FRAME, 0, &msg);
  if (s == FRAME_NONE) {
    end_guest(run); /* a child waiting for its run: ended and reaped, no zombie left for pid 1 */
    _exit(0);
  }
  if (s == FRAME_CUT) controller_gone();
  if (s == FRAME_IO) fatal("read from controller");
  if (s != FRAME_OK) frame_fatal("start message", s);
  /* The count, then that many arguments: at least one, and all inside the message. */
  uint64_t argc;
  if (parse_uint(msg.word[0], msg.n - 1, &argc) < 0 || argc == 0)
    word_fatal("start message with a bad argument count", msg.word[0]);
  if (clearenv() != 0) fatal("clearenv");
  for (size_t k = 1 + argc; k < msg.n; k++)
    if (!env_word_ok(msg.word[k]) || putenv(msg.word[k]) != 0)
      word_fatal("bad environment word in the start message", msg.word[k]);
  msg.word[0] = self; /* the words stay allocated: argv and the environment point into them */
  msg.word[argc + 1] = NULL;
  *argc_out = (int)argc + 1;
  return msg.word;
}

/* A stock guest's child with the default walls, started before its run is known (standby stock). */
static void start_standby_child(struct run *run) {
  struct walls dw;
  memset(&dw, 0, sizeof dw);
  dw.namespaces = NAMESPACES_WHERE_ALLOWED;
  dw.drop_root = 1;
  dw.run_id = run->premade_id = run->id.claimed;
  prepare_streams(run);
  prepare_stock(run);
  run->owner = getpid();
  cgroup_make(&run->cgroup); /* where the host allows it: the child joins it now, the caps come with the run */
  start_child(run, &dw, NULL, 1);
}

/* --standby [stock|protocol]: replaces argv with the start message's. */
static char **standby(struct run *run, int *argc, char **argv) {
  /* A spare claims its uid (from the default range) as it starts, as it would for its run. */
  if (geteuid() == 0) claim_id(&run->id);
  if (*argc == 3 && strcmp(argv[2], "stock") == 0 && (geteuid() != 0 || run->id.claimed)) start_standby_child(run);
  return standby_start_message(run, argc, argv[0]);
}

static int bad_option(const char *name, const char *value) {
  fprintf(stderr, "pypy-box-supervisor: bad value for %s: %s\n", name, value);
  return 2;
}

/* Options without a value, and --wall LIB. Returns 1 when argv[*k] was one (*k on its last word). */
static int switch_option(struct options *o, int argc, char **argv, int *k) {
  const char *a = argv[*k];
  if (strcmp(a, "--protocol-guest") == 0) o->protocol_guest = 1;
  else if (strcmp(a, "--no-namespaces") == 0) o->walls.namespaces = NAMESPACES_OFF;
  else if (strcmp(a, "--require-namespaces") == 0) o->walls.namespaces = NAMESPACES_REQUIRED;
  else if (strcmp(a, "--keep-uid") == 0) o->walls.drop_root = 0;
  else if (*k + 1 < argc && strcmp(a, "--wall") == 0) o->wall_lib = argv[++*k];
  else if (strcmp(a, "--config-stdin") == 0) o->config_stdin = 1;
  else if (strcmp(a, "--relay-calls") == 0) o->relay_calls = 1;
  else return 0;
  return 1;
}

/* One option at argv[*k] (*k left on its last word). Returns 0, or the exit status for a bad one. */
static int one_option(struct run *run, struct local *lc, struct options *o, int argc, char **argv, int *k) {
  int got;
  if (switch_option(o, argc, argv, k) || identity_option(&run->id, argc, argv, k)) return 0;
  if ((got = limit_option(&run->limits, argc, argv, k)) != 0) return got < 0 ? bad_option(argv[*k - 1], argv[*k]) : 0;
  if ((got = local_option(lc, argc, argv, k)) != 0) return got < 0 ? bad_option(argv[*k], argv[*k + 1]) : 0;
  if (*k + 1 < argc && (got = number_option(&run->limits, &o->walls, argv[*k], argv[*k + 1])) != 0) {
    if (got < 0) return bad_option(argv[*k], argv[*k + 1]);
    ++*k;
    return 0;
  }
  fprintf(stderr, "pypy-box-supervisor: unknown option %s\n", argv[*k]);
  return 2;
}

/* The command line into o, the run's limits and the local answers. Returns 0, or the exit status. */
static int parse_options(struct run *run, struct local *lc, struct options *o, int argc, char **argv) {
  memset(o, 0, sizeof *o);
  o->walls.namespaces = NAMESPACES_WHERE_ALLOWED;
  o->walls.drop_root = 1;
  int k = 1;
  for (; k < argc && strcmp(argv[k], "--") != 0; k++) {
    int bad = one_option(run, lc, o, argc, argv, &k);
    if (bad) return bad;
  }
  if (k >= argc || argc - k < 3) {
    fputs(USAGE, stderr);
    return 2;
  }
  o->guest_argv = argv + k + 1;
  return 0;
}

/* Between calls the controller sends nothing: input now means it is gone or broken. */
static void controller_spoke(struct run *run) {
  char c;
  if (read(0, &c, 1) <= 0) {
    end_guest(run);
    _exit(125);
  }
  protocol_fatal("controller sent bytes while no call was in flight");
}

/* How long poll may wait: until a report is due, or the next heap check. */
static int poll_timeout(const struct run *run) {
  long age = reports_age_ms(&run->reports);
  int timeout = memory_polled(&run->limits) ? HEAP_CHECK_MS : -1;
  if (age >= 0 && (timeout < 0 || REPORT_DELAY_MS - age < timeout))
    timeout = age >= REPORT_DELAY_MS ? 0 : (int)(REPORT_DELAY_MS - age);
  return timeout;
}

/* Until the guest ends: its notifications, the reports due, the heap, the controller's end. */
__attribute__((noreturn)) static void serve_stock(struct run *run, struct local *lc) {
  int pidfd = (int)syscall(SYS_pidfd_open, run->child, 0);
  if (pidfd < 0) fatal("pidfd_open");
  size_t req_size;
  struct seccomp_notif *req = notif_buffer(&req_size);
  for (;;) {
    struct pollfd pfd[3] = {{run->listener, POLLIN, 0}, {pidfd, POLLIN, 0}, {0, POLLIN, 0}};
    int ready = poll(pfd, 3, poll_timeout(run));
    if (ready < 0) {
      if (errno == EINTR) continue;
      fatal("poll");
    }
    if (reports_age_ms(&run->reports) >= REPORT_DELAY_MS || (ready == 0 && run->reports.used))
      reports_flush(&run->reports);
    poll_heap(run);
    if (pfd[0].revents & POLLIN) {
      memset(req, 0, req_size);
      if (ioctl(run->listener, SECCOMP_IOCTL_NOTIF_RECV, req) == 0) {
        handle(run, lc, req);
        continue;
      }
      if (errno == EINTR || errno == ENOENT) continue;
      if (errno != ENOTCONN) fatal("SECCOMP_IOCTL_NOTIF_RECV");
      pfd[1].revents |= POLLIN; /* no guest task left: see below */
    }
    if (pfd[2].revents & (POLLIN | POLLHUP | POLLERR)) controller_spoke(run);
    if (pfd[1].revents & POLLIN) {
      end_early(run);
      int status;
      if (wait_guest(run, run->child, &status) == run->child) pass_on_status(run, status);
      fatal("waitpid");
    }
  }
}

int main(int argc, char **argv) {
  static struct run run;     /* large (the reports' buffer): kept off the stack */
  static struct local local; /* the tables handed over: likewise */
  static struct relay_config relay;
  run_init(&run);
  take_terminal_signals(&run);
  local_init(&local);
  relay_init(&relay);
  run.controller = getppid();
  run.owner = getpid();
  if (argc >= 2 && strcmp(argv[1], "--standby") == 0) argv = standby(&run, &argc, argv);
  struct options o;
  int bad = parse_options(&run, &local, &o, argc, argv);
  if (bad) return bad;
  prepare_streams(&run);
  /* A child started ahead runs as the uid claimed then: it serves a run of the same range only. */
  if (geteuid() == 0 && !(id_claim_matches(&run.id) && run.id.claimed == run.premade_id))
    discard_premade(&run); /* before its uid may be given up */
  set_up_caps(&run, &o.walls, o.protocol_guest);
  take_identity(&run, &o.walls);
  if (o.protocol_guest) {
    discard_premade(&run);
    die_with_controller(&run);
    relay.on = o.relay_calls;
    relay.configure = o.config_stdin;
    launch_protocol_guest(&run, &o.walls, o.wall_lib, o.guest_argv, &relay, &local);
  }
  prepare_stock(&run);
  if (run.premade_go >= 0) send_go(&run, &o.walls, o.guest_argv);
  else start_child(&run, &o.walls, o.guest_argv, 0);
  /* The guest is starting meanwhile; its first forwarded call waits for this. */
  if (o.config_stdin) read_configuration(&local, &relay);
  listener_sync_wakeup(run.listener);
  serve_stock(&run, &local);
}
