/*
 * Runs a command as on a kernel older than Linux 5.19: a seccomp filter asked for with
 * SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV fails with EINVAL, as such a kernel answers an unknown
 * flag. Everything else is let through. Usage: old-kernel COMMAND [ARGS...]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define KILLABLE_RECV (1U << 5)
#define ARG_LOW(k) (offsetof(struct seccomp_data, args) + 8 * (k))

int main(int argc, char **argv) {
  if (argc < 2) {
    fputs("usage: old-kernel COMMAND [ARGS...]\n", stderr);
    return 2;
  }
  struct sock_filter insn[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 7),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_seccomp, 0, 5),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LOW(0)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SECCOMP_SET_MODE_FILTER, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LOW(1)),
      BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, KILLABLE_RECV, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EINVAL),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {sizeof insn / sizeof insn[0], insn};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) {
    perror("old-kernel: seccomp");
    return 126;
  }
  execvp(argv[1], argv + 1);
  perror("old-kernel: exec");
  return 127;
}
