/* The answers handed over by the controller, and their resolution (see delegation.h). */
#define _GNU_SOURCE
#include "delegation.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "syscalls.h"
#include "words.h"

void local_init(struct local *lc) {
  memset(lc, 0, sizeof *lc);
  lc->owner_uid = lc->owner_gid = 1000;
  lc->max_path = PATH_MAX;
  for (int k = 0; k < 4; k++) lc->ids[k] = -1;
  lc->pending_dir_grant = -1;
}

static int set_utsname(struct local *lc, const char *hex) {
  if (strlen(hex) != 2 * sizeof lc->utsname || hex_bytes(hex, sizeof lc->utsname, lc->utsname) < 0) return -1;
  lc->utsname_known = 1;
  return 0;
}

static char *dup_or_die(const char *s) {
  char *d = strdup(s);
  if (!d) {
    fprintf(stderr, "pypy-box-supervisor: out of memory\n");
    _exit(126);
  }
  return d;
}

/* Every path of the tables: absolute and shorter than PATH_MAX (the lookups copy them into such buffers). */
static int table_path_ok(const char *p) {
  return p[0] == '/' && strlen(p) < PATH_MAX;
}

/* DEV:PATH into a table of host paths with device numbers (--grant, --host-dev). */
static int add_dev_path(struct local_grant *table, size_t *n, size_t max, const char *spec) {
  const char *colon = strchr(spec, ':');
  uint64_t dev;
  if (!colon || parse_uint_n(spec, (size_t)(colon - spec), UINT64_MAX, &dev) < 0 || !table_path_ok(colon + 1) ||
      *n >= max)
    return -1;
  table[*n].path = dup_or_die(colon + 1);
  table[*n].len = strlen(colon + 1);
  table[*n].dev = dev;
  ++*n;
  return 0;
}

/* --grant DEV:PATH */
static int add_grant(struct local *lc, const char *spec) {
  return add_dev_path(lc->grants, &lc->n_grants, MAX_GRANTS, spec);
}

/* --grant-from DEV:PATH HOST: a grant the guest sees at PATH, of the host directory HOST. */
static int add_mapped_grant(struct local *lc, const char *spec, const char *host) {
  if (!table_path_ok(host) || add_dev_path(lc->grants, &lc->n_grants, MAX_GRANTS, spec) < 0) return -1;
  struct local_grant *g = &lc->grants[lc->n_grants - 1];
  g->host = dup_or_die(host);
  g->host_len = strlen(host);
  return 0;
}

/* --hide-name G:NAME, --hide-suffix G:SUFFIX: a rule of grant G's filter (a name without slashes). */
static int add_hide_rule(struct local *lc, const char *spec, int suffix) {
  const char *colon = strchr(spec, ':');
  uint64_t g;
  if (!colon || parse_uint_n(spec, (size_t)(colon - spec), MAX_GRANTS, &g) < 0 || g >= lc->n_grants || !colon[1] ||
      strchr(colon + 1, '/') || strlen(colon + 1) > 255)
    return -1;
  struct local_grant *gr = &lc->grants[g];
  size_t *n = suffix ? &gr->n_hide_suffixes : &gr->n_hide_names;
  if (*n >= MAX_HIDE_RULES) return -1;
  (suffix ? gr->hide_suffixes : gr->hide_names)[(*n)++] = dup_or_die(colon + 1);
  return 0;
}

/* --link PATH TARGET */
static int add_link(struct local *lc, const char *path, const char *target) {
  if (!table_path_ok(path) || !target[0] || strlen(target) >= PATH_MAX || lc->n_links >= MAX_LINKS) return -1;
  lc->links[lc->n_links].path = dup_or_die(path);
  lc->links[lc->n_links].len = strlen(path);
  lc->links[lc->n_links].target = dup_or_die(target);
  lc->n_links++;
  return 0;
}

/* --dir ERRNO:PATH */
static int add_dir(struct local *lc, const char *spec) {
  const char *colon = strchr(spec, ':');
  uint64_t err;
  if (!colon || parse_uint_n(spec, (size_t)(colon - spec), 4095, &err) < 0 || (err != ENOENT && err != EACCES) ||
      !table_path_ok(colon + 1) || lc->n_dirs >= MAX_DIRS)
    return -1;
  lc->dirs[lc->n_dirs].path = dup_or_die(colon + 1);
  lc->dirs[lc->n_dirs].len = strlen(colon + 1);
  lc->dirs[lc->n_dirs].err = (int)err;
  lc->n_dirs++;
  return 0;
}

static int add_host_dev(struct local *lc, const char *spec) {
  return add_dev_path(lc->host_devs, &lc->n_host_devs, MAX_HOST_DEVS, spec);
}

static int add_own_stat(struct local *lc, const char *spec) {
  const char *colon = strchr(spec, ':');
  if (!colon || (size_t)(colon - spec) != 2 * sizeof(struct stat) || !table_path_ok(colon + 1) ||
      lc->n_own_stats >= MAX_STATS)
    return -1;
  if (hex_bytes(spec, sizeof(struct stat), (unsigned char *)&lc->own_stats[lc->n_own_stats].st) < 0) return -1;
  lc->own_stats[lc->n_own_stats].path = dup_or_die(colon + 1);
  lc->own_stats[lc->n_own_stats].len = strlen(colon + 1);
  lc->n_own_stats++;
  return 0;
}

static const struct stat *find_own_stat(struct local *lc, const char *p, size_t n) {
  for (size_t k = 0; k < lc->n_own_stats; k++)
    if (lc->own_stats[k].len == n && memcmp(lc->own_stats[k].path, p, n) == 0) return &lc->own_stats[k].st;
  return NULL;
}

int vfile_get(struct local *lc, const char *path, const struct stat *st, const unsigned char *content, size_t len) {
  for (size_t k = 0; k < lc->n_vfiles; k++)
    if (lc->vfiles[k].len == len && strcmp(lc->vfiles[k].path, path) == 0 &&
        memcmp(lc->vfiles[k].content, content, len) == 0) {
      lc->vfiles[k].st = *st;
      return (int)k;
    }
  if (lc->n_vfiles >= MAX_VFILES) return -1;
  int fd = (int)syscall(SYS_memfd_create, "pypy-box-file", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return -1;
  size_t done = 0;
  while (done < len) {
    ssize_t w = write(fd, content + done, len - done);
    if (w <= 0) {
      close(fd);
      return -1;
    }
    done += (size_t)w;
  }
  struct stat mst;
  unsigned char *copy = malloc(len ? len : 1);
  if (!copy || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0 ||
      fstat(fd, &mst) < 0) {
    free(copy);
    close(fd);
    return -1;
  }
  memcpy(copy, content, len);
  lc->vfiles[lc->n_vfiles].path = dup_or_die(path);
  lc->vfiles[lc->n_vfiles].memfd = fd;
  lc->vfiles[lc->n_vfiles].dev = mst.st_dev;
  lc->vfiles[lc->n_vfiles].ino = mst.st_ino;
  lc->vfiles[lc->n_vfiles].st = *st;
  lc->vfiles[lc->n_vfiles].content = copy;
  lc->vfiles[lc->n_vfiles].len = len;
  return (int)lc->n_vfiles++;
}

int vfile_find(struct local *lc, const char *path) {
  for (size_t k = lc->n_vfiles; k-- > 0;) /* the newest content for the name */
    if (strcmp(lc->vfiles[k].path, path) == 0) return (int)k;
  return -1;
}

int vfile_open(struct local *lc, int k) {
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", lc->vfiles[k].memfd);
  int fd = open(link, O_RDONLY | O_CLOEXEC);
  return fd < 0 ? -errno : fd;
}

const struct stat *vfile_stat(struct local *lc, dev_t dev, ino_t ino) {
  for (size_t k = 0; k < lc->n_vfiles; k++)
    if (lc->vfiles[k].ino == ino && lc->vfiles[k].dev == dev) return &lc->vfiles[k].st;
  return NULL;
}

/* --file STATHEX:CONTENTHEX:PATH — a small file of the controller's own tree, opened here. */
static int add_vfile(struct local *lc, const char *spec) {
  const size_t sh = 2 * sizeof(struct stat);
  /* The stat's digits, ':', the content's digits (their count even), ':', the path. */
  if (strlen(spec) < sh + 2 || spec[sh] != ':') return -1;
  const char *content_hex = spec + sh + 1, *c2 = strchr(content_hex, ':');
  if (!c2 || (size_t)(c2 - content_hex) % 2 || !table_path_ok(c2 + 1) || lc->n_own_stats >= MAX_STATS) return -1;
  struct stat st;
  size_t len = (size_t)(c2 - content_hex) / 2;
  unsigned char *content = malloc(len ? len : 1);
  if (!content || hex_bytes(spec, sizeof st, (unsigned char *)&st) < 0 || hex_bytes(content_hex, len, content) < 0) {
    free(content);
    return -1;
  }
  int k = vfile_get(lc, c2 + 1, &st, content, len);
  free(content);
  if (k < 0) return -1;
  lc->own_stats[lc->n_own_stats].path = dup_or_die(c2 + 1);
  lc->own_stats[lc->n_own_stats].len = strlen(c2 + 1);
  lc->own_stats[lc->n_own_stats].st = st;
  lc->n_own_stats++;
  return 0;
}

/* --name PATH */
static int add_name(struct local *lc, const char *path) {
  if (!table_path_ok(path) || lc->n_names >= MAX_NAMES) return -1;
  lc->names[lc->n_names] = dup_or_die(path);
  lc->name_lens[lc->n_names] = strlen(path);
  lc->n_names++;
  return 0;
}

static int find_name(struct local *lc, const char *p, size_t n) {
  for (size_t k = 0; k < lc->n_names; k++)
    if (lc->name_lens[k] == n && memcmp(lc->names[k], p, n) == 0) return 1;
  return 0;
}

/* The number of the call named by the n bytes at name (its name or whole signature), or -1. */
/* --absent PATH */
static int add_absent(struct local *lc, const char *path) {
  if (!table_path_ok(path) || lc->n_absent >= MAX_ABSENT) return -1;
  lc->absent[lc->n_absent] = dup_or_die(path);
  lc->absent_lens[lc->n_absent] = strlen(path);
  lc->n_absent++;
  return 0;
}

/* Whether the n bytes at p name an absent name or something below one. */
static int under_absent(struct local *lc, const char *p, size_t n) {
  for (size_t k = 0; k < lc->n_absent; k++)
    if (lc->absent_lens[k] <= n && memcmp(lc->absent[k], p, lc->absent_lens[k]) == 0 &&
        (lc->absent_lens[k] == n || p[lc->absent_lens[k]] == '/'))
      return 1;
  return 0;
}

/* --local open,openat,newfstatat,...: one or more known lc->names, no empty one. */
static int set_local_calls(struct local *lc, const char *list) {
  for (const char *name = list;;) {
    const char *comma = strchr(name, ',');
    int nr = syscall_named(name, comma ? (size_t)(comma - name) : strlen(name));
    const struct syscall_fate *f = nr < 0 ? NULL : fate_of(nr);
    if (!f || !(f->flags & CALL_LOCAL) || nr >= (int)sizeof lc->calls) return -1; /* only calls the table says can be */
    lc->calls[nr] = 1;
    if (!comma) return 0;
    name = comma + 1;
  }
}

static int find_grant(struct local *lc, const char *p, size_t n) {
  for (size_t k = 0; k < lc->n_grants; k++)
    if (lc->grants[k].len == n && memcmp(lc->grants[k].path, p, n) == 0) return (int)k;
  return -1;
}

static int find_link(struct local *lc, const char *p, size_t n) {
  for (size_t k = 0; k < lc->n_links; k++)
    if (lc->links[k].len == n && memcmp(lc->links[k].path, p, n) == 0) return (int)k;
  return -1;
}

/* The errno for a name missing from a fully known directory (path[0..n), "/" is n = 0), or 0. */
static int missing_in(struct local *lc, const char *p, size_t n) {
  if (n == 0) n = 1; /* the root */
  for (size_t k = 0; k < lc->n_dirs; k++)
    if (lc->dirs[k].len == n && memcmp(lc->dirs[k].path, p, n) == 0) return lc->dirs[k].err;
  return 0;
}

/* A directory of the controller's own tree that only leads to lc->grants and lc->links. */
static int leads_somewhere(struct local *lc, const char *p, size_t n) {
  for (size_t k = 0; k < lc->n_grants; k++)
    if (lc->grants[k].len > n && memcmp(lc->grants[k].path, p, n) == 0 && lc->grants[k].path[n] == '/') return 1;
  for (size_t k = 0; k < lc->n_links; k++)
    if (lc->links[k].len > n && memcmp(lc->links[k].path, p, n) == 0 && lc->links[k].path[n] == '/') return 1;
  return 0;
}

/* The component of p starting at `at` (up to '/' or the end) is one grant g's filter hides. */
static int hidden(const struct local_grant *g, const char *p, size_t at, size_t end) {
  size_t n = end - at;
  for (size_t k = 0; k < g->n_hide_names; k++)
    if (strlen(g->hide_names[k]) == n && memcmp(g->hide_names[k], p + at, n) == 0) return 1;
  for (size_t k = 0; k < g->n_hide_suffixes; k++) {
    size_t sl = strlen(g->hide_suffixes[k]);
    if (sl <= n && memcmp(g->hide_suffixes[k], p + end - sl, sl) == 0) return 1;
  }
  return 0;
}

/* The host path of path[0..n) below grant g (which covers it). 0, or -1 when it is too long. */
static int host_of(const struct local_grant *g, const char *path, size_t n, char *out) {
  const char *root = g->host ? g->host : g->path;
  size_t rl = g->host ? g->host_len : g->len;
  if (rl + (n - g->len) >= PATH_MAX) return -1;
  memcpy(out, root, rl);
  memcpy(out + rl, path + g->len, n - g->len);
  out[rl + n - g->len] = 0;
  return 0;
}

/* A directory on the host reached without any symlink (where a name of it is missing, not ENOTDIR). */
static int host_dir(const char *host) {
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  int fd = (int)syscall(SYS_openat2, AT_FDCWD, host, &how, sizeof how);
  if (fd < 0) return 0;
  close(fd);
  return 1;
}

/*
 * The grant itself, or a name below it that the host walks (never following symlinks): its host
 * path, or GRANT_MISSING_NAME (ENOENT) for a name its filter hides, as the controller's mount does
 * (below a real directory: anything else is the controller's to answer).
 */
static int below_grant(struct local *lc, int gi, const char *path, size_t len, char *host, int *missing_err) {
  const struct local_grant *g = &lc->grants[gi];
  for (size_t at = g->len + 1; at < len;) {
    size_t end = at;
    while (end < len && path[end] != '/') end++;
    if (hidden(g, path, at, end)) {
      char dir[PATH_MAX];
      if (host_of(g, path, at - 1, dir) < 0 || !host_dir(dir)) return LOCAL_FORWARD;
      memcpy(host, path, end);
      host[end] = 0;
      *missing_err = ENOENT;
      return GRANT_MISSING_NAME;
    }
    at = end + 1;
  }
  return host_of(g, path, len, host) < 0 ? LOCAL_FORWARD : gi;
}

/*
 * Names this code answers: absolute, printable ASCII, no empty, ".", ".." or hidden components, no
 * trailing slash, components of at most 255 bytes. Everything else is the controller's.
 */
static int plain_path(const char *p, size_t n) {
  if (n < 2 || p[0] != '/' || p[n - 1] == '/') return 0;
  size_t comp = 0;
  for (size_t k = 1; k < n; k++) {
    unsigned char c = (unsigned char)p[k];
    if (c < 0x20 || c >= 0x7f) return 0;
    if (c == '/') {
      if (comp == 0) return 0;
      comp = 0;
      continue;
    }
    if (comp == 0 && c == '.') return 0;
    if (++comp > 255) return 0;
  }
  return 1;
}

int resolve_local(struct local *lc, const char *in, size_t n, int follow_last, char *host, int *missing_err) {
  char path[PATH_MAX], next[PATH_MAX];
  if (n >= sizeof path || n >= lc->max_path) return LOCAL_FORWARD; /* the controller says ENAMETOOLONG */
  memcpy(path, in, n);
  path[n] = 0;
  for (int hops = 0; hops <= MAX_LINK_HOPS; hops++) {
    size_t len = strlen(path);
    if (!plain_path(path, len)) return LOCAL_FORWARD;
    int restarted = 0;
    for (size_t e = 1; e <= len && !restarted; e++) {
      if (e < len && path[e] != '/') continue;
      int last = e == len;
      int g = find_grant(lc, path, e);
      if (g >= 0) return below_grant(lc, g, path, len, host, missing_err);
      int l = find_link(lc, path, e);
      if (l >= 0) {
        if (last && !follow_last) { /* the link itself */
          memcpy(host, lc->links[l].target, strlen(lc->links[l].target) + 1);
          *missing_err = l;
          return RESOLVED_LINK;
        }
        const char *t = lc->links[l].target;
        size_t used;
        if (t[0] == '/') used = (size_t)snprintf(next, sizeof next, "%s%s", t, path + e);
        else {
          size_t dir = e;
          while (dir > 0 && path[dir - 1] != '/') dir--;
          used = (size_t)snprintf(next, sizeof next, "%.*s%s%s", (int)dir, path, t, path + e);
        }
        if (used >= sizeof next || used >= lc->max_path) return LOCAL_FORWARD;
        memcpy(path, next, used + 1);
        restarted = 1;
        break;
      }
      if (find_name(lc, path, e)) {
        if (!last || !find_own_stat(lc, path, e)) return LOCAL_FORWARD;
        memcpy(host, path, e); /* a file of the controller's tree given with --file */
        host[e] = 0;
        return GRANT_OWN_TREE;
      }
      if (leads_somewhere(lc, path, e) || missing_in(lc, path, e)) { /* a directory of the controller's tree */
        if (last) { /* the directory itself: answered from --stat, if given */
          memcpy(host, path, e);
          host[e] = 0;
          return GRANT_OWN_TREE;
        }
        continue;
      }
      size_t start = e;
      while (path[start - 1] != '/') start--;
      int err = missing_in(lc, path, start - 1);
      if (!err) return LOCAL_FORWARD;
      if (err == EACCES && under_absent(lc, path, len)) err = ENOENT; /* shown as missing (--absent) */
      memcpy(host, path, e);
      host[e] = 0;
      *missing_err = err;
      return GRANT_MISSING_NAME;
    }
    if (!restarted) return LOCAL_FORWARD;
  }
  return LOCAL_FORWARD;
}

int open_host(struct local *lc, const char *host, int g, uint64_t flags) {
  size_t glen = lc->grants[g].host ? lc->grants[g].host_len : lc->grants[g].len;
  if (host[glen] != 0 && host[glen] != '/') return -EINVAL;
  struct open_how how;
  memset(&how, 0, sizeof how);
  /* openat2 refuses O_PATH with other flags than these; files are opened like the 'o' command does. */
  how.flags = flags & O_PATH ? O_PATH | O_CLOEXEC | O_NOFOLLOW : flags | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW;
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  int fd = (int)syscall(SYS_openat2, AT_FDCWD, host, &how, sizeof how);
  return fd < 0 ? -errno : fd;
}

void virtual_stat(struct local *lc, const struct stat *h, uint64_t dev, struct stat *out) {
  memset(out, 0, sizeof *out);
  out->st_dev = dev;
  out->st_ino = h->st_ino;
  out->st_nlink = h->st_nlink ? h->st_nlink : 1;
  out->st_mode = h->st_mode & ~0222u;
  out->st_uid = lc->owner_uid;
  out->st_gid = lc->owner_gid;
  out->st_rdev = 0;
  out->st_size = h->st_size;
  out->st_blksize = 4096;
  out->st_blocks = (h->st_size + 511) / 512;
  const struct timespec *src[3] = {&h->st_atim, &h->st_mtim, &h->st_ctim};
  struct timespec *dst[3] = {&out->st_atim, &out->st_mtim, &out->st_ctim};
  for (int k = 0; k < 3; k++) {
    /* Milliseconds computed the way Node computes Stats.mtimeMs, then truncated. */
    double ms = (double)src[k]->tv_sec * 1000.0 + (double)src[k]->tv_nsec / 1000000.0;
    int64_t t = (int64_t)ms; /* truncation toward zero, like Math.trunc */
    dst[k]->tv_sec = t / 1000;
    dst[k]->tv_nsec = (t % 1000) * 1000000;
  }
}

int host_stat(struct local *lc, const char *host, int g, struct stat *st) {
  int fd = open_host(lc, host, g, O_PATH);
  if (fd == -ENOENT) return -ENOENT;
  if (fd < 0) return 1;
  int rc = fstat(fd, st);
  close(fd);
  if (rc < 0) return 1;
  if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode)) return 1; /* hidden from the guest */
  for (int k = 0; k < 3; k++) {
    const struct timespec *t = k == 0 ? &st->st_atim : k == 1 ? &st->st_mtim : &st->st_ctim;
    if (t->tv_sec < 0) return 1;
  }
  return 0;
}

const struct stat *own_stat(struct local *lc, int g, int link, const char *path, size_t n, char *host) {
  if (n == 1 && path[0] == '/') memcpy(host, "/", 2);
  else if (g == RESOLVED_LINK) memcpy(host, lc->links[link].path, lc->links[link].len + 1);
  else if (g != GRANT_OWN_TREE) return NULL;
  return find_own_stat(lc, host, strlen(host));
}

void forget_dir_fd(struct local *lc, int64_t fd) {
  for (size_t k = 0; k < lc->n_dir_fds; k++)
    if (lc->dir_fds[k].fd == fd) {
      free(lc->dir_fds[k].host);
      lc->dir_fds[k] = lc->dir_fds[--lc->n_dir_fds];
      return;
    }
}

void remember_dir_fd(struct local *lc, int64_t fd, const char *host, int grant) {
  forget_dir_fd(lc, fd);
  if (lc->n_dir_fds >= MAX_DIR_FDS || fd < 0 || fd > INT_MAX) return;
  lc->dir_fds[lc->n_dir_fds].fd = (int)fd;
  lc->dir_fds[lc->n_dir_fds].grant = grant;
  lc->dir_fds[lc->n_dir_fds].host = dup_or_die(host);
  lc->n_dir_fds++;
}

int dir_fd_index(struct local *lc, int64_t fd) {
  for (size_t k = 0; k < lc->n_dir_fds; k++)
    if (lc->dir_fds[k].fd == fd) return (int)k;
  return -1;
}

void forget_listing(struct local *lc, int64_t fd) {
  for (size_t k = 0; k < lc->n_listings; k++)
    if (lc->listings[k].fd == fd) {
      free(lc->listings[k].buf);
      lc->listings[k] = lc->listings[--lc->n_listings];
      return;
    }
}

void forget_listings(struct local *lc) {
  while (lc->n_listings) free(lc->listings[--lc->n_listings].buf);
}

void keep_listing(struct local *lc, int64_t fd) {
  unsigned char *buf = lc->pending_listing;
  lc->pending_listing = NULL;
  if (!buf) return;
  forget_listing(lc, fd);
  if (lc->n_listings >= MAX_LISTINGS || fd < VIRTUAL_FD_BASE || fd > INT_MAX) {
    free(buf);
    return;
  }
  lc->listings[lc->n_listings].fd = (int)fd;
  lc->listings[lc->n_listings].buf = buf;
  lc->listings[lc->n_listings].len = lc->pending_listing_len;
  lc->listings[lc->n_listings].pos = 0;
  lc->n_listings++;
}

int local_option(struct local *lc, int argc, char **argv, int *k) {
  const char *o = argv[*k];
  if (strcmp(o, "--stdio-local") == 0) {
    lc->stdio = 1;
    return 1;
  }
  if (*k + 2 < argc && strcmp(o, "--link") == 0) {
    if (add_link(lc, argv[*k + 1], argv[*k + 2]) < 0) return -1;
    *k += 2;
    return 1;
  }
  if (*k + 2 < argc && strcmp(o, "--grant-from") == 0) {
    if (add_mapped_grant(lc, argv[*k + 1], argv[*k + 2]) < 0) return -1;
    *k += 2;
    return 1;
  }
  if (*k + 1 >= argc) return 0;
  const char *v = argv[*k + 1];
  int ok;
  if (strcmp(o, "--dir") == 0) ok = add_dir(lc, v) == 0;
  else if (strcmp(o, "--name") == 0) ok = add_name(lc, v) == 0;
  else if (strcmp(o, "--absent") == 0) ok = add_absent(lc, v) == 0;
  else if (strcmp(o, "--host-dev") == 0) ok = add_host_dev(lc, v) == 0;
  else if (strcmp(o, "--cwd") == 0) {
    ok = v[0] == '/' && strlen(v) < PATH_MAX;
    if (ok) free(lc->cwd), lc->cwd = dup_or_die(v), lc->cwd_len = strlen(v), lc->cwd_known = 1;
  } else if (strcmp(o, "--cwd-stat") == 0) ok = (lc->cwd_stat_cacheable = strcmp(v, "repeat") == 0);
  else if (strcmp(o, "--grant") == 0) ok = add_grant(lc, v) == 0;
  else if (strcmp(o, "--hide-name") == 0) ok = add_hide_rule(lc, v, 0) == 0;
  else if (strcmp(o, "--hide-suffix") == 0) ok = add_hide_rule(lc, v, 1) == 0;
  else if (strcmp(o, "--local") == 0) ok = set_local_calls(lc, v) == 0;
  else if (strcmp(o, "--uname") == 0) ok = set_utsname(lc, v) == 0;
  else if (strcmp(o, "--stat") == 0) ok = add_own_stat(lc, v) == 0;
  else if (strcmp(o, "--file") == 0) ok = add_vfile(lc, v) == 0;
  else if (strcmp(o, "--owner") == 0) {
    uint64_t owner[2];
    ok = parse_uint_fields(v, ':', 2, UINT32_MAX, owner) == 0;
    if (ok) lc->owner_uid = (uint32_t)owner[0], lc->owner_gid = (uint32_t)owner[1];
  } else if (strcmp(o, "--ids") == 0) {
    uint64_t id[4];
    ok = parse_uint_fields(v, ',', 4, UINT32_MAX, id) == 0;
    for (int j = 0; ok && j < 4; j++) lc->ids[j] = (int64_t)id[j];
  } else if (strcmp(o, "--max-path") == 0) {
    uint64_t max;
    ok = parse_uint(v, PATH_MAX, &max) == 0 && max >= 2;
    if (ok) lc->max_path = (size_t)max;
  } else return 0;
  if (!ok) return -1;
  ++*k;
  return 1;
}

void drop_pending_listing(struct local *lc) {
  free(lc->pending_listing);
  lc->pending_listing = NULL;
}
