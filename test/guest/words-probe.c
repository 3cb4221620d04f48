/*
 * Drives the supervisor's input parsers (src/supervisor/native/words.c) for the tests, one request
 * per line on stdin, one answer per line on stdout. Every text travels as hex, so any byte can be
 * given; the answers are compared with a reference written in TypeScript.
 *
 *   u MAX TEXT               parse_uint            -> the value, or "refused"
 *   f SEP COUNT MAX TEXT     parse_uint_fields     -> the values separated by spaces, or "refused"
 *   x N TEXT                 hex_bytes (N bytes)   -> the bytes as hex, or "refused"
 *   r MAX EMPTY STREAM       read_words from a pipe holding STREAM, then its end
 *                                                  -> "ok N" and the words as hex, or the status
 *   b WORD...                frame_add, write_frame to a pipe -> the bytes written, as hex
 *
 * MAX, N, COUNT and EMPTY are decimal; SEP, TEXT, STREAM and WORD are hex ("-" for empty).
 */
#include "../../src/supervisor/native/words.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The probe's own hex decoding of its input, kept apart from the hex_bytes under test. */
static size_t unhex(const char *in, char *out) {
  size_t n = 0;
  if (strcmp(in, "-") == 0) return 0;
  for (; in[0] && in[1]; in += 2) {
    unsigned v;
    sscanf(in, "%2x", &v);
    out[n++] = (char)v;
  }
  return n;
}

static void print_hex(const unsigned char *p, size_t n) {
  if (!n) putchar('-');
  for (size_t k = 0; k < n; k++) printf("%02x", p[k]);
}

static const char *status_name(enum frame_status s) {
  static const char *const names[] = {"ok", "none", "cut", "io", "too-big", "empty", "unended", "memory"};
  return names[s];
}

static void probe_uint(char **arg) {
  static char text[1 << 16];
  size_t n = unhex(arg[1], text);
  text[n] = 0;
  uint64_t v;
  if (parse_uint(text, strtoull(arg[0], NULL, 10), &v) < 0) printf("refused\n");
  else printf("%llu\n", (unsigned long long)v);
}

static void probe_fields(char **arg) {
  static char sep[4], text[1 << 16];
  unhex(arg[0], sep);
  size_t count = strtoull(arg[1], NULL, 10), n = unhex(arg[3], text);
  text[n] = 0;
  uint64_t v[16];
  if (count > 16 || parse_uint_fields(text, sep[0], count, strtoull(arg[2], NULL, 10), v) < 0) {
    printf("refused\n");
    return;
  }
  for (size_t k = 0; k < count; k++) printf("%s%llu", k ? " " : "", (unsigned long long)v[k]);
  printf("\n");
}

static void probe_hex(char **arg) {
  static char text[1 << 16];
  static unsigned char out[1 << 15];
  size_t want = strtoull(arg[0], NULL, 10), n = unhex(arg[1], text);
  text[n] = 0;
  /* hex_bytes reads exactly 2N characters: the caller has checked the length, as local.h does. */
  if (want > sizeof out || n != 2 * want || hex_bytes(text, want, out) < 0) printf("refused\n");
  else print_hex(out, want), printf("\n");
}

static void probe_read(char **arg) {
  static char stream[1 << 17];
  size_t n = unhex(arg[2], stream);
  int p[2];
  if (pipe(p) < 0 || write(p[1], stream, n) != (ssize_t)n) exit(3);
  close(p[1]);
  struct words w;
  enum frame_status s = read_words(p[0], (uint32_t)strtoull(arg[0], NULL, 10), atoi(arg[1]), &w);
  close(p[0]);
  if (s != FRAME_OK) {
    printf("%s\n", status_name(s));
    return;
  }
  printf("ok %zu", w.n);
  for (size_t k = 0; k < w.n; k++) putchar(' '), print_hex((unsigned char *)w.word[k], strlen(w.word[k]));
  printf(w.word[w.n] == NULL ? "\n" : " unterminated-list\n");
  free_words(&w);
}

static void probe_build(char **arg, int n_args) {
  static char word[1 << 16];
  static unsigned char back[1 << 17];
  struct frame f = {0};
  for (int k = 0; k < n_args; k++) {
    size_t n = unhex(arg[k], word);
    word[n] = 0;
    frame_add(&f, word);
  }
  int p[2];
  if (pipe(p) < 0) exit(3);
  if (write_frame(p[1], &f) < 0) exit(3);
  close(p[1]);
  ssize_t got = read_full(p[0], back, sizeof back);
  close(p[0]);
  print_hex(back, got > 0 ? (size_t)got : 0);
  printf("\n");
}

int main(void) {
  static char line[1 << 18];
  while (fgets(line, sizeof line, stdin)) {
    char *arg[64];
    int n = 0;
    for (char *t = strtok(line, " \n"); t && n < 64; t = strtok(NULL, " \n")) arg[n++] = t;
    if (n == 0) continue;
    if (strcmp(arg[0], "u") == 0 && n == 3) probe_uint(arg + 1);
    else if (strcmp(arg[0], "f") == 0 && n == 5) probe_fields(arg + 1);
    else if (strcmp(arg[0], "x") == 0 && n == 3) probe_hex(arg + 1);
    else if (strcmp(arg[0], "r") == 0 && n == 4) probe_read(arg + 1);
    else if (strcmp(arg[0], "b") == 0) probe_build(arg + 1, n - 1);
    else printf("bad request\n");
    fflush(stdout);
  }
  return 0;
}
