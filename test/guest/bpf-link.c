/*
 * Links small programs with src/supervisor/native/bpf.c and prints, per case, "NAME: ERROR" (or
 * "NAME: linked N" and the resolved jumps), for test/filter.test.ts: the assembler must refuse
 * what would jump wrong, never emit it.
 */
#include "../../src/supervisor/native/bpf.h"
#include <stdio.h>
#include <string.h>

static struct bpf_asm a;

static void show(const char *name) {
  int n = bpf_link(&a);
  if (n < 0) {
    printf("%s: %s\n", name, a.error);
    return;
  }
  printf("%s: linked %d", name, n);
  for (int k = 0; k < n; k++)
    if (BPF_CLASS(a.insn[k].code) == BPF_JMP) printf(" %d:%u/%u/%u", k, a.insn[k].jt, a.insn[k].jf, a.insn[k].k);
  printf("\n");
}

/* A jump over `gap` instructions to "far". */
static void jump_over(int gap) {
  bpf_init(&a);
  bpf_scope(&a);
  bpf_ld_nr(&a);
  bpf_jeq(&a, 1, "far", NULL);
  for (int k = 0; k < gap; k++) bpf_ret(&a, SECCOMP_RET_ALLOW);
  bpf_bind(&a, "far");
  bpf_ret(&a, SECCOMP_RET_KILL_PROCESS);
}

int main(void) {
  jump_over(255);
  show("jump over 255");
  jump_over(256);
  show("jump over 256");

  bpf_init(&a);
  bpf_scope(&a);
  bpf_arg_eq64(&a, 0, 1ull << 32, "yes", NULL);
  bpf_bind(&a, "yes");
  bpf_ret(&a, SECCOMP_RET_ALLOW);
  show("eq64 without else");

  bpf_init(&a);
  bpf_scope(&a);
  bpf_int_arg_in(&a, 0, 3, 512, NULL, NULL);
  bpf_ret(&a, SECCOMP_RET_ALLOW);
  show("int range without else");

  bpf_init(&a);
  bpf_scope(&a);
  bpf_ld_nr(&a);
  bpf_jeq(&a, 1, "nowhere", NULL);
  bpf_ret(&a, SECCOMP_RET_ALLOW);
  show("unbound label");

  bpf_init(&a);
  bpf_scope(&a);
  bpf_bind(&a, "twice");
  bpf_ld_nr(&a);
  bpf_bind(&a, "twice");
  bpf_ret(&a, SECCOMP_RET_ALLOW);
  show("label bound twice");

  bpf_init(&a);
  bpf_scope(&a);
  bpf_bind(&a, "top");
  bpf_ld_nr(&a);
  bpf_goto(&a, "top");
  show("jump backwards");

  /* Two scopes may both say "out": each jump goes to its own. */
  bpf_init(&a);
  for (int k = 0; k < 2; k++) {
    bpf_scope(&a);
    bpf_jeq(&a, (uint32_t)k, NULL, "out");
    bpf_ret(&a, SECCOMP_RET_ALLOW);
    bpf_bind(&a, "out");
  }
  bpf_ret(&a, SECCOMP_RET_KILL_PROCESS);
  show("scoped labels");

  bpf_init(&a);
  bpf_scope(&a);
  bpf_arg_eq64(&a, 0, 5, "yes", "no");
  bpf_bind(&a, "no");
  bpf_ret(&a, SECCOMP_RET_ERRNO | 1);
  bpf_bind(&a, "yes");
  bpf_ret(&a, SECCOMP_RET_ALLOW);
  show("eq64");
  return 0;
}
