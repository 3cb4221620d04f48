/*
 * The seccomp listener: notifications in, answers out. An answer is a result or an errno, the
 * call let through (CONTINUE), or a descriptor of ours installed in the guest.
 */
#ifndef PYPY_BOX_LISTENER_H
#define PYPY_BOX_LISTENER_H
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Installs the filter with a listener for its notifications; returns the listener, or -1 with
 * errno. *killable says whether the guest waits for an answer killably (see listener.c).
 */
int install_listener_filter(const struct sock_fprog *prog, int *killable);

/* A buffer for SECCOMP_IOCTL_NOTIF_RECV as large as this kernel's notifications (*size: that size). */
struct seccomp_notif *notif_buffer(size_t *size);

/* Whether the notification is still pending (its thread has not died or been interrupted). */
int notif_id_valid(int listener, uint64_t id);

/* Answers with val, or with the errno `error`, or lets the call run natively (cont). */
void respond(int listener, uint64_t id, int64_t val, int error, int cont);

/*
 * Answers the call with a descriptor of ours, installed in the guest atomically as the call's
 * result, then closed here. Returns the guest's number, or -1 with errno; a guest thread that went
 * away meanwhile (ENOENT) needs no answer, any other failure is answered with its errno.
 */
int answer_fd(int listener, uint64_t id, int fd, int cloexec);

/* Installs srcfd in the guest (at target, or the lowest free number when target < 0): its number or -errno. */
int inject(int listener, uint64_t id, int srcfd, int target, int cloexec);

/*
 * Linux 6.6+: wake the guest synchronously when answering (the waker hands its CPU to the woken
 * thread), which shortens every notification round trip. Older kernels refuse; that is fine.
 */
void listener_sync_wakeup(int listener);
#endif
