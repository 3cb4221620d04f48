/*
 * A small assembler for seccomp's classic BPF, with named labels: no jump offset is ever counted
 * by hand. Labels live in scopes (one per rule block), so two blocks may both say "refuse".
 * Conditional jumps reach at most 255 instructions ahead (the machine's limit): a farther target
 * is an error at link time, never a silently wrong jump. The supervisor (filter.c, strict.c) and the wall
 * library (wall.c) assemble their filters with it.
 *
 *   struct bpf_asm a; bpf_init(&a);
 *   bpf_scope(&a);
 *   bpf_ld_nr(&a);
 *   bpf_jeq(&a, SYS_kill, NULL, "next");        NULL: fall through to the next instruction
 *   bpf_arg_eq64(&a, 0, self, "allow", "refuse"); all 64 bits of an argument
 *   bpf_bind(&a, "allow"); bpf_ret(&a, SECCOMP_RET_ALLOW);
 *   ...
 *   if (bpf_link(&a) < 0) fail(a.error);
 */
#ifndef PYPY_BOX_BPF_H
#define PYPY_BOX_BPF_H
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>

#define BPF_ASM_MAX_INSNS 4096
#define BPF_ASM_MAX_LABELS 2048
#define BPF_ASM_LABEL_LEN 32

struct bpf_label {
  unsigned scope;
  char name[BPF_ASM_LABEL_LEN];
  int at; /* instruction index, -1 while not bound */
};

struct bpf_asm {
  struct sock_filter insn[BPF_ASM_MAX_INSNS];
  int jt[BPF_ASM_MAX_INSNS], jf[BPF_ASM_MAX_INSNS]; /* label index, or -1: the next instruction */
  unsigned n;
  struct bpf_label label[BPF_ASM_MAX_LABELS];
  unsigned n_labels;
  unsigned scope;
  char error[128]; /* empty while all is well */
};

void bpf_fail(struct bpf_asm *a, const char *what, const char *name);
void bpf_init(struct bpf_asm *a);
/* A new scope: labels named from here on are new ones. */
void bpf_scope(struct bpf_asm *a);
/* The label names the next instruction emitted. */
void bpf_bind(struct bpf_asm *a, const char *name);
void bpf_stmt(struct bpf_asm *a, uint16_t code, uint32_t k);
/* A conditional jump: to t when the condition holds, else to e (NULL: the next instruction). */
void bpf_jump(struct bpf_asm *a, uint16_t op, uint32_t k, const char *t, const char *e);
void bpf_jeq(struct bpf_asm *a, uint32_t k, const char *t, const char *e);
void bpf_jge(struct bpf_asm *a, uint32_t k, const char *t, const char *e);
void bpf_jset(struct bpf_asm *a, uint32_t k, const char *t, const char *e);
/* An unconditional jump (32-bit offset: any distance forward). */
void bpf_goto(struct bpf_asm *a, const char *to);
void bpf_ret(struct bpf_asm *a, uint32_t v);
void bpf_ld_nr(struct bpf_asm *a);
void bpf_ld_arch(struct bpf_asm *a);
/* The low and high 32 bits of argument i (little-endian: the low word comes first). */
void bpf_ld_arg_lo(struct bpf_asm *a, int i);
void bpf_ld_arg_hi(struct bpf_asm *a, int i);
/* Argument i equals v in all 64 bits: to t, else to e (a label, never NULL). Leaves the low word in A. */
void bpf_arg_eq64(struct bpf_asm *a, int i, uint64_t v, const char *t, const char *e);
/*
 * Argument i, read as a C int (the kernel ignores the upper half of an int argument), is in
 * [lo, hi): to t, else to e (a label, never NULL). Both bounds non-negative; a negative int is outside.
 */
void bpf_int_arg_in(struct bpf_asm *a, int i, uint32_t lo, uint32_t hi, const char *t, const char *e);
/* Resolves every label into jump offsets. Returns the number of instructions, or -1 (see error). */
int bpf_link(struct bpf_asm *a);
#endif
