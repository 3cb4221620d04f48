/* The note lines on descriptor 3 (see notes.h). */
#include "notes.h"

#include <stdio.h>
#include <unistd.h>

void note(const struct notes *n, const char *fmt, const char *a, unsigned long long b) {
  if (n->fd < 0) return;
  char line[512];
  int len = snprintf(line, sizeof line, fmt, a, b);
  if (len > 0) (void)!write(n->fd, line, (size_t)len < sizeof line ? (size_t)len : sizeof line - 1);
}

void say_start_failed(const struct notes *n, const char *text, int err) {
  /* A note is one line of printable ASCII, short enough for note(): a path may be neither. */
  char line[400];
  size_t k = 0;
  for (; text[k] && k < sizeof line - 1; k++) line[k] = text[k] >= 0x20 && text[k] <= 0x7e ? text[k] : '?';
  line[k] = 0;
  if (n->fd >= 0) note(n, NOTE_START_FAILED " %s %llu\n", line, (unsigned long long)err);
  else fprintf(stderr, "pypy-box-supervisor: %s\n", text);
}
