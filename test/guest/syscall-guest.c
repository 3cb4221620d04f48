/*
 * The smallest guest for the supervisor fuzz test: no C library, no start-up calls, exactly two
 * forwarded system calls whose results it ignores, then exit_group(0). Whatever the controller
 * answers (any result, any errno, writes into `buf` or anywhere else), it cannot crash: it keeps
 * nothing on the stack and reads nothing back. Its arguments are never looked at (a token there
 * lets the test find it in /proc).
 *
 * Build: cc -static -nostdlib -fno-stack-protector -O2 -o syscall-guest syscall-guest.c
 */
#include <fcntl.h>
#include <sys/syscall.h>

static char buf[256];
static const char path[] = "/fuzz/name";

static long raw3(long nr, long a, long b, long c) {
  long ret;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return ret;
}

void _start(void) {
  raw3(SYS_read, 0, (long)buf, sizeof buf);         /* fd 0 is virtual: read(ipi)i is forwarded */
  raw3(SYS_openat, AT_FDCWD, (long)path, O_RDONLY); /* a path: openat(isii)i, its string sent along */
  raw3(SYS_exit_group, 0, 0, 0);
  for (;;) {
  }
}
