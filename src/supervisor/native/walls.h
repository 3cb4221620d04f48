/*
 * Walls around a guest process, applied in the child between fork and exec: resource limits,
 * no new privileges, a uid of the run's own when started as root (identity.h), and new user,
 * network, IPC, UTS and mount namespaces where the kernel allows them. Each wall can be switched
 * off for debugging.
 */
#ifndef PYPY_BOX_WALLS_H
#define PYPY_BOX_WALLS_H
#include <stdint.h>
#include <sys/resource.h>

struct walls {
  rlim_t as, cpu, nofile, fsize, nproc;
  int namespaces;  /* NAMESPACES_OFF, _WHERE_ALLOWED or _REQUIRED: new user/net/ipc/uts/mount/pid ones */
  int drop_root;   /* run as the run's own uid when started as root */
  uint32_t run_id; /* that uid (and gid), claimed by the supervisor (identity.h); 0: none */
  char active[256];
};

enum { NAMESPACES_OFF, NAMESPACES_WHERE_ALLOWED, NAMESPACES_REQUIRED };

/* Adds a wall's name to the list of walls in force (the `walls` note). */
void wall_note(struct walls *w, const char *name);

/* Returns 0, or -1 with a message on stderr when a wall that must hold could not be built. */
int apply_limits(struct walls *w);

/* Another user, new namespaces, no new privileges (the limits come separately, apply_limits). */
int apply_isolation(struct walls *w);

/* Isolation first, as a waiting child does it: the limits could leave it no descriptor to make it with. */
int apply_walls(struct walls *w);
#endif
