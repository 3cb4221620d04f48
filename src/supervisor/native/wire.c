/* The controller's pipes and the encoding of a call (see wire.h). */
#include "wire.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "end.h"
#include "guest.h"

void wire_out(const void *p, size_t n) {
  const char *c = p;
  while (n) {
    ssize_t k = write(1, c, n);
    if (k < 0) {
      if (errno == EINTR) continue;
      fatal("write to controller");
    }
    c += k;
    n -= (size_t)k;
  }
}

void wire_in(void *p, size_t n) {
  char *c = p;
  while (n) {
    ssize_t k = read(0, c, n);
    if (k == 0) controller_gone();
    if (k < 0) {
      if (errno == EINTR) continue;
      fatal("read from controller");
    }
    c += k;
    n -= (size_t)k;
  }
}

uint64_t wire_in64(void) {
  uint64_t v;
  wire_in(&v, 8);
  return v;
}

int64_t int_arg(const struct seccomp_notif *req, int k) {
  return (int64_t)(int32_t)(uint32_t)req->data.args[k];
}

/* Paths go along with the call: status byte, u64 length, bytes (read once, page by page). */
static size_t encode_paths(struct call *c, const char *kinds, size_t nargs, size_t used) {
  for (size_t k = 0; k < nargs; k++) {
    c->path[k] = NULL;
    if (kinds[k] != 's') continue;
    uint64_t n;
    if (used + 9 + PATH_MAX > sizeof c->buf ||
        guest_string((pid_t)c->req->pid, c->req->data.args[k], PATH_MAX, c->buf + used + 9, &n) < 0) {
      c->buf[used++] = '!';
      continue;
    }
    c->buf[used] = '+';
    memcpy(c->buf + used + 1, &n, 8);
    c->path[k] = (const char *)c->buf + used + 9;
    c->path_len[k] = n;
    used += 9 + n;
  }
  return used;
}

size_t encode_call(struct call *c, const struct seccomp_notif *req, const struct syscall_fate *f) {
  c->req = req;
  c->fate = f;
  const char *sig = f->sig;
  size_t len = strlen(sig);
  const char *kinds = strchr(sig, '(') + 1;
  size_t nargs = (size_t)(strchr(sig, ')') - kinds);
  unsigned char *msg = c->buf;
  msg[0] = (unsigned char)len;
  memcpy(msg + 1, sig, len);
  size_t kinds_at = (size_t)(kinds - sig);
  for (size_t k = 0; k < nargs; k++)
    if (kinds[k] == 'l') msg[1 + kinds_at + k] = 'i'; /* the wire knows one integer kind */
  for (size_t k = 0; k < nargs; k++) {
    uint64_t v = req->data.args[k];
    if (kinds[k] == 'i') v = (uint64_t)int_arg(req, (int)k);
    memcpy(msg + 1 + len + 8 * k, &v, 8);
  }
  for (size_t k = nargs; k < 6; k++) c->path[k] = NULL;
  c->len = encode_paths(c, kinds, nargs, 1 + len + 8 * nargs);
  return c->len;
}
