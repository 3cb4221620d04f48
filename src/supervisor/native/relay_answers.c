/* Calls the relay answers itself (see relay_state.h). */
#define _GNU_SOURCE
#include "relay_state.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "end.h"
#include "local.h"
#include "reports.h"
#include "wire.h"
#include "words.h"

/* ---- directory streams ---- */

static struct dir_stream *find_stream(struct relay *r, uint64_t dir) {
  for (size_t k = 0; k < r->n_streams; k++)
    if (r->streams[k].dir == dir) return &r->streams[k];
  return NULL;
}

/* The stream is the controller's again (closed, rewound, or reused): its readdir calls go there. */
void forget_stream(struct relay *r, uint64_t dir) {
  struct dir_stream *s = find_stream(r, dir);
  if (!s) return;
  free(s->records);
  *s = r->streams[--r->n_streams];
}

/* opendir's answer came with the listing: kept for the stream it returned (the oldest given up if full). */
void keep_stream(struct relay *r, uint64_t dir) {
  forget_stream(r, dir);
  if (r->n_streams == MAX_DIR_STREAMS) forget_stream(r, r->streams[0].dir);
  struct dir_stream *s = &r->streams[r->n_streams++];
  s->dir = dir;
  s->records = r->pending_listing;
  s->len = r->pending_len;
  s->pos = 0;
  r->pending_listing = NULL;
}

/* ---- host files ---- */

static struct host_file *find_file(struct relay *r, int64_t fd) {
  for (size_t k = 0; k < r->n_files; k++)
    if (r->files[k].fd == fd) return &r->files[k];
  return NULL;
}

/* The descriptor is the controller's alone again (closed, or named by a call that goes there). */
void forget_file(struct relay *r, int64_t fd) {
  struct host_file *f = find_file(r, fd);
  if (!f) return;
  close(f->host);
  *f = r->files[--r->n_files];
}

/*
 * 'H': open's answer names the host file it returns. Opened here as the controller's mounts open
 * (read-only, no symlink anywhere) and taken only if it is the very file the controller holds.
 */
void take_host_file(struct relay *r) {
  unsigned char head[40];
  from_controller(r, head, sizeof head);
  uint64_t len = u64_at(head + 32);
  if (len == 0 || len >= PATH_MAX) protocol_fatal("the controller named a host file the relay cannot take");
  char path[PATH_MAX];
  from_controller(r, path, (size_t)len);
  path[len] = 0;
  if (r->pending_file.host >= 0) close(r->pending_file.host);
  r->pending_file.host = -1;
  if (!r->rc->max_io || memchr(path, 0, (size_t)len) || r->n_files >= MAX_HOST_FILES) return;
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
  how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
  struct stat st;
  if (fd < 0) return;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_dev != u64_at(head + 16) ||
      (uint64_t)st.st_ino != u64_at(head + 24)) {
    close(fd);
    return;
  }
  r->pending_file.fd = (int64_t)u64_at(head);
  r->pending_file.dev = u64_at(head + 8);
  r->pending_file.pos = 0;
  r->pending_file.host = fd;
}

/* The answer's result came: the file named with it is kept if the result is its descriptor. */
void settle_host_file(struct relay *r, int64_t result) {
  struct host_file *p = &r->pending_file;
  if (p->host < 0) return;
  if (result == p->fd && result >= 0) {
    forget_file(r, result);
    r->files[r->n_files++] = *p;
  } else {
    close(p->host);
  }
  p->host = -1;
}

/* ---- the clock, as the controller's (src/kernel/session.ts, Clock) ---- */

static int64_t realtime_ns(const struct relay_config *rc) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  int64_t ms = (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000; /* Date.now() */
  return ms * 1000000 + rc->real_offset_ns;
}

static int64_t monotonic_ns(const struct relay_config *rc) {
  return (int64_t)(mono_ns() - rc->mono_start_ns);
}

static int is_realtime(int64_t clk) {
  return clk == CLOCK_REALTIME || clk == CLOCK_REALTIME_COARSE || clk == CLOCK_REALTIME_ALARM;
}

static int is_monotonic(int64_t clk) {
  return clk == CLOCK_MONOTONIC || clk == CLOCK_PROCESS_CPUTIME_ID || clk == CLOCK_THREAD_CPUTIME_ID ||
         clk == CLOCK_MONOTONIC_RAW || clk == CLOCK_MONOTONIC_COARSE || clk == CLOCK_BOOTTIME ||
         clk == CLOCK_BOOTTIME_ALARM;
}

static void put_write(struct relay *r, uint64_t ptr, int64_t a, int64_t b, size_t n) {
  unsigned char w[17 + 16] = {'W'};
  uint64_t size = n;
  memcpy(w + 1, &ptr, 8);
  memcpy(w + 9, &size, 8);
  memcpy(w + 17, &a, 8);
  memcpy(w + 25, &b, 8);
  guest_put(r, w, 17 + n);
}

/*
 * A clock call answered here, exactly as the controller's handler would; 0 when it is left to the
 * controller (an unknown clock, a NULL timespec, a time before 1970: its errors and results are
 * the controller's to give). *result is the call's result.
 */
int answer_clock(struct relay *r, int bit, const unsigned char *words, int64_t *result) {
  uint64_t a0 = u64_at(words);
  if (bit == CLOCK_CALL_TIME) {
    int64_t sec = realtime_ns(r->rc) / 1000000000;
    if (sec < 0) return 0;
    if (a0) put_write(r, a0, sec, 0, 8);
    *result = sec;
    return 1;
  }
  if (bit == CLOCK_CALL_GETTIMEOFDAY) {
    int64_t ns = realtime_ns(r->rc);
    if (a0) put_write(r, a0, ns / 1000000000, (ns % 1000000000) / 1000, 16);
    *result = 0;
    return 1;
  }
  int64_t clk = (int64_t)a0, ns;
  uint64_t ptr = u64_at(words + 8);
  if (clk < 0 || clk > 15 || ptr == 0) return 0;
  if (is_realtime(clk)) ns = realtime_ns(r->rc);
  else if (is_monotonic(clk)) ns = monotonic_ns(r->rc);
  else return 0;
  put_write(r, ptr, ns / 1000000000, ns % 1000000000, 16);
  *result = 0;
  return 1;
}

int clock_bit(const struct relay_config *rc, const char *sig, size_t n) {
  int bit = clock_call_bit(sig, n);
  return (rc->clock_calls & (unsigned)bit) ? bit : 0;
}

/*
 * stat64, lstat64 or access of a name handed over, answered as local.c answers a stock guest's
 * (the controller's handlers are the same for both); 0 when it is the controller's. The call's
 * path was read (r->out); the answer is queued for the guest, *result, *err, *grant and `host` set.
 */
int answer_path(struct relay *r, int bit, const unsigned char *words, int64_t *result, int *err, int *grant,
                char *host) {
  const char *path = r->out.path[0];
  uint64_t a1 = u64_at(words + 8);
  int buffer = bit == PATH_CALL_STAT64 || bit == PATH_CALL_LSTAT64; /* a1 is where the stat goes */
  if (!path || (buffer && a1 == 0)) return 0;                       /* NULL: the controller's EFAULT */
  if (memchr(path, 0, r->out.path_len[0])) return 0;                /* a NUL inside: the controller's EINVAL */
  struct stat st;
  *err = 0;
  if (bit == PATH_CALL_OPEN) {
    /* Only a read-only open of a name that is not there: nothing is made, no descriptor to number. */
    const uint64_t ok = O_CLOEXEC | O_LARGEFILE | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK | O_DIRECTORY;
    if ((a1 & O_ACCMODE) != O_RDONLY || (a1 & ~(ok | O_ACCMODE))) return 0;
    *grant = name_stat(r->lc, path, r->out.path_len[0], !(a1 & O_NOFOLLOW), &st, result, err, host);
    if (*grant == LOCAL_FORWARD || *result == 0 || (*err != ENOENT && *err != EACCES)) return 0;
  } else if (bit == PATH_CALL_ACCESS) *grant = name_access(r->lc, path, r->out.path_len[0], a1, result, err, host);
  else *grant = name_stat(r->lc, path, r->out.path_len[0], bit == PATH_CALL_STAT64, &st, result, err, host);
  if (*grant == LOCAL_FORWARD) return 0;
  if (*result == 0 && buffer) {
    unsigned char w[17];
    uint64_t size = sizeof st;
    w[0] = 'W';
    memcpy(w + 1, &a1, 8);
    memcpy(w + 9, &size, 8);
    guest_put(r, w, sizeof w);
    guest_put(r, &st, sizeof st);
  }
  if (*err) {
    unsigned char e[5] = {'E'};
    int32_t v = *err;
    memcpy(e + 1, &v, 4);
    guest_put(r, e, sizeof e);
  }
  return 1;
}

void put_result(struct relay *r, int64_t result) {
  unsigned char res[9] = {'i'};
  memcpy(res + 1, &result, 8);
  guest_put(r, res, 9);
  guest_flush(r);
}

/*
 * read, lseek, fstat64 and close of a host file read here, as the controller's handlers answer
 * them (handlers/pypy/io.ts); 0 for anything they would refuse or fail (the controller's to say).
 */
int answer_file(struct relay *r, const char *sig, size_t n, const unsigned char *words, int64_t *result) {
  struct host_file *f = find_file(r, (int64_t)u64_at(words));
  if (!f) return 0;
  /* Words past the call's own (fstat64 has two, close one) are read from the call buffer and not used. */
  int64_t a1 = (int64_t)u64_at(words + 8), a2 = (int64_t)u64_at(words + 16);
  const int64_t SAFE = (1ll << 53) - 1; /* the controller's offsets are safe integers */
  if (is_sig(sig, n, RELAY_FILE_CALLS_READ)) {
    if (a2 < 0 || (a1 == 0 && a2 > 0)) return 0;
    size_t want = (uint64_t)a2 < r->rc->max_io ? (size_t)a2 : (size_t)r->rc->max_io;
    ssize_t got = want ? pread(f->host, r->io, want, (off_t)f->pos) : 0;
    if (got < 0) return 0;
    if (got > 0) {
      unsigned char w[17] = {'W'};
      uint64_t size = (uint64_t)got;
      memcpy(w + 1, &a1, 8);
      memcpy(w + 9, &size, 8);
      guest_put(r, w, sizeof w);
      guest_put(r, r->io, (size_t)got);
    }
    f->pos += (uint64_t)got;
    *result = got;
    return 1;
  }
  if (is_sig(sig, n, RELAY_FILE_CALLS_LSEEK)) {
    struct stat st;
    int64_t base;
    if (a1 > SAFE || a1 < -SAFE) return 0;
    if (a2 == SEEK_SET) base = 0;
    else if (a2 == SEEK_CUR) base = (int64_t)f->pos;
    else if (a2 == SEEK_END && fstat(f->host, &st) == 0) base = st.st_size;
    else return 0;
    if (base + a1 < 0 || base + a1 > SAFE) return 0;
    f->pos = (uint64_t)(base + a1);
    *result = base + a1;
    return 1;
  }
  if (is_sig(sig, n, RELAY_FILE_CALLS_FSTAT64)) {
    struct stat st, out;
    if (a1 == 0 || fstat(f->host, &st) < 0 || !S_ISREG(st.st_mode) || st.st_atim.tv_sec < 0 || st.st_mtim.tv_sec < 0 ||
        st.st_ctim.tv_sec < 0)
      return 0;
    virtual_stat(r->lc, &st, f->dev, &out);
    unsigned char w[17] = {'W'};
    uint64_t size = sizeof out;
    memcpy(w + 1, &a1, 8);
    memcpy(w + 9, &size, 8);
    guest_put(r, w, sizeof w);
    guest_put(r, &out, sizeof out);
    *result = 0;
    return 1;
  }
  if (is_sig(sig, n, RELAY_FILE_CALLS_CLOSE)) {
    forget_file(r, f->fd);
    *result = 0;
    return 1;
  }
  return 0;
}

/* A call that goes to the controller and names a descriptor read here: the controller's alone from now on. */
void give_back_files(struct relay *r, const char *kinds, size_t nkinds, const unsigned char *words) {
  if (!r->n_files) return;
  size_t word = 0;
  for (size_t k = 0; k < nkinds; k++) {
    if (kinds[k] == 'v') continue;
    if (kinds[k] == 'i') forget_file(r, (int64_t)u64_at(words + 8 * word));
    word++;
  }
}

/* readdir of a stream whose listing came with its opendir: 0 when it is not one of those. */
int answer_readdir(struct relay *r, const unsigned char *words, int64_t *result) {
  uint64_t dir = u64_at(words);
  /* Kept only for pointers a report can carry as a result (below 2^53, as the controller checks). */
  struct dir_stream *s = dir && dir < (1ull << 53) ? find_stream(r, dir) : NULL;
  if (!s) return 0;
  if (s->pos >= s->len) {
    *result = 0; /* the end: NULL, errno untouched */
    return 1;
  }
  size_t n = r->rc->dirent_size;
  unsigned char w[17] = {'W'};
  uint64_t size = n;
  memcpy(w + 1, &dir, 8);
  memcpy(w + 9, &size, 8);
  guest_put(r, w, sizeof w);
  guest_put(r, s->records + s->pos, n);
  s->pos += n;
  *result = (int64_t)dir;
  return 1;
}
