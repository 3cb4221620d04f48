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
