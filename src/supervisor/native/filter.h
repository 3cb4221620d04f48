/*
 * The stock guest's seccomp filter: the fate table (syscalls.h) assembled into classic BPF
 * (bpf.h), with the argument rules that decide calls without a notification (descriptors 3..511,
 * harmless fcntl and ioctl commands, small anonymous mappings, threads, signals to itself). The
 * supervisor applies the same fd-command rules to descriptors the filter sends it.
 */
#ifndef PYPY_BOX_FILTER_H
#define PYPY_BOX_FILTER_H
#include <linux/filter.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Builds the filter for the process `self` (its pid as it sees itself; count_tasks: every new
 * thread goes to the supervisor, which counts them without a cgroup): arch check, then one block
 * per listed call in the table's order (frequent calls first), ENOSYS for the rest. A filter that
 * cannot be assembled ends the child: the guest never runs without it.
 */
struct sock_fprog build_filter(pid_t self, int count_tasks);

/*
 * Whether an fcntl or ioctl command always goes to the controller (it makes a descriptor the
 * controller counts). Commands are unsigned ints: the low word, as the kernel and the filter read them.
 */
int fd_command_forwarded(int nr, uint64_t cmd);

/* What the filter lets clone do: a thread without new namespaces (low word of the flags). */
int clone_is_thread(uint64_t flags);

/* The errno to refuse an fcntl or ioctl command on a real descriptor with, or 0 to let it run. */
int native_fd_refusal(int nr, uint64_t cmd, uint64_t arg);
#endif
