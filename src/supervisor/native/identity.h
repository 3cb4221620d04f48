/*
 * One host identity per run. A supervisor started as root runs its guest under a uid (and the same
 * gid) of its own, taken from a range far from real users, so that the kernel's per-user counters
 * (RLIMIT_NPROC, pipe buffers, user namespaces, ...) count one run only, never its neighbours'.
 *
 * A uid is claimed with an exclusive byte-range lock (F_OFD_SETLK) on byte `uid` of one lock file
 * that every supervisor on the machine uses: unique among all runs at the same time, whichever
 * process started them. Byte `uid` rather than `uid - first`: runs with different ranges still
 * never share a uid. An open-file-description lock ends with the last descriptor of it, that is
 * with the supervisor: no stale claim survives a crash. The search starts at a random place in the
 * range, so concurrent supervisors rarely try the same bytes.
 *
 * As non-root nothing is claimed: only one's own uid can be mapped, the guest keeps it.
 */
#ifndef PYPY_BOX_IDENTITY_H
#define PYPY_BOX_IDENTITY_H
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* The default range: 65,536 ids from 1,000,000, above any ordinary user or system account. */
#define ID_RANGE_FIRST 1000000u
#define ID_RANGE_COUNT 65536u
#define ID_LOCK_DIR "/run/pypy-box"
#define ID_LOCK_FILE ID_LOCK_DIR "/uids.lock"

struct id_range {
  uint32_t first, count;
  char lock_file[PATH_MAX];
};

static struct id_range id_range = {ID_RANGE_FIRST, ID_RANGE_COUNT, ID_LOCK_FILE};

/* The claim held by this process: the lock file's descriptor and the uid (0: none). */
static int id_lock_fd = -1;
static uint32_t id_claimed;
static struct id_range id_claimed_from;

/* Why the last claim failed, for the run's error, and its errno (0: none). */
static char id_failure[PATH_MAX + 200];
static int id_errno;

/* A range holds neither root (0) nor (uid_t)-1, and stays within 32 bits. */
static int id_range_valid(uint64_t first, uint64_t count) {
  return first >= 1 && count >= 1 && first + count - 1 < UINT32_MAX;
}

static int set_id_lock_file(const char *v) {
  if (v[0] != '/' || strlen(v) >= sizeof id_range.lock_file) return 0;
  strcpy(id_range.lock_file, v);
  return 1;
}

/* FIRST:COUNT, both decimal, the range valid (id_range_valid). */
static int set_id_range(const char *v) {
  char *end;
  errno = 0;
  unsigned long long first = strtoull(v, &end, 10);
  if (errno || end == v || *end != ':' || v[0] < '0' || v[0] > '9') return 0;
  const char *c = end + 1;
  unsigned long long count = strtoull(c, &end, 10);
  if (errno || end == c || *end || c[0] < '0' || c[0] > '9') return 0;
  if (first > UINT32_MAX || count > UINT32_MAX || !id_range_valid(first, count)) return 0;
  id_range.first = (uint32_t)first;
  id_range.count = (uint32_t)count;
  return 1;
}

/*
 * Supervisor options of the identity: --uid-range FIRST:COUNT, --uid-lock FILE. Returns 1 when
 * argv[*k] is one of them (*k is then on its value), 0 when not; a bad value ends the supervisor.
 */
static int identity_option(int argc, char **argv, int *k) {
  const char *o = argv[*k];
  if (strcmp(o, "--uid-range") != 0 && strcmp(o, "--uid-lock") != 0) return 0;
  const char *v = *k + 1 < argc ? argv[++*k] : "";
  int ok = strcmp(o, "--uid-lock") == 0 ? set_id_lock_file(v) : set_id_range(v);
  if (!ok) {
    fprintf(stderr, "pypy-box-supervisor: bad value for %s: %s\n", o, v);
    exit(2);
  }
  return 1;
}

static int id_fail(const char *what, int err) {
  snprintf(id_failure, sizeof id_failure, "%s%s%s", what, err ? ": " : "", err ? strerror(err) : "");
  id_errno = err;
  return -1;
}

/*
 * The lock file, created if missing (and its directory, for the default one). It must be ours and
 * closed to everyone else: whoever could open it could hold every uid of the range.
 */
static int open_id_lock(void) {
  const char *path = id_range.lock_file;
  char what[PATH_MAX + 100];
  if (strcmp(path, ID_LOCK_FILE) == 0 && mkdir(ID_LOCK_DIR, 0755) < 0 && errno != EEXIST) {
    int e = errno;
    snprintf(what, sizeof what, "cannot create the directory of the uid lock file %s", path);
    return id_fail(what, e);
  }
  int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
  if (fd < 0) {
    int e = errno;
    snprintf(what, sizeof what, "cannot open the uid lock file %s", path);
    return id_fail(what, e);
  }
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077)) {
    close(fd);
    snprintf(what, sizeof what, "the uid lock file %s is not a regular file of ours closed to others (mode 0600)", path);
    return id_fail(what, 0);
  }
  return fd;
}

/* Takes byte `uid` of the lock file: 1 (ours now), 0 (another run has it), -1 (error). */
static int lock_id(int fd, uint32_t uid) {
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = (off_t)uid;
  fl.l_len = 1;
  if (fcntl(fd, F_OFD_SETLK, &fl) == 0) return 1;
  return errno == EAGAIN || errno == EACCES ? 0 : -1;
}

/*
 * Whether every id of the range exists in our user namespace (/proc/self/uid_map or gid_map): a
 * container often maps fewer ids than the default range needs, and a drop to an unmapped id fails.
 * The map's lines ("inside outside count", at most 340) may split the range between them.
 */
static int id_range_mapped(const char *map_file) {
  FILE *f = fopen(map_file, "re");
  if (!f) return 0;
  unsigned long long lo[340], n[340], a, b, c;
  int lines = 0;
  while (lines < 340 && fscanf(f, "%llu %llu %llu", &a, &b, &c) == 3) lo[lines] = a, n[lines] = c, lines++;
  fclose(f);
  unsigned long long at = id_range.first, end = (unsigned long long)id_range.first + id_range.count;
  while (at < end) {
    int k = 0;
    while (k < lines && !(lo[k] <= at && at - lo[k] < n[k])) k++;
    if (k == lines) return 0;
    at = lo[k] + n[k];
  }
  return 1;
}

/* Whether the claim held (if any) was made from the range now asked for. */
static int id_claim_matches(void) {
  return id_claimed && id_claimed_from.first == id_range.first && id_claimed_from.count == id_range.count &&
         strcmp(id_claimed_from.lock_file, id_range.lock_file) == 0;
}

/* Gives the claim up (a run that does not use it, or one from another range). */
static void release_id(void) {
  if (id_lock_fd >= 0) close(id_lock_fd);
  id_lock_fd = -1;
  id_claimed = 0;
}

/* Claims a free uid of the range (kept while this process lives). Returns it, or 0 with id_failure set. */
static uint32_t claim_id(void) {
  if (id_claim_matches()) return id_claimed;
  release_id();
  if (!id_range_mapped("/proc/self/uid_map") || !id_range_mapped("/proc/self/gid_map")) {
    char what[160];
    snprintf(what, sizeof what, "the uid range %u..%u is not mapped in this user namespace (a container?): give one inside it (--uid-range)",
             (unsigned)id_range.first, (unsigned)(id_range.first + id_range.count - 1));
    id_fail(what, 0);
    return 0;
  }
  int fd = open_id_lock();
  if (fd < 0) return 0;
  uint32_t start = 0;
  if (getrandom(&start, sizeof start, GRND_NONBLOCK) != (ssize_t)sizeof start) start = (uint32_t)getpid() * 2654435761u;
  for (uint32_t n = 0; n < id_range.count; n++) {
    uint32_t uid = id_range.first + (uint32_t)(((uint64_t)start + n) % id_range.count);
    int got = lock_id(fd, uid);
    if (got < 0) {
      int e = errno;
      close(fd);
      char what[PATH_MAX + 64];
      snprintf(what, sizeof what, "cannot lock in the uid lock file %s", id_range.lock_file);
      id_fail(what, e);
      return 0;
    }
    if (got) {
      id_lock_fd = fd;
      id_claimed = uid;
      id_claimed_from = id_range;
      return uid;
    }
  }
  close(fd);
  char what[PATH_MAX + 120];
  snprintf(what, sizeof what, "no free uid: all %u of %u..%u are in use by other runs (lock file %s)", (unsigned)id_range.count,
           (unsigned)id_range.first, (unsigned)(id_range.first + id_range.count - 1), id_range.lock_file);
  id_fail(what, 0);
  return 0;
}
#endif
