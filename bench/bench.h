/* What the bench's C programs share: a clock and the pipes' size. */
#ifndef PYPY_BOX_BENCH_H
#define PYPY_BOX_BENCH_H
#define _GNU_SOURCE
#include <fcntl.h>
#include <time.h>

static inline double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

/* As large as the supervisor makes its pipes to the controller: 2 MiB where allowed, else 1 MiB. */
static inline void pipe_size(int fd) {
  if (fcntl(fd, F_SETPIPE_SZ, 2 << 20) < 0) fcntl(fd, F_SETPIPE_SZ, 1 << 20);
}
#endif
