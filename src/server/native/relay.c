/*
 * One invocation through a worker: the request, then the client's side of the run. The worker
 * writes the output (written here as it comes), asks for standard input and for the terminal raw;
 * the client sends its input, the signals it gets and its terminal's size changes, and ends with
 * the worker's status. Nothing here is trusted with the sandbox: the worker is the controller.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../supervisor/native/contract.h"
#include "client.h"

extern char **environ;

/* The run could not be had from the server: as the command's own internal errors (ExitCode). */
#define EXIT_SERVER_FAILED 126
#define INPUT_CHUNK 65536
/* Frames waiting for the socket: one chunk of input and the small frames around it. */
#define OUTBOX_SIZE (2 * INPUT_CHUNK)

static int signal_pipe[2] = {-1, -1};

static void on_signal(int sig) {
  int saved = errno;
  unsigned char b = (unsigned char)sig;
  (void)!write(signal_pipe[1], &b, 1);
  errno = saved;
}

struct outbox {
  unsigned char buf[OUTBOX_SIZE];
  size_t len;
};

static int outbox_add(struct outbox *o, unsigned char type, const void *data, uint32_t len) {
  if (o->len + 5 + len > sizeof o->buf) return -1;
  unsigned char *p = o->buf + o->len;
  p[0] = type;
  memcpy(p + 1, &len, 4); /* little-endian: x86-64 only, as the package */
  if (len) memcpy(p + 5, data, len);
  o->len += 5 + len;
  return 0;
}

/* Writes what the socket takes now (it is non-blocking): 0, or -1 when the worker is gone. */
static int outbox_flush(struct outbox *o, int fd) {
  while (o->len > 0) {
    ssize_t n = write(fd, o->buf, o->len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return 0;
    if (n <= 0) return -1;
    memmove(o->buf, o->buf + n, o->len - (size_t)n);
    o->len -= (size_t)n;
  }
  return 0;
}

static void window_size(unsigned *rows, unsigned *cols) {
  struct winsize ws = {0};
  *rows = *cols = 0;
  if (isatty(1) && ioctl(1, TIOCGWINSZ, &ws) == 0) *rows = ws.ws_row, *cols = ws.ws_col;
}

static int add_word(char **buf, size_t *len, size_t *cap, const char *word) {
  size_t n = strlen(word) + 1;
  if (*len + n > MAX_FRAME) return -1;
  if (*len + n > *cap) {
    size_t want = (*cap ? *cap * 2 : 4096);
    while (want < *len + n) want *= 2;
    char *grown = realloc(*buf, want);
    if (!grown) return -1;
    *buf = grown, *cap = want;
  }
  memcpy(*buf + *len, word, n);
  *len += n;
  return 0;
}

/*
 * The request's frame (docs/server.md): cwd, umask, tty bits, rows, columns, argc, args,
 * environment, each NUL-terminated, after the frame's header. 0, or -1 when it cannot be made
 * (larger than a word frame, no working directory): the command then runs in Node.
 */
int build_request(struct request *req, int argc, char **argv) {
  char *buf = NULL, cwd[PATH_MAX], num[32];
  size_t len = 0, cap = 0;
  unsigned rows, cols;
  int ok = getcwd(cwd, sizeof cwd) != NULL && add_word(&buf, &len, &cap, cwd) == 0;
  mode_t mask = umask(0);
  umask(mask);
  window_size(&rows, &cols);
  unsigned numbers[] = {(unsigned)mask, (unsigned)(isatty(0) | isatty(1) << 1 | isatty(2) << 2), rows, cols,
                        (unsigned)(argc - 1)};
  for (size_t i = 0; ok && i < sizeof numbers / sizeof numbers[0]; i++) {
    snprintf(num, sizeof num, "%u", numbers[i]);
    ok = add_word(&buf, &len, &cap, num) == 0;
  }
  for (int i = 1; ok && i < argc; i++) ok = add_word(&buf, &len, &cap, argv[i]) == 0;
  for (char **e = environ; ok && *e; e++) ok = add_word(&buf, &len, &cap, *e) == 0;
  if (!ok) {
    free(buf);
    return -1;
  }
  req->words = buf;
  req->len = len;
  return 0;
}

static int send_request(int fd, const struct request *req) {
  unsigned char head[5] = {FRAME_REQUEST};
  uint32_t n32 = (uint32_t)req->len;
  memcpy(head + 1, &n32, 4);
  return write_all(fd, head, 5) == 0 && write_all(fd, req->words, req->len) == 0 ? 0 : -1;
}

/* Reading the worker's frames: the header, then the payload as it comes. */
struct inbox {
  unsigned char head[5];
  size_t head_len;
  uint32_t left;
  unsigned char small[8];
  size_t small_len;
  int wants_input;
  int closed[3]; /* writing to fd 1 or 2 failed: the rest of its output is dropped */
};

static _Noreturn void finish(int code, int sig) {
  terminal_raw(0);
  if (sig > 0 && sig < NSIG) {
    sigset_t all;
    signal(sig, SIG_DFL);
    sigemptyset(&all);
    sigaddset(&all, sig);
    sigprocmask(SIG_UNBLOCK, &all, NULL);
    raise(sig);
    _exit(128 + sig);
  }
  exit(code);
}

static void deliver(struct inbox *in, struct outbox *out, const unsigned char *p, size_t n) {
  int fd = in->head[0] == FRAME_STDOUT ? 1 : in->head[0] == FRAME_STDERR ? 2 : 0;
  if (in->closed[fd] || write_all(fd, p, n) == 0) return;
  if (fd == 0) return; /* the terminal's echo: nowhere else to go */
  in->closed[fd] = 1;
  unsigned char which = (unsigned char)fd;
  outbox_add(out, FRAME_OUTPUT_CLOSED, &which, 1);
}

static void frame_done(struct inbox *in) {
  switch (in->head[0]) {
    case FRAME_WANT_INPUT:
    case FRAME_HOLD_INPUT:
      in->wants_input = in->head[0] == FRAME_WANT_INPUT;
      break;
    case FRAME_RAW:
      terminal_raw(in->small_len > 0 && in->small[0] == 1);
      break;
    case FRAME_EXIT:
      finish(in->small_len > 0 ? in->small[0] : 1, in->small_len > 1 ? in->small[1] : 0);
  }
  in->head_len = 0;
}

static int known_frame(unsigned char type) {
  return type == FRAME_STDOUT || type == FRAME_STDERR || type == FRAME_ECHO || type == FRAME_WANT_INPUT ||
         type == FRAME_HOLD_INPUT || type == FRAME_RAW || type == FRAME_EXIT;
}

/* Takes n bytes from the worker: -1 on a frame no worker sends. */
static int take(struct inbox *in, struct outbox *out, const unsigned char *p, size_t n) {
  while (n > 0) {
    if (in->head_len < 5) {
      in->head[in->head_len++] = *p++, n--;
      if (in->head_len < 5) continue;
      memcpy(&in->left, in->head + 1, 4);
      in->small_len = 0;
      if (!known_frame(in->head[0])) return -1;
      int streamed = in->head[0] == FRAME_STDOUT || in->head[0] == FRAME_STDERR || in->head[0] == FRAME_ECHO;
      if (!streamed && in->left > sizeof in->small) return -1;
      if (in->left == 0) frame_done(in);
      continue;
    }
    size_t piece = n < in->left ? n : in->left;
    if (in->head[0] == FRAME_STDOUT || in->head[0] == FRAME_STDERR || in->head[0] == FRAME_ECHO)
      deliver(in, out, p, piece);
    else memcpy(in->small + in->small_len, p, piece), in->small_len += piece;
    p += piece, n -= piece, in->left -= (uint32_t)piece;
    if (in->left == 0) frame_done(in);
  }
  return 0;
}

static void take_signals(struct outbox *out) {
  unsigned char sigs[64];
  ssize_t n = read(signal_pipe[0], sigs, sizeof sigs);
  for (ssize_t i = 0; i < n; i++) {
    if (sigs[i] == SIGWINCH) {
      unsigned rows, cols;
      window_size(&rows, &cols);
      uint16_t size[2] = {(uint16_t)rows, (uint16_t)cols};
      outbox_add(out, FRAME_RESIZE, size, sizeof size);
    } else {
      outbox_add(out, FRAME_SIGNAL, &sigs[i], 1);
    }
  }
}

static void catch_signals(void) {
  static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH};
  struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
  if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++) sigaction(forwarded[i], &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
}

int relay_invocation(int fd, const struct request *req) {
  static struct outbox out;
  static unsigned char buf[INPUT_CHUNK];
  struct inbox in = {0};
  int input_open = 1, heard = 0;
  catch_signals();
  /* Refused before a word of the worker (the server could not give it one): the command runs in Node. */
  if (send_request(fd, req) != 0) return RUN_NOT_TAKEN;
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  for (;;) {
    int reading = in.wants_input && input_open && out.len + 5 + INPUT_CHUNK <= sizeof out.buf;
    struct pollfd fds[3] = {{fd, POLLIN | (out.len ? POLLOUT : 0), 0}, {signal_pipe[0], POLLIN, 0}, {0, POLLIN, 0}};
    if (poll(fds, reading ? 3 : 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents) take_signals(&out);
    if (reading && fds[2].revents) {
      ssize_t n = read(0, buf, sizeof buf);
      if (n > 0) outbox_add(&out, FRAME_INPUT, buf, (uint32_t)n);
      else if (n == 0 || (errno != EINTR && errno != EAGAIN))
        input_open = 0, outbox_add(&out, FRAME_INPUT_END, NULL, 0);
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
        if (!heard) return RUN_NOT_TAKEN;
        break;
      }
      heard |= n > 0;
      if (n > 0 && take(&in, &out, buf, (size_t)n) != 0) {
        terminal_raw(0);
        fprintf(stderr, "pypy-box: the command server sent a malformed frame\n");
        return EXIT_SERVER_FAILED;
      }
    }
    if (outbox_flush(&out, fd) != 0) break;
  }
  terminal_raw(0);
  fprintf(stderr, "pypy-box: the command server ended the run without its status\n");
  return EXIT_SERVER_FAILED;
}
