/*
 * Starting the guest: the child that puts up the walls (walls.h), joins the run's cgroup, enters
 * a PID namespace of its own, installs the seccomp filter (filter.h), hands its listener over and
 * executes the interpreter. A standby child (started before its run is known) waits behind its
 * filter for the run's limits, program and environment (the go message).
 */
#ifndef PYPY_BOX_LAUNCH_H
#define PYPY_BOX_LAUNCH_H
#include "state.h"

/*
 * Forks and records the child in run->child with SIGTERM held off meanwhile: SIGTERM ends the
 * guest through run->child, and one taken between the fork and that store would find none, then
 * wait for a child it never killed (its guest waiting on us for an answer). The child leads a
 * process group of its own, made before SIGTERM is let in and before the child forks anything:
 * end_guest kills the group, which reaches what the child forked whatever its parent-death signal.
 */
pid_t fork_child(struct run *run);

/* In the guest's child, while it still has the identity that may: into the run's cgroup, if any. */
int join_run_cgroup(struct run *run);

/*
 * A PID namespace of its own, where the kernel allows it: the guest sees no other process. A small
 * init (pid 1) runs the guest as pid 2, since pid 1 would ignore its own abort(), and hands the
 * guest's end back through a pipe; the calling process relays it. Returns in the guest only.
 */
void enter_pid_namespace(struct run *run, struct walls *w);

/* Starts the stock guest's child and takes its listener; standby: the child then waits for send_go. */
void start_child(struct run *run, struct walls *w, char **guest_argv, int standby);

/* The run, for the child waiting since standby: limits, program and arguments, environment. */
void send_go(struct run *run, struct walls *w, char **guest_argv);

/* A child started ahead that the run cannot use (other walls, a protocol guest): ended, reaped. */
void discard_premade(struct run *run);

/*
 * The run's own uid when the walls drop root (identity.h): claimed now, kept until we end. Without
 * one the run does not start. Otherwise no claim is kept.
 */
void take_identity(struct run *run, struct walls *w);
#endif
