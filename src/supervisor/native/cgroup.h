/*
 * A control group per run: a memory cap that counts everything the guest makes the kernel hold for
 * it (anonymous memory, memfds and other shared memory, page cache, kernel objects) and a cap on its
 * tasks (threads and processes). The supervisor makes the group, the guest's child joins it before
 * it drops its identity, and the supervisor removes it once everything below it has been reaped.
 *
 * cgroup v2: one directory, <mount><own cgroup>/pypy-box/<supervisor pid> (else <mount>/pypy-box/...),
 *   with memory.max, memory.swap.max 0 (where present), memory.oom.group 1 and pids.max.
 * cgroup v1: one directory per controller, <mount>/memory<own memory cgroup>/pypy-box/<pid> with
 *   memory.limit_in_bytes and memory.memsw.limit_in_bytes (where present: no swap beyond the cap),
 *   and the same under the pids hierarchy with pids.max.
 * Below its own cgroup first, so that the limits of whoever runs pypy-box still hold for its guests.
 *
 * A group left behind by a supervisor that was killed outright (SIGKILL: no chance to clean up) is
 * removed by the next supervisor that makes one (cgroup_sweep): its name is a pid that no longer lives.
 */
#ifndef PYPY_BOX_CGROUP_H
#define PYPY_BOX_CGROUP_H
#include <limits.h>
#include <stdint.h>

enum cgroup_mode { CGROUP_OFF, CGROUP_AUTO, CGROUP_REQUIRED };

#define CGROUP_GROUP "pypy-box"
#define CGROUP_V2_MOUNTS \
  { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" }
#define CGROUP_V1_ROOT "/sys/fs/cgroup"

/* The run's group: v2 uses dir[0] only; v1 dir[0] is the memory group, dir[1] the pids group. */
struct run_cgroup {
  int version; /* 0: none */
  char dir[2][PATH_MAX];
};

/*
 * SIGKILL to every task in the run's group (cgroup.kill on v2 where the kernel has it, else each
 * pid listed): what left the guest's process group and its PID namespace still cannot leave its
 * cgroup. Async-signal-safe.
 */
void cgroup_kill(struct run_cgroup *cg);

/* Removes the run's group (async-signal-safe: called from the SIGTERM path too). */
void cgroup_remove(struct run_cgroup *cg);

/*
 * Makes the run's group (no limits yet: cgroup_set_limits). Returns the wall's name ("cgroup-v2",
 * "cgroup-v1"), or NULL with errno when the host allows neither.
 */
const char *cgroup_make(struct run_cgroup *cg);

/* Sets the caps (0: none); -1 with errno when one cannot be set. */
int cgroup_set_limits(struct run_cgroup *cg, uint64_t memory, uint64_t tasks);

/* In the guest's child, before it drops its identity: joins the run's group ("0" is the writer). */
int cgroup_join(struct run_cgroup *cg);

/* Whether the group's OOM killer has killed a task of the run. */
int cgroup_oom_killed(struct run_cgroup *cg);

/* How many times a new task was refused at the task cap. */
uint64_t cgroup_task_refusals(struct run_cgroup *cg);
#endif
