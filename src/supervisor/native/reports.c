/* Reports of calls answered here (see reports.h). */
#include "reports.h"

#include <string.h>

uint64_t mono_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

void reports_flush(struct reports *r) {
  if (!r->used) return;
  wire_out(r->buf, r->used);
  r->used = 0;
}

void reports_flush_with(struct reports *r, const void *msg, size_t n) {
  if (r->used + n <= REPORT_BUF) {
    memcpy(r->buf + r->used, msg, n);
    r->used += n;
    reports_flush(r);
    return;
  }
  reports_flush(r);
  wire_out(msg, n);
}

/* A grant as the wire carries it: its index, or a report code (anything else would be a bug: none). */
static uint16_t grant_code(int grant) {
  if (grant < GRANT_OWN_TREE) grant = GRANT_NONE;
  return GRANT_WIRE(grant);
}

void report(struct reports *r, const struct call *c, int64_t result, int32_t err, int grant, uint64_t t0,
            const char *host) {
  size_t hlen = host ? strlen(host) : 0;
  size_t need = 1 + c->len + 8 + 4 + 2 + 8 + 4 + 2 + hlen;
  if (r->used + need > REPORT_BUF) reports_flush(r);
  if (!r->used) clock_gettime(CLOCK_MONOTONIC, &r->since);
  unsigned char *p = r->buf + r->used;
  uint16_t g = grant_code(grant), hl = (uint16_t)hlen;
  uint32_t spent = (uint32_t)(mono_ns() - t0);
  *p++ = REPORT_MARKER;
  memcpy(p, c->buf, c->len), p += c->len;
  memcpy(p, &result, 8), p += 8;
  memcpy(p, &err, 4), p += 4;
  memcpy(p, &g, 2), p += 2;
  memcpy(p, &t0, 8), p += 8;
  memcpy(p, &spent, 4), p += 4;
  memcpy(p, &hl, 2), p += 2;
  if (hlen) memcpy(p, host, hlen); /* none: host may be NULL */
  r->used += need;
}

long reports_age_ms(const struct reports *r) {
  if (!r->used) return -1;
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec - r->since.tv_sec) * 1000 + (now.tv_nsec - r->since.tv_nsec) / 1000000;
}
