/* The sandboxed PyPy's conversation through the supervisor (see protocol_relay.h). */
#define _GNU_SOURCE
#include "protocol_relay.h"

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

/* The protocol's limits (docs/protocol.md): a signature of 1..255 bytes, at most 32 argument words. */
#define MAX_ARG_WORDS 32
#define GUEST_PIPE_BYTES (1 << 20)
#define BUF_BYTES 65536
/*
 * How long the rest of a call that started may take to come. A guest writes a call at once; one
 * that stops in the middle is handed to the controller as it is (its bytes untouched from then
 * on), whose stall clock and messages take over.
 */
#define CALL_PATIENCE_MS 100

/* Bytes read ahead from one descriptor. */
struct inbuf {
  int fd;
  unsigned char b[BUF_BYTES];
  size_t pos, len;
  int eof;
};

/* Bytes on their way out to one descriptor, written when a reply is awaited or an answer is whole. */
struct outbuf {
  int fd;
  unsigned char b[BUF_BYTES];
  size_t len;
};

/* A directory stream's listing (dirent records, as the controller's readdir writes them), by DIR pointer. */
struct dir_stream {
  uint64_t dir;
  unsigned char *records;
  size_t len, pos;
};

#define MAX_DIR_STREAMS 64

/* A read-only host file behind one of the guest's descriptors, read here (the controller keeps the descriptor). */
struct host_file {
  int64_t fd; /* the guest's number */
  int host;   /* our descriptor of the same file */
  uint64_t pos, dev;
};

#define MAX_HOST_FILES 128

/* The relay while it serves: its configuration, the pipes, and what it waits on. */
struct relay {
  struct run *run;
  const struct relay_config *rc;
  struct local *lc;
  struct inbuf from_guest, from_controller;
  struct outbuf to_guest;
  relay_notified notified;
  void *ctx;
  int passthrough; /* a call could not be read: every byte goes through untouched from now on */
  int deaf;        /* a reply the controller refuses went to it: the guest's bytes are dropped */
  /* The call being read, as it arrived, and as it goes to the controller (paths along). */
  unsigned char call[1 + 255 + 8 * MAX_ARG_WORDS];
  size_t call_len;
  struct call out; /* buf: the call as forwarded or reported */
  struct dir_stream streams[MAX_DIR_STREAMS];
  size_t n_streams;
  unsigned char *pending_listing; /* sent with the answer in flight ('L'), kept if it opens a stream */
  size_t pending_len;
  struct host_file files[MAX_HOST_FILES];
  size_t n_files;
  struct host_file pending_file; /* named with the answer in flight ('H'), kept if it is the result (host >= 0) */
  unsigned char *io;             /* one read's bytes (max_io) */
};

static uint64_t u64_at(const unsigned char *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

static int is_sig(const char *sig, size_t n, const char *want) {
  return strlen(want) == n && memcmp(sig, want, n) == 0;
}

void relay_init(struct relay_config *rc) {
  memset(rc, 0, sizeof *rc);
  rc->max_path = 4096;
  rc->stall_ms = -1;
}

static int parse_i64(const char *s, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end) return -1;
  *out = v;
  return 0;
}

/* `relayed` must be `sig` with some 'p' arguments made 's', and nothing else changed. */
static int inline_pair_ok(const char *sig, const char *relayed) {
  size_t n = strlen(sig);
  if (n == 0 || n > 255 || strlen(relayed) != n) return 0;
  const char *open = strchr(sig, '('), *close = open ? strchr(open, ')') : NULL;
  if (!open || !close) return 0;
  for (size_t k = 0; k < n; k++) {
    if (sig[k] == relayed[k]) continue;
    if (sig + k <= open || sig + k >= close || sig[k] != 'p' || relayed[k] != 's') return 0;
  }
  return 1;
}

static int clock_call_bit(const char *sig, size_t n) {
  static const struct {
    const char *sig;
    unsigned bit;
  } CLOCK_SIGS[] = {{"time(p)i", CLOCK_CALL_TIME},
                    {"gettimeofday(pp)i", CLOCK_CALL_GETTIMEOFDAY},
                    {"clock_gettime(ip)i", CLOCK_CALL_CLOCK_GETTIME}};
  for (size_t k = 0; k < sizeof CLOCK_SIGS / sizeof CLOCK_SIGS[0]; k++)
    if (strlen(CLOCK_SIGS[k].sig) == n && memcmp(CLOCK_SIGS[k].sig, sig, n) == 0) return (int)CLOCK_SIGS[k].bit;
  return 0;
}

static int path_call_bit(const char *sig, size_t n) {
  static const struct {
    const char *sig;
    unsigned bit;
  } PATH_SIGS[] = {{"stat64(pp)i", PATH_CALL_STAT64},
                   {"lstat64(pp)i", PATH_CALL_LSTAT64},
                   {"access(pi)i", PATH_CALL_ACCESS},
                   {"open(pii)i", PATH_CALL_OPEN}};
  for (size_t k = 0; k < sizeof PATH_SIGS / sizeof PATH_SIGS[0]; k++)
    if (strlen(PATH_SIGS[k].sig) == n && memcmp(PATH_SIGS[k].sig, sig, n) == 0) return (int)PATH_SIGS[k].bit;
  return 0;
}

/* SIG,SIG...: each one of `bit_of`'s, into *bits. */
static int calls_option(unsigned *bits, const char *list, int (*bit_of)(const char *sig, size_t n)) {
  const char *s = list;
  while (*s) {
    const char *e = strchr(s, ',');
    size_t n = e ? (size_t)(e - s) : strlen(s);
    int bit = bit_of(s, n);
    if (!bit) return -1;
    *bits |= (unsigned)bit;
    s += n;
    if (*s == ',') s++;
  }
  return 0;
}

int relay_option(struct relay_config *rc, int argc, char **argv, int *k) {
  const char *a = argv[*k];
  if (strcmp(a, "--inline") == 0 && *k + 2 < argc) {
    if (rc->n_inline >= RELAY_MAX_INLINE || !inline_pair_ok(argv[*k + 1], argv[*k + 2])) return -1;
    struct inline_sig *s = &rc->inline_sigs[rc->n_inline++];
    s->len = strlen(argv[*k + 1]);
    memcpy(s->sig, argv[*k + 1], s->len + 1);
    memcpy(s->relayed, argv[*k + 2], s->len + 1);
    *k += 2;
    return 1;
  }
  if (*k + 1 >= argc) return 0;
  const char *v = argv[*k + 1];
  if (strcmp(a, "--clock-calls") == 0) {
    if (calls_option(&rc->clock_calls, v, clock_call_bit) < 0) return -1;
  } else if (strcmp(a, "--path-calls") == 0) {
    if (calls_option(&rc->path_calls, v, path_call_bit) < 0) return -1;
  } else if (strcmp(a, "--clock") == 0) {
    const char *colon = strchr(v, ':');
    char offset[32];
    int64_t start;
    if (!colon || (size_t)(colon - v) >= sizeof offset) return -1;
    memcpy(offset, v, (size_t)(colon - v));
    offset[colon - v] = 0;
    if (parse_i64(offset, &rc->real_offset_ns) < 0 || parse_i64(colon + 1, &start) < 0 || start < 0) return -1;
    rc->mono_start_ns = (uint64_t)start;
  } else if (strcmp(a, "--stall-ms") == 0) {
    uint64_t ms;
    if (parse_uint(v, INT32_MAX, &ms) < 0) return -1;
    rc->stall_ms = ms ? (int)ms : -1;
  } else if (strcmp(a, "--host-files") == 0) {
    uint64_t n;
    if (parse_uint(v, MAX_CHUNK, &n) < 0 || n == 0) return -1;
    rc->max_io = n;
  } else if (strcmp(a, "--dir-streams") == 0) {
    uint64_t n;
    if (parse_uint(v, 4096, &n) < 0 || n < 20) return -1;
    rc->dirent_size = n;
  } else if (strcmp(a, "--relay-max-path") == 0) {
    uint64_t n;
    if (parse_uint(v, 65536, &n) < 0 || n < 2) return -1;
    rc->max_path = n;
  } else {
    return 0;
  }
  ++*k;
  return 1;
}

void relay_pipes_make(struct relay_pipes *p) {
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) fatal("pipe2");
  /* As large as the controller's own pipes to a guest: a big answer in one write. */
  fcntl(in[1], F_SETPIPE_SZ, GUEST_PIPE_BYTES);
  fcntl(out[1], F_SETPIPE_SZ, GUEST_PIPE_BYTES);
  p->guest_in = in[0];
  p->to_guest = in[1];
  p->from_guest = out[0];
  p->guest_out = out[1];
}

/* ---- waiting, reading and writing ---- */

/*
 * Until fd is ready for `events`, answering the strict filter meanwhile: 0, or -1 when `patience_ms`
 * (>= 0) went by first.
 */
static int wait_for(struct relay *r, int fd, short events, int patience_ms) {
  uint64_t until = patience_ms >= 0 ? mono_ns() + (uint64_t)patience_ms * 1000000u : 0;
  for (;;) {
    int timeout = -1;
    if (patience_ms >= 0) {
      uint64_t now = mono_ns();
      if (now >= until) return -1;
      timeout = (int)((until - now) / 1000000u) + 1;
    }
    struct pollfd pfd[2] = {{fd, events, 0}, {r->run->listener, POLLIN, 0}};
    if (poll(pfd, r->run->listener >= 0 ? 2 : 1, timeout) < 0) {
      if (errno == EINTR) continue;
      fatal("poll");
    }
    if (pfd[1].revents & POLLIN) r->notified(r->ctx);
    if (pfd[1].revents & (POLLHUP | POLLERR)) r->run->listener = -1;
    if (pfd[0].revents) return 0;
  }
}

/* More bytes into `in` (blocking): 0, -1 at its end, -2 when nothing came within `patience_ms` (>= 0). */
static int fill_within(struct relay *r, struct inbuf *in, int patience_ms) {
  if (in->eof) return -1;
  if (in->pos == in->len) in->pos = in->len = 0;
  for (;;) {
    ssize_t k = read(in->fd, in->b + in->len, sizeof in->b - in->len);
    if (k > 0) {
      in->len += (size_t)k;
      return 0;
    }
    if (k == 0) {
      in->eof = 1;
      return -1;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) {
      in->eof = 1;
      return -1;
    }
    if (wait_for(r, in->fd, POLLIN, patience_ms) < 0) return -2;
  }
}

static int fill(struct relay *r, struct inbuf *in) {
  return fill_within(r, in, -1);
}

/*
 * Exactly n bytes from `in`: 0, -1 at its end, or -2 when a wait for more went past `patience_ms`
 * (>= 0; -1: no bound). What came is in dst, *got bytes of it.
 */
static int take_within(struct relay *r, struct inbuf *in, void *dst, size_t n, size_t *got, int patience_ms) {
  unsigned char *d = dst;
  size_t done = 0;
  while (done < n) {
    int rc = in->pos == in->len ? fill_within(r, in, patience_ms) : 0;
    if (rc < 0) {
      if (got) *got = done;
      return rc;
    }
    size_t k = in->len - in->pos < n - done ? in->len - in->pos : n - done;
    memcpy(d + done, in->b + in->pos, k);
    in->pos += k;
    done += k;
  }
  if (got) *got = done;
  return 0;
}

static int take(struct relay *r, struct inbuf *in, void *dst, size_t n, size_t *got) {
  return take_within(r, in, dst, n, got, -1);
}

static void write_all(struct relay *r, int fd, const unsigned char *p, size_t n) {
  while (n) {
    ssize_t k = write(fd, p, n);
    if (k > 0) {
      p += k;
      n -= (size_t)k;
      continue;
    }
    if (k < 0 && errno == EINTR) continue;
    if (k < 0 && errno == EAGAIN) {
      /* A guest reads each answer before its next call: one that stops reading is stalled. */
      if (wait_for(r, fd, POLLOUT, r->rc->stall_ms) < 0)
        protocol_fatal("the guest stalled: it read none of its answer for the stall time (limits.stallMs)");
      continue;
    }
    return; /* the guest is gone (EPIPE): its end is reported from its exit */
  }
}

static void guest_flush(struct relay *r) {
  write_all(r, r->to_guest.fd, r->to_guest.b, r->to_guest.len);
  r->to_guest.len = 0;
}

static void guest_put(struct relay *r, const void *p, size_t n) {
  if (r->to_guest.len + n > sizeof r->to_guest.b) guest_flush(r);
  if (n > sizeof r->to_guest.b) {
    write_all(r, r->to_guest.fd, p, n);
    return;
  }
  memcpy(r->to_guest.b + r->to_guest.len, p, n);
  r->to_guest.len += n;
}

/* The controller's bytes: its end ends the run (controller_gone). */
static void from_controller(struct relay *r, void *dst, size_t n) {
  if (take(r, &r->from_controller, dst, n, NULL) < 0) controller_gone();
}

/* n bytes of the guest's reply passed on to the controller: 0, or -1 when the guest ended first. */
static int pass_reply(struct relay *r, uint64_t n) {
  static unsigned char chunk[BUF_BYTES];
  while (n) {
    size_t k = n < sizeof chunk ? (size_t)n : sizeof chunk, got = 0;
    int rc = take(r, &r->from_guest, chunk, k, &got);
    wire_out(chunk, got);
    if (rc < 0) return -1;
    n -= k;
  }
  return 0;
}

/* n bytes of the controller's command passed on to the guest. */
static void pass_payload(struct relay *r, uint64_t n) {
  static unsigned char chunk[BUF_BYTES];
  while (n) {
    size_t k = n < sizeof chunk ? (size_t)n : sizeof chunk;
    from_controller(r, chunk, k);
    guest_put(r, chunk, k);
    n -= k;
  }
}

/*
 * From now on every byte goes through untouched, starting with these and what was read ahead. The
 * controller is told first (a report marker with no call), so that it takes no report and no path
 * from the guest's own bytes.
 */
static void start_passthrough(struct relay *r, const void *head, size_t n) {
  r->passthrough = 1;
  reports_flush(&r->run->reports);
  /* One write, so that the controller's error shows what followed the bad bytes. */
  static unsigned char all[2 + sizeof r->call + BUF_BYTES];
  size_t ahead = r->from_guest.len - r->from_guest.pos;
  all[0] = REPORT_MARKER;
  all[1] = 0;
  memcpy(all + 2, head, n);
  memcpy(all + 2 + n, r->from_guest.b + r->from_guest.pos, ahead);
  wire_out(all, 2 + n + ahead);
  r->from_guest.pos = r->from_guest.len = 0;
  guest_put(r, r->from_controller.b + r->from_controller.pos, r->from_controller.len - r->from_controller.pos);
  guest_flush(r);
  r->from_controller.pos = r->from_controller.len = 0;
}

/* ---- directory streams ---- */

static struct dir_stream *find_stream(struct relay *r, uint64_t dir) {
  for (size_t k = 0; k < r->n_streams; k++)
    if (r->streams[k].dir == dir) return &r->streams[k];
  return NULL;
}

/* The stream is the controller's again (closed, rewound, or reused): its readdir calls go there. */
static void forget_stream(struct relay *r, uint64_t dir) {
  struct dir_stream *s = find_stream(r, dir);
  if (!s) return;
  free(s->records);
  *s = r->streams[--r->n_streams];
}

/* opendir's answer came with the listing: kept for the stream it returned (the oldest given up if full). */
static void keep_stream(struct relay *r, uint64_t dir) {
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
static void forget_file(struct relay *r, int64_t fd) {
  struct host_file *f = find_file(r, fd);
  if (!f) return;
  close(f->host);
  *f = r->files[--r->n_files];
}

/*
 * 'H': open's answer names the host file it returns. Opened here as the controller's mounts open
 * (read-only, no symlink anywhere) and taken only if it is the very file the controller holds.
 */
static void take_host_file(struct relay *r) {
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
static void settle_host_file(struct relay *r, int64_t result) {
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

/* ---- a forwarded call: the controller's commands to the guest, its replies back ---- */

/* Relays the answer until its result; returns -1 when the guest ended in the middle. */
static int relay_answer(struct relay *r) {
  for (;;) {
    unsigned char cmd[17];
    from_controller(r, cmd, 1);
    switch (cmd[0]) {
      case 'R':
      case 'Z':
        from_controller(r, cmd + 1, 16);
        guest_put(r, cmd, 17);
        guest_flush(r);
        if (cmd[0] == 'R') {
          if (pass_reply(r, u64_at(cmd + 9)) < 0) return -1;
        } else {
          unsigned char len[8];
          size_t got = 0;
          int rc = take(r, &r->from_guest, len, 8, &got);
          if (rc < 0) {
            wire_out(len, got);
            return -1;
          }
          if (u64_at(len) > u64_at(cmd + 9)) {
            /* Longer than asked: the controller says so and ends the run; nothing more of the guest's goes. */
            wire_out(len, 8);
            r->passthrough = 1;
            r->deaf = 1;
            return 0;
          }
          wire_out(len, 8);
          if (pass_reply(r, u64_at(len)) < 0) return -1;
        }
        break;
      case 'M':
        from_controller(r, cmd + 1, 8);
        guest_put(r, cmd, 9);
        pass_payload(r, u64_at(cmd + 1));
        guest_flush(r);
        if (pass_reply(r, 8) < 0) return -1;
        break;
      case 'W':
        from_controller(r, cmd + 1, 16);
        guest_put(r, cmd, 17);
        pass_payload(r, u64_at(cmd + 9));
        break;
      case 'F':
        from_controller(r, cmd + 1, 8);
        guest_put(r, cmd, 9);
        break;
      case 'E':
        from_controller(r, cmd + 1, 4);
        guest_put(r, cmd, 5);
        break;
      case CMD_RELAY_HOST_FILE: /* for us, not the guest: the host file this open returns */
        take_host_file(r);
        break;
      case CMD_LISTING: { /* for us, not the guest: the listing of the stream opendir makes */
        from_controller(r, cmd + 1, 8);
        uint64_t len = u64_at(cmd + 1);
        if (!r->rc->dirent_size || len > MAX_LISTING || len % r->rc->dirent_size)
          protocol_fatal("the controller sent a listing the relay cannot keep");
        free(r->pending_listing);
        r->pending_listing = malloc(len ? len : 1);
        if (!r->pending_listing) fatal("malloc");
        from_controller(r, r->pending_listing, len);
        r->pending_len = len;
        break;
      }
      case 'v':
        guest_put(r, cmd, 1);
        guest_flush(r);
        return 0;
      case 'i':
      case 'f':
      case 'p':
        from_controller(r, cmd + 1, 8);
        guest_put(r, cmd, 9);
        guest_flush(r);
        if (r->pending_listing && cmd[0] == 'p' && u64_at(cmd + 1) != 0) keep_stream(r, u64_at(cmd + 1));
        if (cmd[0] == 'i') settle_host_file(r, (int64_t)u64_at(cmd + 1));
        free(r->pending_listing);
        r->pending_listing = NULL;
        return 0;
      default:
        protocol_fatal("the controller sent an unknown command to a relayed guest");
    }
  }
}

/* ---- a call ---- */

/* The kinds of a well-formed signature (NAME(KINDS)R); NULL when it is not one. */
static const char *call_kinds(const char *sig, size_t n, size_t *nkinds, size_t *words) {
  const char *open = memchr(sig, '(', n);
  if (!open || open == sig || n < 4 || sig[n - 2] != ')' || !sig[n - 1] || !strchr("vifp", sig[n - 1])) return NULL;
  for (const char *c = sig; c < open; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_')) return NULL;
  if (sig[0] >= '0' && sig[0] <= '9') return NULL;
  const char *kinds = open + 1;
  size_t nk = (size_t)(sig + n - 2 - kinds), w = 0;
  for (size_t k = 0; k < nk; k++) {
    if (!kinds[k] || !strchr("vifp", kinds[k])) return NULL;
    if (kinds[k] != 'v') w++;
  }
  if (w > MAX_ARG_WORDS) return NULL;
  *nkinds = nk;
  *words = w;
  return kinds;
}

static const struct inline_sig *inline_sig(const struct relay_config *rc, const char *sig, size_t n) {
  for (size_t k = 0; k < rc->n_inline; k++)
    if (rc->inline_sigs[k].len == n && memcmp(rc->inline_sigs[k].sig, sig, n) == 0) return &rc->inline_sigs[k];
  return NULL;
}

/* The call as forwarded: the relayed signature, its words, and each path read from the guest. */
/* Whether the call with every path at its longest fits the forwarding buffer (else it goes as it came). */
static int inline_fits(const struct relay *r, const struct inline_sig *s) {
  size_t paths = 0;
  for (const char *k = strchr(s->relayed, '('); *k != ')'; k++) paths += *k == 's';
  return r->call_len + paths * (9 + r->rc->max_path) <= sizeof r->out.buf;
}

/* What reading a call's paths came to. */
enum paths_read { PATHS_OK, PATHS_GUEST_ENDED, PATHS_BAD_REPLY, PATHS_STALLED };

/*
 * The path arguments of the call, read with Z (each pointer once, as the controller keys them),
 * into the call as forwarded. PATHS_BAD_REPLY: a reply longer than asked, its length in bad_len.
 */
static enum paths_read inline_paths(struct relay *r, const struct inline_sig *s, size_t words_at,
                                    unsigned char bad_len[8]) {
  unsigned char *o = r->out.buf;
  size_t n = s->len, used = r->call_len;
  o[0] = (unsigned char)n;
  memcpy(o + 1, s->relayed, n);
  memcpy(o + 1 + n, r->call + words_at, r->call_len - words_at);
  const char *kinds = strchr(s->relayed, '(') + 1;
  size_t word = 0;
  uint64_t ptrs[6];
  for (size_t k = 0; k < 6; k++) r->out.path[k] = NULL;
  for (const char *k = kinds; *k != ')'; k++) {
    if (*k == 'v') continue;
    if (*k != 's') {
      word++;
      continue;
    }
    uint64_t ptr = u64_at(r->call + words_at + 8 * word), max = r->rc->max_path;
    if (word < 6) ptrs[word] = ptr;
    size_t same = 0;
    while (same < word && same < 6 && !(r->out.path[same] && ptrs[same] == ptr)) same++;
    if (ptr == 0) {
      o[used++] = '!';                    /* the controller answers EFAULT for NULL, as it would */
    } else if (same < word && same < 6) { /* the same pointer again: the same string */
      uint64_t sl = r->out.path_len[same];
      o[used] = '+';
      memcpy(o + used + 1, &sl, 8);
      memmove(o + used + 9, r->out.path[same], (size_t)sl);
      if (word < 6) r->out.path[word] = (const char *)o + used + 9, r->out.path_len[word] = (size_t)sl;
      used += 9 + (size_t)sl;
    } else {
      unsigned char z[17] = {'Z'};
      memcpy(z + 1, &ptr, 8);
      memcpy(z + 9, &max, 8);
      guest_put(r, z, sizeof z);
      guest_flush(r);
      size_t got = 0;
      int rc = take_within(r, &r->from_guest, bad_len, 8, &got, r->rc->stall_ms);
      if (rc != 0) return rc == -2 ? PATHS_STALLED : PATHS_GUEST_ENDED;
      uint64_t sl = u64_at(bad_len);
      if (sl > max) return PATHS_BAD_REPLY;
      o[used] = '+';
      memcpy(o + used + 1, &sl, 8);
      rc = take_within(r, &r->from_guest, o + used + 9, (size_t)sl, &got, r->rc->stall_ms);
      if (rc != 0) return rc == -2 ? PATHS_STALLED : PATHS_GUEST_ENDED;
      if (word < 6) r->out.path[word] = (const char *)o + used + 9, r->out.path_len[word] = (size_t)sl;
      used += 9 + (size_t)sl;
    }
    word++;
  }
  r->out.len = used;
  return PATHS_OK;
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
static int answer_clock(struct relay *r, int bit, const unsigned char *words, int64_t *result) {
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

static int clock_bit(const struct relay_config *rc, const char *sig, size_t n) {
  int bit = clock_call_bit(sig, n);
  return (rc->clock_calls & (unsigned)bit) ? bit : 0;
}

/*
 * stat64, lstat64 or access of a name handed over, answered as local.c answers a stock guest's
 * (the controller's handlers are the same for both); 0 when it is the controller's. The call's
 * path was read (r->out); the answer is queued for the guest, *result, *err, *grant and `host` set.
 */
static int answer_path(struct relay *r, int bit, const unsigned char *words, int64_t *result, int *err, int *grant,
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

static void put_result(struct relay *r, int64_t result) {
  unsigned char res[9] = {'i'};
  memcpy(res + 1, &result, 8);
  guest_put(r, res, 9);
  guest_flush(r);
}

/*
 * read, lseek, fstat64 and close of a host file read here, as the controller's handlers answer
 * them (handlers/pypy/io.ts); 0 for anything they would refuse or fail (the controller's to say).
 */
static int answer_file(struct relay *r, const char *sig, size_t n, const unsigned char *words, int64_t *result) {
  struct host_file *f = find_file(r, (int64_t)u64_at(words));
  if (!f) return 0;
  /* Words past the call's own (fstat64 has two, close one) are read from the call buffer and not used. */
  int64_t a1 = (int64_t)u64_at(words + 8), a2 = (int64_t)u64_at(words + 16);
  const int64_t SAFE = (1ll << 53) - 1; /* the controller's offsets are safe integers */
  if (is_sig(sig, n, "read(ipi)i")) {
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
  if (is_sig(sig, n, "lseek(iii)i")) {
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
  if (is_sig(sig, n, "fstat64(ip)i")) {
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
  if (is_sig(sig, n, "close(i)i")) {
    forget_file(r, f->fd);
    *result = 0;
    return 1;
  }
  return 0;
}

/* A call that goes to the controller and names a descriptor read here: the controller's alone from now on. */
static void give_back_files(struct relay *r, const char *kinds, size_t nkinds, const unsigned char *words) {
  if (!r->n_files) return;
  size_t word = 0;
  for (size_t k = 0; k < nkinds; k++) {
    if (kinds[k] == 'v') continue;
    if (kinds[k] == 'i') forget_file(r, (int64_t)u64_at(words + 8 * word));
    word++;
  }
}

/* readdir of a stream whose listing came with its opendir: 0 when it is not one of those. */
static int answer_readdir(struct relay *r, const unsigned char *words, int64_t *result) {
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

/*
 * One call from the guest, read whole: answered here, or forwarded and its answer relayed.
 * Returns -1 when the guest ended (what it sent of a last call has gone to the controller).
 */
static int relay_call(struct relay *r) {
  size_t got = 0;
  if (take(r, &r->from_guest, r->call, 1, &got) < 0) return -1;
  size_t n = r->call[0];
  if (n == 0) {
    start_passthrough(r, r->call, 1);
    return 0;
  }
  int rc = take_within(r, &r->from_guest, r->call + 1, n, &got, CALL_PATIENCE_MS);
  if (rc == -2) {
    start_passthrough(r, r->call, 1 + got);
    return 0;
  }
  if (rc < 0) {
    reports_flush(&r->run->reports);
    wire_out(r->call, 1 + got);
    return -1;
  }
  const char *sig = (const char *)r->call + 1;
  size_t nkinds, words;
  if (!call_kinds(sig, n, &nkinds, &words)) {
    start_passthrough(r, r->call, 1 + n);
    return 0;
  }
  rc = take_within(r, &r->from_guest, r->call + 1 + n, 8 * words, &got, CALL_PATIENCE_MS);
  if (rc == -2) {
    start_passthrough(r, r->call, 1 + n + got);
    return 0;
  }
  if (rc < 0) {
    reports_flush(&r->run->reports);
    wire_out(r->call, 1 + n + got);
    return -1;
  }
  r->call_len = 1 + n + 8 * words;
  uint64_t t0 = mono_ns();
  int bit = clock_bit(r->rc, sig, n);
  int64_t result;
  if (bit && answer_clock(r, bit, r->call + 1 + n, &result)) {
    put_result(r, result);
    memcpy(r->out.buf, r->call, r->call_len);
    r->out.len = r->call_len;
    report(&r->run->reports, &r->out, result, 0, GRANT_NONE, t0, NULL);
    return 0;
  }
  if (r->rc->dirent_size && is_sig(sig, n, "readdir(p)p") && answer_readdir(r, r->call + 1 + n, &result)) {
    unsigned char res[9] = {'p'};
    memcpy(res + 1, &result, 8);
    guest_put(r, res, 9);
    guest_flush(r);
    memcpy(r->out.buf, r->call, r->call_len);
    r->out.len = r->call_len;
    report(&r->run->reports, &r->out, result, 0, GRANT_NONE, t0, NULL);
    return 0;
  }
  if (r->n_files && answer_file(r, sig, n, r->call + 1 + n, &result)) {
    put_result(r, result);
    memcpy(r->out.buf, r->call, r->call_len);
    r->out.len = r->call_len;
    report(&r->run->reports, &r->out, result, 0, GRANT_NONE, t0, NULL);
    return 0;
  }
  if (is_sig(sig, n, "closedir(p)i") || is_sig(sig, n, "rewinddir(p)v")) forget_stream(r, u64_at(r->call + 1 + n));
  give_back_files(r, strchr(sig, '(') + 1, nkinds, r->call + 1 + n);
  const struct inline_sig *s = inline_sig(r->rc, sig, n);
  if (s && inline_fits(r, s)) {
    unsigned char bad[8 + sizeof r->call];
    switch (inline_paths(r, s, 1 + n, bad)) {
      case PATHS_OK:
        break;
      case PATHS_GUEST_ENDED: /* its call as it came; the controller sees the guest's end */
        start_passthrough(r, r->call, r->call_len);
        return 0;
      case PATHS_BAD_REPLY: /* the call as it came, then the reply: the controller reports it */
        memmove(bad + r->call_len, bad, 8);
        memcpy(bad, r->call, r->call_len);
        start_passthrough(r, bad, r->call_len + 8);
        return 0;
      case PATHS_STALLED:
        protocol_fatal("the guest stalled: it sent none of its reply for the stall time (limits.stallMs)");
    }
    int pbit = path_call_bit(sig, n) & (int)r->rc->path_calls, err, grant;
    char host[PATH_MAX + 1];
    if (pbit && answer_path(r, pbit, r->call + 1 + n, &result, &err, &grant, host)) {
      put_result(r, result);
      report(&r->run->reports, &r->out, result, err, grant, t0, host);
      return 0;
    }
    reports_flush_with(&r->run->reports, r->out.buf, r->out.len);
  } else {
    reports_flush_with(&r->run->reports, r->call, r->call_len);
  }
  return relay_answer(r);
}

/* ---- serving ---- */

/* Bytes while no call is in flight: the controller's end (exit 125) or a protocol error. */
static void controller_spoke(struct relay *r) {
  if (r->passthrough) {
    if (fill(r, &r->from_controller) < 0) controller_gone();
    guest_put(r, r->from_controller.b + r->from_controller.pos, r->from_controller.len - r->from_controller.pos);
    r->from_controller.pos = r->from_controller.len;
    guest_flush(r);
    return;
  }
  if (fill(r, &r->from_controller) < 0) controller_gone();
  protocol_fatal("controller sent bytes while no call was in flight");
}

/* The guest's bytes: calls (relayed one by one), or passed on as they are. */
static void guest_spoke(struct relay *r) {
  if (r->passthrough) {
    if (fill(r, &r->from_guest) == 0) {
      if (!r->deaf) wire_out(r->from_guest.b + r->from_guest.pos, r->from_guest.len - r->from_guest.pos);
      r->from_guest.pos = r->from_guest.len;
    }
    return;
  }
  do {
    if (relay_call(r) < 0) return;
  } while (!r->passthrough && r->from_guest.pos < r->from_guest.len);
}

static int report_timeout(const struct run *run) {
  long age = reports_age_ms(&run->reports);
  if (age < 0) return -1;
  return age >= REPORT_DELAY_MS ? 0 : (int)(REPORT_DELAY_MS - age);
}

void relay_serve(struct run *run, const struct relay_config *rc, struct local *lc, const struct relay_pipes *p,
                 int sock, int pidfd, relay_notified notified, void *ctx,
                 int (*exec_failure)(struct run *run, int sock, int flags)) {
  static struct relay relay; /* large (its buffers): kept off the stack */
  struct relay *r = &relay;
  r->run = run;
  r->rc = rc;
  r->lc = lc;
  r->pending_file.host = -1;
  if (rc->max_io && !(r->io = malloc(rc->max_io))) fatal("malloc");
  r->notified = notified;
  r->ctx = ctx;
  r->from_guest.fd = p->from_guest;
  r->from_controller.fd = 0;
  r->to_guest.fd = p->to_guest;
  fcntl(p->from_guest, F_SETFL, O_NONBLOCK);
  fcntl(p->to_guest, F_SETFL, O_NONBLOCK);
  for (;;) {
    struct pollfd pfd[5] = {{run->listener, POLLIN, 0},
                            {sock, POLLIN, 0},
                            {pidfd, POLLIN, 0},
                            {r->from_guest.eof ? -1 : p->from_guest, POLLIN, 0},
                            {0, POLLIN, 0}};
    int ready = poll(pfd, 5, report_timeout(run));
    if (ready < 0) {
      if (errno == EINTR) continue;
      fatal("poll");
    }
    if (reports_age_ms(&run->reports) >= REPORT_DELAY_MS || (ready == 0 && run->reports.used))
      reports_flush(&run->reports);
    if (pfd[0].revents & POLLIN) notified(ctx);
    if (pfd[0].revents & (POLLHUP | POLLERR)) run->listener = -1;
    if ((pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) && exec_failure(run, sock, 0) == 0) close(sock), sock = -1;
    if (pfd[3].revents & (POLLIN | POLLHUP | POLLERR)) guest_spoke(r);
    if (pfd[4].revents & (POLLIN | POLLHUP | POLLERR)) controller_spoke(r);
    if (pfd[2].revents & POLLIN) {
      if (sock >= 0) exec_failure(run, sock, MSG_DONTWAIT);
      reports_flush(&run->reports);
      int status;
      if (wait_guest(run, run->child, &status) == run->child) pass_on_status(run, status);
      fatal("waitpid");
    }
  }
}
