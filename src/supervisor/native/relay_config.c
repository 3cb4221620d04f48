/* The relay's configuration and its pipes (see relay_state.h). */
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

/* A signature the relay knows by name, and its bit. */
struct sig_bit {
  const char *sig;
  unsigned bit;
};

static int bit_of(const struct sig_bit *table, size_t count, const char *sig, size_t n) {
  for (size_t k = 0; k < count; k++)
    if (strlen(table[k].sig) == n && memcmp(table[k].sig, sig, n) == 0) return (int)table[k].bit;
  return 0;
}

int clock_call_bit(const char *sig, size_t n) {
  static const struct sig_bit CLOCK_SIGS[] = {{RELAY_CLOCK_CALLS_TIME, CLOCK_CALL_TIME},
                                              {RELAY_CLOCK_CALLS_GETTIMEOFDAY, CLOCK_CALL_GETTIMEOFDAY},
                                              {RELAY_CLOCK_CALLS_CLOCK_GETTIME, CLOCK_CALL_CLOCK_GETTIME}};
  return bit_of(CLOCK_SIGS, sizeof CLOCK_SIGS / sizeof CLOCK_SIGS[0], sig, n);
}

int path_call_bit(const char *sig, size_t n) {
  static const struct sig_bit PATH_SIGS[] = {{RELAY_PATH_CALLS_STAT64, PATH_CALL_STAT64},
                                             {RELAY_PATH_CALLS_LSTAT64, PATH_CALL_LSTAT64},
                                             {RELAY_PATH_CALLS_ACCESS, PATH_CALL_ACCESS},
                                             {RELAY_PATH_CALLS_OPEN, PATH_CALL_OPEN}};
  return bit_of(PATH_SIGS, sizeof PATH_SIGS / sizeof PATH_SIGS[0], sig, n);
}

/* SIG,SIG...: each one's bit by `group_bit` (clock_call_bit, path_call_bit), into *bits. */
static int calls_option(unsigned *bits, const char *list, int (*group_bit)(const char *sig, size_t n)) {
  const char *s = list;
  while (*s) {
    const char *e = strchr(s, ',');
    size_t n = e ? (size_t)(e - s) : strlen(s);
    int bit = group_bit(s, n);
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
    if (!colon || (size_t)(colon - v) >= sizeof offset) return -1;
    memcpy(offset, v, (size_t)(colon - v));
    offset[colon - v] = 0;
    if (parse_i64(offset, &rc->real_offset_ns) < 0 || parse_uint(colon + 1, INT64_MAX, &rc->mono_start_ns) < 0)
      return -1;
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
