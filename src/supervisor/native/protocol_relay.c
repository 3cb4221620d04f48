/* The sandboxed PyPy's conversation through the supervisor (see protocol_relay.h). */
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
  if (r->rc->dirent_size && is_sig(sig, n, RELAY_DIR_CALLS_READDIR) && answer_readdir(r, r->call + 1 + n, &result)) {
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
  if (is_sig(sig, n, RELAY_DIR_CALLS_CLOSEDIR) || is_sig(sig, n, RELAY_DIR_CALLS_REWINDDIR))
    forget_stream(r, u64_at(r->call + 1 + n));
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
        guest_stalled(r, 1);
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
