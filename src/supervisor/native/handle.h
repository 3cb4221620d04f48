/*
 * One notification of the stock guest's filter: what its fate (syscalls.h) says happens here. The
 * filter decided what it could without us; the supervisor decides the rest from the arguments and
 * the guest's descriptors (real or virtual), the limits, and what it was handed: natively
 * (CONTINUE), refused with an errno, answered here, or forwarded to the controller (forward.h).
 */
#ifndef PYPY_BOX_HANDLE_H
#define PYPY_BOX_HANDLE_H
#include <linux/seccomp.h>

#include "delegation.h"
#include "state.h"

void handle(struct run *run, struct local *lc, const struct seccomp_notif *req);
#endif
