/*
 * One host identity per run. A supervisor started as root runs its guest under a uid (and the same
 * gid) of its own, taken from a range far from real users, so that the kernel's per-user counters
 * (RLIMIT_NPROC, pipe buffers, user namespaces, ...) count one run only, never its neighbours'.
 *
 * A uid is claimed with an exclusive byte-range lock (F_OFD_SETLK) on byte `uid` of one lock file
 * that every supervisor on the machine uses: unique among all runs at the same time, whichever
 * process started them. Byte `uid` rather than `uid - first`: runs with different ranges still
 * never share a uid. An open-file-description lock ends with the last descriptor of it, that is
 * with the supervisor: no stale claim survives a crash. The search starts at a random place in the
 * range, so concurrent supervisors rarely try the same bytes.
 *
 * As non-root nothing is claimed: only one's own uid can be mapped, the guest keeps it.
 */
#ifndef PYPY_BOX_IDENTITY_H
#define PYPY_BOX_IDENTITY_H
#include <limits.h>
#include <stdint.h>

/* The default range: 65,536 ids from 1,000,000, above any ordinary user or system account. */
#define ID_RANGE_FIRST 1000000u
#define ID_RANGE_COUNT 65536u
#define ID_LOCK_DIR "/run/pypy-box"
#define ID_LOCK_FILE ID_LOCK_DIR "/uids.lock"

struct id_range {
  uint32_t first, count;
  char lock_file[PATH_MAX];
};

/* The range asked for, and the claim held by this process (claimed 0: none). */
struct identity {
  struct id_range range;
  int lock_fd; /* the lock file, while a claim is held */
  uint32_t claimed;
  struct id_range claimed_from;
  char failure[PATH_MAX + 200]; /* why the last claim failed, for the run's error */
  int err;                      /* and its errno (0: none) */
};

/* The default range and lock file, no claim. */
void identity_init(struct identity *id);

/*
 * Supervisor options of the identity: --uid-range FIRST:COUNT, --uid-lock FILE. Returns 1 when
 * argv[*k] is one of them (*k is then on its value), 0 when not; a bad value ends the supervisor.
 */
int identity_option(struct identity *id, int argc, char **argv, int *k);

/* Whether the claim held (if any) was made from the range now asked for. */
int id_claim_matches(struct identity *id);

/* Gives the claim up (a run that does not use it, or one from another range). */
void release_id(struct identity *id);

/* Claims a free uid of the range (kept while this process lives). Returns it, or 0 with id->failure set. */
uint32_t claim_id(struct identity *id);
#endif
