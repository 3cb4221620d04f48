/*
 * The run's limits: the numeric options (rlimits of the walls, and the heap cap the supervisor
 * enforces itself), the caps of --memory, --tasks, --max-fds and --cgroup, and their enforcement
 * while the guest runs: resident memory polled, threads and descriptors counted before they are
 * made. A limit that ends the guest is told in a `limit` note, one that refused something in a
 * `reached` note.
 */
#ifndef PYPY_BOX_LIMITS_H
#define PYPY_BOX_LIMITS_H
#include <linux/seccomp.h>
#include <stdint.h>

#include "state.h"
#include "words.h"

/* How often resident memory is compared with the heap and memory caps. */
#define HEAP_CHECK_MS 20

/* A numeric limit option and its value. Returns 1 (set), 0 (not one of them) or -1 (a bad value). */
int number_option(struct limits *l, struct walls *w, const char *option, const char *value);

/* --memory BYTES, --tasks N, --max-fds N (0: none), --cgroup off|auto|required. Returns 1 (consumed; *k on its value), 0 or -1. */
int limit_option(struct limits *l, int argc, char **argv, int *k);

/* The walls' limits as words of a standby child's go message, and back (0, or -1: malformed). */
void wall_limits_to_frame(const struct walls *w, struct frame *f);
int wall_limits_from_words(struct walls *w, char **word, size_t n, size_t *at);

/*
 * The memory and task caps of the run, before its child starts: in a cgroup where the host allows
 * it, else as rlimits and (stock guests) polling. A cgroup that was asked for and cannot be made
 * stops the run here (fail closed). A standby child is kept only if it is in the group needed.
 */
void set_up_caps(struct run *run, struct walls *w, int protocol);

/* Whether the heap or memory caps are polled at all. */
int memory_polled(const struct limits *l);
/* Resident memory and memfds (plus `more` bytes about to be mapped) against the caps. */
void check_heap(struct run *run, uint64_t more);
/* The periodic check (every HEAP_CHECK_MS) from the supervisor's loop. */
void poll_heap(struct run *run);

/* Whether one more thread fits under the task cap (without a cgroup); a refusal is counted. */
int thread_fits(struct limits *l, pid_t pid);
/* Whether the descriptors this call makes fit under the open-file limit; counted in when they do. */
int fds_fit(struct limits *l, const struct seccomp_notif *req);

/* `reached NAME VALUE COUNT` notes for the limits that refused something (after the refusals' repeats). */
void note_reached(struct run *run);
/* Ends the guest for exceeding a limit, with its `limit NAME VALUE` note (status 125). */
__attribute__((noreturn)) void limit_hit(struct run *run, const char *name, uint64_t value);
/* At the guest's end: the limits reached, and the one that ended it (CPU, memory), if any. */
void note_end_limits(struct run *run, int status);
#endif
