/*
 * A guest for tests: the guest side of PyPy's sandbox-2 protocol, exactly as the protocol text
 * states it, driven by a script given as arguments (one line per argument). It lets tests make
 * any sequence of calls, including hostile ones, and prints what it got back on its real stderr.
 *
 * Script lines:
 *   call SIG ARG...      make a call; ARG: 123, -1, 0x10, s:TEXT, b:NAME[+OFF], r (last result),
 *                        v:NAME (saved value), f:1.5, null. Prints "= RESULT errno=E" unless quiet.
 *   buf NAME SIZE        a zeroed buffer          fill NAME BYTE SIZE   buffer of SIZE bytes + NUL
 *   save NAME            keep the last result     text NAME LEN|r       print buffer as text
 *   u64 NAME OFF / u32 NAME OFF / u16 NAME OFF / u8 NAME OFF   print an integer from a buffer
 *   str NAME             print the C string at pointer v:NAME
 *   loop N ... end       repeat                   quiet / loud          per-call printing
 *   raw HEX KIND         send raw bytes, then answer commands until result KIND ('-': don't wait)
 *   exit N               exit(N)                  crash segv|abort      die of a signal
 *   sleep MS             real sleep, no protocol
 *   sys NR [ARG...]      a raw system call outside the protocol (what a guest escaping would try)
 * TEXT escapes: \s space, \n newline, \\ backslash, \xNN byte.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef EXTRA_FUNCS
#define EXTRA_FUNCS ""
#endif

#ifdef ALL_FUNCS
static const char *FUNCS = ALL_FUNCS;
#else
static const char *FUNCS =
    "_exit(i)v _pypy_init_free(p)v _pypy_init_home()p access(pi)i chdir(p)i clock_gettime(ip)i close(i)i "
    "closedir(p)i fstat64(ip)i get_environ()p getcwd(pi)p getenv(p)p getpid()i gettimeofday(pp)i getuid()i "
    "isatty(i)i lseek(iii)i lstat64(pp)i mkdir(pi)i open(pii)i opendir(p)p read(ipi)i readdir(p)p "
    "rename(pp)i rmdir(p)i stat64(pp)i time(p)i uname(p)i unlink(p)i write(ipi)i" EXTRA_FUNCS;
#endif

static int g_errno;
static int quiet;
static uint64_t last;

static void die(const char *why) {
  fprintf(stderr, "guest: fatal: %s\n", why);
  abort();
}

static void wr(const void *p, size_t n) {
  const char *c = p;
  while (n) {
    ssize_t k = write(1, c, n);
    if (k < 0) {
      if (errno == EINTR) continue;
      die("write to controller failed");
    }
    c += k;
    n -= (size_t)k;
  }
}

static void rd(void *p, size_t n) {
  char *c = p;
  while (n) {
    ssize_t k = read(0, c, n);
    if (k == 0) die("unexpected EOF from controller");
    if (k < 0) {
      if (errno == EINTR) continue;
      die("read from controller failed");
    }
    c += k;
    n -= (size_t)k;
  }
}

static uint64_t rd64(void) {
  uint64_t v;
  rd(&v, 8);
  return v;
}

/* Serves memory commands until the result, which must be of kind `rkind`. */
static uint64_t answer_loop(char rkind) {
  for (;;) {
    unsigned char c;
    rd(&c, 1);
    switch (c) {
      case 'R': {
        char *ptr = (char *)(uintptr_t)rd64();
        uint64_t size = rd64();
        wr(ptr, size);
        break;
      }
      case 'Z': {
        char *ptr = (char *)(uintptr_t)rd64();
        uint64_t maxlen = rd64();
        uint64_t len = strnlen(ptr, maxlen == UINT64_MAX ? SIZE_MAX : maxlen);
        wr(&len, 8);
        wr(ptr, len);
        break;
      }
      case 'W': {
        char *ptr = (char *)(uintptr_t)rd64();
        uint64_t size = rd64();
        rd(ptr, size);
        break;
      }
      case 'M': {
        uint64_t size = rd64();
        char *p = malloc(size ? size : 1);
        if (!p) die("malloc failed");
        rd(p, size);
        uint64_t v = (uintptr_t)p;
        wr(&v, 8);
        break;
      }
      case 'F':
        free((void *)(uintptr_t)rd64());
        break;
      case 'E': {
        int32_t e;
        rd(&e, 4);
        g_errno = e;
        break;
      }
      case 'v':
      case 'i':
      case 'f':
      case 'p':
        if (c != (unsigned char)rkind) die("result kind does not match the call");
        return c == 'v' ? 0 : rd64();
      default:
        die("protocol error: unknown command byte");
    }
  }
}

#define MAXVARS 64
static struct {
  char name[32];
  uint64_t value;
  size_t size;
} vars[MAXVARS];
static int nvars;

static int find_var(const char *name) {
  for (int k = 0; k < nvars; k++)
    if (strcmp(vars[k].name, name) == 0) return k;
  return -1;
}

static void set_var(const char *name, uint64_t value, size_t size) {
  int k = find_var(name);
  if (k < 0) {
    if (nvars == MAXVARS) die("too many variables");
    k = nvars++;
    snprintf(vars[k].name, sizeof vars[k].name, "%s", name);
  }
  vars[k].value = value;
  vars[k].size = size;
}

static uint64_t get_var(const char *name) {
  int k = find_var(name);
  if (k < 0) {
    fprintf(stderr, "guest: unknown variable %s\n", name);
    exit(97);
  }
  return vars[k].value;
}

static char *unescape(const char *s) {
  char *out = malloc(strlen(s) + 1), *o = out;
  while (*s) {
    if (s[0] == '\\' && s[1]) {
      if (s[1] == 's') *o++ = ' ', s += 2;
      else if (s[1] == 'n') *o++ = '\n', s += 2;
      else if (s[1] == '\\') *o++ = '\\', s += 2;
      else if (s[1] == 'x' && s[2] && s[3]) {
        char hex[3] = {s[2], s[3], 0};
        *o++ = (char)strtol(hex, NULL, 16);
        s += 4;
      } else *o++ = *s++;
    } else *o++ = *s++;
  }
  *o = 0;
  return out;
}

static uint64_t parse_arg(const char *a) {
  if (strncmp(a, "s:", 2) == 0) return (uintptr_t)unescape(a + 2);
  if (strncmp(a, "b:", 2) == 0 || strncmp(a, "v:", 2) == 0) {
    char name[32];
    const char *plus = strchr(a + 2, '+');
    size_t n = plus ? (size_t)(plus - a - 2) : strlen(a + 2);
    if (n >= sizeof name) die("variable name too long");
    memcpy(name, a + 2, n);
    name[n] = 0;
    return get_var(name) + (plus ? strtoull(plus + 1, NULL, 0) : 0);
  }
  if (strncmp(a, "f:", 2) == 0) {
    double d = strtod(a + 2, NULL);
    uint64_t v;
    memcpy(&v, &d, 8);
    return v;
  }
  if (strcmp(a, "r") == 0) return last;
  if (strcmp(a, "null") == 0) return 0;
  return (uint64_t)strtoll(a, NULL, 0);
}

static char *words[64];
static int split(char *line) {
  int n = 0;
  for (char *tok = strtok(line, " "); tok && n < 64; tok = strtok(NULL, " ")) words[n++] = tok;
  return n;
}

static void call(int n) {
  const char *sig = words[1];
  size_t len = strlen(sig);
  const char *close = strchr(sig, ')');
  if (len == 0 || len > 255 || !close || !close[1]) die("bad signature in script");
  int nargs = n - 2;
  if (nargs > 32) die("more than 32 arguments");
  unsigned char buf[1 + 255 + 32 * 8];
  buf[0] = (unsigned char)len;
  memcpy(buf + 1, sig, len);
  for (int k = 0; k < nargs; k++) {
    uint64_t v = parse_arg(words[2 + k]);
    memcpy(buf + 1 + len + 8 * k, &v, 8);
  }
  wr(buf, 1 + len + 8 * (size_t)nargs);
  last = answer_loop(close[1]);
  if (!quiet) fprintf(stderr, "= %lld errno=%d\n", (long long)last, g_errno);
}

static size_t size_arg(const char *a) {
  return strcmp(a, "r") == 0 ? (size_t)last : (size_t)strtoull(a, NULL, 0);
}

static void run(char **lines, int count);

static int find_end(char **lines, int from, int count) {
  int depth = 0;
  for (int k = from; k < count; k++) {
    if (strncmp(lines[k], "loop ", 5) == 0) depth++;
    else if (strcmp(lines[k], "end") == 0 && depth-- == 0) return k;
  }
  die("loop without end");
  return -1;
}

static void run(char **lines, int count) {
  for (int k = 0; k < count; k++) {
    char *copy = strdup(lines[k]);
    int n = split(copy);
    if (n == 0) {
      free(copy);
      continue;
    }
    const char *op = words[0];
    if (strcmp(op, "call") == 0 && n >= 2) call(n);
    else if (strcmp(op, "buf") == 0 && n == 3) {
      size_t size = size_arg(words[2]);
      set_var(words[1], (uintptr_t)calloc(1, size ? size : 1), size);
    } else if (strcmp(op, "fill") == 0 && n == 4) {
      size_t size = size_arg(words[3]);
      char *p = malloc(size + 1);
      memset(p, words[2][0], size);
      p[size] = 0;
      set_var(words[1], (uintptr_t)p, size);
    } else if (strcmp(op, "save") == 0 && n == 2) set_var(words[1], last, 0);
    else if (strcmp(op, "text") == 0 && n == 3) {
      fprintf(stderr, "TEXT ");
      fwrite((void *)(uintptr_t)get_var(words[1]), 1, size_arg(words[2]), stderr);
      fprintf(stderr, "\n");
    } else if (strcmp(op, "str") == 0 && n == 2) {
      const char *p = (const char *)(uintptr_t)get_var(words[1]);
      fprintf(stderr, "STR %s\n", p ? p : "(null)");
    } else if ((strcmp(op, "u64") == 0 || strcmp(op, "u32") == 0 || strcmp(op, "u16") == 0 || strcmp(op, "u8") == 0) &&
               n == 3) {
      const unsigned char *p = (const unsigned char *)(uintptr_t)get_var(words[1]) + strtoull(words[2], NULL, 0);
      uint64_t v = 0;
      memcpy(&v, p, op[1] == '6' ? 8 : op[1] == '3' ? 4 : op[1] == '1' ? 2 : 1);
      fprintf(stderr, "%s %llu\n", op, (unsigned long long)v);
    } else if (strcmp(op, "loop") == 0 && n == 2) {
      int end = find_end(lines, k + 1, count);
      long times = strtol(words[1], NULL, 0);
      for (long t = 0; t < times; t++) run(lines + k + 1, end - k - 1);
      k = end;
    } else if (strcmp(op, "quiet") == 0) quiet = 1;
    else if (strcmp(op, "loud") == 0) quiet = 0;
    else if (strcmp(op, "raw") == 0 && n == 3) {
      size_t hl = strlen(words[1]);
      unsigned char *bytes = malloc(hl / 2 + 1);
      for (size_t j = 0; j + 1 < hl; j += 2) {
        char hex[3] = {words[1][j], words[1][j + 1], 0};
        bytes[j / 2] = (unsigned char)strtol(hex, NULL, 16);
      }
      wr(bytes, hl / 2);
      if (words[2][0] != '-') {
        last = answer_loop(words[2][0]);
        if (!quiet) fprintf(stderr, "= %lld errno=%d\n", (long long)last, g_errno);
      }
    } else if (strcmp(op, "exit") == 0 && n == 2) exit(atoi(words[1]));
    else if (strcmp(op, "crash") == 0 && n == 2) {
      if (strcmp(words[1], "segv") == 0) raise(SIGSEGV);
      abort();
    } else if (strcmp(op, "sys") == 0 && n >= 2) {
      long a[6] = {0};
      for (int j = 2; j < n && j < 8; j++) a[j - 2] = (long)parse_arg(words[j]);
      long r = syscall(strtol(words[1], NULL, 0), a[0], a[1], a[2], a[3], a[4], a[5]);
      fprintf(stderr, "SYS %ld errno=%d\n", r, r < 0 ? errno : 0);
    } else if (strcmp(op, "sleep") == 0 && n == 2) {
      struct timespec ts = {atol(words[1]) / 1000, (atol(words[1]) % 1000) * 1000000L};
      nanosleep(&ts, NULL);
    } else {
      fprintf(stderr, "guest: bad script line: %s\n", lines[k]);
      exit(98);
    }
    free(copy);
  }
}

int main(int argc, char **argv) {
  const char *dump = getenv("RPY_SANDBOX_DUMP");
  if (dump && *dump) {
    printf("Version: 20001\nPlatform: linux2\nFuncs: %s\n", FUNCS);
    return 0;
  }
  run(argv + 1, argc - 1);
  return 0;
}
