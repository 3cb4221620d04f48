/* The run's control group (see cgroup.h). */
#define _GNU_SOURCE
#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int cgroup_write(const char *dir, const char *file, const char *text) {
  char path[PATH_MAX];
  if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path) return -1;
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t n = strlen(text);
  ssize_t got = write(fd, text, n);
  int e = errno;
  close(fd);
  errno = e;
  return got == (ssize_t)n ? 0 : -1;
}

/* Reads a small control file into buf (NUL-terminated); -1 when it cannot be read. */
static int cgroup_read(const char *dir, const char *file, char *buf, size_t size) {
  char path[PATH_MAX];
  if (size == 0 || snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path) return -1;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t used = 0;
  while (used < size - 1) {
    ssize_t n = read(fd, buf + used, size - 1 - used);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    used += (size_t)n;
  }
  close(fd);
  buf[used] = 0;
  return 0;
}

static int cgroup_has(const char *dir, const char *file) {
  char path[PATH_MAX];
  return snprintf(path, sizeof path, "%s/%s", dir, file) < (int)sizeof path && access(path, F_OK) == 0;
}

/* The value after "KEY " on a line of a flat keyed file (memory.events, pids.events, ...); 0 if absent. */
static uint64_t cgroup_key(const char *dir, const char *file, const char *key) {
  char buf[4096];
  if (cgroup_read(dir, file, buf, sizeof buf) < 0) return 0;
  size_t klen = strlen(key);
  for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
    if (strncmp(line, key, klen) == 0 && line[klen] == ' ') return strtoull(line + klen + 1, NULL, 10);
  }
  return 0;
}

/*
 * This process's cgroup in one hierarchy, from /proc/self/cgroup: the v2 line ("0::PATH") when
 * controller is NULL, else the v1 line whose controller list names it. "" when not found.
 */
static void cgroup_own_path(const char *controller, char *out, size_t size) {
  char buf[8192];
  out[0] = 0;
  if (cgroup_read("/proc/self", "cgroup", buf, sizeof buf) < 0) return;
  for (char *line = buf; line && *line;) {
    char *end = strchr(line, '\n');
    if (end) *end = 0;
    char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (c1 && c2) {
      *c1 = *c2 = 0; /* line: the hierarchy's id, c1 + 1: its controllers, c2 + 1: the path */
      int match = 0;
      if (!controller) match = strcmp(line, "0") == 0 && c1[1] == 0;
      else
        for (char *tok = strtok(c1 + 1, ","); tok; tok = strtok(NULL, ","))
          if (strcmp(tok, controller) == 0) match = 1;
      if (match && c2[1] == '/' && strlen(c2 + 1) < size && !strstr(c2 + 1, "/..")) {
        snprintf(out, size, "%s", strcmp(c2 + 1, "/") == 0 ? "" : c2 + 1);
        return;
      }
    }
    line = end ? end + 1 : NULL;
  }
}

/* Removes groups under `group` whose supervisor is gone (names are pids); a busy one stays. */
static void cgroup_sweep(const char *group) {
  DIR *d = opendir(group);
  if (!d) return;
  for (struct dirent *e; (e = readdir(d)) != NULL;) {
    char *end;
    unsigned long pid = strtoul(e->d_name, &end, 10);
    if (*end || pid == 0 || pid > INT_MAX || (pid_t)pid == getpid()) continue;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", group, e->d_name) < (int)sizeof path) rmdir(path);
  }
  closedir(d);
}

/* Makes <base>/pypy-box/<our pid> (sweeping the group first); v2 enables the controllers on the way. */
static int cgroup_make_dir(const char *base, int v2, char *out) {
  char group[PATH_MAX];
  if (snprintf(group, sizeof group, "%s/" CGROUP_GROUP, base) >= (int)sizeof group) return -1;
  if (v2 && cgroup_write(base, "cgroup.subtree_control", "+memory +pids") < 0) return -1;
  if (mkdir(group, 0755) < 0 && errno != EEXIST) return -1;
  if (v2 && cgroup_write(group, "cgroup.subtree_control", "+memory +pids") < 0) return -1;
  cgroup_sweep(group);
  if (snprintf(out, PATH_MAX, "%s/%d", group, (int)getpid()) >= PATH_MAX) return -1;
  if (mkdir(out, 0755) == 0) return 0;
  /* A group of an earlier process with our pid (killed outright): empty, so it goes. */
  if (errno != EEXIST || rmdir(out) < 0 || mkdir(out, 0755) < 0) return -1;
  return 0;
}

/* Below our own cgroup of that hierarchy first, else at the hierarchy's root. */
static int cgroup_make_below(const char *mount, const char *controller, int v2, char *out) {
  char own[PATH_MAX / 2], base[PATH_MAX];
  cgroup_own_path(controller, own, sizeof own);
  if (own[0] && snprintf(base, sizeof base, "%s%s", mount, own) < (int)sizeof base &&
      cgroup_make_dir(base, v2, out) == 0)
    return 0;
  return cgroup_make_dir(mount, v2, out);
}

/*
 * SIGKILL to every pid listed in <dir>/cgroup.procs. A number cut short by the buffer is not
 * killed (it could name another process): the caller reads again after the first ones are gone.
 */
static void cgroup_kill_listed(const char *dir) {
  char buf[8192];
  if (cgroup_read(dir, "cgroup.procs", buf, sizeof buf) < 0) return;
  long pid = 0;
  for (const char *c = buf; *c; c++) {
    if (*c >= '0' && *c <= '9') {
      if (pid < INT_MAX / 10) pid = pid * 10 + (*c - '0');
      continue;
    }
    if (*c == '\n' && pid > 0 && pid != getpid()) kill((pid_t)pid, SIGKILL);
    pid = 0;
  }
}

void cgroup_kill(struct run_cgroup *cg) {
  if (cg->version == 2 && cgroup_write(cg->dir[0], "cgroup.kill", "1") == 0) return;
  for (int k = 0; k < 2 && cg->version; k++)
    if (cg->dir[k][0]) cgroup_kill_listed(cg->dir[k]);
}

/* Removes the run's group (async-signal-safe: called from the SIGTERM path too). */
void cgroup_remove(struct run_cgroup *cg) {
  for (int k = 0; k < 2 && cg->version; k++) {
    if (!cg->dir[k][0]) continue;
    /* Tasks that have just been reaped may take a moment to leave the group. */
    for (int tries = 0; tries < 200 && rmdir(cg->dir[k]) < 0 && errno == EBUSY; tries++) {
      struct timespec ms = {0, 1000000};
      nanosleep(&ms, NULL);
    }
    cg->dir[k][0] = 0;
  }
  cg->version = 0;
}

static int cgroup_make_v2(struct run_cgroup *cg) {
  static const char *const mounts[] = CGROUP_V2_MOUNTS;
  for (size_t k = 0; k < sizeof mounts / sizeof mounts[0]; k++) {
    char controllers[512];
    if (cgroup_read(mounts[k], "cgroup.controllers", controllers, sizeof controllers) < 0) continue;
    if (!strstr(controllers, "memory") || !strstr(controllers, "pids")) continue;
    if (cgroup_make_below(mounts[k], NULL, 1, cg->dir[0]) < 0) continue;
    cg->version = 2;
    if (cgroup_has(cg->dir[0], "memory.max") && cgroup_has(cg->dir[0], "pids.max")) return 0;
    cgroup_remove(cg);
  }
  return -1;
}

static int cgroup_make_v1(struct run_cgroup *cg) {
  static const char *const controllers[2] = {"memory", "pids"};
  static const char *const probe[2] = {"memory.limit_in_bytes", "pids.max"};
  cg->version = 1;
  for (int k = 0; k < 2; k++) {
    char mount[PATH_MAX];
    snprintf(mount, sizeof mount, CGROUP_V1_ROOT "/%s", controllers[k]);
    if (cgroup_make_below(mount, controllers[k], 0, cg->dir[k]) < 0 || !cgroup_has(cg->dir[k], probe[k])) {
      int e = errno;
      cgroup_remove(cg);
      errno = e;
      return -1;
    }
  }
  return 0;
}

/*
 * Makes the run's group (no limits yet: cgroup_set_limits). Returns the wall's name ("cgroup-v2",
 * "cgroup-v1"), or NULL with errno when the host allows neither.
 */
const char *cgroup_make(struct run_cgroup *cg) {
  if (cgroup_make_v2(cg) == 0) return "cgroup-v2";
  if (cgroup_make_v1(cg) == 0) return "cgroup-v1";
  if (!errno) errno = ENOENT;
  return NULL;
}

static void cgroup_number(char *buf, size_t size, uint64_t v, const char *none) {
  if (v) snprintf(buf, size, "%" PRIu64, v);
  else snprintf(buf, size, "%s", none);
}

/* Sets the caps (0: none); -1 with errno when one cannot be set. */
int cgroup_set_limits(struct run_cgroup *cg, uint64_t memory, uint64_t tasks) {
  char mem[32], pids[32];
  if (cg->version == 2) {
    cgroup_number(mem, sizeof mem, memory, "max");
    cgroup_number(pids, sizeof pids, tasks, "max");
    const char *dir = cg->dir[0];
    if (cgroup_write(dir, "memory.max", mem) < 0 || cgroup_write(dir, "pids.max", pids) < 0) return -1;
    if (cgroup_has(dir, "memory.swap.max") && cgroup_write(dir, "memory.swap.max", "0") < 0) return -1;
    if (cgroup_has(dir, "memory.oom.group")) cgroup_write(dir, "memory.oom.group", "1");
    return 0;
  }
  if (cg->version == 1) {
    cgroup_number(mem, sizeof mem, memory, "-1");
    cgroup_number(pids, sizeof pids, tasks, "max");
    const char *mdir = cg->dir[0];
    /* memsw must stay at or above the memory limit: raised first when lowering, after when raising. */
    int swap = cgroup_has(mdir, "memory.memsw.limit_in_bytes");
    if (swap && memory && cgroup_write(mdir, "memory.memsw.limit_in_bytes", "-1") < 0) return -1;
    if (cgroup_write(mdir, "memory.limit_in_bytes", mem) < 0) return -1;
    if (swap && cgroup_write(mdir, "memory.memsw.limit_in_bytes", mem) < 0) return -1;
    return cgroup_write(cg->dir[1], "pids.max", pids);
  }
  errno = ENOENT;
  return -1;
}

/* In the guest's child, before it drops its identity: joins the run's group ("0" is the writer). */
int cgroup_join(struct run_cgroup *cg) {
  for (int k = 0; k < (cg->version == 1 ? 2 : 1) && cg->version; k++)
    if (cgroup_write(cg->dir[k], "cgroup.procs", "0") < 0) return -1;
  return 0;
}

/* Whether the group's OOM killer has killed a task of the run. */
int cgroup_oom_killed(struct run_cgroup *cg) {
  if (cg->version == 2) return cgroup_key(cg->dir[0], "memory.events", "oom_kill") > 0;
  if (cg->version == 1) return cgroup_key(cg->dir[0], "memory.oom_control", "oom_kill") > 0;
  return 0;
}

/* How many times a new task was refused at the task cap. */
uint64_t cgroup_task_refusals(struct run_cgroup *cg) {
  if (!cg->version) return 0;
  return cgroup_key(cg->dir[cg->version == 1 ? 1 : 0], "pids.events", "max");
}
