/* The walls around a guest process (see walls.h). */
#define _GNU_SOURCE
#include "walls.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

void wall_note(struct walls *w, const char *name) {
  size_t n = strlen(w->active);
  snprintf(w->active + n, sizeof w->active - n, "%s%s", n ? "," : "", name);
}

/* A resource limit as a ceiling: one already lower (the caller's `ulimit`) stays as it is. */
static int wall_limit(int res, rlim_t v) {
  if (!v) return 0;
  struct rlimit now, rl = {v, res == RLIMIT_CPU ? v + 1 : v};
  if (getrlimit(res, &now) == 0 && now.rlim_max != RLIM_INFINITY && rl.rlim_max > now.rlim_max) {
    rl.rlim_max = now.rlim_max;
    if (rl.rlim_cur > rl.rlim_max) rl.rlim_cur = rl.rlim_max;
  }
  return setrlimit(res, &rl);
}

static int write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = write(fd, text, strlen(text));
  close(fd);
  return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* Returns 0, or -1 with a message on stderr when a wall that must hold could not be built. */
int apply_limits(struct walls *w) {
  if (wall_limit(RLIMIT_AS, w->as) || wall_limit(RLIMIT_CPU, w->cpu) || wall_limit(RLIMIT_NOFILE, w->nofile) ||
      wall_limit(RLIMIT_FSIZE, w->fsize) || wall_limit(RLIMIT_NPROC, w->nproc) || wall_limit(RLIMIT_CORE, 1)) {
    fprintf(stderr, "pypy-box-supervisor: setrlimit: %s\n", strerror(errno));
    return -1;
  }
  wall_note(w, "rlimits");
  return 0;
}

/*
 * New user, network, IPC, UTS and mount namespaces, the user mapped to itself. Returns 0; 1 with
 * errno when the kernel refuses them here (the caller decides whether that stops the run); -1 with
 * errno when they were made but their id maps could not be written (that always stops it).
 */
static int enter_namespaces(struct walls *w) {
  uid_t uid = geteuid();
  gid_t gid = getegid();
  /* Dropping root made us non-dumpable: /proc/self would then be root's, and its id maps not ours to write. */
  if (prctl(PR_SET_DUMPABLE, 1) < 0) return -1;
  if (unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS) != 0) return 1;
  char map[64];
  snprintf(map, sizeof map, "%u %u 1\n", (unsigned)uid, (unsigned)uid);
  if (write_file("/proc/self/setgroups", "deny\n") < 0 || write_file("/proc/self/uid_map", map) < 0) return -1;
  snprintf(map, sizeof map, "%u %u 1\n", (unsigned)gid, (unsigned)gid);
  if (write_file("/proc/self/gid_map", map) < 0) return -1;
  wall_note(w, "user-ns,net-ns,ipc-ns,uts-ns,mount-ns");
  return 0;
}

/* Another user, new namespaces, no new privileges (the limits come separately, apply_limits). */
int apply_isolation(struct walls *w) {
  if (w->drop_root && geteuid() == 0) {
    uid_t id = w->run_id;
    if (!id) {
      fprintf(stderr, "pypy-box-supervisor: no uid was claimed for the run\n");
      return -1;
    }
    if (setgroups(0, NULL) || setresgid(id, id, id) || setresuid(id, id, id)) {
      fprintf(stderr, "pypy-box-supervisor: cannot drop to uid %u: %s\n", (unsigned)id, strerror(errno));
      return -1;
    }
    wall_note(w, "uid-per-run");
  }
  int ns = w->namespaces ? enter_namespaces(w) : 0;
  if (ns < 0) {
    fprintf(stderr, "pypy-box-supervisor: cannot map the run's ids in its user namespace: %s\n", strerror(errno));
    return -1;
  }
  if (ns > 0 && w->namespaces == NAMESPACES_REQUIRED) {
    fprintf(stderr, "pypy-box-supervisor: the namespaces were asked for and cannot be made: %s\n", strerror(errno));
    return -1;
  }
  /* Changing credentials cleared the parent-death signal: set it again. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) return -1;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
    fprintf(stderr, "pypy-box-supervisor: PR_SET_NO_NEW_PRIVS: %s\n", strerror(errno));
    return -1;
  }
  wall_note(w, "no-new-privs");
  return 0;
}

/* Isolation first, as a waiting child does it: the limits could leave it no descriptor to make it with. */
int apply_walls(struct walls *w) {
  return apply_isolation(w) < 0 ? -1 : apply_limits(w);
}
