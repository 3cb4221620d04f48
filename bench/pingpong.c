/*
 * The floor for one proxied call on this machine: two processes exchanging the bytes of a
 * getpid()i call (10 bytes) and its answer (9 bytes) over a pair of pipes, N times; and the raw
 * bandwidth of one pipe; and reads answered the protocol's way, one round trip per chunk.
 * Usage: pingpong calls N | pingpong bandwidth BYTES CHUNK | pingpong reads BYTES CHUNK
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>
#include "bench.h"

static void full_read(int fd, void *buf, size_t n) {
  char *p = buf;
  while (n) {
    ssize_t k = read(fd, p, n);
    if (k <= 0) exit(1);
    p += k;
    n -= (size_t)k;
  }
}

static void full_write(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n) {
    ssize_t k = write(fd, p, n);
    if (k <= 0) exit(1);
    p += k;
    n -= (size_t)k;
  }
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "calls") == 0) {
    long n = atol(argv[2]);
    int up[2], down[2];
    if (pipe(up) || pipe(down)) return 1;
    static const char call[10] = "\x09getpid()i";
    char answer[9] = {'i', 0x68, 0x10, 0, 0, 0, 0, 0, 0};
    if (fork() == 0) {
      char buf[10];
      for (long k = 0; k < n; k++) {
        full_read(up[0], buf, 10);
        full_write(down[1], answer, 9);
      }
      _exit(0);
    }
    char buf[9];
    double t0 = now();
    for (long k = 0; k < n; k++) {
      full_write(up[1], call, 10);
      full_read(down[0], buf, 9);
    }
    double t1 = now();
    wait(NULL);
    printf("%.9f\n", (t1 - t0) / n);
    return 0;
  }
  if (argc == 4 && strcmp(argv[1], "bandwidth") == 0) {
    long total = atol(argv[2]), chunk = atol(argv[3]);
    int p[2];
    if (pipe(p)) return 1;
    pipe_size(p[1]); /* as large as the controller's pipes */
    char *buf = calloc(1, (size_t)chunk);
    if (fork() == 0) {
      for (long done = 0; done < total; done += chunk) full_write(p[1], buf, (size_t)chunk);
      _exit(0);
    }
    close(p[1]);
    double t0 = now();
    long got = 0;
    for (;;) {
      ssize_t k = read(p[0], buf, (size_t)chunk);
      if (k <= 0) break;
      got += k;
    }
    double t1 = now();
    wait(NULL);
    printf("%.3f\n", got / (t1 - t0));
    return 0;
  }
  if (argc == 4 && strcmp(argv[1], "reads") == 0) {
    /* The protocol's own floor for reading: the bytes of read(ipi)i calls and of their answers
     * (W ptr size data, then the result), one round trip per chunk, between two C processes. */
    long total = atol(argv[2]), chunk = atol(argv[3]);
    int up[2], down[2];
    if (pipe(up) || pipe(down)) return 1;
    pipe_size(up[1]);
    pipe_size(down[1]);
    static const char sig[] = "read(ipi)i";
    char call[1 + sizeof sig - 1 + 24];
    call[0] = (char)(sizeof sig - 1);
    memcpy(call + 1, sig, sizeof sig - 1);
    memset(call + sizeof sig, 0, 24);
    size_t answer_len = 17 + (size_t)chunk + 9;
    char *answer = calloc(1, answer_len), *buf = calloc(1, answer_len);
    answer[0] = 'W';
    memcpy(answer + 9, &chunk, 8);
    answer[17 + chunk] = 'i';
    memcpy(answer + 18 + chunk, &chunk, 8);
    long n = total / chunk;
    if (fork() == 0) {
      for (long k = 0; k < n; k++) {
        full_read(up[0], buf, sizeof call);
        full_write(down[1], answer, answer_len);
      }
      _exit(0);
    }
    double t0 = now();
    for (long k = 0; k < n; k++) {
      full_write(up[1], call, sizeof call);
      full_read(down[0], buf, answer_len);
    }
    double t1 = now();
    wait(NULL);
    printf("%.3f\n", (double)total / (t1 - t0));
    return 0;
  }
  fprintf(stderr, "usage: pingpong calls N | pingpong bandwidth BYTES CHUNK | pingpong reads BYTES CHUNK\n");
  return 2;
}
