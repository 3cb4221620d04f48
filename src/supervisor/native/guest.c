/* The stock guest seen from the supervisor (see guest.h). */
#define _GNU_SOURCE
#include "guest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "end.h"
#include "wire.h"

void guest_init(struct guest *g) {
  static const char *const stdio_names[3] = {PLACEHOLDER_PREFIX "stdin", PLACEHOLDER_PREFIX "stdout",
                                             PLACEHOLDER_PREFIX "stderr"};
  g->iobuf = malloc(MAX_CHUNK + 16);
  if (!g->iobuf) fatal("malloc");
  g->placeholder = (int)syscall(SYS_memfd_create, VIRTUAL_NAME, 0);
  if (g->placeholder < 0) fatal("memfd_create");
  struct stat pst;
  if (fstat(g->placeholder, &pst) < 0) fatal("fstat");
  g->placeholder_dev = pst.st_dev;
  g->placeholder_ino[0] = pst.st_ino;
  for (int k = 0; k < 3; k++) {
    g->stdio_placeholder[k] = (int)syscall(SYS_memfd_create, stdio_names[k], MFD_CLOEXEC);
    if (g->stdio_placeholder[k] < 0 || fstat(g->stdio_placeholder[k], &pst) < 0) fatal("memfd_create");
    g->placeholder_ino[k + 1] = pst.st_ino;
  }
}

void guest_know(struct guest *g, pid_t pid) {
  if (g->pid >= 0) return;
  g->pid = pid;
  g->signal_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
}

pid_t guest_process(const struct run *run) {
  return run->guest.pid > 0 ? run->guest.pid : run->child;
}

int guest_read(pid_t pid, uint64_t addr, void *buf, size_t n) {
  while (n) {
    struct iovec local = {buf, n}, remote = {(void *)(uintptr_t)addr, n};
    ssize_t k = process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (k <= 0) return -1;
    buf = (char *)buf + k;
    addr += (uint64_t)k;
    n -= (size_t)k;
  }
  return 0;
}

int guest_write(pid_t pid, uint64_t addr, const void *buf, size_t n) {
  while (n) {
    struct iovec local = {(void *)buf, n}, remote = {(void *)(uintptr_t)addr, n};
    ssize_t k = process_vm_writev(pid, &local, 1, &remote, 1, 0);
    if (k <= 0) return -1;
    buf = (const char *)buf + k;
    addr += (uint64_t)k;
    n -= (size_t)k;
  }
  return 0;
}

int guest_string(pid_t pid, uint64_t ptr, uint64_t max, unsigned char *out, uint64_t *len) {
  uint64_t n = 0;
  if (ptr == 0) return -1;
  while (n < max) {
    uint64_t addr = ptr + n;
    uint64_t room = 4096 - (addr & 4095);
    if (room > max - n) room = max - n;
    if (guest_read(pid, addr, out + n, room) < 0) return -1;
    void *nul = memchr(out + n, 0, room);
    if (nul) {
      *len = (uint64_t)((unsigned char *)nul - out);
      return 0;
    }
    n += room;
  }
  *len = n;
  return 0;
}

/*
 * By identity, not by name: the guest may create memfds too, and name them as it likes. The
 * descriptor's magic link is followed to the open file itself and compared with ours.
 */
enum fd_kind fd_kind_of(const struct guest *g, pid_t pid, int64_t fd) {
  if (fd < 0 || fd > INT_MAX) return FD_VIRTUAL; /* let the controller answer EBADF */
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)pid, (int)fd);
  struct stat st;
  if (stat(path, &st) < 0) return FD_VIRTUAL; /* not open: the controller answers EBADF */
  if (st.st_dev != g->placeholder_dev) return FD_REAL;
  for (int k = 0; k < 4; k++)
    if (st.st_ino == g->placeholder_ino[k]) return k == 0 ? FD_VIRTUAL : (enum fd_kind)(FD_STDIN + k - 1);
  return FD_REAL;
}

int fd_is_virtual(const struct guest *g, pid_t pid, int64_t fd) {
  return fd_kind_of(g, pid, fd) != FD_REAL;
}

int fetch_guest_fd(struct guest *g, int64_t fd) {
  if (g->pidfd_of != g->pid) {
    if (g->pidfd >= 0) close(g->pidfd);
    g->pidfd = (int)syscall(SYS_pidfd_open, g->pid, 0);
    g->pidfd_of = g->pid;
  }
  int local = (int)syscall(SYS_pidfd_getfd, g->pidfd, (int)fd, 0);
  return local < 0 ? -errno : local;
}

int guest_fd_open(pid_t pid, uint64_t fd) {
  char path[64];
  struct stat st;
  if ((int64_t)(int32_t)(uint32_t)fd < 0) return 0;
  snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)pid, (int)(int32_t)(uint32_t)fd);
  return lstat(path, &st) == 0;
}

uint64_t guest_rss(pid_t pid) {
  char path[64], buf[128];
  snprintf(path, sizeof path, "/proc/%d/statm", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  unsigned long long size = 0, resident = 0;
  if (sscanf(buf, "%llu %llu", &size, &resident) != 2) return 0;
  return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

uint64_t guest_shm_bytes(const struct guest *g, pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
  DIR *d = opendir(path);
  if (!d) return 0;
  uint64_t total = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    struct stat st;
    if (e->d_name[0] == '.' || fstatat(dirfd(d), e->d_name, &st, 0) < 0) continue;
    if (st.st_dev == g->placeholder_dev && S_ISREG(st.st_mode) && st.st_blocks > 0)
      total += (uint64_t)st.st_blocks * 512;
  }
  closedir(d);
  return total;
}

uint64_t count_guest_threads(pid_t pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "re");
  if (!f) return UINT64_MAX;
  uint64_t n = UINT64_MAX;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "Threads:", 8) == 0) {
      n = strtoull(line + 8, NULL, 10);
      break;
    }
  fclose(f);
  return n;
}

uint64_t count_guest_fds(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
  DIR *d = opendir(path);
  if (!d) return 0;
  uint64_t n = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}
