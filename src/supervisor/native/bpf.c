/* The BPF assembler (interface and usage: bpf.h). */
#include "bpf.h"

#include <stdio.h>
#include <string.h>

void bpf_fail(struct bpf_asm *a, const char *what, const char *name) {
  if (!a->error[0]) snprintf(a->error, sizeof a->error, "%s%s%s", what, name ? ": " : "", name ? name : "");
}

void bpf_init(struct bpf_asm *a) {
  memset(a, 0, sizeof *a);
}

/* A new scope: labels named from here on are new ones. */
void bpf_scope(struct bpf_asm *a) {
  a->scope++;
}

/*
 * The index of a label of the current scope, made on first use (-1 when a name is NULL). Scopes
 * only grow and labels are appended: the current scope's labels are the last ones, and the search
 * stops at the first label of an earlier scope (a filter of many scopes builds in linear time).
 */
static int bpf_label(struct bpf_asm *a, const char *name) {
  if (!name) return -1;
  for (unsigned k = a->n_labels; k-- > 0 && a->label[k].scope == a->scope;)
    if (strcmp(a->label[k].name, name) == 0) return (int)k;
  if (a->n_labels >= BPF_ASM_MAX_LABELS || strlen(name) >= BPF_ASM_LABEL_LEN) {
    bpf_fail(a, "too many labels or a label name too long", name);
    return -1;
  }
  struct bpf_label *l = &a->label[a->n_labels];
  l->scope = a->scope;
  snprintf(l->name, sizeof l->name, "%s", name);
  l->at = -1;
  return (int)a->n_labels++;
}

/* The label names the next instruction emitted. */
void bpf_bind(struct bpf_asm *a, const char *name) {
  int k = bpf_label(a, name);
  if (k < 0) return;
  if (a->label[k].at >= 0) bpf_fail(a, "label bound twice", name);
  a->label[k].at = (int)a->n;
}

static void bpf_emit(struct bpf_asm *a, struct sock_filter f, const char *t, const char *e) {
  if (a->n >= BPF_ASM_MAX_INSNS) {
    bpf_fail(a, "filter too large", NULL);
    return;
  }
  a->insn[a->n] = f;
  a->jt[a->n] = bpf_label(a, t);
  a->jf[a->n] = bpf_label(a, e);
  a->n++;
}

void bpf_stmt(struct bpf_asm *a, uint16_t code, uint32_t k) {
  bpf_emit(a, (struct sock_filter)BPF_STMT(code, k), NULL, NULL);
}

/* A conditional jump: to t when the condition holds, else to e (NULL: the next instruction). */
void bpf_jump(struct bpf_asm *a, uint16_t op, uint32_t k, const char *t, const char *e) {
  bpf_emit(a, (struct sock_filter)BPF_JUMP(BPF_JMP | op | BPF_K, k, 0, 0), t, e);
}

void bpf_jeq(struct bpf_asm *a, uint32_t k, const char *t, const char *e) {
  bpf_jump(a, BPF_JEQ, k, t, e);
}
void bpf_jge(struct bpf_asm *a, uint32_t k, const char *t, const char *e) {
  bpf_jump(a, BPF_JGE, k, t, e);
}
void bpf_jset(struct bpf_asm *a, uint32_t k, const char *t, const char *e) {
  bpf_jump(a, BPF_JSET, k, t, e);
}

/* An unconditional jump (32-bit offset: any distance forward). */
void bpf_goto(struct bpf_asm *a, const char *to) {
  bpf_emit(a, (struct sock_filter)BPF_STMT(BPF_JMP | BPF_JA, 0), to, NULL);
}

void bpf_ret(struct bpf_asm *a, uint32_t v) {
  bpf_stmt(a, BPF_RET | BPF_K, v);
}

void bpf_ld_nr(struct bpf_asm *a) {
  bpf_stmt(a, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
}
void bpf_ld_arch(struct bpf_asm *a) {
  bpf_stmt(a, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
}

/* The low and high 32 bits of argument i (little-endian: the low word comes first). */
void bpf_ld_arg_lo(struct bpf_asm *a, int i) {
  bpf_stmt(a, BPF_LD | BPF_W | BPF_ABS, (uint32_t)offsetof(struct seccomp_data, args[i]));
}
void bpf_ld_arg_hi(struct bpf_asm *a, int i) {
  bpf_stmt(a, BPF_LD | BPF_W | BPF_ABS, (uint32_t)offsetof(struct seccomp_data, args[i]) + 4);
}

/*
 * The two-step checks below need a label for their else case: NULL there would make the first
 * step's failure fall through into the second step, which could then succeed.
 */
static int bpf_else_named(struct bpf_asm *a, const char *e) {
  if (!e) bpf_fail(a, "a two-step argument check without an else label", NULL);
  return e != NULL;
}

/* Argument i equals v in all 64 bits: to t, else to e (a label, never NULL). Leaves the low word in A. */
void bpf_arg_eq64(struct bpf_asm *a, int i, uint64_t v, const char *t, const char *e) {
  if (!bpf_else_named(a, e)) return;
  bpf_ld_arg_hi(a, i);
  bpf_jeq(a, (uint32_t)(v >> 32), NULL, e);
  bpf_ld_arg_lo(a, i);
  bpf_jeq(a, (uint32_t)v, t, e);
}

/*
 * Argument i, read as a C int (the kernel ignores the upper half of an int argument), is in
 * [lo, hi): to t, else to e (a label, never NULL). Both bounds non-negative; a negative int is outside.
 */
void bpf_int_arg_in(struct bpf_asm *a, int i, uint32_t lo, uint32_t hi, const char *t, const char *e) {
  if (!bpf_else_named(a, e)) return;
  bpf_ld_arg_lo(a, i);
  bpf_jge(a, hi, e, NULL);
  bpf_jge(a, lo, t, e);
}

/* Resolves every label into jump offsets. Returns the number of instructions, or -1 (see error). */
int bpf_link(struct bpf_asm *a) {
  for (unsigned k = 0; k < a->n && !a->error[0]; k++) {
    int refs[2] = {a->jt[k], a->jf[k]};
    uint32_t off[2] = {0, 0};
    for (int j = 0; j < 2; j++) {
      if (refs[j] < 0) continue;
      const struct bpf_label *l = &a->label[refs[j]];
      if (l->at < 0) {
        bpf_fail(a, "jump to a label never bound", l->name);
        break;
      }
      if ((unsigned)l->at <= k) {
        bpf_fail(a, "jump backwards", l->name);
        break;
      }
      off[j] = (uint32_t)l->at - k - 1;
    }
    if (BPF_CLASS(a->insn[k].code) == BPF_JMP && BPF_OP(a->insn[k].code) == BPF_JA) {
      a->insn[k].k = off[0];
      continue;
    }
    if (off[0] > 255 || off[1] > 255) {
      bpf_fail(a, "conditional jump farther than 255 instructions", a->label[off[0] > 255 ? refs[0] : refs[1]].name);
      break;
    }
    if (BPF_CLASS(a->insn[k].code) == BPF_JMP) {
      a->insn[k].jt = (uint8_t)off[0];
      a->insn[k].jf = (uint8_t)off[1];
    }
  }
  if (!a->error[0] && a->n > BPF_MAXINSNS) bpf_fail(a, "filter longer than the kernel accepts", NULL);
  return a->error[0] ? -1 : (int)a->n;
}
