/* Calls forwarded to the controller (see forward.h). */
#define _GNU_SOURCE
#include "forward.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "end.h"
#include "guest.h"
#include "listener.h"
#include "local.h"
#include "reports.h"

/* One forwarded call while the controller answers it. */
struct exchange {
  struct run *run;
  struct local *lc;
  const struct call *c;
  pid_t pid;
  int err, fault;     /* the errno set (E), a guest pointer that was bad */
  int learn, learned; /* a stat of the working directory, and its bytes caught from W */
  int dir_grant;      /* an open of a granted host directory: its grant (-1: none) */
};

/* Before the call goes out: what the supervisor knows that it may change. */
static void forget_what_changes(struct local *lc, const struct call *c) {
  int nr = c->req->data.nr;
  if (nr == SYS_chdir || nr == SYS_fchdir) lc->cwd_known = 0;
  if (nr == SYS_close) forget_dir_fd(lc, int_arg(c->req, 0)), forget_listing(lc, int_arg(c->req, 0));
  if (nr == SYS_dup2 || nr == SYS_dup3) forget_dir_fd(lc, int_arg(c->req, 1)), forget_listing(lc, int_arg(c->req, 1));
  if (nr == SYS_getdents64 || nr == SYS_lseek) forget_listings(lc); /* the controller may move a shared position */
  drop_pending_listing(lc);
  if (!changes_nothing(lc, c)) lc->cwd_stat_ok = 0;
}

/* A stat of the working directory: its answer may be repeated later (see struct local). */
static int learns_cwd_stat(const struct local *lc, const struct call *c) {
  return lc->cwd_stat_cacheable && lc->cwd_known && c->req->data.nr == SYS_newfstatat &&
         (c->req->data.args[3] & 0xffffffffu) == 0 && c->path[1] && c->path_len[1] == lc->cwd_len &&
         memcmp(c->path[1], lc->cwd, lc->cwd_len) == 0;
}

/* R: guest memory to the controller, after a status byte. */
static void cmd_read(struct exchange *x) {
  char *iobuf = x->run->guest.iobuf;
  uint64_t ptr = wire_in64(), size = wire_in64();
  if (size > MAX_CHUNK) protocol_fatal("R larger than the supervisor's chunk");
  if (guest_read(x->pid, ptr, iobuf + 1, size) < 0 || !notif_id_valid(x->run->listener, x->c->req->id)) {
    wire_out(&(char){STATUS_FAULT}, 1);
    x->fault = 1;
    return;
  }
  iobuf[0] = STATUS_OK;
  wire_out(iobuf, size + 1);
}

/* Z: a guest string to the controller (status byte, u64 length, bytes). */
static void cmd_string(struct exchange *x) {
  char *iobuf = x->run->guest.iobuf;
  uint64_t ptr = wire_in64(), maxlen = wire_in64();
  if (maxlen > MAX_CHUNK) maxlen = MAX_CHUNK;
  uint64_t n = 0; /* nothing to read when maxlen is 0, whatever the pointer */
  if ((maxlen && guest_string(x->pid, ptr, maxlen, (unsigned char *)iobuf + 9, &n) < 0) ||
      !notif_id_valid(x->run->listener, x->c->req->id)) {
    wire_out(&(char){STATUS_FAULT}, 1);
    x->fault = 1;
    return;
  }
  iobuf[0] = STATUS_OK;
  memcpy(iobuf + 1, &n, 8);
  wire_out(iobuf, 9 + n);
}

/* W: bytes from the controller into guest memory. */
static void cmd_write(struct exchange *x) {
  char *iobuf = x->run->guest.iobuf;
  uint64_t ptr = wire_in64(), size = wire_in64();
  if (size > MAX_CHUNK) protocol_fatal("W larger than the supervisor's chunk");
  wire_in(iobuf, size);
  if (guest_write(x->pid, ptr, iobuf, size) < 0) x->fault = 1;
  if (x->learn && ptr == x->c->req->data.args[2] && size == sizeof x->lc->cwd_stat)
    memcpy(x->lc->cwd_stat, iobuf, size), x->learned = 1;
}

/* E: the errno of the result to come. */
static void cmd_errno(struct exchange *x) {
  int32_t e;
  wire_in(&e, 4);
  /* The kernel's errno range (MAX_ERRNO); respond() negates it, and 0 means none. */
  if (e < 0 || e > MAX_ERRNO) protocol_fatal("E with an errno outside 0..MAX_ERRNO");
  x->err = e;
}

/* V: a virtual descriptor: the placeholder, at a chosen number or the lowest free. */
static void cmd_virtual(struct exchange *x) {
  int64_t target = (int64_t)wire_in64();
  uint64_t flags = wire_in64();
  int64_t res = inject(x->run->listener, x->c->req->id, x->run->guest.placeholder,
                       target >= 0 && target <= INT_MAX ? (int)target : -1, (flags & O_CLOEXEC) != 0);
  wire_out(&(char){STATUS_OK}, 1);
  wire_out(&res, 8);
}

/* o (final): open a host file the controller chose, and make it the call's result. */
static void cmd_open_host(struct exchange *x) {
  char *iobuf = x->run->guest.iobuf;
  int listener = x->run->listener;
  uint64_t flags = wire_in64(), plen = wire_in64();
  if (plen == 0 || plen >= PATH_MAX) protocol_fatal("bad path length in o");
  wire_in(iobuf, plen);
  iobuf[plen] = 0;
  /* O_NONBLOCK, then checked: a name swapped for a FIFO on the host must not block us. */
  int hfd = open(iobuf, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK);
  if (hfd < 0) {
    respond(listener, x->c->req->id, 0, errno, 0);
    return;
  }
  struct stat hst;
  if (fstat(hfd, &hst) < 0 || !S_ISREG(hst.st_mode) || fcntl(hfd, F_SETFL, 0) < 0) {
    close(hfd);
    respond(listener, x->c->req->id, 0, EACCES, 0);
    return;
  }
  answer_fd(listener, x->c->req->id, hfd, (flags & O_CLOEXEC) != 0);
}

static int is_open(const struct call *c) {
  return c->req->data.nr == SYS_open || c->req->data.nr == SYS_openat;
}

/* m (final): a sealed copy of a small read-only virtual file as the call's result. */
static void cmd_sealed_copy(struct exchange *x) {
  char *iobuf = x->run->guest.iobuf;
  uint64_t flags = wire_in64(), plen = wire_in64(), clen = wire_in64();
  if (plen == 0 || plen >= PATH_MAX || clen > MAX_CHUNK || !is_open(x->c)) protocol_fatal("bad m");
  struct stat st;
  char vpath[PATH_MAX];
  wire_in(&st, sizeof st);
  wire_in(vpath, plen);
  vpath[plen] = 0;
  wire_in(iobuf, clen);
  int k = vfile_get(x->lc, vpath, &st, (unsigned char *)iobuf, clen);
  int fd = k < 0 ? -ENFILE : vfile_open(x->lc, k);
  if (fd < 0) {
    respond(x->run->listener, x->c->req->id, 0, -fd, 0);
    return;
  }
  answer_fd(x->run->listener, x->c->req->id, fd, (flags & O_CLOEXEC) != 0);
}

/* L: the listing of the directory this open returns (see keep_listing). */
static void cmd_listing(struct exchange *x) {
  struct local *lc = x->lc;
  uint64_t size = wire_in64();
  if (size > MAX_LISTING || !is_open(x->c) || lc->pending_listing) protocol_fatal("L out of place or too large");
  lc->pending_listing = malloc(size ? size : 1);
  if (!lc->pending_listing) fatal("malloc");
  wire_in(lc->pending_listing, size);
  lc->pending_listing_len = size;
}

/* C (final): the call runs natively (descriptor calls only). */
static void cmd_continue(struct exchange *x) {
  enum fate f = x->c->fate->fate;
  if (f != FD && f != FDN && f != FDX && f != DUP)
    protocol_fatal("C (continue) answered to a call that may not run natively");
  respond(x->run->listener, x->c->req->id, 0, x->fault ? EFAULT : 0, !x->fault);
}

/* i (final): the result (with the errno of E when it is -1). */
static void cmd_result(struct exchange *x) {
  struct local *lc = x->lc;
  int64_t v = (int64_t)wire_in64();
  int ok = !x->fault && !(x->err && v == -1);
  if (x->learn) lc->cwd_stat_ok = x->learned && !x->fault && !x->err && v == 0;
  if (x->dir_grant >= 0 && ok && v >= VIRTUAL_FD_BASE) remember_dir_fd(lc, v, lc->pending_dir, x->dir_grant);
  if (lc->pending_listing && ok) keep_listing(lc, v);
  drop_pending_listing(lc);
  if (x->fault) respond(x->run->listener, x->c->req->id, 0, EFAULT, 0);
  else if (x->err && v == -1) respond(x->run->listener, x->c->req->id, 0, x->err, 0);
  else respond(x->run->listener, x->c->req->id, v, 0, 0);
}

/* One command from the controller; returns 1 when it was the call's final answer. */
static int command(struct exchange *x, unsigned char cmd) {
  switch (cmd) {
    case CMD_READ:
      cmd_read(x);
      return 0;
    case CMD_STRING:
      cmd_string(x);
      return 0;
    case CMD_WRITE:
      cmd_write(x);
      return 0;
    case CMD_ERRNO:
      cmd_errno(x);
      return 0;
    case CMD_VIRTUAL:
      cmd_virtual(x);
      return 0;
    case CMD_LISTING:
      cmd_listing(x);
      return 0;
    case CMD_OPEN_HOST:
      cmd_open_host(x);
      return 1;
    case CMD_SEALED_COPY:
      cmd_sealed_copy(x);
      return 1;
    case CMD_CONTINUE:
      cmd_continue(x);
      return 1;
    case CMD_RESULT:
      cmd_result(x);
      return 1;
    default: {
      char what[64];
      snprintf(what, sizeof what, "unexpected command byte 0x%02x", cmd);
      protocol_fatal(what);
    }
  }
}

void forward(struct run *run, struct local *lc, const struct call *c) {
  if (answer_stdio(run, lc, c)) return;
  if (answer_locally(run, lc, c)) return;
  forget_what_changes(lc, c);
  struct exchange x = {run, lc, c, (pid_t)c->req->pid, 0, 0, learns_cwd_stat(lc, c), 0, -1};
  /* An open of a granted host directory: the descriptor the controller gives is remembered. */
  if (is_open(c)) x.dir_grant = lc->pending_dir_grant;
  lc->pending_dir_grant = -1;
  reports_flush_with(&run->reports, c->buf, c->len);
  for (;;) {
    unsigned char cmd;
    wire_in(&cmd, 1);
    if (command(&x, cmd)) return;
  }
}
