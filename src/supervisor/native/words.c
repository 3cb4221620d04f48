/* The supervisor's own input: word frames and numbers (interface: words.h). */
#include "words.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * Unsigned decimal: one or more digits, nothing else (no sign, space, prefix or suffix), at most
 * `max`. Returns 0 with *out set, or -1.
 */
int parse_uint(const char *s, uint64_t max, uint64_t *out) {
  if (!s || !*s) return -1;
  uint64_t v = 0;
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9') return -1;
    unsigned d = (unsigned)(*p - '0');
    if (v > (UINT64_MAX - d) / 10) return -1;
    v = v * 10 + d;
  }
  if (v > max) return -1;
  *out = v;
  return 0;
}

/*
 * Like parse_uint for the first n bytes of s (a field inside a word, e.g. before a ':'), of at
 * most 23 characters (a u64 has 20 digits).
 */
int parse_uint_n(const char *s, size_t n, uint64_t max, uint64_t *out) {
  char field[24];
  if (n == 0 || n >= sizeof field || memchr(s, 0, n)) return -1;
  memcpy(field, s, n);
  field[n] = 0;
  return parse_uint(field, max, out);
}

/* Exactly `count` numbers separated by `sep` ("1000:1000", "0,0,0,0"), each at most max. */
int parse_uint_fields(const char *s, char sep, size_t count, uint64_t max, uint64_t *out) {
  for (size_t k = 0; k < count; k++) {
    const char *end = strchr(s, k + 1 < count ? sep : '\0');
    if (!end || parse_uint_n(s, (size_t)(end - s), max, &out[k]) < 0) return -1;
    s = end + 1;
  }
  return 0;
}

/* One hex digit's value, or -1. */
static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Exactly n bytes from the 2n hex digits at hex (the caller has checked there are 2n chars). */
int hex_bytes(const char *hex, size_t n, unsigned char *out) {
  for (size_t k = 0; k < n; k++) {
    int hi = hex_digit(hex[2 * k]), lo = hi < 0 ? -1 : hex_digit(hex[2 * k + 1]);
    if (lo < 0) return -1;
    out[k] = (unsigned char)(hi << 4 | lo);
  }
  return 0;
}

/* An environment word: NAME=VALUE with a non-empty name. */
int env_word_ok(const char *word) {
  const char *eq = strchr(word, '=');
  return eq && eq != word;
}

const char *frame_error(enum frame_status s) {
  switch (s) {
    case FRAME_OK:
      return "no error";
    case FRAME_NONE:
      return "no message";
    case FRAME_CUT:
      return "message cut short";
    case FRAME_IO:
      return "read error";
    case FRAME_TOO_BIG:
      return "message too large";
    case FRAME_EMPTY:
      return "empty message";
    case FRAME_UNENDED:
      return "message does not end with NUL";
    case FRAME_MEMORY:
      return "out of memory";
  }
  return "bad message";
}

ssize_t read_full(int fd, void *p, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t k = read(fd, (char *)p + got, n - got);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return -1;
    if (k == 0) break;
    got += (size_t)k;
  }
  return (ssize_t)got;
}

/*
 * Splits len bytes (len <= MAX_FRAME) into words: every word ends with a NUL inside the frame, so
 * the count is exactly the number of NULs and no word runs past the end.
 */
static enum frame_status split_words(char *buf, size_t len, struct words *out) {
  if (len && buf[len - 1] != 0) return FRAME_UNENDED;
  size_t n = 0;
  for (size_t k = 0; k < len; k++) n += buf[k] == 0;
  char **word = malloc((n + 1) * sizeof *word);
  if (!word) return FRAME_MEMORY;
  size_t w = 0;
  for (size_t at = 0; at < len; at += strlen(buf + at) + 1) word[w++] = buf + at;
  word[w] = NULL;
  out->buf = buf;
  out->word = word;
  out->n = n;
  return FRAME_OK;
}

/*
 * Reads one frame from fd and splits it. `max` bounds its length (at most MAX_FRAME);
 * `allow_empty` accepts length 0 (no words). On success the caller owns out->buf and out->word.
 */
enum frame_status read_words(int fd, uint32_t max, int allow_empty, struct words *out) {
  memset(out, 0, sizeof *out);
  uint32_t len;
  ssize_t got = read_full(fd, &len, sizeof len);
  if (got < 0) return FRAME_IO;
  if (got == 0) return FRAME_NONE;
  if (got < (ssize_t)sizeof len) return FRAME_CUT;
  if (len > max || len > MAX_FRAME) return FRAME_TOO_BIG;
  if (len == 0 && !allow_empty) return FRAME_EMPTY;
  char *buf = malloc(len ? len : 1);
  if (!buf) return FRAME_MEMORY;
  got = read_full(fd, buf, len);
  enum frame_status s = got < 0 ? FRAME_IO : (size_t)got < len ? FRAME_CUT : split_words(buf, len, out);
  if (s != FRAME_OK) free(buf);
  return s;
}

void free_words(struct words *w) {
  free(w->word);
  free(w->buf);
  memset(w, 0, sizeof *w);
}

/* Appends one word; a frame that would pass MAX_FRAME is marked too big and stays as it was. */
void frame_add(struct frame *f, const char *word) {
  size_t n = strlen(word) + 1;
  if (f->too_big) return;
  if (!f->buf) f->len = 4;
  if (n > MAX_FRAME || f->len - 4 + n > MAX_FRAME) {
    f->too_big = 1;
    return;
  }
  if (f->len + n > f->cap) {
    size_t cap = f->cap ? f->cap : 256;
    while (cap < f->len + n) cap *= 2;
    char *grown = realloc(f->buf, cap);
    if (!grown) {
      f->too_big = 1;
      return;
    }
    f->buf = grown;
    f->cap = cap;
  }
  memcpy(f->buf + f->len, word, n);
  f->len += n;
}

/* Writes the frame and frees it. Returns 0, or -1 (too big, out of memory or a write error). */
int write_frame(int fd, struct frame *f) {
  int rc = f->too_big ? -1 : 0;
  if (!rc && !f->buf) f->buf = calloc(1, 4), f->len = 4; /* no words: length 0 */
  if (!rc && !f->buf) rc = -1;
  if (!rc) {
    uint32_t body = (uint32_t)(f->len - 4);
    memcpy(f->buf, &body, 4);
  }
  for (size_t done = 0; !rc && done < f->len;) {
    ssize_t k = write(fd, f->buf + done, f->len - done);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) rc = -1;
    else done += (size_t)k;
  }
  free(f->buf);
  memset(f, 0, sizeof *f);
  return rc;
}
