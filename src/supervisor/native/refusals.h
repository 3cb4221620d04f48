/*
 * Refusals the controller is told about: calls the sandbox forbids (the network, new programs and
 * processes, signals to other processes, mounts, ...) are refused here with the errno the filter
 * would have given (fate REFUSE, the refused branches of CLONE and SELF, every later execve), and
 * each kind is reported as a denial on the notes:
 *
 *   refused NAME ERRNO COUNT DETAIL
 *
 * DETAIL is the decisive argument (`family=AF_INET`, `pid=1,sig=9`, `path=/bin/sh`) or `-`. The
 * first refusal of a kind goes out at once; its repeats are counted and go out at the end as one
 * more line with the number of repeats (the controller adds them up). At most MAX_REFUSAL_KINDS
 * kinds are kept; refusals of further kinds are only counted (`refused-more COUNT`). A guest that
 * loops on a refused call costs a counter, never memory or note bytes.
 */
#ifndef PYPY_BOX_REFUSALS_H
#define PYPY_BOX_REFUSALS_H
#include <linux/seccomp.h>

#include "state.h"

/* Refuses the call with err, as the filter used to, and records it for the controller. */
void refuse_reported(struct run *run, const struct seccomp_notif *req, const char *name, int err);

/* The repeats not told yet (at the end of the run, or when a limit ends it). */
void note_refusals(struct run *run);
#endif
