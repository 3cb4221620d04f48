/*
 * The stock guest seen from the supervisor: its memory (read and written through
 * process_vm_readv/writev), its descriptors (virtual ones are our placeholders, told apart by
 * identity, never by name), and what it holds (resident memory, memfds, threads, descriptors) for
 * the limits.
 */
#ifndef PYPY_BOX_GUEST_H
#define PYPY_BOX_GUEST_H
#include <stdint.h>
#include <sys/types.h>

#include "state.h"

#define PLACEHOLDER_PREFIX "pypy-box-"
#define VIRTUAL_NAME PLACEHOLDER_PREFIX "virtual" /* a name for humans; identity is by inode */

/* The placeholders and the data buffer, before the child starts (failures are fatal). */
void guest_init(struct guest *g);

/*
 * The interpreter, from its first notification: pinned by a pidfd at once, so that a signal meant
 * for it never reaches another process that took its number after it ended.
 */
void guest_know(struct guest *g, pid_t pid);

/* The process to look at: the interpreter once known, else our child. */
pid_t guest_process(const struct run *run);

/* Guest memory: 0, or -1 when any byte is not there. */
int guest_read(pid_t pid, uint64_t addr, void *buf, size_t n);
int guest_write(pid_t pid, uint64_t addr, const void *buf, size_t n);

/*
 * A NUL-terminated string of at most `max` bytes from the guest, read page by page (so that a
 * string just before unmapped memory still reads): 0 with *len its length without the NUL (max
 * when none came), or -1. The one reader of guest strings: paths, Z commands, the loader's window.
 */
int guest_string(pid_t pid, uint64_t ptr, uint64_t max, unsigned char *out, uint64_t *len);

/* What a guest descriptor refers to: one of our placeholders (and which), or not. */
enum fd_kind { FD_REAL, FD_VIRTUAL, FD_STDIN, FD_STDOUT, FD_STDERR };

enum fd_kind fd_kind_of(const struct guest *g, pid_t pid, int64_t fd);
/* A descriptor of the guest is virtual when it refers to one of the supervisor's placeholders. */
int fd_is_virtual(const struct guest *g, pid_t pid, int64_t fd);
/* A copy of the guest's descriptor in this process (-errno on failure). */
int fetch_guest_fd(struct guest *g, int64_t fd);
/* Whether descriptor fd (a C int) is open in the guest. */
int guest_fd_open(pid_t pid, uint64_t fd);

/* Resident bytes of the process (all its threads). */
uint64_t guest_rss(pid_t pid);
/*
 * Bytes held in the process's memfds and other shared-memory files (their allocated blocks):
 * memory that is no address space and shows in no resident count until mapped.
 */
uint64_t guest_shm_bytes(const struct guest *g, pid_t pid);
/* The process's threads (UINT64_MAX when they cannot be counted). */
uint64_t count_guest_threads(pid_t pid);
/* The process's open descriptors. */
uint64_t count_guest_fds(pid_t pid);
#endif
