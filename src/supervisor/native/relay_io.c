/* The relay's waits and byte moves (see relay_state.h). */
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
#include "notes.h"
#include "reports.h"
#include "wire.h"
#include "words.h"

/* Payloads from this size on are spliced, at most MAX_SPLICE bytes a call. */
#define SPLICE_FROM (64 * 1024)
#define MAX_SPLICE (1 << 20)

/* ---- waiting, reading and writing ---- */

/*
 * Until fd is ready for `events`, answering the strict filter meanwhile: 0, or -1 when `patience_ms`
 * (>= 0) went by first.
 */
int wait_for(struct relay *r, int fd, short events, int patience_ms) {
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
int fill_within(struct relay *r, struct inbuf *in, int patience_ms) {
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

int fill(struct relay *r, struct inbuf *in) {
  return fill_within(r, in, -1);
}

/*
 * Exactly n bytes from `in`: 0, -1 at its end, or -2 when a wait for more went past `patience_ms`
 * (>= 0; -1: no bound). What came is in dst, *got bytes of it.
 */
int take_within(struct relay *r, struct inbuf *in, void *dst, size_t n, size_t *got, int patience_ms) {
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

int take(struct relay *r, struct inbuf *in, void *dst, size_t n, size_t *got) {
  return take_within(r, in, dst, n, got, -1);
}

void write_all(struct relay *r, int fd, const unsigned char *p, size_t n) {
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
      if (wait_for(r, fd, POLLOUT, r->rc->stall_ms) < 0) guest_stalled(r, 0);
      continue;
    }
    return; /* the guest is gone (EPIPE): its end is reported from its exit */
  }
}

void guest_flush(struct relay *r) {
  write_all(r, r->to_guest.fd, r->to_guest.b, r->to_guest.len);
  r->to_guest.len = 0;
}

void guest_put(struct relay *r, const void *p, size_t n) {
  if (r->to_guest.len + n > sizeof r->to_guest.b) guest_flush(r);
  if (n > sizeof r->to_guest.b) {
    write_all(r, r->to_guest.fd, p, n);
    return;
  }
  memcpy(r->to_guest.b + r->to_guest.len, p, n);
  r->to_guest.len += n;
}

/* The controller's bytes: its end ends the run (controller_gone). */
void from_controller(struct relay *r, void *dst, size_t n) {
  if (take(r, &r->from_controller, dst, n, NULL) < 0) controller_gone();
}

/* n bytes of the guest's reply passed on to the controller: 0, or -1 when the guest ended first. */
int pass_reply(struct relay *r, uint64_t n) {
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

/*
 * Moves n bytes from the controller's stream to the guest's pipe in the kernel (splice), without a
 * copy here; returns what is left when splice cannot serve these descriptors (then copied).
 */
static uint64_t splice_to_guest(struct relay *r, uint64_t n) {
  while (n) {
    /* Never a wait in the kernel (a pipe-to-pipe splice waits there whatever the descriptors'
     * flags): every wait is wait_for's, bounded by the stall time and serving the strict filter. */
    size_t want = n < MAX_SPLICE ? (size_t)n : MAX_SPLICE;
    ssize_t k = splice(0, NULL, r->to_guest.fd, NULL, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (k > 0) {
      n -= (uint64_t)k;
      continue;
    }
    if (k == 0) controller_gone();
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      /* Either the guest's pipe is full (a guest that reads none of it is stalled), or the rest of
       * the controller's answer has not arrived yet: then wait for it (polling the guest's side,
       * which has room, would spin), its end being controller_gone above. */
      struct pollfd room = {r->to_guest.fd, POLLOUT, 0};
      if (poll(&room, 1, 0) == 1 && room.revents == POLLOUT) (void)wait_for(r, 0, POLLIN, -1);
      else if (wait_for(r, r->to_guest.fd, POLLOUT, r->rc->stall_ms) < 0) guest_stalled(r, 0);
      continue;
    }
    if (errno == EPIPE) { /* the guest is gone: the rest is read and dropped, its end told from its exit */
      static unsigned char sink[BUF_BYTES];
      while (n) {
        size_t d = n < sizeof sink ? (size_t)n : sizeof sink;
        from_controller(r, sink, d);
        n -= d;
      }
      return 0;
    }
    return n; /* EINVAL: descriptors splice does not take */
  }
  return 0;
}

/* n bytes of the controller's command passed on to the guest. */
void pass_payload(struct relay *r, uint64_t n) {
  static unsigned char chunk[BUF_BYTES];
  /* What was read ahead goes first; a large rest goes pipe to pipe. */
  size_t ahead = r->from_controller.len - r->from_controller.pos;
  if (n >= SPLICE_FROM && ahead < n) {
    guest_put(r, r->from_controller.b + r->from_controller.pos, ahead);
    r->from_controller.pos = r->from_controller.len;
    n -= ahead;
    guest_flush(r);
    n = splice_to_guest(r, n);
  }
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
void start_passthrough(struct relay *r, const void *head, size_t n) {
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

void guest_stalled(const struct relay *r, int in_reply) {
  note(&r->run->notes, NOTE_STALLED " %s %llu\n", in_reply ? "reply" : "answer", (unsigned long long)r->rc->stall_ms);
  guest_broke(&r->run->notes, in_reply ? "the guest stalled: it sent none of its reply for the stall time"
                                       : "the guest stalled: it read none of its answer for the stall time");
}
