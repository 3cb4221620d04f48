/*
 * Calls the supervisor answers itself, on the controller's behalf (docs/protocol.md, "Local
 * answers"), from what the controller handed it (delegation.h): stat, open, access and readlink of
 * names that resolve into a delegated grant or the controller's own tree, the guest's identity,
 * its working directory, small randomness, getdents64 from a listing, and the guest's own standard
 * streams when none is a terminal. The controller is told afterwards (a report, in call order) so
 * its trace and counts stay complete. Anything else, including every case this code is not sure
 * about, is forwarded as usual: falling back is always correct.
 */
#ifndef PYPY_BOX_LOCAL_H
#define PYPY_BOX_LOCAL_H
#include <sys/stat.h>

#include "delegation.h"
#include "state.h"
#include "wire.h"

/* A call the controller delegated: answered here and reported when it can be. Returns 1 when answered. */
int answer_locally(struct run *run, struct local *lc, const struct call *c);

/*
 * The guest's own standard streams, while fds 0-2 still hold them and none is a terminal
 * (--stdio-local): fstat describes a pipe, lseek is ESPIPE, ioctl is ENOTTY (close-on-exec flags
 * run natively), as the controller answers them. Returns 1 when answered.
 */
int answer_stdio(struct run *run, struct local *lc, const struct call *c);

/*
 * The stat and access of a name as the controller would answer them, without the guest (a relayed
 * sandboxed PyPy's stat64 and access are answered from these too). Each returns the grant or report
 * code of the answer, with *result 0 or -1 and *err set, and `out` filled on success; or
 * LOCAL_FORWARD: the controller's to answer. `host` (PATH_MAX + 1 bytes) gets what answered it.
 */
int name_stat(struct local *lc, const char *path, size_t n, int follow, struct stat *out, int64_t *result, int *err,
              char *host);
int name_access(struct local *lc, const char *path, size_t n, uint64_t mode, int64_t *result, int *err, char *host);

/* Calls that change nothing the guest could stat (anything else forgets the working directory's stat). */
int changes_nothing(struct local *lc, const struct call *c);

/*
 * What a real descriptor (one of ours, duplicated into this process) shows: for a file of a host
 * mount, its virtual description; for the guest's own objects (pipes, memfds), the truth.
 * Returns 0, or -errno.
 */
int describe_real_fd(struct local *lc, int fd, struct stat *out);
#endif
