/* Refusals reported as denials (see refusals.h). */
#define _GNU_SOURCE
#include "refusals.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "guest.h"
#include "listener.h"
#include "notes.h"
#include "syscalls.h"

static const char *family_name(uint64_t family) {
  switch ((uint32_t)family) {
    case AF_UNIX:
      return "AF_UNIX";
    case AF_INET:
      return "AF_INET";
    case AF_INET6:
      return "AF_INET6";
    case AF_NETLINK:
      return "AF_NETLINK";
    case AF_PACKET:
      return "AF_PACKET";
    default:
      return NULL;
  }
}

/* Printable, without spaces (a note is one line of words): anything else becomes '?'. */
static void refusal_word(char *s) {
  for (; *s; s++)
    if (*s <= 0x20 || *s > 0x7e) *s = '?';
}

/* The family of the socket address argument `i` points to, or "-" when it cannot be read. */
static void address_family(const struct seccomp_notif *req, int i, char *out, size_t n) {
  uint16_t family = 0;
  if (req->data.args[i] && guest_read((pid_t)req->pid, req->data.args[i], &family, sizeof family) == 0) {
    const char *name = family_name(family);
    if (name) snprintf(out, n, "family=%s", name);
    else snprintf(out, n, "family=%u", (unsigned)family);
  } else snprintf(out, n, "-");
}

/* execve's path, as the detail. */
static void exec_path(const struct seccomp_notif *req, char *out, size_t n) {
  unsigned char path[REFUSAL_DETAIL_MAX - 5]; /* "path=" before it */
  uint64_t len = 0;
  if (guest_string((pid_t)req->pid, req->data.args[0], sizeof path - 1, path, &len) == 0) {
    path[len] = 0;
    snprintf(out, n, "path=%s", (char *)path);
  } else snprintf(out, n, "-");
}

/* The decisive argument of a refused call, as one word. Pids and signals are C ints (low words). */
static void refusal_detail(const struct seccomp_notif *req, char *out, size_t n) {
  const __u64 *a = req->data.args;
  switch (req->data.nr) {
    case SYS_socket:
    case SYS_socketpair: {
      const char *name = family_name(a[0]);
      if (name) snprintf(out, n, "family=%s", name);
      else snprintf(out, n, "family=%d", (int)(uint32_t)a[0]);
      return;
    }
    case SYS_connect:
    case SYS_bind:
      address_family(req, 1, out, n);
      return;
    case SYS_sendto:
      address_family(req, 4, out, n);
      return;
    case SYS_kill:
    case SYS_rt_sigqueueinfo:
      snprintf(out, n, "pid=%d,sig=%d", (int)(uint32_t)a[0], (int)(uint32_t)a[1]);
      return;
    case SYS_tgkill:
      snprintf(out, n, "pid=%d,tid=%d,sig=%d", (int)(uint32_t)a[0], (int)(uint32_t)a[1], (int)(uint32_t)a[2]);
      return;
    case SYS_tkill:
      snprintf(out, n, "tid=%d,sig=%d", (int)(uint32_t)a[0], (int)(uint32_t)a[1]);
      return;
    case SYS_prlimit64:
      snprintf(out, n, "pid=%d,resource=%d", (int)(uint32_t)a[0], (int)(uint32_t)a[1]);
      return;
    case SYS_ptrace:
      snprintf(out, n, "request=%lld,pid=%d", (long long)a[0], (int)(uint32_t)a[1]);
      return;
    case SYS_clone:
      snprintf(out, n, "flags=0x%llx", (unsigned long long)a[0]);
      return;
    case SYS_execve:
      exec_path(req, out, n);
      return;
    default:
      snprintf(out, n, "-");
  }
}

static void note_refusal(const struct notes *notes, const char *name, int err, uint64_t count, const char *detail) {
  char line[64 + REFUSAL_DETAIL_MAX];
  snprintf(line, sizeof line, "%s %d %llu %s", name, err, (unsigned long long)count, detail);
  note(notes, NOTE_REFUSED " %s%.0llu\n", line, 0);
}

void refuse_reported(struct run *run, const struct seccomp_notif *req, const char *name, int err) {
  struct refusals *rs = &run->refusals;
  char detail[REFUSAL_DETAIL_MAX + 1];
  refusal_detail(req, detail, sizeof detail);
  respond(run->listener, req->id, 0, err, 0);
  refusal_word(detail);
  for (unsigned k = 0; k < rs->n; k++) {
    struct refusal *r = &rs->kind[k];
    if (r->nr == req->data.nr && r->err == err && strcmp(r->detail, detail) == 0) {
      r->repeats++;
      return;
    }
  }
  if (rs->n >= MAX_REFUSAL_KINDS) {
    rs->unkept++;
    return;
  }
  struct refusal *r = &rs->kind[rs->n++];
  r->nr = req->data.nr;
  r->err = err;
  snprintf(r->detail, sizeof r->detail, "%s", detail);
  r->repeats = 0;
  note_refusal(&run->notes, name, err, 1, detail);
}

static const char *call_name(int nr) {
  const struct syscall_fate *f = fate_of(nr);
  return f ? f->sig : "?";
}

void note_refusals(struct run *run) {
  struct refusals *rs = &run->refusals;
  for (unsigned k = 0; k < rs->n; k++) {
    struct refusal *r = &rs->kind[k];
    if (r->repeats) note_refusal(&run->notes, call_name(r->nr), r->err, r->repeats, r->detail);
    r->repeats = 0;
  }
  if (rs->unkept) note(&run->notes, NOTE_REFUSED_MORE " %s%llu\n", "", (unsigned long long)rs->unkept);
  rs->unkept = 0;
}
