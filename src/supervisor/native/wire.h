/*
 * The controller's pipes: calls out on stdout, commands and answers in on stdin, in the sandbox-2
 * wire protocol (docs/protocol.md). A call goes out as its signature, its arguments (8 bytes each)
 * and, for path arguments (kind 's'), the path read from the guest at once.
 */
#ifndef PYPY_BOX_WIRE_H
#define PYPY_BOX_WIRE_H
#include <limits.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>

#include "contract.h"
#include "syscalls.h"

/* All n bytes to the controller (a failed write is fatal). */
void wire_out(const void *p, size_t n);
/* Exactly n bytes from the controller (its end of input ends the run: controller_gone). */
void wire_in(void *p, size_t n);
uint64_t wire_in64(void);

/* One call as it goes on the wire: signature, arguments and up to two paths. */
struct call {
  const struct seccomp_notif *req;
  const struct syscall_fate *fate;
  unsigned char buf[1 + 255 + 6 * 8 + 2 * (9 + PATH_MAX)];
  size_t len;
  const char *path[6]; /* where each path argument's string starts in buf (NULL: none, or unreadable) */
  size_t path_len[6];
};

/* Encodes the call into c (reading its paths from the guest); returns c->len. */
size_t encode_call(struct call *c, const struct seccomp_notif *req, const struct syscall_fate *f);

/* Argument k of the call as the kernel reads a C int: the low 32 bits, sign-extended. */
int64_t int_arg(const struct seccomp_notif *req, int k);
#endif
