/* The seccomp listener (see listener.h). */
#define _GNU_SOURCE
#include "listener.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "end.h"

#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

/*
 * Linux 5.19+ (WAIT_KILLABLE_RECV): once the supervisor has received a notification, only a fatal
 * signal ends the guest's wait for the answer. Without it a signal the guest handles (SIGINT
 * from a timeout or the terminal, its own alarm) abandons a call the controller is performing and
 * the kernel issues it again after the handler: the controller would write a line twice, or read
 * bytes the guest never gets. With it the call completes exactly once and the signal comes after.
 * What waits longer for it: a read of the guest's standard input that waits for input in the
 * controller (the terminal's interrupt character still ends it: the controller answers EINTR).
 * An older kernel refuses the flag (EINVAL): the filter goes in without it. The walls do not
 * depend on it (every call is still seen and answered), only the guest's own I/O may be repeated;
 * the walls note tells the controller whether it is in force ("killable-wait").
 */
int install_listener_filter(const struct sock_fprog *prog, int *killable) {
  unsigned long flags = SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
  int lfd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, prog);
  *killable = lfd >= 0;
  if (lfd < 0 && errno == EINVAL)
    lfd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, prog);
  return lfd;
}

struct seccomp_notif *notif_buffer(size_t *size) {
  struct seccomp_notif_sizes sizes;
  if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0) fatal("SECCOMP_GET_NOTIF_SIZES");
  *size = sizes.seccomp_notif > sizeof(struct seccomp_notif) ? sizes.seccomp_notif : sizeof(struct seccomp_notif);
  struct seccomp_notif *req = calloc(1, *size);
  if (!req) fatal("calloc");
  return req;
}

int notif_id_valid(int listener, uint64_t id) {
  return ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

void respond(int listener, uint64_t id, int64_t val, int error, int cont) {
  struct seccomp_notif_resp resp;
  memset(&resp, 0, sizeof resp);
  resp.id = id;
  if (cont) resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  else if (error) resp.error = -error;
  else resp.val = val;
  /* ENOENT: the guest thread died or was interrupted meanwhile; nothing to answer. */
  if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0 && errno != ENOENT) fatal("SECCOMP_IOCTL_NOTIF_SEND");
}

int answer_fd(int listener, uint64_t id, int fd, int cloexec) {
  struct seccomp_notif_addfd add;
  memset(&add, 0, sizeof add);
  add.id = id;
  add.flags = SECCOMP_ADDFD_FLAG_SEND;
  add.srcfd = (uint32_t)fd;
  add.newfd_flags = cloexec ? O_CLOEXEC : 0;
  int got = ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &add);
  int e = errno;
  close(fd);
  if (got < 0 && e != ENOENT) respond(listener, id, 0, e, 0);
  errno = e;
  return got;
}

int inject(int listener, uint64_t id, int srcfd, int target, int cloexec) {
  struct seccomp_notif_addfd add;
  memset(&add, 0, sizeof add);
  add.id = id;
  add.srcfd = (uint32_t)srcfd;
  add.newfd_flags = cloexec ? O_CLOEXEC : 0;
  if (target >= 0) {
    add.flags = SECCOMP_ADDFD_FLAG_SETFD;
    add.newfd = (uint32_t)target;
  }
  int fd = ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &add);
  return fd < 0 ? -errno : fd;
}

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

void listener_sync_wakeup(int listener) {
  ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
}
