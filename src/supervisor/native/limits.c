/* The run's limits (see limits.h). */
#define _GNU_SOURCE
#include "limits.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "end.h"
#include "guest.h"
#include "launch.h"
#include "notes.h"
#include "refusals.h"
#include "reports.h"
#include "syscalls.h"

/*
 * The numeric limits, one row each: the option, the largest value taken, and where it is kept (a
 * field of struct walls, or the heap limit the supervisor enforces itself). A waiting child gets
 * the walls' ones in its go message, in this order (wall_limits_to_frame, wall_limits_from_words).
 */
#define HEAP_LIMIT ((size_t)-1)
static const struct number_option {
  const char *option;
  size_t field; /* offsetof(struct walls, ...), or HEAP_LIMIT */
  uint64_t max;
} NUMBER_OPTIONS[] = {
    {"--as", offsetof(struct walls, as), UINT64_MAX},
    {"--cpu", offsetof(struct walls, cpu), UINT32_MAX}, /* its hard limit is one more second */
    {"--nofile", offsetof(struct walls, nofile), INT_MAX},
    {"--fsize", offsetof(struct walls, fsize), UINT64_MAX},
    {"--nproc", offsetof(struct walls, nproc), INT_MAX},
    {"--heap", HEAP_LIMIT, UINT64_MAX},
};
#define N_NUMBER_OPTIONS (sizeof NUMBER_OPTIONS / sizeof NUMBER_OPTIONS[0])

static rlim_t *wall_limit_field(struct walls *w, const struct number_option *o) {
  return (rlim_t *)((char *)w + o->field);
}

int number_option(struct limits *l, struct walls *w, const char *option, const char *value) {
  for (size_t k = 0; k < N_NUMBER_OPTIONS; k++) {
    const struct number_option *o = &NUMBER_OPTIONS[k];
    if (strcmp(option, o->option) != 0) continue;
    uint64_t v;
    if (parse_uint(value, o->max, &v) < 0) return -1;
    if (o->field == HEAP_LIMIT) l->heap = v;
    else *wall_limit_field(w, o) = v;
    return 1;
  }
  return 0;
}

int limit_option(struct limits *l, int argc, char **argv, int *k) {
  static const struct {
    const char *name;
    enum cgroup_mode mode;
  } modes[] = {{"off", CGROUP_OFF}, {"auto", CGROUP_AUTO}, {"required", CGROUP_REQUIRED}};
  if (*k + 1 >= argc) return 0;
  const char *o = argv[*k], *v = argv[*k + 1];
  uint64_t *number = strcmp(o, "--memory") == 0    ? &l->memory
                     : strcmp(o, "--tasks") == 0   ? &l->tasks
                     : strcmp(o, "--max-fds") == 0 ? &l->fds
                                                   : NULL;
  int ok = 0;
  if (number) ok = parse_uint(v, UINT64_MAX, number) == 0;
  else if (strcmp(o, "--cgroup") == 0) {
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++)
      if (strcmp(v, modes[m].name) == 0) l->cgroup = modes[m].mode, ok = 1;
  } else return 0;
  ++*k;
  return ok ? 1 : -1;
}

void wall_limits_to_frame(const struct walls *w, struct frame *f) {
  char num[24];
  for (size_t k = 0; k < N_NUMBER_OPTIONS; k++) {
    if (NUMBER_OPTIONS[k].field == HEAP_LIMIT) continue;
    snprintf(num, sizeof num, "%llu", (unsigned long long)*wall_limit_field((struct walls *)w, &NUMBER_OPTIONS[k]));
    frame_add(f, num);
  }
}

int wall_limits_from_words(struct walls *w, char **word, size_t n, size_t *at) {
  for (size_t k = 0; k < N_NUMBER_OPTIONS; k++) {
    const struct number_option *o = &NUMBER_OPTIONS[k];
    uint64_t v;
    if (o->field == HEAP_LIMIT) continue;
    if (*at >= n || parse_uint(word[(*at)++], o->max, &v) < 0) return -1;
    *wall_limit_field(w, o) = v;
  }
  return 0;
}

/* The run's group where it can be had: its wall's name, or NULL (errno in *err). */
static const char *cgroup_wall(struct run *run, int *err) {
  struct limits *l = &run->limits;
  const char *wall = NULL;
  if (run->cgroup.version) wall = run->cgroup.version == 2 ? "cgroup-v2" : "cgroup-v1";
  else if (run->premade_go < 0) wall = cgroup_make(&run->cgroup); /* a child waiting outside any group stays so */
  *err = errno;
  if (wall && cgroup_set_limits(&run->cgroup, l->memory, l->tasks) < 0) {
    *err = errno;
    discard_premade(run);
    cgroup_remove(&run->cgroup);
    wall = NULL;
  }
  if (!wall && l->cgroup == CGROUP_REQUIRED) {
    int e = *err ? *err : ENOENT;
    char why[200];
    snprintf(why, sizeof why, "no writable cgroup v2 with memory and pids, nor v1 memory and pids hierarchies: %s",
             strerror(e));
    fprintf(stderr, "pypy-box-supervisor: the cgroup wall was asked for and cannot be made (%s)\n", why);
    note(&run->notes, NOTE_WALL_FAILED " cgroup %s %llu\n", why, (unsigned long long)e);
    end_guest(run);
    _exit(127);
  }
  return wall;
}

/*
 * Without a cgroup: rlimits (RLIMIT_AS, RLIMIT_FSIZE, which also caps every memfd or tmpfs file
 * the guest writes, and RLIMIT_NPROC: rlimit-memory) and, for a stock guest, resident memory plus
 * memfds polled against the cap (memory-poll).
 */
static void caps_as_rlimits(struct run *run, struct walls *w, int protocol) {
  struct limits *l = &run->limits;
  if (l->memory) {
    uint64_t as = l->memory > (UINT64_MAX - (512ull << 20)) / 2 ? 0 : l->memory * 2 + (512ull << 20);
    if (!w->fsize || w->fsize > l->memory) w->fsize = l->memory;
    if (as && (!w->as || w->as > as)) w->as = as;
    if (!protocol) l->memory_poll = l->memory;
  }
  if (l->tasks && (!w->nproc || w->nproc > l->tasks)) w->nproc = l->tasks;
  if (l->memory || l->tasks)
    note(&run->notes, NOTE_WALLS_PLUS " rlimit-memory%s%.0llu\n", l->memory_poll ? ",memory-poll" : "", 0);
}

void set_up_caps(struct run *run, struct walls *w, int protocol) {
  struct limits *l = &run->limits;
  l->cpu = w->cpu;
  int other_walls = protocol || w->namespaces != NAMESPACES_WHERE_ALLOWED || !w->drop_root;
  int wrong_group =
      l->cgroup == CGROUP_OFF ? run->cgroup.version != 0 : l->cgroup == CGROUP_REQUIRED && !run->cgroup.version;
  if (run->premade_go >= 0 && (other_walls || wrong_group)) discard_premade(run); /* its group goes with it */
  int err = 0;
  const char *wall = l->cgroup != CGROUP_OFF ? cgroup_wall(run, &err) : NULL;
  if (wall) note(&run->notes, NOTE_WALLS_PLUS " %s%.0llu\n", wall, 0);
  else caps_as_rlimits(run, w, protocol);
}

int memory_polled(const struct limits *l) {
  return l->heap || l->memory_poll;
}

void check_heap(struct run *run, uint64_t more) {
  struct limits *l = &run->limits;
  if (!memory_polled(l)) return;
  pid_t pid = guest_process(run);
  uint64_t held = guest_rss(pid) + more + guest_shm_bytes(&run->guest, pid);
  if (l->heap && held > l->heap) limit_hit(run, LIMIT_NAME_HEAP, l->heap);
  if (l->memory_poll && held > l->memory_poll) limit_hit(run, LIMIT_NAME_MEMORY, l->memory_poll);
}

void poll_heap(struct run *run) {
  uint64_t now = mono_ns();
  if (!memory_polled(&run->limits) || now - run->limits.last_heap_check < HEAP_CHECK_MS * 1000000ull) return;
  run->limits.last_heap_check = now;
  check_heap(run, 0);
}

/*
 * Without a cgroup the task cap is RLIMIT_NPROC, which the kernel does not apply to uid 0: a
 * guest that keeps root's uid (dropRoot off) would start threads without end. So without a cgroup
 * the filter sends every new thread here, and the supervisor counts the guest's threads first.
 */
int thread_fits(struct limits *l, pid_t pid) {
  if (!l->tasks) return 1;
  if (count_guest_threads(pid) < l->tasks) return 1;
  l->task_refusals++;
  return 0;
}

/* How many descriptors this call would give the guest (FD_MAKERS). */
static uint64_t new_fds(const struct seccomp_notif *req) {
  for (size_t k = 0; k < N_FD_MAKERS; k++) {
    const struct fd_maker *m = &FD_MAKERS[k];
    if (m->nr != req->data.nr) continue;
    const __u64 *a = req->data.args;
    switch (m->when) {
      case MAKES_ALWAYS:
        return m->count;
      case MAKES_IF_FIRST_ARG_NEG1:
        return (int32_t)(uint32_t)a[0] == -1 ? m->count : 0;
      case MAKES_IF_TARGET_FREE:
        return guest_fd_open((pid_t)req->pid, a[1]) ? 0 : m->count;
      case MAKES_IF_DUPFD:
        return (a[1] & 0xffffffffu) == F_DUPFD || (a[1] & 0xffffffffu) == F_DUPFD_CLOEXEC ? m->count : 0;
    }
  }
  return 0;
}

/*
 * Every call that gives the guest a descriptor comes through here (FD_MAKERS) and closes only
 * lower the true count, so the estimate stays an upper bound: /proc is read only near the limit.
 */
int fds_fit(struct limits *l, const struct seccomp_notif *req) {
  uint64_t more = l->fds ? new_fds(req) : 0;
  if (!more) return 1;
  if (!l->fd_estimate || l->fd_estimate + more > l->fds) l->fd_estimate = count_guest_fds((pid_t)req->pid);
  if (l->fd_estimate + more > l->fds) {
    l->fd_refusals++;
    return 0;
  }
  l->fd_estimate += more;
  return 1;
}

void note_reached(struct run *run) {
  note_refusals(run); /* the repeats of reported refusals go first */
  struct limits *l = &run->limits;
  char limit[64];
  if (l->fd_refusals) {
    snprintf(limit, sizeof limit, REACHED_NAME_OPEN_FILES " %llu", (unsigned long long)l->fds);
    note(&run->notes, NOTE_REACHED " %s %llu\n", limit, (unsigned long long)l->fd_refusals);
  }
  uint64_t tasks = cgroup_task_refusals(&run->cgroup) + l->task_refusals;
  if (tasks) {
    snprintf(limit, sizeof limit, REACHED_NAME_TASKS " %llu", (unsigned long long)l->tasks);
    note(&run->notes, NOTE_REACHED " %s %llu\n", limit, (unsigned long long)tasks);
  }
}

void limit_hit(struct run *run, const char *name, uint64_t value) {
  if (run->child > 0) kill(run->child, SIGKILL);
  reports_flush(&run->reports);
  note_reached(run);
  note(&run->notes, NOTE_LIMIT " %s %llu\n", name, (unsigned long long)value);
  end_guest(run);
  _exit(125);
}

/*
 * CPU time (SIGXCPU at the soft limit, or SIGKILL at the hard one: its CPU time tells), memory
 * (the cgroup's OOM killer). Limits that only refused something come first (note_reached).
 */
void note_end_limits(struct run *run, int status) {
  struct limits *l = &run->limits;
  note_reached(run);
  if (!WIFSIGNALED(status)) return;
  int sig = WTERMSIG(status);
  if (sig == SIGXCPU || (sig == SIGKILL && l->cpu && l->guest_cpu_us / 1000000u >= l->cpu))
    note(&run->notes, NOTE_LIMIT " %s %llu\n", LIMIT_NAME_CPU, (unsigned long long)l->cpu);
  else if (sig == SIGKILL && cgroup_oom_killed(&run->cgroup))
    note(&run->notes, NOTE_LIMIT " %s %llu\n", LIMIT_NAME_MEMORY, (unsigned long long)l->memory);
}
