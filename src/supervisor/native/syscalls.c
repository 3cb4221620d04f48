/* Looking up the fate table (generated: syscall_table.c), and the calls that make descriptors (see syscalls.h). */
#include "syscalls.h"

#include <string.h>
#include <sys/syscall.h>

const struct fd_maker FD_MAKERS[] = {
    {SYS_pipe, 2, MAKES_ALWAYS},
    {SYS_pipe2, 2, MAKES_ALWAYS},
    {SYS_eventfd, 1, MAKES_ALWAYS},
    {SYS_eventfd2, 1, MAKES_ALWAYS},
    {SYS_epoll_create, 1, MAKES_ALWAYS},
    {SYS_epoll_create1, 1, MAKES_ALWAYS},
    {SYS_timerfd_create, 1, MAKES_ALWAYS},
    {SYS_memfd_create, 1, MAKES_ALWAYS},
    {SYS_signalfd4, 1, MAKES_IF_FIRST_ARG_NEG1},
    {SYS_open, 1, MAKES_ALWAYS},
    {SYS_openat, 1, MAKES_ALWAYS},
    {SYS_creat, 1, MAKES_ALWAYS},
    {SYS_dup, 1, MAKES_ALWAYS},
    {SYS_dup2, 1, MAKES_IF_TARGET_FREE},
    {SYS_dup3, 1, MAKES_IF_TARGET_FREE},
    {SYS_fcntl, 1, MAKES_IF_DUPFD},
};

const size_t N_FD_MAKERS = sizeof FD_MAKERS / sizeof FD_MAKERS[0];

const struct syscall_fate *fate_of(int nr) {
  for (size_t k = 0; k < N_FATES; k++)
    if (FATES[k].nr == nr) return &FATES[k];
  return NULL;
}

int syscall_named(const char *name, size_t n) {
  if (n == 0) return -1;
  for (size_t k = 0; k < N_FATES; k++) {
    const char *sig = FATES[k].sig;
    if (strncmp(sig, name, n) == 0 && (sig[n] == 0 || sig[n] == '(')) return FATES[k].nr;
  }
  return -1;
}
