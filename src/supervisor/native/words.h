/*
 * The supervisor's own input, parsed in one place: the word frame (u32 length, then that many
 * bytes of NUL-terminated words) that carries the configuration (--config-stdin), the start
 * message (--standby) and a waiting child's run (the go message), and unsigned decimal numbers.
 * Whatever arrives here may come from a confused controller or a corrupt pipe: every length is
 * bounded, every word ends inside the frame, every number is checked.
 */
#ifndef PYPY_BOX_WORDS_H
#define PYPY_BOX_WORDS_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "contract.h"

/* The largest frame either side sends or accepts is MAX_FRAME (contract.h). */

/*
 * Unsigned decimal: one or more digits, nothing else (no sign, space, prefix or suffix), at most
 * `max`. Returns 0 with *out set, or -1.
 */
int parse_uint(const char *s, uint64_t max, uint64_t *out);

/*
 * Like parse_uint for the first n bytes of s (a field inside a word, e.g. before a ':'), of at
 * most 23 characters (a u64 has 20 digits).
 */
int parse_uint_n(const char *s, size_t n, uint64_t max, uint64_t *out);

/* Exactly `count` numbers separated by `sep` ("1000:1000", "0,0,0,0"), each at most max. */
int parse_uint_fields(const char *s, char sep, size_t count, uint64_t max, uint64_t *out);

/* Exactly n bytes from the 2n hex digits at hex (the caller has checked there are 2n chars). */
int hex_bytes(const char *hex, size_t n, unsigned char *out);

/* An environment word: NAME=VALUE with a non-empty name. */
int env_word_ok(const char *word);

/* A frame split into words; `word` has n + 1 slots, the last NULL. Both point into `buf`. */
struct words {
  char *buf;
  char **word;
  size_t n;
};

/* Why a frame was refused (FRAME_OK: it was not). */
enum frame_status {
  FRAME_OK,
  FRAME_NONE,    /* end of input before the first byte: nothing was sent */
  FRAME_CUT,     /* end of input inside the frame */
  FRAME_IO,      /* a read error */
  FRAME_TOO_BIG, /* longer than the caller's maximum */
  FRAME_EMPTY,   /* length 0 where words are required */
  FRAME_UNENDED, /* the last word does not end with NUL */
  FRAME_MEMORY,  /* no memory for it */
};

const char *frame_error(enum frame_status s);

/* Reads exactly n bytes; returns how many arrived before end of input (n when all), -1 on error. */
ssize_t read_full(int fd, void *p, size_t n);

/*
 * Reads one frame from fd and splits it. `max` bounds its length (at most MAX_FRAME);
 * `allow_empty` accepts length 0 (no words). On success the caller owns out->buf and out->word.
 */
enum frame_status read_words(int fd, uint32_t max, int allow_empty, struct words *out);

void free_words(struct words *w);

/* A frame being built (u32 length first), for write_frame. */
struct frame {
  char *buf;
  size_t len, cap; /* len counts the 4 length bytes */
  int too_big;
};

/* Appends one word; a frame that would pass MAX_FRAME is marked too big and stays as it was. */
void frame_add(struct frame *f, const char *word);

/* Writes the frame and frees it. Returns 0, or -1 (too big, out of memory or a write error). */
int write_frame(int fd, struct frame *f);
#endif
