/* The supervisor's state before anything starts (see state.h). */
#include "state.h"

#include <string.h>

void run_init(struct run *run) {
  memset(run, 0, sizeof *run);
  run->child = -1;
  run->listener = -1;
  run->listener_sock = -1;
  run->early_status[0] = run->early_status[1] = -1;
  run->premade_go = -1;
  run->notes.fd = -1;
  run->limits.cgroup = CGROUP_AUTO;
  run->guest.pid = -1;
  run->guest.placeholder = -1;
  for (int k = 0; k < 3; k++) run->guest.stdio_placeholder[k] = -1;
  run->guest.pidfd = -1;
  run->guest.pidfd_of = -1;
  run->guest.signal_pidfd = -1;
  identity_init(&run->id);
}
