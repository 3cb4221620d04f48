/*
 * The `pypy-box` command (its `bin` script runs this when it is built). `interact` goes to the
 * warm worker of this context's command server when there is one, and starts one for the next
 * run when there is none; everything else, and every run the server cannot take, is the command
 * itself executed in Node, exactly as without the client.
 *
 * PYPY_BOX_SERVER: `off` never uses a server; `wait` (tests, benchmarks) starts one if needed
 * and waits for it instead of running this command cold, and fails when no server can be used;
 * anything else is `auto`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

/* How long `wait` gives a starting server (Node's start and the worker's modules). */
#define WAIT_FOR_SERVER_MS 20000

/* The command in Node, as if the client were not there. */
static void run_cold(const struct server_place *place, int argc, char **argv) {
  char **args = calloc((size_t)argc + 2, sizeof *args);
  if (!args) _exit(70);
  args[0] = "node";
  args[1] = (char *)place->entry;
  for (int i = 1; i < argc; i++) args[i + 1] = argv[i];
  if (place->node[0]) execv(place->node, args);
  execvp("node", args);
  fprintf(stderr, "pypy-box: cannot run node: %s\n", strerror(errno));
  exit(127);
}

/* Everything but the standard streams and fd 3 closed: a server must not keep a caller's pipes open. */
static void close_other_descriptors(void) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, 4U, ~0U, 0U) == 0) return;
#endif
  for (int fd = 4; fd < 65536; fd++) close(fd);
}

void start_server(const struct server_place *place) {
  pid_t first = fork();
  if (first < 0) return;
  if (first == 0) {
    if (setsid() < 0 || fork() != 0) _exit(0);
    int null = open("/dev/null", O_RDWR);
    if (null < 0) _exit(1);
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    /* The checked directory is the server's fd 3: it listens through it, as clients connect. */
    if (place->dir_fd == 3 ? fcntl(3, F_SETFD, 0) < 0 : dup2(place->dir_fd, 3) < 0) _exit(1);
    close_other_descriptors();
    char *args[] = {"node", (char *)place->entry, "--server", (char *)place->socket, "--dir-fd", "3", NULL};
    execv(place->node, args);
    _exit(127);
  }
  while (waitpid(first, NULL, 0) < 0 && errno == EINTR) {
  }
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int wait_for_server(const struct server_place *place) {
  long until = now_ms() + WAIT_FOR_SERVER_MS;
  int fd;
  while ((fd = connect_server(place)) < 0 && now_ms() < until) usleep(10000);
  return fd;
}

int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int main(int argc, char **argv) {
  struct server_place place = {0};
  const char *mode = getenv("PYPY_BOX_SERVER");
  int off = mode && strcmp(mode, "off") == 0, wait = mode && strcmp(mode, "wait") == 0;
  if (find_command(&place) != 0) {
    fprintf(stderr, "pypy-box: the command's files are missing beside %s\n", argv[0]);
    return 127;
  }
  /* Only interact runs go to a server: the other commands are short, or serve for long. */
  if (off || argc < 2 || strcmp(argv[1], "interact") != 0) run_cold(&place, argc, argv);
  int usable = find_server_place(&place) == 0;
  if (!usable && wait) {
    fprintf(stderr,
            "pypy-box: PYPY_BOX_SERVER=wait, and no command server can be used here (node on PATH, a "
            "directory of sockets of this user's alone)\n");
    return 126;
  }
  struct request req;
  if (usable && build_request(&req, argc, argv) != 0) usable = 0;
  if (!usable) run_cold(&place, argc, argv);
  int fd = connect_server(&place);
  if (fd < 0) {
    start_server(&place);
    if (!wait) run_cold(&place, argc, argv); /* this run cold; the next ones warm */
    if ((fd = wait_for_server(&place)) < 0) {
      fprintf(stderr, "pypy-box: the command server did not start (%s)\n", place.socket);
      return 126;
    }
  }
  int code = relay_invocation(fd, &req);
  free(req.words);
  if (code == RUN_NOT_TAKEN) run_cold(&place, argc, argv);
  return code;
}
