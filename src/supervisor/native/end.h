/*
 * How a run ends: the guest's status passed on as our own, the controller told early when a PID
 * namespace is slow to go, and every way the supervisor itself gives up (fatal errors, protocol
 * errors, the controller gone, SIGTERM). Each ends the guest and reaps everything below us first.
 *
 * Exit statuses of the supervisor itself: 125 (the controller went away, or a limit ended the
 * guest), 126 (the supervisor failed, or the controller broke the protocol), 127 (the run could
 * not start); otherwise the guest's own status.
 */
#ifndef PYPY_BOX_END_H
#define PYPY_BOX_END_H
#include "state.h"
#include "words.h"

/*
 * From here on, the fatal exits below and SIGTERM end this run's guest. We become the subreaper
 * of everything below us, so that no process of the run is left for pid 1 to reap.
 */
void end_watch(struct run *run);

/*
 * Ends the guest (SIGKILL to the child's process group, the child, the run's cgroup) and waits for
 * every process below us: none is left as a zombie for whoever is pid 1, which in a container may
 * never reap them. Never forever: what is still there after END_WAIT_MS is left (we exit, it goes
 * to pid 1) rather than hang the run's end with every signal blocked. Removes the run's cgroup.
 * Async-signal-safe.
 */
#define END_WAIT_MS 5000
void end_guest(struct run *run);

/*
 * SIGUSR1 and SIGUSR2 from the controller (the interrupt and quit characters typed at the terminal
 * with the guest's ISIG set) reach the watched run's guest as SIGINT and SIGQUIT, as from a
 * terminal: the controller cannot send them itself (the guest runs under its own uid, in its own
 * namespaces). Installed first thing; nothing happens before the guest is known (guest_know).
 */
void take_terminal_signals(struct run *run);

/* Ends the watched run's guest when the supervisor returns from main or calls exit. */
void end_at_exit(void);

/* The supervisor gives up: a system call failed (status 126). */
__attribute__((noreturn)) void fatal(const char *what);
/* The controller broke the protocol (status 126). */
__attribute__((noreturn)) void protocol_fatal(const char *what);
/*
 * The guest broke the protocol, and a note has told the controller (status 126): nothing more is
 * written to stderr, which the guest shares (its own stderr is its own). Without notes, `what` is.
 */
__attribute__((noreturn)) void guest_broke(const struct notes *notes, const char *what);
/* A protocol error about one word of a message: shown cut short and printable (it came from outside). */
__attribute__((noreturn)) void word_fatal(const char *what, const char *word);
/* A message refused by read_words (words.h). */
__attribute__((noreturn)) void frame_fatal(const char *which, enum frame_status s);
/* The controller is gone (end of its input): so is the guest (status 125). */
__attribute__((noreturn)) void controller_gone(void);

/* In the supervisor, before the guest runs: the run ends, having said why (say_start_failed). */
__attribute__((noreturn)) void stop_before_start(struct run *run, const char *text, int err);
/* As stop_before_start: `what` failed (with errno if err). */
__attribute__((noreturn)) void start_failed(struct run *run, const char *what, int err);

/* In the guest's child (or its PID namespace's init): `what` failed (with errno if err); the child ends. */
__attribute__((noreturn)) void child_failed_with(const struct notes *notes, const char *what, int err);
__attribute__((noreturn)) void child_failed(const struct notes *notes, const char *what);

/* waitpid that keeps the CPU time of what it reaped (with what that had reaped) in the limits. */
pid_t wait_guest(struct run *run, pid_t pid, int *status);

/* How the guest ended, as a PID namespace's init hands it on: its wait status and CPU time. */
struct guest_end {
  int status;
  uint64_t cpu_us;
};

/*
 * The guest has ended (no task left on the listener, or the relay exited). With a PID namespace,
 * init has written the guest's wait status: the controller is told now (the last reports, a limit
 * note, `exit STATUS`) and every stream to it is closed, so that the run ends without waiting for
 * the namespaces to be torn down. Then the relay is reaped as before (pass_on_status).
 */
void end_early(struct run *run);

/* Ends the supervisor with the guest's status: its exit code, or its signal (without a core). */
__attribute__((noreturn)) void pass_on_status(struct run *run, int status);
#endif
