/*
 * The sandboxed PyPy's conversation through the supervisor (--relay-calls, launcher mode): the
 * guest's standard streams are pipes to the supervisor, which reads each call and
 *   - answers the clock calls itself, from the controller's clock (offset and start handed over),
 *     and reports them to the controller afterwards like a stock guest's local answers;
 *   - reads the path arguments of the calls the controller named (kind 'p' that it reads as a
 *     path) from the guest at once ('Z', one round trip between two C processes) and sends them
 *     along with the call (kind 's'), so that the controller's answer needs no round trip of its own
 *     for them;
 *   - passes everything else on unchanged, and the controller's commands and the guest's replies
 *     between them, byte for byte.
 * A call it cannot read as one (bad framing) and everything after it go through untouched, so the
 * controller sees the guest's own bytes and ends the run with its own error.
 */
#ifndef PYPY_BOX_PROTOCOL_RELAY_H
#define PYPY_BOX_PROTOCOL_RELAY_H
#include <stddef.h>
#include <stdint.h>

#include "delegation.h"
#include "state.h"

#define RELAY_MAX_INLINE 64

/* A signature whose path arguments go along with the call: `relayed` is `sig` with those 'p' as 's'. */
struct inline_sig {
  char sig[256];
  char relayed[256];
  size_t len;
};

/* What the controller hands over in its configuration (words below; see relay_option). */
struct relay_config {
  int on;        /* --relay-calls on the command line */
  int configure; /* --config-stdin: the words below come on stdin, read once the guest is starting */
  struct inline_sig inline_sigs[RELAY_MAX_INLINE];
  size_t n_inline;
  unsigned clock_calls;   /* CLOCK_CALL_* bits: answered here */
  unsigned path_calls;    /* PATH_CALL_* bits: answered here from the names handed over (delegation.h) */
  int64_t real_offset_ns; /* the virtual realtime clock less the host's (ms-truncated) */
  uint64_t mono_start_ns; /* CLOCK_MONOTONIC when the controller's clock started */
  uint64_t max_path;      /* the longest path read (the controller's path limit, NUL included) */
  uint64_t dirent_size;   /* --dir-streams N: readdir answered from opendir's listing, N bytes a record */
  uint64_t max_io;        /* --host-files N: read-only host files read here, at most N bytes a read */
  int stall_ms; /* --stall-ms N: how long the guest may owe a reply or leave an answer unread (-1: no bound) */
};

#define CLOCK_CALL_TIME 1u
#define CLOCK_CALL_GETTIMEOFDAY 2u
#define CLOCK_CALL_CLOCK_GETTIME 4u
#define PATH_CALL_STAT64 1u
#define PATH_CALL_LSTAT64 2u
#define PATH_CALL_ACCESS 4u
#define PATH_CALL_OPEN 8u /* only a read-only open of a missing name (ENOENT, or EACCES outside) */

void relay_init(struct relay_config *rc);

/*
 * A configuration word of the relay: --inline SIG RELAYED, --clock-calls SIG,SIG..., --path-calls SIG,...,
 * --clock OFFSET_NS:START_NS, --relay-max-path N, --dir-streams DIRENT_SIZE,
 * --host-files MAX_IO, --stall-ms N (0: no bound). Returns 1 (consumed; *k on its last word), 0 (not
 * one of them) or -1 (a bad value).
 */
int relay_option(struct relay_config *rc, int argc, char **argv, int *k);

/* The guest's ends of its two pipes and the supervisor's, made before the fork. */
struct relay_pipes {
  int guest_in, guest_out; /* the guest's stdin (read end) and stdout (write end) */
  int to_guest, from_guest;
};

/* Makes the pipes (close-on-exec; the child puts its ends on 0 and 1). Fatal on failure. */
void relay_pipes_make(struct relay_pipes *p);

/* Called while the relay waits on the guest: a notification of the strict filter is ready. */
typedef void (*relay_notified)(void *ctx);

/*
 * Serves the conversation until the guest ends (the names handed over in `lc`), along with the strict filter's notifications
 * (`notified`), the child's exec failure (`sock`) and its end (`pidfd`). Never returns.
 */
__attribute__((noreturn)) void relay_serve(struct run *run, const struct relay_config *rc, struct local *lc,
                                           const struct relay_pipes *p, int sock, int pidfd, relay_notified notified,
                                           void *ctx, int (*exec_failure)(struct run *run, int sock, int flags));
#endif
