/* Launcher mode for a guest that speaks the protocol itself (see protocol_guest.h). */
#define _GNU_SOURCE
#include "protocol_guest.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "end.h"
#include "guest.h"
#include "launch.h"
#include "listener.h"
#include "notes.h"
#include "config.h"
#include "protocol_relay.h"
#include "strict.h"

/* What the child tells the supervisor on the handoff socket (SOCK_SEQPACKET: one message each). */
enum handoff_tag {
  HANDOFF_WALLS = 'W',       /* text: the walls in force so far (before the filter) */
  HANDOFF_LISTENER = 'L',    /* carries the filter's listener: the strict wall is in force */
  HANDOFF_WALL_FAILED = 'F', /* text: which wall; err: why */
  HANDOFF_EXEC_FAILED = 'E', /* err: execve's errno */
};

struct handoff {
  char tag;
  int err;
  char text[256];
};

/* Library places for the loader's window: where the program's own libraries and the system's are. */
static const char *const LIBRARY_DIRS[] = {"/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/", "/usr/local/lib/"};
static const char LOADER_CACHE[] = "/etc/ld.so.cache";

/* The loader's window: what it may open, and whether our own child's execve went through. */
struct window {
  char exe_real[PATH_MAX];    /* the program, as the kernel's /proc/self/exe shows it */
  char exe_dir[PATH_MAX + 1]; /* its directory, with a trailing slash ($ORIGIN) */
  char wall_real[PATH_MAX];   /* the preloaded library */
  int exec_let_through;       /* the child's own execve has been let through */
};

/* ---- the child ---- */

static int handoff_send(char tag, int err, const char *text, int fd) {
  struct handoff h;
  memset(&h, 0, sizeof h);
  h.tag = tag;
  h.err = err;
  snprintf(h.text, sizeof h.text, "%s", text);
  struct iovec iov = {&h, sizeof h};
  union {
    struct cmsghdr c;
    char buf[CMSG_SPACE(sizeof(int))];
  } u;
  memset(&u, 0, sizeof u);
  struct msghdr m;
  memset(&m, 0, sizeof m);
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  if (fd >= 0) {
    m.msg_control = u.buf;
    m.msg_controllen = sizeof u.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  return sendmsg(STRICT_HANDOFF_FD, &m, MSG_NOSIGNAL) == (ssize_t)sizeof h ? 0 : -1;
}

/* Installs the strict filter with the loader's window open and hands its listener over. */
static void put_up_strict_wall(void) {
  static struct bpf_asm strict_asm; /* large: kept off the stack */
  int n = strict_filter(&strict_asm, getpid(), 1);
  if (n < 0) {
    fprintf(stderr, "pypy-box-supervisor: the strict filter does not assemble: %s\n", strict_asm.error);
    handoff_send(HANDOFF_WALL_FAILED, EINVAL, "seccomp-strict", -1);
    _exit(127);
  }
  struct sock_fprog fprog = {(unsigned short)n, strict_asm.insn};
  /* The loader's calls are answered by the supervisor itself; waiting killably costs them nothing. */
  int killable;
  int lfd = install_listener_filter(&fprog, &killable);
  if (lfd < 0) {
    handoff_send(HANDOFF_WALL_FAILED, errno, "seccomp-strict", -1);
    _exit(127);
  }
  /* From here on the filter holds: sendmsg on the handoff descriptor and close are allowed. */
  if (handoff_send(HANDOFF_LISTENER, 0, "", lfd) < 0) _exit(127);
  close(lfd); /* the program must never hold its own listener */
}

/*
 * The program's environment: ours (the controller gives none; the capability dump gives
 * RPY_SANDBOX_DUMP), and for the strict wall the preload that closes the loader's window. A static
 * program ignores the preload and keeps the window: the filter holds either way.
 */
static char **guest_environment(const struct window *win, int preload) {
  static char preload_var[PATH_MAX + 16];
  size_t n = 0;
  while (environ && environ[n]) n++;
  char **envp = calloc(n + 3, sizeof *envp);
  if (!envp) _exit(127);
  size_t k = 0;
  for (size_t j = 0; j < n; j++)
    if (strncmp(environ[j], "LD_PRELOAD=", 11) != 0 && strncmp(environ[j], "PYPY_BOX_WALL=", 14) != 0)
      envp[k++] = environ[j];
  if (preload) {
    snprintf(preload_var, sizeof preload_var, "LD_PRELOAD=%s", win->wall_real);
    envp[k++] = preload_var;
    envp[k++] = "PYPY_BOX_WALL=1";
  }
  return envp;
}

__attribute__((noreturn)) static void protocol_child(struct run *run, const struct window *win, int sock,
                                                     struct walls *w, const char *wall_lib, char **argv,
                                                     const struct relay_pipes *relay) {
  pid_t parent = getppid();
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent) _exit(127);
  /* Relayed: its standard input and output are the supervisor's pipes, not the controller's. */
  if (relay && (dup2(relay->guest_in, 0) < 0 || dup2(relay->guest_out, 1) < 0)) _exit(127);
  /* Before the limits: the descriptor limit may be lower than its number. */
  if (dup3(sock, STRICT_HANDOFF_FD, O_CLOEXEC) < 0) _exit(127);
  if (join_run_cgroup(run) < 0) {
    handoff_send(HANDOFF_WALL_FAILED, errno, "cgroup", -1);
    _exit(127);
  }
  if (apply_walls(w) < 0) {
    handoff_send(HANDOFF_WALL_FAILED, errno, "isolation", -1);
    _exit(127);
  }
  /* The new credentials cleared the parent-death signal until the walls set it again. */
  if (getppid() != parent) _exit(127);
  enter_pid_namespace(run, w);
  /* The program gets its three streams and nothing else (the notes are the supervisor's). */
  if (syscall(SYS_close_range, 3, STRICT_HANDOFF_FD - 1, 0) < 0 ||
      syscall(SYS_close_range, STRICT_HANDOFF_FD + 1, ~0U, 0) < 0) {
    handoff_send(HANDOFF_WALL_FAILED, errno, "isolation", -1);
    _exit(127);
  }
  if (handoff_send(HANDOFF_WALLS, 0, w->active, -1) < 0) _exit(127);
  char **envp = guest_environment(win, wall_lib != NULL);
  if (wall_lib) put_up_strict_wall();
  execve(argv[0], argv + 1, envp);
  handoff_send(HANDOFF_EXEC_FAILED, errno, "", -1);
  _exit(127);
}

/* ---- the supervisor: notes ---- */

/* A wall asked for could not be set up: the run does not start. */
__attribute__((noreturn)) static void wall_failed(struct run *run, const char *name, int err) {
  char text[320];
  snprintf(text, sizeof text, "%s %s", name, err ? strerror(err) : "the child ended before its walls were up");
  note(&run->notes, NOTE_WALL_FAILED " %s %llu\n", text, (unsigned long long)err);
  fprintf(stderr, "pypy-box-supervisor: cannot set up the wall %s\n", text);
  end_guest(run);
  _exit(127);
}

/* One message from the child: 1, 0 at its end (or a malformed one), -1 nothing yet (nonblocking). */
static int handoff_recv(int sock, struct handoff *h, int *fd, int flags) {
  union {
    struct cmsghdr c;
    char buf[CMSG_SPACE(sizeof(int))];
  } u;
  struct iovec iov = {h, sizeof *h};
  struct msghdr m;
  memset(&m, 0, sizeof m);
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = u.buf;
  m.msg_controllen = sizeof u.buf;
  ssize_t n;
  do n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC | flags);
  while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return -1;
  *fd = -1;
  struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&m) : NULL;
  if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
    memcpy(fd, CMSG_DATA(c), sizeof *fd);
  if (n != (ssize_t)sizeof *h || (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
    if (*fd >= 0) close(*fd), *fd = -1;
    return 0;
  }
  h->text[sizeof h->text - 1] = 0;
  return 1;
}

/* execve failed in the child: said before the child's end, so read before passing its status on. */
static int take_exec_failure(struct run *run, int sock, int flags) {
  struct handoff h;
  int fd;
  int got = handoff_recv(sock, &h, &fd, flags);
  if (fd >= 0) close(fd);
  if (got == 1 && h.tag == HANDOFF_EXEC_FAILED)
    note(&run->notes, NOTE_EXEC_FAILED " %s %llu\n", strerror(h.err), (unsigned long long)h.err);
  return got;
}

/* ---- the supervisor: the loader's window ---- */

/* An absolute path without empty, "." or ".." components. */
static int clean_absolute(const char *p) {
  if (p[0] != '/') return 0;
  for (const char *c = p + 1;; c++) {
    const char *end = strchrnul(c, '/');
    size_t n = (size_t)(end - c);
    if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.')) return 0;
    if (!*end) return 1;
    c = end;
  }
}

/*
 * A file the loader may need: the loader's cache, the preloaded library, or a shared library
 * ("*.so*") directly in the program's directory ($ORIGIN) or anywhere under the system's library
 * directories. Checked on the name asked for, then on the file actually opened.
 */
static int library_place(const struct window *win, const char *path) {
  if (!clean_absolute(path)) return 0;
  if (strcmp(path, LOADER_CACHE) == 0 || (win->wall_real[0] && strcmp(path, win->wall_real) == 0)) return 1;
  const char *base = strrchr(path, '/') + 1;
  if (!strstr(base, ".so")) return 0;
  size_t dir_len = (size_t)(base - path);
  if (dir_len == strlen(win->exe_dir) && strncmp(path, win->exe_dir, dir_len) == 0) return 1;
  for (size_t k = 0; k < sizeof LIBRARY_DIRS / sizeof LIBRARY_DIRS[0]; k++)
    if (strncmp(path, LIBRARY_DIRS[k], strlen(LIBRARY_DIRS[k])) == 0) return 1;
  return 0;
}

/*
 * open/openat from the loader: a library file, read-only, opened here and handed over as the
 * call's result. The file must be regular and readable by anyone, so the supervisor's own
 * privileges lend the guest nothing. Returns 0 (answered) or the errno to refuse with.
 */
static int open_library(int listener, const struct window *win, const struct seccomp_notif *req, uint64_t path_ptr,
                        uint64_t flags64) {
  unsigned char path[PATH_MAX + 1];
  uint64_t len;
  if (guest_string((pid_t)req->pid, path_ptr, PATH_MAX, path, &len) < 0) return EFAULT;
  if (len >= PATH_MAX) return ENAMETOOLONG;
  path[len] = 0;
  unsigned flags = (unsigned)flags64;
  const unsigned harmless = O_CLOEXEC | 0100000 /* the kernel's O_LARGEFILE */ | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW;
  if ((flags & O_ACCMODE) != O_RDONLY || (flags & ~(unsigned)O_ACCMODE & ~harmless)) return EACCES;
  if (!library_place(win, (const char *)path)) return EACCES;
  /* A name first (O_PATH): no device or FIFO is ever opened, even by a planted "x.so". */
  int at = open((const char *)path, O_PATH | O_CLOEXEC);
  if (at < 0) return errno;
  struct stat st;
  char link[64], real[PATH_MAX];
  snprintf(link, sizeof link, "/proc/self/fd/%d", at);
  ssize_t n = readlink(link, real, sizeof real - 1);
  if (n > 0) real[n] = 0;
  int fd = -1;
  if (fstat(at, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & S_IROTH) && n > 0 && library_place(win, real))
    fd = open(link, O_RDONLY | O_CLOEXEC | O_NOCTTY); /* the very file checked, now for reading */
  close(at);
  if (fd < 0) return EACCES;
  answer_fd(listener, req->id, fd, (flags & O_CLOEXEC) != 0);
  return 0;
}

/* readlink("/proc/self/exe"): how the loader finds $ORIGIN. Answered with the program's path. */
static int read_exe_link(int listener, const struct window *win, const struct seccomp_notif *req) {
  unsigned char path[sizeof "/proc/self/exe"];
  uint64_t len;
  if (guest_string((pid_t)req->pid, req->data.args[0], sizeof path, path, &len) < 0) return EFAULT;
  if (len != sizeof path - 1 || memcmp(path, "/proc/self/exe", len) != 0) return EACCES;
  int bufsiz = (int)(uint32_t)req->data.args[2]; /* an int for the kernel too */
  if (bufsiz <= 0) return EINVAL;
  size_t n = strlen(win->exe_real);
  if (n > (size_t)bufsiz) n = (size_t)bufsiz;
  if (!notif_id_valid(listener, req->id)) return 0; /* gone: its pid may be another process's by now */
  if (guest_write((pid_t)req->pid, req->data.args[1], win->exe_real, n) < 0) return EFAULT;
  respond(listener, req->id, (int64_t)n, 0, 0);
  return 0;
}

/* newfstatat(fd, "", AT_EMPTY_PATH): the loader's fstat of a library it holds. */
static int stat_own_fd(int listener, const struct seccomp_notif *req) {
  if (!((unsigned)req->data.args[3] & AT_EMPTY_PATH)) return EACCES;
  char first;
  if (guest_read((pid_t)req->pid, req->data.args[1], &first, 1) < 0) return EFAULT;
  if (first != 0) return EACCES;
  int fd = (int)(uint32_t)req->data.args[0];
  if (fd < 0) return EBADF; /* AT_FDCWD among them: the working directory is not its business */
  char link[64];
  snprintf(link, sizeof link, "/proc/%d/fd/%d", (int)req->pid, fd);
  struct stat st;
  if (stat(link, &st) < 0) return errno == ENOENT ? EBADF : EACCES;
  if (!notif_id_valid(listener, req->id)) return 0;
  if (guest_write((pid_t)req->pid, req->data.args[2], &st, sizeof st) < 0) return EFAULT;
  respond(listener, req->id, 0, 0, 0);
  return 0;
}

/* One notification of the strict filter. */
static void answer_strict(struct run *run, struct window *win, const struct seccomp_notif *req) {
  int listener = run->listener;
  int nr = req->data.nr, err;
  guest_know(&run->guest, (pid_t)req->pid);
  if (!win->exec_let_through) {
    /*
     * Our own child, between the filter and its execve: nothing else notifies there. Letting
     * execve run (CONTINUE) is safe only because no program of the guest's has run yet.
     */
    if (nr == SYS_execve) {
      win->exec_let_through = 1;
      respond(listener, req->id, 0, 0, 1);
      return;
    }
    err = EPERM;
  } else if (nr == SYS_openat) err = open_library(listener, win, req, req->data.args[1], req->data.args[2]);
  else if (nr == SYS_open) err = open_library(listener, win, req, req->data.args[0], req->data.args[1]);
  else if (nr == SYS_readlink) err = read_exe_link(listener, win, req);
  else if (nr == SYS_newfstatat) err = stat_own_fd(listener, req);
  else err = strict_loader_errno(nr); /* a second execve among them */
  if (err) respond(listener, req->id, 0, err, 0);
}

/* ---- the supervisor: launch and serve ---- */

/* Where the program and the preloaded library are, for the window (before the child exists). */
static void know_library_places(struct run *run, struct window *win, const char *program, const char *wall_lib) {
  if (!realpath(program, win->exe_real)) {
    note(&run->notes, NOTE_EXEC_FAILED " %s %llu\n", strerror(errno), (unsigned long long)errno);
    _exit(127);
  }
  snprintf(win->exe_dir, sizeof win->exe_dir, "%.*s", (int)(strrchr(win->exe_real, '/') + 1 - win->exe_real),
           win->exe_real);
  if (!realpath(wall_lib, win->wall_real)) wall_failed(run, "seccomp-strict", errno);
}

/* Until the guest ends: the filter's notifications, and an exec failure told by the child. */
__attribute__((noreturn)) static void serve_protocol_guest(struct run *run, struct window *win, int sock) {
  int pidfd = (int)syscall(SYS_pidfd_open, run->child, 0);
  if (pidfd < 0) fatal("pidfd_open");
  size_t req_size;
  struct seccomp_notif *req = notif_buffer(&req_size);
  for (;;) {
    struct pollfd pfd[3] = {{run->listener, POLLIN, 0}, {sock, POLLIN, 0}, {pidfd, POLLIN, 0}};
    if (poll(pfd, 3, -1) < 0) {
      if (errno == EINTR) continue;
      fatal("poll");
    }
    if (pfd[0].revents & POLLIN) {
      memset(req, 0, req_size);
      if (ioctl(run->listener, SECCOMP_IOCTL_NOTIF_RECV, req) == 0) {
        answer_strict(run, win, req);
        continue;
      }
      if (errno == ENOTCONN) pfd[0].revents |= POLLHUP;
      else if (errno != EINTR && errno != ENOENT) fatal("SECCOMP_IOCTL_NOTIF_RECV");
    }
    if (pfd[0].revents & (POLLHUP | POLLERR)) run->listener = -1; /* no task left behind the filter */
    if ((pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) && take_exec_failure(run, sock, 0) == 0) close(sock), sock = -1;
    if (pfd[2].revents & POLLIN) {
      if (sock >= 0) take_exec_failure(run, sock, MSG_DONTWAIT);
      int status;
      if (wait_guest(run, run->child, &status) == run->child) pass_on_status(run, status);
      fatal("waitpid");
    }
  }
}

/* The strict filter's notification, while the relay waits on the guest. */
struct strict_ctx {
  struct run *run;
  struct window *win;
  struct seccomp_notif *req;
  size_t req_size;
};

static void strict_notified(void *arg) {
  struct strict_ctx *c = arg;
  memset(c->req, 0, c->req_size);
  if (ioctl(c->run->listener, SECCOMP_IOCTL_NOTIF_RECV, c->req) == 0) answer_strict(c->run, c->win, c->req);
  else if (errno == ENOTCONN) c->run->listener = -1;
  else if (errno != EINTR && errno != ENOENT) fatal("SECCOMP_IOCTL_NOTIF_RECV");
}

__attribute__((noreturn)) static void serve_relayed(struct run *run, struct window *win, int sock,
                                                    const struct relay_config *rc, struct local *lc,
                                                    const struct relay_pipes *p) {
  int pidfd = (int)syscall(SYS_pidfd_open, run->child, 0);
  if (pidfd < 0) fatal("pidfd_open");
  /* A guest that is gone leaves EPIPE on its pipe: its end is told from its exit (here only, after the fork). */
  signal(SIGPIPE, SIG_IGN);
  static struct strict_ctx ctx;
  ctx.run = run;
  ctx.win = win;
  ctx.req = notif_buffer(&ctx.req_size);
  relay_serve(run, rc, lc, p, sock, pidfd, strict_notified, &ctx, take_exec_failure);
}

void launch_protocol_guest(struct run *run, struct walls *w, const char *wall_lib, char **argv, struct relay_config *rc,
                           struct local *lc) {
  static struct window window; /* some 12 KiB: kept off the stack */
  struct window *win = &window;
  if (wall_lib) know_library_places(run, win, argv[0], wall_lib);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) fatal("socketpair");
  struct relay_pipes pipes;
  if (rc->on) relay_pipes_make(&pipes);
  fork_child(run);
  if (run->child < 0) fatal("fork");
  if (run->child == 0) {
    close(sv[0]);
    protocol_child(run, win, sv[1], w, wall_lib, argv, rc->on ? &pipes : NULL);
  }
  close(sv[1]);
  if (rc->on) close(pipes.guest_in), close(pipes.guest_out);
  struct handoff h;
  memset(&h, 0, sizeof h);
  int fd = -1;
  if (handoff_recv(sv[0], &h, &fd, 0) != 1 || h.tag != HANDOFF_WALLS) {
    if (fd >= 0) close(fd);
    wall_failed(run, h.tag == HANDOFF_WALL_FAILED ? h.text : "isolation", h.tag == HANDOFF_WALL_FAILED ? h.err : 0);
  }
  char walls[sizeof h.text];
  memcpy(walls, h.text, sizeof walls);
  if (wall_lib) {
    if (handoff_recv(sv[0], &h, &run->listener, 0) != 1 || h.tag != HANDOFF_LISTENER || run->listener < 0) {
      if (run->listener >= 0) close(run->listener);
      wall_failed(run, "seccomp-strict", h.tag == HANDOFF_WALL_FAILED ? h.err : 0);
    }
  }
  note(&run->notes,
       wall_lib ? NOTE_WALLS " seccomp-strict,parent-death-signal,%s%.0llu\n"
                : NOTE_WALLS " parent-death-signal,%s%.0llu\n",
       walls, 0);
  if (rc->on) {
    /* Read while the guest starts: its first call waits for it, its loading does not. */
    if (rc->configure) read_configuration(lc, rc);
    serve_relayed(run, win, sv[0], rc, lc, &pipes);
  }
  serve_protocol_guest(run, win, sv[0]);
}
