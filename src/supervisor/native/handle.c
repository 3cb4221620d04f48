/* One notification of the stock guest's filter (see handle.h). */
#define _GNU_SOURCE
#include "handle.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "filter.h"
#include "forward.h"
#include "guest.h"
#include "limits.h"
#include "listener.h"
#include "local.h"
#include "refusals.h"
#include "reports.h"
#include "syscalls.h"
#include "wire.h"

/* Encodes the call and answers it, here or through the controller. */
static void forward_call(struct run *run, struct local *lc, const struct seccomp_notif *req,
                         const struct syscall_fate *f) {
  struct call c;
  encode_call(&c, req, f);
  forward(run, lc, &c);
}

/* fstat of a real descriptor, answered here (see describe_real_fd). */
static void answer_real_fstat(struct run *run, struct local *lc, const struct seccomp_notif *req, int64_t fd,
                              uint64_t buf) {
  int local = fetch_guest_fd(&run->guest, fd);
  if (local < 0) {
    respond(run->listener, req->id, 0, -local, 0);
    return;
  }
  struct stat st;
  int rc = describe_real_fd(lc, local, &st);
  close(local);
  if (rc < 0) respond(run->listener, req->id, 0, -rc, 0);
  else if (guest_write((pid_t)req->pid, buf, &st, sizeof st) < 0 || !notif_id_valid(run->listener, req->id))
    respond(run->listener, req->id, 0, EFAULT, 0);
  else respond(run->listener, req->id, 0, 0, 0);
}

/*
 * newfstatat(fd, "", buf, AT_EMPTY_PATH) on a real descriptor is fstat: answered here, from the
 * descriptor itself, without a round trip. The path is read once into our memory; only an empty
 * one takes this path, so the kernel never resolves a name the guest could still change.
 */
static int stat_real_fd(struct run *run, struct local *lc, const struct seccomp_notif *req) {
  int64_t fd = int_arg(req, 0);
  if (!(req->data.args[3] & AT_EMPTY_PATH) || fd < 0 || fd > INT_MAX) return 0;
  /* 3..511 are real by construction; elsewhere (0-2, 512+) only the guest's own files are. */
  if ((fd < 3 || fd >= VIRTUAL_FD_BASE) && fd_kind_of(&run->guest, (pid_t)req->pid, fd) != FD_REAL) return 0;
  char first;
  if (guest_read((pid_t)req->pid, req->data.args[1], &first, 1) < 0 || first != 0) return 0;
  answer_real_fstat(run, lc, req, fd, req->data.args[2]);
  return 1;
}

/* dup, dup2, dup3 between real descriptors (3..VIRTUAL_FD_BASE-1, as the filter decides FDX calls). */
static int dup_between_real(const struct seccomp_notif *req) {
  int args = req->data.nr == SYS_dup ? 1 : 2;
  for (int k = 0; k < args; k++) {
    uint32_t fd = (uint32_t)req->data.args[k];
    if (fd < 3 || fd >= VIRTUAL_FD_BASE) return 0;
  }
  return 1;
}

/*
 * A call refused at the open-file limit: EMFILE, and reported in call order when it would have
 * gone to the controller (opens, fcntl F_DUPFD, dups that involve a virtual descriptor).
 */
static void refuse_at_fd_limit(struct run *run, const struct seccomp_notif *req, const struct syscall_fate *f) {
  uint64_t t0 = mono_ns();
  int forwarded = f->fate == FWD || f->fate == FD || (f->fate == DUP && !dup_between_real(req));
  struct call c;
  if (forwarded) encode_call(&c, req, f);
  respond(run->listener, req->id, 0, EMFILE, 0);
  if (forwarded) report(&run->reports, &c, -1, EMFILE, GRANT_NONE, t0, NULL);
}

/* mmap that reached us: large anonymous ones pass the heap check, files only when real. */
static void handle_mmap(struct run *run, const struct seccomp_notif *req) {
  if (req->data.args[3] & MAP_ANONYMOUS) {
    check_heap(run, req->data.args[1]);
    respond(run->listener, req->id, 0, 0, 1);
  } else if (fd_is_virtual(&run->guest, (pid_t)req->pid, (int64_t)req->data.args[4]))
    respond(run->listener, req->id, 0, ENODEV, 0);
  else respond(run->listener, req->id, 0, 0, 1);
}

/* FD and FDN calls: natively on a real descriptor (within the fd-command rules), else forwarded. */
static void handle_fd_call(struct run *run, struct local *lc, const struct seccomp_notif *req,
                           const struct syscall_fate *f) {
  int nr = req->data.nr;
  /* fcntl F_DUPFD / F_DUPFD_CLOEXEC makes a descriptor: the controller keeps count of those. */
  if (fd_command_forwarded(nr, req->data.args[1]) ||
      fd_is_virtual(&run->guest, (pid_t)req->pid, (int64_t)req->data.args[0])) {
    forward_call(run, lc, req, f);
    return;
  }
  if (nr == SYS_fstat) {
    answer_real_fstat(run, lc, req, int_arg(req, 0), req->data.args[1]);
    return;
  }
  int refuse = native_fd_refusal(nr, req->data.args[1], req->data.args[2]);
  if (refuse) respond(run->listener, req->id, 0, refuse, 0);
  else respond(run->listener, req->id, 0, 0, 1);
}

/* The call by its fate, once it has passed the open-file limit. */
static void handle_fate(struct run *run, struct local *lc, const struct seccomp_notif *req,
                        const struct syscall_fate *f) {
  int listener = run->listener;
  switch (f->fate) {
    case EXEC:
    case REFUSE:
      refuse_reported(run, req, f->sig, f->fate == EXEC ? EPERM : f->err);
      return;
    case MMAP:
      handle_mmap(run, req);
      return;
    case FDN:
    case FD:
      handle_fd_call(run, lc, req, f);
      return;
    case FWD:
      if (req->data.nr == SYS_newfstatat && stat_real_fd(run, lc, req)) return;
      forward_call(run, lc, req, f);
      return;
    case FDX:
      forward_call(run, lc, req, f);
      return;
    case CLONE: /* a new thread, without a cgroup (see thread_fits); or anything else, refused */
      if (!clone_is_thread(req->data.args[0])) refuse_reported(run, req, f->sig, EPERM);
      else if (thread_fits(&run->limits, (pid_t)req->pid)) respond(listener, req->id, 0, 0, 1);
      else respond(listener, req->id, 0, EAGAIN, 0);
      return;
    case SELF:
      refuse_reported(run, req, f->sig, EPERM);
      return; /* another process, or prlimit64 setting a limit of the guest's own */
    case NEWFD:
      respond(listener, req->id, 0, 0, 1);
      return;
    case DUP:
      if (dup_between_real(req)) respond(listener, req->id, 0, 0, 1);
      else forward_call(run, lc, req, f);
      return;
    default:
      respond(listener, req->id, 0, ENOSYS, 0); /* ALLOW/ERR/... never notify */
  }
}

void handle(struct run *run, struct local *lc, const struct seccomp_notif *req) {
  int nr = req->data.nr;
  guest_know(&run->guest, (pid_t)req->pid); /* the first call comes from the main thread */
  if (!run->exec_done) {
    /* Our own child between installing the filter and starting the interpreter. */
    if (nr == SYS_execve) run->exec_done = 1;
    respond(run->listener, req->id, 0, 0, 1);
    return;
  }
  const struct syscall_fate *f = fate_of(nr);
  if (!f) {
    respond(run->listener, req->id, 0, ENOSYS, 0);
    return;
  }
  if (!fds_fit(&run->limits, req)) {
    refuse_at_fd_limit(run, req, f);
    return;
  }
  handle_fate(run, lc, req, f);
}
