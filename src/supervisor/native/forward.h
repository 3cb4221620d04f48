/*
 * A call forwarded to the controller: sent (after the reports waiting, in the same write), then
 * the controller's commands until its final answer (docs/protocol.md): R read guest memory, Z read
 * a guest string, W write guest memory, E set the errno, V inject a virtual placeholder, L the
 * listing of the directory being opened; final: i the result, o open a host file as the result,
 * m a sealed copy of a small virtual file as the result, C let the call run natively.
 */
#ifndef PYPY_BOX_FORWARD_H
#define PYPY_BOX_FORWARD_H
#include "delegation.h"
#include "state.h"
#include "wire.h"

/* Answers the call: here if it was handed over (local.h), else through the controller. */
void forward(struct run *run, struct local *lc, const struct call *c);
#endif
