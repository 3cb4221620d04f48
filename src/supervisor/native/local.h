/*
 * Answers the supervisor gives itself, on the controller's behalf (docs/protocol.md, "Local
 * answers"). At start the controller hands over a small, already-decided part of its filesystem:
 * read-only host grants that appear at their own host path with no filter, the virtual symlinks
 * leading to them, and the guest's identity. A stat, open or access of an absolute path that
 * resolves there is answered here, without a round trip; the controller is told afterwards (a
 * report, in call order) so its trace and counts stay complete. Anything else, including every
 * case this code is not sure about, is forwarded as usual: falling back is always correct.
 */
#ifndef PYPY_BOX_LOCAL_H
#define PYPY_BOX_LOCAL_H
#include <linux/openat2.h>
#include <sys/random.h>
#include <time.h>

#define MAX_GRANTS 256
#define MAX_LINKS 256
#define MAX_LINK_HOPS 40
#define RESOLVED_MISSING (-2) /* a name missing from a fully known directory */
#define RESOLVED_LINK (-3)    /* the name is a virtual symlink itself (not followed) */
#define REPEATED (-4)         /* the controller's last answer for the same question, repeated */
#define NO_GRANT (-5)         /* answered without a grant (identity, cwd, randomness) */
#define OWN_TREE (-6)         /* a directory or symlink of the controller's own tree, from --stat */

struct local_grant {
  char *path;
  size_t len;
  uint64_t dev;
};

struct local_link {
  char *path;
  size_t len;
  char *target;
};

static struct local_grant grants[MAX_GRANTS];
static size_t n_grants;
static struct local_link links[MAX_LINKS];
static size_t n_links;

/* Directories of the controller's tree whose every name is a grant, a link or a way to them. */
struct local_dir {
  char *path;
  size_t len;
  int err; /* for a name not there: ENOENT, or EACCES (outside the sandbox's filesystem) */
};
#define MAX_DIRS 256
static struct local_dir dirs[MAX_DIRS];
static size_t n_dirs;

/* Other names in those directories (virtual files, other mounts): always the controller's. */
#define MAX_NAMES 1024
static char *names[MAX_NAMES];
static size_t name_lens[MAX_NAMES], n_names;
static uint32_t owner_uid = 1000, owner_gid = 1000;
static size_t local_max_path = PATH_MAX;
static int64_t ids[4] = {-1, -1, -1, -1}; /* uid, euid, gid, egid */
/* --uname HEX: the struct utsname the controller shows (six fields of 65 bytes). */
static unsigned char utsname_bytes[6 * 65];
static int utsname_known;

static int set_utsname(const char *hex) {
  if (strlen(hex) != 2 * sizeof utsname_bytes || hex_bytes(hex, sizeof utsname_bytes, utsname_bytes) < 0) return -1;
  utsname_known = 1;
  return 0;
}
static int local_calls[512];              /* by syscall number: answered here when possible */
static int local_stdio;                   /* standard streams that are not terminals (needs ids) */

/*
 * The working directory (--cwd): known until the guest changes it. Its stat (--cwd-stat) is
 * remembered from the controller's last answer and repeated while the guest makes no forwarded
 * call that could change anything (only stat-like calls went by since).
 */
static char *cwd;
static size_t cwd_len;
static int cwd_known, cwd_stat_ok, cwd_stat_cacheable;
static unsigned char cwd_stat[sizeof(struct stat)];

/* ---- reports: what was answered here, sent to the controller in order ---- */

#define REPORT_BUF (64 * 1024)
static unsigned char reports[REPORT_BUF];
static size_t reports_used;
static struct timespec reports_since;

static void out_all(const void *p, size_t n);

static void flush_reports(void) {
  if (!reports_used) return;
  out_all(reports, reports_used);
  reports_used = 0;
}

/* Reports go out before the next forwarded call, in the same write. */
static void flush_reports_with(const void *msg, size_t n) {
  if (reports_used + n <= REPORT_BUF) {
    memcpy(reports + reports_used, msg, n);
    reports_used += n;
    flush_reports();
    return;
  }
  flush_reports();
  out_all(msg, n);
}

static uint64_t mono_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/*
 * 0x00, the call exactly as it would have been forwarded, then i64 result, i32 errno, u16 grant
 * (0xffff: none, 0xfffe: a name missing from the controller's own tree, 0xfffd: the controller's
 * last answer repeated), u64 CLOCK_MONOTONIC ns when the call arrived, u32 ns spent, u16 length and the
 * host path that answered (for 0xfffe: the virtual path up to the missing name; empty when none).
 */
static void report(const unsigned char *msg, size_t n, int64_t result, int32_t err, int grant, uint64_t t0, const char *host) {
  size_t hlen = host ? strlen(host) : 0;
  size_t need = 1 + n + 8 + 4 + 2 + 8 + 4 + 2 + hlen;
  if (reports_used + need > REPORT_BUF) flush_reports();
  if (!reports_used) clock_gettime(CLOCK_MONOTONIC, &reports_since);
  unsigned char *p = reports + reports_used;
  uint16_t g = grant == RESOLVED_MISSING ? 0xfffe : grant == REPEATED ? 0xfffd : grant == OWN_TREE ? 0xfffc : grant < 0 ? 0xffff : (uint16_t)grant, hl = (uint16_t)hlen;
  uint32_t spent = (uint32_t)(mono_ns() - t0);
  *p++ = 0;
  memcpy(p, msg, n), p += n;
  memcpy(p, &result, 8), p += 8;
  memcpy(p, &err, 4), p += 4;
  memcpy(p, &g, 2), p += 2;
  memcpy(p, &t0, 8), p += 8;
  memcpy(p, &spent, 4), p += 4;
  memcpy(p, &hl, 2), p += 2;
  if (hlen) memcpy(p, host, hlen); /* none: host may be NULL */
  reports_used += need;
}

/* Milliseconds the oldest unsent report has waited. */
static long reports_age_ms(void) {
  if (!reports_used) return -1;
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec - reports_since.tv_sec) * 1000 + (now.tv_nsec - reports_since.tv_nsec) / 1000000;
}

/* ---- options ---- */

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
  if (!colon || parse_uint_n(spec, (size_t)(colon - spec), UINT64_MAX, &dev) < 0 || !table_path_ok(colon + 1) || *n >= max) return -1;
  table[*n].path = dup_or_die(colon + 1);
  table[*n].len = strlen(colon + 1);
  table[*n].dev = dev;
  ++*n;
  return 0;
}

/* --grant DEV:PATH */
static int add_grant(const char *spec) {
  return add_dev_path(grants, &n_grants, MAX_GRANTS, spec);
}

/* --link PATH TARGET */
static int add_link(const char *path, const char *target) {
  if (!table_path_ok(path) || !target[0] || strlen(target) >= PATH_MAX || n_links >= MAX_LINKS) return -1;
  links[n_links].path = dup_or_die(path);
  links[n_links].len = strlen(path);
  links[n_links].target = dup_or_die(target);
  n_links++;
  return 0;
}

/* --dir ERRNO:PATH */
static int add_dir(const char *spec) {
  const char *colon = strchr(spec, ':');
  uint64_t err;
  if (!colon || parse_uint_n(spec, (size_t)(colon - spec), 4095, &err) < 0 || (err != ENOENT && err != EACCES) || !table_path_ok(colon + 1) || n_dirs >= MAX_DIRS) return -1;
  dirs[n_dirs].path = dup_or_die(colon + 1);
  dirs[n_dirs].len = strlen(colon + 1);
  dirs[n_dirs].err = (int)err;
  n_dirs++;
  return 0;
}

/*
 * Host directories (and files) of every host mount with the device number the controller shows
 * for them (--host-dev DEV:PATH): a real descriptor on such a file is described the way stat()
 * of its name is, not with the host's owner, device and write bits.
 */
#define MAX_HOST_DEVS 512
static struct local_grant host_devs[MAX_HOST_DEVS];
static size_t n_host_devs;

static int add_host_dev(const char *spec) {
  return add_dev_path(host_devs, &n_host_devs, MAX_HOST_DEVS, spec);
}

/*
 * --stat HEX:PATH: the stat the controller answers for a directory or symlink of its own tree
 * (its tree is built the same way every time and shows fixed times, so the answer is known).
 */
#define MAX_STATS 512
static struct {
  char *path;
  size_t len;
  struct stat st;
} own_stats[MAX_STATS];
static size_t n_own_stats;

static int add_own_stat(const char *spec) {
  const char *colon = strchr(spec, ':');
  if (!colon || (size_t)(colon - spec) != 2 * sizeof(struct stat) || !table_path_ok(colon + 1) || n_own_stats >= MAX_STATS) return -1;
  if (hex_bytes(spec, sizeof(struct stat), (unsigned char *)&own_stats[n_own_stats].st) < 0) return -1;
  own_stats[n_own_stats].path = dup_or_die(colon + 1);
  own_stats[n_own_stats].len = strlen(colon + 1);
  n_own_stats++;
  return 0;
}

static const struct stat *find_own_stat(const char *p, size_t n) {
  for (size_t k = 0; k < n_own_stats; k++)
    if (own_stats[k].len == n && memcmp(own_stats[k].path, p, n) == 0) return &own_stats[k].st;
  return NULL;
}

/*
 * Small read-only virtual files as sealed memfds ('m' answers, and --file for local opens): one
 * memfd per name and content, kept open here for the run (so its inode number stays ours), and a
 * read-only description of it for every open. fstat of such a descriptor shows the stat the
 * controller gave for the name.
 */
#define MAX_VFILES 1024
static struct {
  char *path;
  int memfd;
  dev_t dev;
  ino_t ino;
  struct stat st;
  unsigned char *content;
  size_t len;
} vfiles[MAX_VFILES];
static size_t n_vfiles;

/* The entry for this name and content, made if new; -1 when none can be made. */
static int vfile_get(const char *path, const struct stat *st, const unsigned char *content, size_t len) {
  for (size_t k = 0; k < n_vfiles; k++)
    if (vfiles[k].len == len && strcmp(vfiles[k].path, path) == 0 && memcmp(vfiles[k].content, content, len) == 0) {
      vfiles[k].st = *st;
      return (int)k;
    }
  if (n_vfiles >= MAX_VFILES) return -1;
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
  if (!copy || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0 || fstat(fd, &mst) < 0) {
    free(copy);
    close(fd);
    return -1;
  }
  memcpy(copy, content, len);
  vfiles[n_vfiles].path = dup_or_die(path);
  vfiles[n_vfiles].memfd = fd;
  vfiles[n_vfiles].dev = mst.st_dev;
  vfiles[n_vfiles].ino = mst.st_ino;
  vfiles[n_vfiles].st = *st;
  vfiles[n_vfiles].content = copy;
  vfiles[n_vfiles].len = len;
  return (int)n_vfiles++;
}

static int vfile_find(const char *path) {
  for (size_t k = n_vfiles; k-- > 0;) /* the newest content for the name */
    if (strcmp(vfiles[k].path, path) == 0) return (int)k;
  return -1;
}

/* A read-only description of the file's memfd (its own offset), for the guest. */
static int vfile_open(int k) {
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", vfiles[k].memfd);
  int fd = open(link, O_RDONLY | O_CLOEXEC);
  return fd < 0 ? -errno : fd;
}

static const struct stat *vfile_stat(dev_t dev, ino_t ino) {
  for (size_t k = 0; k < n_vfiles; k++)
    if (vfiles[k].ino == ino && vfiles[k].dev == dev) return &vfiles[k].st;
  return NULL;
}

/* --file STATHEX:CONTENTHEX:PATH — a small file of the controller's own tree, opened here. */
static int add_vfile(const char *spec) {
  const size_t sh = 2 * sizeof(struct stat);
  /* The stat's digits, ':', the content's digits (their count even), ':', the path. */
  if (strlen(spec) < sh + 2 || spec[sh] != ':') return -1;
  const char *content_hex = spec + sh + 1, *c2 = strchr(content_hex, ':');
  if (!c2 || (size_t)(c2 - content_hex) % 2 || !table_path_ok(c2 + 1) || n_own_stats >= MAX_STATS) return -1;
  struct stat st;
  size_t len = (size_t)(c2 - content_hex) / 2;
  unsigned char *content = malloc(len ? len : 1);
  if (!content || hex_bytes(spec, sizeof st, (unsigned char *)&st) < 0 || hex_bytes(content_hex, len, content) < 0) {
    free(content);
    return -1;
  }
  int k = vfile_get(c2 + 1, &st, content, len);
  free(content);
  if (k < 0) return -1;
  own_stats[n_own_stats].path = dup_or_die(c2 + 1);
  own_stats[n_own_stats].len = strlen(c2 + 1);
  own_stats[n_own_stats].st = st;
  n_own_stats++;
  return 0;
}

/* --name PATH */
static int add_name(const char *path) {
  if (!table_path_ok(path) || n_names >= MAX_NAMES) return -1;
  names[n_names] = dup_or_die(path);
  name_lens[n_names] = strlen(path);
  n_names++;
  return 0;
}

static int find_name(const char *p, size_t n) {
  for (size_t k = 0; k < n_names; k++)
    if (name_lens[k] == n && memcmp(names[k], p, n) == 0) return 1;
  return 0;
}

/*
 * Names the controller's tree shows as missing (ENOENT) in directories that otherwise refuse
 * unknown names (the stock profile's probes: /etc/ld.so.preload, locales, ...); everything below
 * one is missing too.
 */
#define MAX_ABSENT 64
static char *absent[MAX_ABSENT];
static size_t absent_lens[MAX_ABSENT], n_absent;

/* --absent PATH */
static int add_absent(const char *path) {
  if (!table_path_ok(path) || n_absent >= MAX_ABSENT) return -1;
  absent[n_absent] = dup_or_die(path);
  absent_lens[n_absent] = strlen(path);
  n_absent++;
  return 0;
}

/* Whether the n bytes at p name an absent name or something below one. */
static int under_absent(const char *p, size_t n) {
  for (size_t k = 0; k < n_absent; k++)
    if (absent_lens[k] <= n && memcmp(absent[k], p, absent_lens[k]) == 0 && (absent_lens[k] == n || p[absent_lens[k]] == '/')) return 1;
  return 0;
}

/* The number of the call named by the n bytes at name (its name or whole signature), or -1. */
static int local_call_nr(const char *name, size_t n) {
  if (n == 0) return -1;
  for (size_t k = 0; k < N_FATES; k++) {
    const char *sig = FATES[k].sig;
    if (strncmp(sig, name, n) == 0 && (sig[n] == 0 || sig[n] == '('))
      return FATES[k].nr >= 0 && FATES[k].nr < 512 ? FATES[k].nr : -1;
  }
  return -1;
}

/* --local open,openat,newfstatat,...: one or more known names, no empty one. */
static int set_local_calls(const char *list) {
  for (const char *name = list;;) {
    const char *comma = strchr(name, ',');
    int nr = local_call_nr(name, comma ? (size_t)(comma - name) : strlen(name));
    if (nr < 0) return -1;
    local_calls[nr] = 1;
    if (!comma) return 0;
    name = comma + 1;
  }
}

/* ---- resolution ---- */

static int find_grant(const char *p, size_t n) {
  for (size_t k = 0; k < n_grants; k++)
    if (grants[k].len == n && memcmp(grants[k].path, p, n) == 0) return (int)k;
  return -1;
}

static int find_link(const char *p, size_t n) {
  for (size_t k = 0; k < n_links; k++)
    if (links[k].len == n && memcmp(links[k].path, p, n) == 0) return (int)k;
  return -1;
}

/* The errno for a name missing from a fully known directory (path[0..n), "/" is n = 0), or 0. */
static int missing_in(const char *p, size_t n) {
  if (n == 0) n = 1; /* the root */
  for (size_t k = 0; k < n_dirs; k++)
    if (dirs[k].len == n && memcmp(dirs[k].path, p, n) == 0) return dirs[k].err;
  return 0;
}

/* A directory of the controller's own tree that only leads to grants and links. */
static int leads_somewhere(const char *p, size_t n) {
  for (size_t k = 0; k < n_grants; k++)
    if (grants[k].len > n && memcmp(grants[k].path, p, n) == 0 && grants[k].path[n] == '/') return 1;
  for (size_t k = 0; k < n_links; k++)
    if (links[k].len > n && memcmp(links[k].path, p, n) == 0 && links[k].path[n] == '/') return 1;
  return 0;
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

/*
 * Lexical resolution through the delegated part of the tree. On success fills `host` with the
 * host path (grant path, then the rest) and returns the grant's index; -1 means "forward it".
 * Virtual symlinks are followed like the controller's walker does (relative to their directory).
 * RESOLVED_MISSING: a name missing from a fully known directory; `host` then holds the virtual
 * path up to that name and *missing_err its errno.
 */
static int resolve_local(const char *in, size_t n, int follow_last, char *host, int *missing_err) {
  char path[PATH_MAX], next[PATH_MAX];
  if (n >= sizeof path || n >= local_max_path) return -1; /* the controller says ENAMETOOLONG */
  memcpy(path, in, n);
  path[n] = 0;
  for (int hops = 0; hops <= MAX_LINK_HOPS; hops++) {
    size_t len = strlen(path);
    if (!plain_path(path, len)) return -1;
    int restarted = 0;
    for (size_t e = 1; e <= len && !restarted; e++) {
      if (e < len && path[e] != '/') continue;
      int last = e == len;
      int g = find_grant(path, e);
      if (g >= 0) {
        /* The grant itself, or a name below it that the host walks (never following symlinks). */
        memcpy(host, path, len + 1);
        return g;
      }
      int l = find_link(path, e);
      if (l >= 0) {
        if (last && !follow_last) { /* the link itself */
          memcpy(host, links[l].target, strlen(links[l].target) + 1);
          *missing_err = l;
          return RESOLVED_LINK;
        }
        const char *t = links[l].target;
        size_t used;
        if (t[0] == '/') used = (size_t)snprintf(next, sizeof next, "%s%s", t, path + e);
        else {
          size_t dir = e;
          while (dir > 0 && path[dir - 1] != '/') dir--;
          used = (size_t)snprintf(next, sizeof next, "%.*s%s%s", (int)dir, path, t, path + e);
        }
        if (used >= sizeof next || used >= local_max_path) return -1;
        memcpy(path, next, used + 1);
        restarted = 1;
        break;
      }
      if (find_name(path, e)) {
        if (!last || !find_own_stat(path, e)) return -1;
        memcpy(host, path, e); /* a file of the controller's tree given with --file */
        host[e] = 0;
        return OWN_TREE;
      }
      if (leads_somewhere(path, e) || missing_in(path, e)) { /* a directory of the controller's tree */
        if (last) { /* the directory itself: answered from --stat, if given */
          memcpy(host, path, e);
          host[e] = 0;
          return OWN_TREE;
        }
        continue;
      }
      size_t start = e;
      while (path[start - 1] != '/') start--;
      int err = missing_in(path, start - 1);
      if (!err) return -1;
      if (err == EACCES && under_absent(path, len)) err = ENOENT; /* shown as missing (--absent) */
      memcpy(host, path, e);
      host[e] = 0;
      *missing_err = err;
      return RESOLVED_MISSING;
    }
    if (!restarted) return -1;
  }
  return -1;
}

/* Opens a resolved host path; symlinks anywhere below the grant send the call to the controller. */
static int open_host(const char *host, int g, uint64_t flags) {
  size_t glen = grants[g].len;
  if (host[glen] != 0 && host[glen] != '/') return -EINVAL;
  struct open_how how;
  memset(&how, 0, sizeof how);
  /* openat2 refuses O_PATH with other flags than these; files are opened like the 'o' command does. */
  how.flags = flags & O_PATH ? O_PATH | O_CLOEXEC | O_NOFOLLOW : flags | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW;
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  int fd = (int)syscall(SYS_openat2, AT_FDCWD, host, &how, sizeof how);
  return fd < 0 ? -errno : fd;
}

/* The controller's view of a host file (src/vfs/stat.ts and the platform's struct stat). */
static void virtual_stat(const struct stat *h, uint64_t dev, struct stat *out) {
  memset(out, 0, sizeof *out);
  out->st_dev = dev;
  out->st_ino = h->st_ino;
  out->st_nlink = h->st_nlink ? h->st_nlink : 1;
  out->st_mode = h->st_mode & ~0222u;
  out->st_uid = owner_uid;
  out->st_gid = owner_gid;
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

/*
 * Host metadata of a resolved path, for stat and access. Returns 0, a negative errno the guest
 * gets as is (ENOENT), or 1: forward the call.
 */
static int host_stat(const char *host, int g, struct stat *st) {
  int fd = open_host(host, g, O_PATH);
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

/*
 * The stat of a directory or symlink of the controller's own tree (OWN_TREE, or RESOLVED_LINK
 * with the link's index in *link): from --stat, with `host` set to its virtual path. 0 if unknown.
 */
static const struct stat *own_stat(int g, int link, const char *path, size_t n, char *host) {
  if (n == 1 && path[0] == '/') memcpy(host, "/", 2);
  else if (g == RESOLVED_LINK) memcpy(host, links[link].path, links[link].len + 1);
  else if (g != OWN_TREE) return NULL;
  return find_own_stat(host, strlen(host));
}

static int local_stat(const struct seccomp_notif *req, const char *path, size_t n, int follow, uint64_t buf, int64_t *result, int *err, char *host) {
  int g = n == 1 && path[0] == '/' ? OWN_TREE : resolve_local(path, n, follow, host, err);
  if (g == RESOLVED_MISSING) {
    *result = -1;
    return g;
  }
  const struct stat *own = own_stat(g, *err, path, n, host);
  if (own) {
    if (guest_write((pid_t)req->pid, buf, own, sizeof *own) < 0) *err = EFAULT, *result = -1;
    else *err = 0, *result = 0;
    return OWN_TREE;
  }
  if (g < 0) return -1; /* a directory or link of the controller's tree without --stat */
  struct stat st, out;
  int rc = host_stat(host, g, &st);
  if (rc > 0) return -1;
  if (rc < 0) {
    *err = -rc;
    *result = -1;
    return g;
  }
  virtual_stat(&st, grants[g].dev, &out);
  if (guest_write((pid_t)req->pid, buf, &out, sizeof out) < 0) {
    *err = EFAULT;
    *result = -1;
  } else {
    *err = 0;
    *result = 0;
  }
  return g;
}

static int local_access(const char *path, size_t n, uint64_t mode, int64_t *result, int *err, char *host) {
  if (mode & ~(uint64_t)7 || mode & W_OK) return -1;
  int g = n == 1 && path[0] == '/' ? OWN_TREE : resolve_local(path, n, 1, host, err);
  if (g == RESOLVED_MISSING) {
    *result = -1;
    return g;
  }
  const struct stat *own = own_stat(g, 0, path, n, host);
  if (own) {
    *result = -1;
    if ((mode & X_OK) && !(own->st_mode & 0111)) *err = EACCES;
    else *err = 0, *result = 0;
    return OWN_TREE;
  }
  if (g < 0) return -1;
  struct stat st;
  int rc = host_stat(host, g, &st);
  if (rc > 0) return -1;
  *result = -1;
  if (rc < 0) *err = -rc;
  else if ((mode & X_OK) && !(st.st_mode & 0111)) *err = EACCES;
  else *err = 0, *result = 0;
  return g;
}

/*
 * Virtual descriptors the controller gave for granted host directories (it keeps the listing):
 * the supervisor knows which directory each is, so an fstat of one is answered here. Learned from
 * the open that made it; forgotten when the number is closed or replaced (all of which it sees).
 */
#define MAX_DIR_FDS 128
static struct {
  int fd, grant;
  char *host;
} dir_fds[MAX_DIR_FDS];
static size_t n_dir_fds;
static char pending_dir[PATH_MAX + 1];
static int pending_dir_grant = -1;

static void forget_dir_fd(int64_t fd) {
  for (size_t k = 0; k < n_dir_fds; k++)
    if (dir_fds[k].fd == fd) {
      free(dir_fds[k].host);
      dir_fds[k] = dir_fds[--n_dir_fds];
      return;
    }
}

static void remember_dir_fd(int64_t fd, const char *host, int grant) {
  forget_dir_fd(fd);
  if (n_dir_fds >= MAX_DIR_FDS || fd < 0 || fd > INT_MAX) return;
  dir_fds[n_dir_fds].fd = (int)fd;
  dir_fds[n_dir_fds].grant = grant;
  dir_fds[n_dir_fds].host = dup_or_die(host);
  n_dir_fds++;
}

static int dir_fd_index(int64_t fd) {
  for (size_t k = 0; k < n_dir_fds; k++)
    if (dir_fds[k].fd == fd) return (int)k;
  return -1;
}

/*
 * Listings of virtual directory descriptors, sent by the controller with the open ('L': the
 * getdents64 records of every entry, as it would answer them); getdents64 on such a descriptor is
 * answered from them. Forgotten when the number is closed or replaced, and all of them as soon as
 * a getdents64 or lseek goes to the controller (it may have moved a position they share).
 */
#define MAX_LISTINGS 64
#define MAX_LISTING (256 * 1024)
static struct {
  int fd;
  unsigned char *buf;
  size_t len, pos;
} listings[MAX_LISTINGS];
static size_t n_listings;
static unsigned char *pending_listing;
static size_t pending_listing_len;

static void forget_listing(int64_t fd) {
  for (size_t k = 0; k < n_listings; k++)
    if (listings[k].fd == fd) {
      free(listings[k].buf);
      listings[k] = listings[--n_listings];
      return;
    }
}

static void forget_listings(void) {
  while (n_listings) free(listings[--n_listings].buf);
}

/* The open that sent a listing returned `fd`: the listing is that descriptor's from now on. */
static void keep_listing(int64_t fd) {
  unsigned char *buf = pending_listing;
  pending_listing = NULL;
  if (!buf) return;
  forget_listing(fd);
  if (n_listings >= MAX_LISTINGS || fd < VIRTUAL_FD_BASE || fd > INT_MAX) {
    free(buf);
    return;
  }
  listings[n_listings].fd = (int)fd;
  listings[n_listings].buf = buf;
  listings[n_listings].len = pending_listing_len;
  listings[n_listings].pos = 0;
  n_listings++;
}

/* getdents64 from a listing: whole records that fit in `count`, as the controller packs them. */
static int local_getdents(const struct seccomp_notif *req, int64_t fd, uint64_t buf, uint64_t count, int64_t *result, int *err) {
  size_t k = 0;
  while (k < n_listings && listings[k].fd != fd) k++;
  if (k == n_listings) return -1;
  const unsigned char *b = listings[k].buf;
  size_t pos = listings[k].pos, end = pos, len = listings[k].len;
  while (end + 19 <= len) {
    uint16_t reclen;
    memcpy(&reclen, b + end + 16, 2);
    if (reclen < 24 || end + reclen > len || end - pos + reclen > count) break;
    end += reclen;
  }
  if (end == pos && pos < len) {
    *err = EINVAL, *result = -1;
    return NO_GRANT;
  }
  if (end > pos && guest_write((pid_t)req->pid, buf, b + pos, end - pos) < 0) {
    *err = EFAULT, *result = -1;
    return NO_GRANT;
  }
  listings[k].pos = end;
  *err = 0, *result = (int64_t)(end - pos);
  return NO_GRANT;
}

/* Returns the grant, with *fd_out the opened host file (or -1 and *err set); -1: forward. */
static int local_open(const char *path, size_t n, uint64_t flags, int *fd_out, int *err, char *host) {
  const uint64_t ok = O_CLOEXEC | O_LARGEFILE | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK | O_DIRECTORY;
  pending_dir_grant = -1;
  if ((flags & O_ACCMODE) != O_RDONLY || (flags & ~(ok | O_ACCMODE))) return -1;
  int g = resolve_local(path, n, !(flags & O_NOFOLLOW), host, err);
  if (g == RESOLVED_MISSING) {
    *fd_out = -1;
    return g;
  }
  if (g == OWN_TREE && !(flags & O_DIRECTORY)) { /* a file given with --file: its sealed copy */
    int k = vfile_find(host);
    if (k < 0) return -1;
    int fd = vfile_open(k);
    if (fd < 0) return -1;
    *fd_out = fd;
    *err = 0;
    return OWN_TREE;
  }
  if (g < 0) return -1;
  /* O_NONBLOCK: a FIFO must not block the supervisor (only regular files are handed over). */
  int fd = open_host(host, g, O_RDONLY | O_NONBLOCK);
  if (fd == -ENOENT) {
    *fd_out = -1;
    *err = ENOENT;
    return g;
  }
  if (fd < 0) return -1;
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (flags & O_DIRECTORY)) {
    /* Directories get a virtual descriptor from the controller; remember which one it is. */
    if (S_ISDIR(st.st_mode)) {
      memcpy(pending_dir, host, strlen(host) + 1);
      pending_dir_grant = g;
    }
    close(fd);
    return -1;
  }
  if (fcntl(fd, F_SETFL, 0) < 0) { /* the guest gets the description without O_NONBLOCK */
    close(fd);
    return -1;
  }
  *fd_out = fd;
  *err = 0;
  return g;
}

/* readlink: a virtual symlink's text, EINVAL for a granted file or directory, or a missing name. */
static int local_readlink(const struct seccomp_notif *req, const char *path, size_t n, uint64_t buf, int64_t size, int64_t *result, int *err, char *host) {
  if (size <= 0) return -1;
  int g = resolve_local(path, n, 0, host, err);
  if (g == RESOLVED_MISSING) {
    *result = -1;
    return g;
  }
  if (g == RESOLVED_LINK) {
    size_t len = strlen(host);
    if ((uint64_t)size < len) len = (size_t)size;
    if (len > local_max_path) len = local_max_path;
    if (len && guest_write((pid_t)req->pid, buf, host, len) < 0) *err = EFAULT, *result = -1;
    else *err = 0, *result = (int64_t)len;
    host[0] = 0;
    return g;
  }
  if (g < 0) return -1;
  struct stat st;
  int rc = host_stat(host, g, &st);
  if (rc > 0) return -1;
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

/*
 * What a real descriptor (one of ours, duplicated into this process) shows: for a file of a host
 * mount, its virtual description; for the guest's own objects (pipes, memfds), the truth.
 */
static int describe_real_fd(int fd, struct stat *out) {
  struct stat st;
  if (fstat(fd, &st) < 0) return -errno;
  *out = st;
  const struct stat *copy = vfile_stat(st.st_dev, st.st_ino);
  if (copy) {
    *out = *copy;
    return 0;
  }
  if (!n_host_devs || (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))) return 0;
  /* Which mount a host file belongs to, by its identity: learned once from its name. */
  static struct {
    dev_t dev;
    ino_t ino;
    uint64_t vdev; /* 0: not under a host mount */
    int used;
  } seen[256];
  unsigned slot = (unsigned)((st.st_ino * 0x9e3779b97f4a7c15ull) >> 56) ^ (unsigned)(st.st_dev & 0xff);
  if (seen[slot].used && seen[slot].dev == st.st_dev && seen[slot].ino == st.st_ino) {
    if (seen[slot].vdev) virtual_stat(&st, seen[slot].vdev, out);
    return 0;
  }
  char link[64], path[PATH_MAX];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, path, sizeof path - 1);
  if (n <= 0) return 0;
  path[n] = 0;
  size_t best = 0;
  const struct local_grant *hit = NULL;
  for (size_t k = 0; k < n_host_devs; k++) {
    const struct local_grant *h = &host_devs[k];
    if (h->len > best && (size_t)n >= h->len && memcmp(path, h->path, h->len) == 0 && (path[h->len] == 0 || path[h->len] == '/' || h->len == 1)) {
      best = h->len;
      hit = h;
    }
  }
  if (hit) virtual_stat(&st, hit->dev, out);
  seen[slot].dev = st.st_dev, seen[slot].ino = st.st_ino, seen[slot].vdev = hit ? hit->dev : 0, seen[slot].used = 1;
  return 0;
}

#endif
