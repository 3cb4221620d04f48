/*
 * A parent that, like pid 1 in many containers, never reaps processes it did not start: it runs
 * the supervisor below it (as their subreaper), ends it with a signal, and counts the processes
 * left below it. Usage: reaper SIGNAL SUPERVISOR [ARGS...]; prints "left N zombies M". SIGNAL 0:
 * no configuration and no signal; its stdin is closed instead (a spare supervisor's end).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  int sig = atoi(argv[1]);
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) return 1;
  int in[2];
  if (pipe(in) < 0) return 1;
  pid_t sup = fork();
  if (sup == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(in[0], 0);
    dup2(null, 1);
    close(in[1]);
    execv(argv[2], argv + 2);
    _exit(127);
  }
  close(in[0]);
  unsigned len = 0; /* an empty configuration: no local answers */
  if (sig > 0 && write(in[1], &len, sizeof len) != sizeof len) return 1;
  usleep(500 * 1000); /* the guest starts, and waits for an answer that never comes */
  if (sig > 0) kill(sup, sig);
  else close(in[1]);
  int status;
  waitpid(sup, &status, 0);
  usleep(300 * 1000);
  int left = 0, zombies = 0;
  DIR *d = opendir("/proc");
  struct dirent *e;
  while (d && (e = readdir(d))) {
    int pid = atoi(e->d_name);
    if (pid <= 0) continue;
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    if (fgets(line, sizeof line, f)) {
      char *p = strrchr(line, ')');
      char state;
      int ppid;
      if (p && sscanf(p + 2, "%c %d", &state, &ppid) == 2 && ppid == getpid()) {
        left++;
        if (state == 'Z') zombies++;
      }
    }
    fclose(f);
  }
  if (d) closedir(d);
  printf("left %d zombies %d\n", left, zombies);
  while (waitpid(-1, NULL, 0) > 0) {
  }
  return 0;
}
