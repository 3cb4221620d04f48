/*
 * The floor for a sandboxed PyPy run: the simplest controller there can be. It runs the binary
 * and answers its calls from a recording of the same run under pypy-box (the bytes each side
 * sent, in order), so what is left is the guest's own work and the pipes between the two.
 *
 * Usage:
 *   replay exec BINARY ARGV0 [ARGS...]   run BINARY with address-space randomisation off and the
 *                                        given argv[0] (how the recorded run is started: the
 *                                        guest's pointers are then the same in every run)
 *   replay play LOG BINARY               replay LOG against BINARY, started the same way with the
 *                                        recorded arguments and an empty environment
 *
 * LOG: u32 argc, then argc NUL-terminated words (argv[0] first); then records of u8 direction
 * ('<' the guest sent, '>' the controller sent), u32 length, the bytes. Numbers little-endian.
 * play prints: wall µs, guest CPU µs, own CPU µs, and the offset of the first byte the guest sent
 * that differs from the recording (-1 when none: the replay was faithful).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "bench.h"

static int full_read(int fd, void *buf, size_t n) {
  char *p = buf;
  while (n) {
    ssize_t k = read(fd, p, n);
    if (k <= 0) return -1;
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

static int full_write(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n) {
    ssize_t k = write(fd, p, n);
    if (k <= 0) return -1;
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

static void exec_fixed(const char *binary, char **argv, char **envp) {
  if (personality(ADDR_NO_RANDOMIZE) < 0) perror("replay: personality");
  execve(binary, argv, envp);
  perror("replay: execve");
  _exit(127);
}

static char *read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) exit(1);
  fclose(f);
  *size = (size_t)n;
  return buf;
}

static uint32_t u32(const char *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

static int play(const char *log_path, const char *binary) {
  size_t size;
  char *log = read_file(log_path, &size);
  if (!log || size < 4) {
    fprintf(stderr, "replay: cannot read %s\n", log_path);
    return 1;
  }
  uint32_t argc = u32(log);
  size_t off = 4;
  char **argv = calloc(argc + 1, sizeof(char *));
  for (uint32_t k = 0; k < argc; k++) {
    argv[k] = log + off;
    off += strlen(log + off) + 1;
  }
  char *envp[] = {NULL};
  char *scratch = malloc(size);
  int up[2], down[2];
  if (pipe2(up, O_CLOEXEC) || pipe2(down, O_CLOEXEC)) return 1;
  pipe_size(up[1]);
  pipe_size(down[1]);
  double t0 = now();
  pid_t pid = fork();
  if (pid == 0) {
    dup2(down[0], 0);
    dup2(up[1], 1);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 2);
    exec_fixed(binary, argv, envp);
  }
  close(down[0]);
  close(up[1]);
  long long differs = -1, seen = 0;
  while (off + 5 <= size) {
    char dir = log[off];
    uint32_t n = u32(log + off + 1);
    const char *bytes = log + off + 5;
    off += 5 + n;
    if (dir == '<') {
      if (full_read(up[0], scratch, n) < 0) break;
      if (differs < 0 && memcmp(scratch, bytes, n) != 0) {
        for (uint32_t k = 0; k < n; k++) {
          if (scratch[k] != bytes[k]) {
            differs = seen + k;
            break;
          }
        }
      }
      seen += n;
    } else if (full_write(down[1], bytes, n) < 0) break;
  }
  close(down[1]);
  /* Whatever the guest still sends (nothing, when the replay was faithful) until it exits. */
  while (read(up[0], scratch, size) > 0) {
  }
  int status;
  struct rusage guest, self;
  wait4(pid, &status, 0, &guest);
  double wall = now() - t0;
  getrusage(RUSAGE_SELF, &self);
  double gcpu = guest.ru_utime.tv_sec + guest.ru_stime.tv_sec + (guest.ru_utime.tv_usec + guest.ru_stime.tv_usec) / 1e6;
  double scpu = self.ru_utime.tv_sec + self.ru_stime.tv_sec + (self.ru_utime.tv_usec + self.ru_stime.tv_usec) / 1e6;
  printf("%.0f %.0f %.0f %lld %d\n", wall * 1e6, gcpu * 1e6, scpu * 1e6, differs,
         WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "exec") == 0) {
    char *envp[] = {NULL};
    exec_fixed(argv[2], argv + 3, envp);
  }
  if (argc == 4 && strcmp(argv[1], "play") == 0) return play(argv[2], argv[3]);
  fprintf(stderr, "usage: replay exec BINARY ARGV0 [ARGS...] | replay play LOG BINARY\n");
  return 2;
}
