/*
 * Where this context's command server listens. A worker runs the guest as this process would
 * have: so a server is used only by processes that would give their children what its workers
 * get. The socket's name is a hash of all of that (the user and groups, the cgroups, every
 * resource limit, the namespaces, capabilities, no_new_privs and seccomp, the niceness, CPU
 * affinity, scheduling policy, I/O priority, personality and out-of-memory score, the security
 * label, Node's and the dynamic linker's settings, the package and node binaries), so that a
 * process differing in any of it starts a server of its own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "client.h"

extern char **environ;

static uint64_t hash_bytes(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ULL; /* FNV-1a */
  return h;
}

static uint64_t hash_text(uint64_t h, const char *s) {
  return hash_bytes(h, s, strlen(s) + 1);
}

static uint64_t hash_file(uint64_t h, const char *path) {
  char buf[8192];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  h = hash_text(h, path);
  if (fd < 0) return hash_text(h, "(unreadable)");
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    h = hash_bytes(h, buf, (size_t)n);
  }
  close(fd);
  return h;
}

/* An executable's identity: its path, and the file itself as stat tells it (rebuilt: another key). */
static uint64_t hash_binary(uint64_t h, const char *path) {
  struct stat st;
  h = hash_text(h, path);
  if (stat(path, &st) != 0) return hash_text(h, "(missing)");
  long long id[] = {(long long)st.st_dev, (long long)st.st_ino, (long long)st.st_size, (long long)st.st_mtim.tv_sec,
                    (long long)st.st_mtim.tv_nsec};
  return hash_bytes(h, id, sizeof id);
}

/* The lines of /proc/self/status about privileges (capabilities, no_new_privs, seccomp). */
static uint64_t hash_privileges(uint64_t h) {
  static const char *const keys[] = {"Uid:",    "Gid:",    "Groups:",     "CapInh:",  "CapPrm:",         "CapEff:",
                                     "CapBnd:", "CapAmb:", "NoNewPrivs:", "Seccomp:", "Seccomp_filters:"};
  char line[1024];
  FILE *f = fopen("/proc/self/status", "re");
  if (!f) return hash_text(h, "(no status)");
  while (fgets(line, sizeof line, f))
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
      if (strncmp(line, keys[i], strlen(keys[i])) == 0) h = hash_text(h, line);
  fclose(f);
  return h;
}

static uint64_t hash_namespaces(uint64_t h) {
  static const char *const kinds[] = {"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"};
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
    char path[64], target[128];
    snprintf(path, sizeof path, "/proc/self/ns/%s", kinds[i]);
    ssize_t n = readlink(path, target, sizeof target - 1);
    target[n > 0 ? n : 0] = '\0';
    h = hash_text(h, target);
  }
  return h;
}

static uint64_t hash_limits(uint64_t h) {
  for (int r = 0; r < RLIM_NLIMITS; r++) {
    struct rlimit rl = {0, 0};
    getrlimit(r, &rl);
    h = hash_bytes(h, &rl, sizeof rl);
  }
  errno = 0;
  int nice = getpriority(PRIO_PROCESS, 0);
  h = hash_bytes(h, &nice, sizeof nice);
  return h; /* the umask is not part of it: it travels with each request */
}

/* How the process is scheduled and run: CPU affinity, policy and priority, I/O priority, personality. */
static uint64_t hash_scheduling(uint64_t h) {
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  sched_getaffinity(0, sizeof cpus, &cpus);
  h = hash_bytes(h, &cpus, sizeof cpus);
  struct sched_param param = {0};
  int policy = sched_getscheduler(0);
  sched_getparam(0, &param);
  long io = syscall(SYS_ioprio_get, 1 /* IOPRIO_WHO_PROCESS */, 0);
  int persona = personality(0xffffffff);
  long values[] = {policy, param.sched_priority, io, persona};
  return hash_bytes(h, values, sizeof values);
}

static int by_text(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* What of the environment the server itself runs with (NODE_OPTIONS, UV_THREADPOOL_SIZE, LD_PRELOAD, ...), in order. */
static uint64_t hash_node_environment(uint64_t h) {
  size_t n = 0, k = 0;
  while (environ[n]) n++;
  char **picked = calloc(n + 1, sizeof *picked);
  if (!picked) return hash_text(h, "(no memory)");
  for (size_t i = 0; i < n; i++)
    if (strncmp(environ[i], "NODE_", 5) == 0 || strncmp(environ[i], "UV_", 3) == 0 ||
        strncmp(environ[i], "LD_", 3) == 0)
      picked[k++] = environ[i];
  qsort(picked, k, sizeof *picked, by_text);
  for (size_t i = 0; i < k; i++) h = hash_text(h, picked[i]);
  free(picked);
  return h;
}

/* The first `node` on PATH, as `#!/usr/bin/env node` would run it. */
static int find_node(char *out, size_t size) {
  const char *path = getenv("PATH");
  if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
  while (*path) {
    const char *end = strchr(path, ':');
    size_t len = end ? (size_t)(end - path) : strlen(path);
    char candidate[4096];
    if (len > 0 && len + 6 < sizeof candidate) {
      memcpy(candidate, path, len);
      memcpy(candidate + len, "/node", 6);
      if (access(candidate, X_OK) == 0 && realpath(candidate, out) && strlen(out) < size) return 0;
    }
    if (!end) break;
    path = end + 1;
  }
  return -1;
}

/* This package's command entry, from the client's own place (build/native/pypy-box-client, or its sanitizer build). */
static int find_entry(char *out, size_t size) {
  char self[4096];
  if (!realpath("/proc/self/exe", self)) return -1;
  for (int up = 0; up < 3; up++) {
    char *slash = strrchr(self, '/');
    if (!slash || slash == self) return -1;
    *slash = '\0';
  }
  if ((size_t)snprintf(out, size, "%s/dist/controller/pypy-box.cjs", self) >= size) return -1;
  return access(out, R_OK);
}

/*
 * The per-user directory of sockets: made if missing, and used only if it is ours alone. It is
 * held open and every later use goes through that descriptor (/proc/self/fd/N/NAME): whoever can
 * rename entries above it cannot swap another directory in between the check and the use.
 */
static int socket_dir(struct server_place *place) {
  const char *base = getenv("XDG_RUNTIME_DIR");
  struct stat st;
  if (!base || base[0] != '/' || stat(base, &st) != 0 || !S_ISDIR(st.st_mode)) base = "/tmp";
  if ((size_t)snprintf(place->dir, sizeof place->dir, "%s/pypy-box-%u", base, (unsigned)geteuid()) >= sizeof place->dir)
    return -1;
  if (mkdir(place->dir, 0700) != 0 && errno != EEXIST) return -1;
  int dfd = open(place->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0) return -1;
  if (fstat(dfd, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
    close(dfd);
    return -1;
  }
  place->dir_fd = dfd;
  return 0;
}

int find_command(struct server_place *place) {
  if (find_entry(place->entry, sizeof place->entry) != 0) return -1;
  if (find_node(place->node, sizeof place->node) != 0) place->node[0] = '\0';
  return 0;
}

int find_server_place(struct server_place *place) {
  if (!place->node[0] || socket_dir(place) != 0) return -1;
  uint64_t h = 0xcbf29ce484222325ULL;
  h = hash_binary(h, place->entry);
  h = hash_binary(h, place->node);
  h = hash_file(h, "/proc/self/cgroup");
  h = hash_file(h, "/proc/self/oom_score_adj");
  h = hash_file(h, "/proc/self/attr/current");
  h = hash_privileges(h);
  h = hash_namespaces(h);
  h = hash_limits(h);
  h = hash_scheduling(h);
  h = hash_node_environment(h);
  snprintf(place->name, sizeof place->name, "%016llx.sock", (unsigned long long)h);
  int n = snprintf(place->socket, sizeof place->socket, "%s/%s", place->dir, place->name);
  int v = snprintf(place->via, sizeof place->via, "/proc/self/fd/%d/%s", place->dir_fd, place->name);
  return n > 0 && (size_t)n < sizeof place->socket && v > 0 && (size_t)v < sizeof place->via ? 0 : -1;
}

int connect_server(const struct server_place *place) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  memcpy(addr.sun_path, place->via, strlen(place->via) + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}
