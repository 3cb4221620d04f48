/* Calls answered by the supervisor itself (see local.h). */
#define _GNU_SOURCE
#include "local.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "guest.h"
#include "listener.h"
#include "reports.h"

/* What a handler below returns besides a grant or a report code. */
#define FORWARD LOCAL_FORWARD   /* not answered here: the controller's */
#define ANSWERED LOCAL_ANSWERED /* answered and reported by the handler itself */

/* An answer given here: the call's result or errno, and what answered it (for the report). */
struct answer {
  int64_t result;
  int err;
  char host[PATH_MAX + 1]; /* the host path that answered (or the virtual one; see report) */
};

int name_stat(struct local *lc, const char *path, size_t n, int follow, struct stat *out, int64_t *result, int *err,
              char *host) {
  int g = n == 1 && path[0] == '/' ? GRANT_OWN_TREE : resolve_local(lc, path, n, follow, host, err);
  if (g == GRANT_MISSING_NAME) {
    *result = -1;
    return g;
  }
  const struct stat *own = own_stat(lc, g, *err, path, n, host);
  if (own) {
    *out = *own;
    *err = 0, *result = 0;
    return GRANT_OWN_TREE;
  }
  if (g < 0) return FORWARD; /* a directory or link of the controller's tree without --stat */
  struct stat st;
  int rc = host_stat(lc, host, g, &st);
  if (rc > 0) return FORWARD;
  if (rc < 0) {
    *err = -rc;
    *result = -1;
    return g;
  }
  virtual_stat(lc, &st, lc->grants[g].dev, out);
  *err = 0, *result = 0;
  return g;
}

static int local_stat(struct local *lc, const struct seccomp_notif *req, const char *path, size_t n, int follow,
                      uint64_t buf, int64_t *result, int *err, char *host) {
  struct stat out;
  int g = name_stat(lc, path, n, follow, &out, result, err, host);
  if (g != FORWARD && *result == 0 && guest_write((pid_t)req->pid, buf, &out, sizeof out) < 0)
    *err = EFAULT, *result = -1;
  return g;
}

int name_access(struct local *lc, const char *path, size_t n, uint64_t mode, int64_t *result, int *err, char *host) {
  if (mode & ~(uint64_t)7 || mode & W_OK) return FORWARD;
  int g = n == 1 && path[0] == '/' ? GRANT_OWN_TREE : resolve_local(lc, path, n, 1, host, err);
  if (g == GRANT_MISSING_NAME) {
    *result = -1;
    return g;
  }
  const struct stat *own = own_stat(lc, g, 0, path, n, host);
  if (own) {
    *result = -1;
    if ((mode & X_OK) && !(own->st_mode & 0111)) *err = EACCES;
    else *err = 0, *result = 0;
    return GRANT_OWN_TREE;
  }
  if (g < 0) return FORWARD;
  struct stat st;
  int rc = host_stat(lc, host, g, &st);
  if (rc > 0) return FORWARD;
  *result = -1;
  if (rc < 0) *err = -rc;
  else if ((mode & X_OK) && !(st.st_mode & 0111)) *err = EACCES;
  else *err = 0, *result = 0;
  return g;
}

/* getdents64 from a listing: whole records that fit in `count`, as the controller packs them. */
static int local_getdents(struct local *lc, const struct seccomp_notif *req, int64_t fd, uint64_t buf, uint64_t count,
                          int64_t *result, int *err) {
  size_t k = 0;
  while (k < lc->n_listings && lc->listings[k].fd != fd) k++;
  if (k == lc->n_listings) return FORWARD;
  const unsigned char *b = lc->listings[k].buf;
  size_t pos = lc->listings[k].pos, end = pos, len = lc->listings[k].len;
  while (end + 19 <= len) {
    uint16_t reclen;
    memcpy(&reclen, b + end + 16, 2);
    if (reclen < 24 || end + reclen > len || end - pos + reclen > count) break;
    end += reclen;
  }
  if (end == pos && pos < len) {
    *err = EINVAL, *result = -1;
    return GRANT_NONE;
  }
  if (end > pos && guest_write((pid_t)req->pid, buf, b + pos, end - pos) < 0) {
    *err = EFAULT, *result = -1;
    return GRANT_NONE;
  }
  lc->listings[k].pos = end;
  *err = 0, *result = (int64_t)(end - pos);
  return GRANT_NONE;
}

/* Returns the grant, with *fd_out the opened host file (or -1 and *err set); -1: forward. */
static int local_open(struct local *lc, const char *path, size_t n, uint64_t flags, int *fd_out, int *err, char *host) {
  const uint64_t ok = O_CLOEXEC | O_LARGEFILE | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK | O_DIRECTORY;
  lc->pending_dir_grant = -1;
  if ((flags & O_ACCMODE) != O_RDONLY || (flags & ~(ok | O_ACCMODE))) return FORWARD;
  int g = resolve_local(lc, path, n, !(flags & O_NOFOLLOW), host, err);
  if (g == GRANT_MISSING_NAME) {
    *fd_out = -1;
    return g;
  }
  if (g == GRANT_OWN_TREE && !(flags & O_DIRECTORY)) { /* a file given with --file: its sealed copy */
    int k = vfile_find(lc, host);
    if (k < 0) return FORWARD;
    int fd = vfile_open(lc, k);
    if (fd < 0) return FORWARD;
    *fd_out = fd;
    *err = 0;
    return GRANT_OWN_TREE;
  }
  if (g < 0) return FORWARD;
  /* O_NONBLOCK: a FIFO must not block the supervisor (only regular files are handed over). */
  int fd = open_host(lc, host, g, O_RDONLY | O_NONBLOCK);
  if (fd == -ENOENT) {
    *fd_out = -1;
    *err = ENOENT;
    return g;
  }
  if (fd < 0) return FORWARD;
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (flags & O_DIRECTORY)) {
    /* Directories get a virtual descriptor from the controller; remember which one it is. */
    if (S_ISDIR(st.st_mode)) {
      memcpy(lc->pending_dir, host, strlen(host) + 1);
      lc->pending_dir_grant = g;
    }
    close(fd);
    return FORWARD;
  }
  if (fcntl(fd, F_SETFL, 0) < 0) { /* the guest gets the description without O_NONBLOCK */
    close(fd);
    return FORWARD;
  }
  *fd_out = fd;
  *err = 0;
  return g;
}

/* readlink: a virtual symlink's text, EINVAL for a granted file or directory, or a missing name. */
static int local_readlink(struct local *lc, const struct seccomp_notif *req, const char *path, size_t n, uint64_t buf,
                          int64_t size, int64_t *result, int *err, char *host) {
  if (size <= 0) return FORWARD;
  int g = resolve_local(lc, path, n, 0, host, err);
  if (g == GRANT_MISSING_NAME) {
    *result = -1;
    return g;
  }
  if (g == RESOLVED_LINK) {
    size_t len = strlen(host);
    if ((uint64_t)size < len) len = (size_t)size;
    if (len > lc->max_path) len = lc->max_path;
    if (len && guest_write((pid_t)req->pid, buf, host, len) < 0) *err = EFAULT, *result = -1;
    else *err = 0, *result = (int64_t)len;
    host[0] = 0;
    return GRANT_NONE; /* the link's own text: no grant answered it */
  }
  if (g < 0) return FORWARD;
  struct stat st;
  int rc = host_stat(lc, host, g, &st);
  if (rc > 0) return FORWARD;
  *result = -1;
  *err = rc < 0 ? -rc : EINVAL;
  return g;
}

/* getrandom: the host kernel's randomness, as the controller's own source is (small requests). */
static int local_getrandom(const struct seccomp_notif *req, uint64_t buf, int64_t len, int64_t *result, int *err) {
  unsigned char bytes[256];
  if (len <= 0 || len > (int64_t)sizeof bytes) return -1;
  if (getrandom(bytes, (size_t)len, 0) != len) return -1;
  if (guest_write((pid_t)req->pid, buf, bytes, (size_t)len) < 0) *err = EFAULT, *result = -1;
  else *err = 0, *result = len;
  return 0;
}

int describe_real_fd(struct local *lc, int fd, struct stat *out) {
  struct stat st;
  if (fstat(fd, &st) < 0) return -errno;
  *out = st;
  const struct stat *copy = vfile_stat(lc, st.st_dev, st.st_ino);
  if (copy) {
    *out = *copy;
    return 0;
  }
  if (!lc->n_host_devs || (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))) return 0;
  /* Which mount a host file belongs to, by its identity: learned once from its name. */
  struct seen_file *seen = lc->seen;
  unsigned slot = (unsigned)((st.st_ino * 0x9e3779b97f4a7c15ull) >> 56) ^ (unsigned)(st.st_dev & 0xff);
  if (seen[slot].used && seen[slot].dev == st.st_dev && seen[slot].ino == st.st_ino) {
    if (seen[slot].vdev) virtual_stat(lc, &st, seen[slot].vdev, out);
    return 0;
  }
  char link[64], path[PATH_MAX];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, path, sizeof path - 1);
  if (n <= 0) return 0;
  path[n] = 0;
  size_t best = 0;
  const struct local_grant *hit = NULL;
  for (size_t k = 0; k < lc->n_host_devs; k++) {
    const struct local_grant *h = &lc->host_devs[k];
    if (h->len > best && (size_t)n >= h->len && memcmp(path, h->path, h->len) == 0 &&
        (path[h->len] == 0 || path[h->len] == '/' || h->len == 1)) {
      best = h->len;
      hit = h;
    }
  }
  if (hit) virtual_stat(lc, &st, hit->dev, out);
  seen[slot].dev = st.st_dev, seen[slot].ino = st.st_ino, seen[slot].vdev = hit ? hit->dev : 0, seen[slot].used = 1;
  return 0;
}

/* The answer's bytes into the guest's buffer at addr: 0 and the result, or EFAULT. */
static void write_answer(const struct call *c, struct answer *a, uint64_t addr, const void *bytes, size_t n,
                         int64_t result) {
  if (guest_write((pid_t)c->req->pid, addr, bytes, n) < 0) a->err = EFAULT, a->result = -1;
  else a->err = 0, a->result = result;
}

static int answer_identity(struct local *lc, const struct call *c, struct answer *a) {
  int nr = c->req->data.nr;
  int which = nr == SYS_getuid ? 0 : nr == SYS_geteuid ? 1 : nr == SYS_getgid ? 2 : 3;
  if (lc->ids[which] < 0) return FORWARD;
  a->result = lc->ids[which];
  return GRANT_NONE;
}

/* The granted host directory behind fstat(fd) or newfstatat(fd, "", AT_EMPTY_PATH): its index in dir_fds, or -1. */
static int dir_fd_of_call(struct local *lc, const struct call *c) {
  int empty =
      c->req->data.nr == SYS_fstat || ((c->req->data.args[3] & AT_EMPTY_PATH) && c->path[1] && c->path_len[1] == 0);
  return empty ? dir_fd_index(lc, int_arg(c->req, 0)) : -1;
}

/* fstat of a virtual descriptor the controller gave for a granted host directory (see dir_fds). */
static int answer_dir_fstat(struct local *lc, const struct call *c, struct answer *a, int di) {
  struct stat st, out;
  int gi = lc->dir_fds[di].grant;
  if (host_stat(lc, lc->dir_fds[di].host, gi, &st) != 0 || !S_ISDIR(st.st_mode)) return FORWARD;
  virtual_stat(lc, &st, lc->grants[gi].dev, &out);
  const __u64 *arg = c->req->data.args;
  write_answer(c, a, c->req->data.nr == SYS_fstat ? arg[1] : arg[2], &out, sizeof out, 0);
  memcpy(a->host, lc->dir_fds[di].host, strlen(lc->dir_fds[di].host) + 1);
  return gi;
}

/* newfstatat of a name: the working directory's remembered stat, or a delegated name. */
static int answer_fstatat(struct local *lc, const struct call *c, struct answer *a) {
  const __u64 *arg = c->req->data.args;
  const uint64_t flags = arg[3] & 0xffffffffu;
  const char *p = c->path[1];
  if (!p || (flags & ~(uint64_t)(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT))) return FORWARD;
  if (lc->cwd_stat_ok && flags == 0 && c->path_len[1] == lc->cwd_len && memcmp(p, lc->cwd, lc->cwd_len) == 0) {
    write_answer(c, a, arg[2], lc->cwd_stat, sizeof lc->cwd_stat, 0);
    return GRANT_REPEATED_ANSWER;
  }
  return local_stat(lc, c->req, p, c->path_len[1], !(flags & AT_SYMLINK_NOFOLLOW), arg[2], &a->result, &a->err,
                    a->host);
}

static int answer_stat(struct local *lc, const struct call *c, struct answer *a) {
  int nr = c->req->data.nr;
  if (nr == SYS_fstat || nr == SYS_newfstatat) {
    int di = dir_fd_of_call(lc, c);
    if (di >= 0) return answer_dir_fstat(lc, c, a, di);
    return nr == SYS_fstat ? FORWARD : answer_fstatat(lc, c, a);
  }
  if (!c->path[0]) return FORWARD;
  return local_stat(lc, c->req, c->path[0], c->path_len[0], nr == SYS_stat, c->req->data.args[1], &a->result, &a->err,
                    a->host);
}

static int answer_access(struct local *lc, const struct call *c, struct answer *a) {
  const __u64 *arg = c->req->data.args;
  int nr = c->req->data.nr;
  if (nr == SYS_access) {
    if (!c->path[0]) return FORWARD;
    return name_access(lc, c->path[0], c->path_len[0], arg[1] & 0xffffffffu, &a->result, &a->err, a->host);
  }
  if (!c->path[1] || (nr == SYS_faccessat2 && (arg[3] & 0xffffffffu))) return FORWARD;
  return name_access(lc, c->path[1], c->path_len[1], arg[2] & 0xffffffffu, &a->result, &a->err, a->host);
}

/*
 * close: the kernel closes it; the controller drops it from its table when the report arrives,
 * before any later call of the guest (reports go first).
 */
static int answer_close(struct run *run, struct local *lc, const struct call *c, uint64_t t0) {
  forget_dir_fd(lc, int_arg(c->req, 0));
  forget_listing(lc, int_arg(c->req, 0));
  respond(run->listener, c->req->id, 0, 0, 1);
  report(&run->reports, c, 0, 0, GRANT_NONE, t0, NULL);
  return ANSWERED;
}

static int answer_getcwd(struct local *lc, const struct call *c, struct answer *a) {
  const __u64 *arg = c->req->data.args;
  if (!lc->cwd_known || arg[1] > (1ull << 53)) return FORWARD; /* sizes past 2^53: the controller's answer */
  int64_t size = (int64_t)arg[1];
  if (size < (int64_t)lc->cwd_len + 1) a->err = ERANGE;
  else write_answer(c, a, arg[0], lc->cwd, lc->cwd_len + 1, (int64_t)lc->cwd_len + 1);
  return GRANT_NONE;
}

static int answer_readlink(struct local *lc, const struct call *c, struct answer *a) {
  const __u64 *arg = c->req->data.args;
  int at = c->req->data.nr == SYS_readlinkat;
  if (!c->path[at]) return FORWARD;
  return local_readlink(lc, c->req, c->path[at], c->path_len[at], arg[at + 1], int_arg(c->req, at + 2), &a->result,
                        &a->err, a->host);
}

static int answer_uname(struct local *lc, const struct call *c, struct answer *a) {
  if (!lc->utsname_known) return FORWARD;
  write_answer(c, a, c->req->data.args[0], lc->utsname, sizeof lc->utsname, 0);
  return GRANT_NONE;
}

/* open of a delegated file: the host file (or a sealed copy) handed over as the call's result. */
static int answer_open(struct run *run, struct local *lc, const struct call *c, struct answer *a, uint64_t t0) {
  const __u64 *arg = c->req->data.args;
  int at = c->req->data.nr == SYS_openat;
  if (!c->path[at]) return FORWARD;
  int fd = -1;
  int g = local_open(lc, c->path[at], c->path_len[at], arg[at + 1] & 0xffffffffu, &fd, &a->err, a->host);
  if (g == FORWARD || fd < 0) return g;
  int got = answer_fd(run->listener, c->req->id, fd, (arg[at + 1] & O_CLOEXEC) != 0);
  a->err = got < 0 ? errno : 0;
  report(&run->reports, c, got < 0 ? -1 : got, got < 0 ? a->err : 0, g, t0, a->host);
  return ANSWERED;
}

/* The call's handler: a grant or code (answered), FORWARD, or ANSWERED. */
static int answer_call(struct run *run, struct local *lc, const struct call *c, struct answer *a, uint64_t t0) {
  switch (c->req->data.nr) {
    case SYS_getuid:
    case SYS_geteuid:
    case SYS_getgid:
    case SYS_getegid:
      return answer_identity(lc, c, a);
    case SYS_fstat:
    case SYS_newfstatat:
    case SYS_stat:
    case SYS_lstat:
      return answer_stat(lc, c, a);
    case SYS_access:
    case SYS_faccessat:
    case SYS_faccessat2:
      return answer_access(lc, c, a);
    case SYS_getdents64:
      return local_getdents(lc, c->req, int_arg(c->req, 0), c->req->data.args[1], c->req->data.args[2] & 0xffffffffu,
                            &a->result, &a->err);
    case SYS_close:
      return answer_close(run, lc, c, t0);
    case SYS_getcwd:
      return answer_getcwd(lc, c, a);
    case SYS_readlink:
    case SYS_readlinkat:
      return answer_readlink(lc, c, a);
    case SYS_getrandom:
      return local_getrandom(c->req, c->req->data.args[0], (int64_t)c->req->data.args[1], &a->result, &a->err) < 0
                 ? FORWARD
                 : GRANT_NONE;
    case SYS_uname:
      return answer_uname(lc, c, a);
    case SYS_open:
    case SYS_openat:
      return answer_open(run, lc, c, a, t0);
    default:
      return FORWARD;
  }
}

int answer_locally(struct run *run, struct local *lc, const struct call *c) {
  int nr = c->req->data.nr;
  if (nr < 0 || nr >= (int)sizeof lc->calls || !lc->calls[nr]) return 0;
  uint64_t t0 = mono_ns();
  struct answer a;
  a.result = -1;
  a.err = 0;
  a.host[0] = 0;
  int g = answer_call(run, lc, c, &a, t0);
  if (g == ANSWERED) return 1;
  if (g == FORWARD) return 0;
  /* Answered here: grant g (or GRANT_NONE, GRANT_MISSING_NAME, GRANT_REPEATED_ANSWER, GRANT_OWN_TREE), reported in call order. */
  respond(run->listener, c->req->id, a.result, a.err, 0);
  report(&run->reports, c, a.result, a.err, g, t0, a.host);
  return 1;
}

/* The stat of a pipe, as the controller describes the guest's own standard streams. */
static void stdio_stat(const struct local *lc, struct stat *st) {
  memset(st, 0, sizeof *st);
  st->st_dev = 5;
  st->st_ino = 3;
  st->st_nlink = 1;
  st->st_mode = S_IFIFO | 0600;
  st->st_uid = (uid_t)lc->ids[0];
  st->st_gid = (gid_t)lc->ids[2];
  st->st_blksize = 4096;
}

/* Where a stdio call writes its stat (0: none), or -1 when it is not one answered here. */
static int64_t stdio_statbuf(const struct call *c) {
  const __u64 *a = c->req->data.args;
  switch (c->req->data.nr) {
    case SYS_fstat:
      return (int64_t)a[1];
    case SYS_newfstatat:
      return (a[3] & AT_EMPTY_PATH) && c->path[1] && c->path_len[1] == 0 ? (int64_t)a[2] : -1;
    case SYS_lseek:
    case SYS_ioctl:
      return 0;
    default:
      return -1;
  }
}

int answer_stdio(struct run *run, struct local *lc, const struct call *c) {
  if (!lc->stdio || !(c->fate->flags & CALL_STDIO)) return 0;
  int64_t fd = int_arg(c->req, 0);
  if (fd < 0 || fd > 2) return 0;
  int64_t statbuf = stdio_statbuf(c);
  if (statbuf < 0) return 0;
  if (fd_kind_of(&run->guest, (pid_t)c->req->pid, fd) != (enum fd_kind)(FD_STDIN + fd)) return 0;
  uint64_t t0 = mono_ns();
  int64_t result = -1;
  int err = 0, cont = 0, nr = c->req->data.nr;
  if (nr == SYS_lseek) err = ESPIPE;
  else if (nr == SYS_ioctl) {
    unsigned cmd = (unsigned)c->req->data.args[1];
    if (cmd == FIOCLEX || cmd == FIONCLEX) cont = 1, result = 0;
    else err = ENOTTY;
  } else {
    struct stat st;
    stdio_stat(lc, &st);
    if (guest_write((pid_t)c->req->pid, (uint64_t)statbuf, &st, sizeof st) < 0) err = EFAULT;
    else result = 0;
  }
  respond(run->listener, c->req->id, result, err, cont);
  report(&run->reports, c, cont ? 0 : result, err, GRANT_NONE, t0, NULL);
  return 1;
}

int changes_nothing(struct local *lc, const struct call *c) {
  int nr = c->req->data.nr;
  switch (nr) {
    case SYS_newfstatat:
    case SYS_stat:
    case SYS_lstat:
    case SYS_access:
    case SYS_faccessat:
    case SYS_faccessat2:
    case SYS_getcwd:
    case SYS_readlink:
    case SYS_readlinkat:
    case SYS_getuid:
    case SYS_geteuid:
    case SYS_getgid:
    case SYS_getegid:
    case SYS_getrandom:
    case SYS_uname:
      return 1;
    case SYS_open:
    case SYS_openat: {
      /* Opening something of a read-only host grant (a directory of the interpreter's library). */
      int at = nr == SYS_openat;
      uint64_t flags = c->req->data.args[at + 1];
      if ((flags & O_ACCMODE) != O_RDONLY ||
          (flags & (O_CREAT | O_TRUNC | 020000000 /* O_TMPFILE without O_DIRECTORY */)) || !c->path[at])
        return 0;
      char host[PATH_MAX + 1];
      int err = 0;
      return resolve_local(lc, c->path[at], c->path_len[at], !(flags & O_NOFOLLOW), host, &err) >= 0;
    }
    default:
      return 0;
  }
}
