/*
 * libpypybox-wall.so: preloaded into a guest that speaks the protocol itself (a PyPy translated
 * with --sandbox). The supervisor has already put the program behind the strict filter before
 * execve (strict.h), with a window for the dynamic loader: the calls that find and map libraries
 * go to the supervisor. This constructor runs once the loader has mapped every library and before
 * the program's main, and closes that window: it adds the same filter again with those calls
 * refused in the guest itself. It adds strictness only; the wall never depends on it (a static
 * program never loads it and keeps the first filter, window and all).
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "strict.h"

#if !defined(__x86_64__)
#error "the pypy-box wall supports x86-64 Linux only for now"
#endif

static struct bpf_asm assembler; /* large: kept off the stack */

__attribute__((constructor)) static void pypy_box_wall(void) {
  const char *on = getenv("PYPY_BOX_WALL");
  if (!on || strcmp(on, "1") != 0) return;
  unsetenv("PYPY_BOX_WALL");
  unsetenv("LD_PRELOAD");
  int n = strict_filter(&assembler, getpid(), 0);
  struct sock_fprog prog = {(unsigned short)(n > 0 ? n : 0), assembler.insn};
  /* No new privileges is already set: the supervisor's filter could not be there otherwise. */
  if (n < 0 || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) {
    static const char msg[] = "pypy-box-wall: cannot close the loader's window (seccomp filter)\n";
    (void)!write(2, msg, sizeof msg - 1);
    _exit(126);
  }
}
