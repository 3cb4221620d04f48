/* One host identity per run (see identity.h). */
#define _GNU_SOURCE
#include "identity.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "words.h"

/* The default range and lock file, no claim. */
void identity_init(struct identity *id) {
  memset(id, 0, sizeof *id);
  id->range.first = ID_RANGE_FIRST;
  id->range.count = ID_RANGE_COUNT;
  strcpy(id->range.lock_file, ID_LOCK_FILE);
  id->lock_fd = -1;
}

/* A range holds neither root (0) nor (uid_t)-1, and stays within 32 bits. */
static int id_range_valid(uint64_t first, uint64_t count) {
  return first >= 1 && count >= 1 && first + count - 1 < UINT32_MAX;
}

static int set_id_lock_file(struct identity *id, const char *v) {
  if (v[0] != '/' || strlen(v) >= sizeof id->range.lock_file) return 0;
  strcpy(id->range.lock_file, v);
  return 1;
}

/* FIRST:COUNT, both decimal, the range valid (id_range_valid). */
static int set_id_range(struct identity *id, const char *v) {
  uint64_t range[2];
  if (parse_uint_fields(v, ':', 2, UINT32_MAX, range) < 0 || !id_range_valid(range[0], range[1])) return 0;
  id->range.first = (uint32_t)range[0];
  id->range.count = (uint32_t)range[1];
  return 1;
}

/*
 * Supervisor options of the identity: --uid-range FIRST:COUNT, --uid-lock FILE. Returns 1 when
 * argv[*k] is one of them (*k is then on its value), 0 when not; a bad value ends the supervisor.
 */
int identity_option(struct identity *id, int argc, char **argv, int *k) {
  const char *o = argv[*k];
  if (strcmp(o, "--uid-range") != 0 && strcmp(o, "--uid-lock") != 0) return 0;
  const char *v = *k + 1 < argc ? argv[++*k] : "";
  int ok = strcmp(o, "--uid-lock") == 0 ? set_id_lock_file(id, v) : set_id_range(id, v);
  if (!ok) {
    fprintf(stderr, "pypy-box-supervisor: bad value for %s: %s\n", o, v);
    exit(2);
  }
  return 1;
}

static int id_fail(struct identity *id, const char *what, int err) {
  snprintf(id->failure, sizeof id->failure, "%s%s%s", what, err ? ": " : "", err ? strerror(err) : "");
  id->err = err;
  return -1;
}

/*
 * The lock file, created if missing (and its directory, for the default one). It must be ours and
 * closed to everyone else: whoever could open it could hold every uid of the range.
 */
static int open_id_lock(struct identity *id) {
  const char *path = id->range.lock_file;
  char what[PATH_MAX + 100];
  if (strcmp(path, ID_LOCK_FILE) == 0 && mkdir(ID_LOCK_DIR, 0755) < 0 && errno != EEXIST) {
    int e = errno;
    snprintf(what, sizeof what, "cannot create the directory of the uid lock file %s", path);
    return id_fail(id, what, e);
  }
  int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
  if (fd < 0) {
    int e = errno;
    snprintf(what, sizeof what, "cannot open the uid lock file %s", path);
    return id_fail(id, what, e);
  }
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077)) {
    close(fd);
    snprintf(what, sizeof what, "the uid lock file %s is not a regular file of ours closed to others (mode 0600)",
             path);
    return id_fail(id, what, 0);
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
static int id_range_mapped(struct identity *id, const char *map_file) {
  FILE *f = fopen(map_file, "re");
  if (!f) return 0;
  unsigned long long lo[340], n[340], a, b, c;
  int lines = 0;
  while (lines < 340 && fscanf(f, "%llu %llu %llu", &a, &b, &c) == 3) lo[lines] = a, n[lines] = c, lines++;
  fclose(f);
  unsigned long long at = id->range.first, end = (unsigned long long)id->range.first + id->range.count;
  while (at < end) {
    int k = 0;
    while (k < lines && !(lo[k] <= at && at - lo[k] < n[k])) k++;
    if (k == lines) return 0;
    at = lo[k] + n[k];
  }
  return 1;
}

/* Whether the claim held (if any) was made from the range now asked for. */
int id_claim_matches(struct identity *id) {
  return id->claimed && id->claimed_from.first == id->range.first && id->claimed_from.count == id->range.count &&
         strcmp(id->claimed_from.lock_file, id->range.lock_file) == 0;
}

/* Gives the claim up (a run that does not use it, or one from another range). */
void release_id(struct identity *id) {
  if (id->lock_fd >= 0) close(id->lock_fd);
  id->lock_fd = -1;
  id->claimed = 0;
}

/* Claims a free uid of the range (kept while this process lives). Returns it, or 0 with id->failure set. */
uint32_t claim_id(struct identity *id) {
  if (id_claim_matches(id)) return id->claimed;
  release_id(id);
  if (!id_range_mapped(id, "/proc/self/uid_map") || !id_range_mapped(id, "/proc/self/gid_map")) {
    char what[160];
    snprintf(
        what, sizeof what,
        "the uid range %u..%u is not mapped in this user namespace (a container?): give one inside it (--uid-range)",
        (unsigned)id->range.first, (unsigned)(id->range.first + id->range.count - 1));
    id_fail(id, what, 0);
    return 0;
  }
  int fd = open_id_lock(id);
  if (fd < 0) return 0;
  uint32_t start = 0;
  if (getrandom(&start, sizeof start, GRND_NONBLOCK) != (ssize_t)sizeof start) start = (uint32_t)getpid() * 2654435761u;
  for (uint32_t n = 0; n < id->range.count; n++) {
    uint32_t uid = id->range.first + (uint32_t)(((uint64_t)start + n) % id->range.count);
    int got = lock_id(fd, uid);
    if (got < 0) {
      int e = errno;
      close(fd);
      char what[PATH_MAX + 64];
      snprintf(what, sizeof what, "cannot lock in the uid lock file %s", id->range.lock_file);
      id_fail(id, what, e);
      return 0;
    }
    if (got) {
      id->lock_fd = fd;
      id->claimed = uid;
      id->claimed_from = id->range;
      return uid;
    }
  }
  close(fd);
  char what[PATH_MAX + 120];
  snprintf(what, sizeof what, "no free uid: all %u of %u..%u are in use by other runs (lock file %s)",
           (unsigned)id->range.count, (unsigned)id->range.first, (unsigned)(id->range.first + id->range.count - 1),
           id->range.lock_file);
  id_fail(id, what, 0);
  return 0;
}
