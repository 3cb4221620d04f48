/*
 * Prints, as JSON, what the C compiler and the system headers say about every struct the
 * controller encodes or decodes in a guest's memory (size and field offsets) and the flag
 * numbers it reads or writes; test/platform-layouts.test.ts compares them with src/platform/.
 * It only prints: it makes no system call beyond writing to stdout.
 */
#define _GNU_SOURCE
#include <asm/termbits.h> /* the kernel's struct termios, as TCGETS fills it */
#include <dirent.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static int first_struct = 1, first_field;

static void begin(const char *name, size_t size) {
  printf("%s\"%s\":{\"size\":%zu,\"offsets\":{", first_struct ? "" : ",", name, size);
  first_struct = 0;
  first_field = 1;
}
static void field(const char *name, size_t off) {
  printf("%s\"%s\":%zu", first_field ? "" : ",", name, off);
  first_field = 0;
}
static void end(void) {
  printf("}}");
}

#define F(type, member) field(#member, offsetof(type, member))

static void flag(const char *name, long value) {
  printf("%s\"%s\":%ld", first_field ? "" : ",", name, value);
  first_field = 0;
}
#define C(name) flag(#name, (long)(name))

int main(void) {
  printf("{\"layouts\":{");
  begin("stat", sizeof(struct stat));
  F(struct stat, st_dev);
  F(struct stat, st_ino);
  F(struct stat, st_nlink);
  F(struct stat, st_mode);
  F(struct stat, st_uid);
  F(struct stat, st_gid);
  F(struct stat, st_rdev);
  F(struct stat, st_size);
  F(struct stat, st_blksize);
  F(struct stat, st_blocks);
  F(struct stat, st_atim);
  F(struct stat, st_mtim);
  F(struct stat, st_ctim);
  end();
  begin("dirent64", sizeof(struct dirent64));
  F(struct dirent64, d_ino);
  F(struct dirent64, d_off);
  F(struct dirent64, d_reclen);
  F(struct dirent64, d_type);
  F(struct dirent64, d_name);
  end();
  begin("sysinfo", sizeof(struct sysinfo));
  F(struct sysinfo, uptime);
  F(struct sysinfo, loads);
  F(struct sysinfo, totalram);
  F(struct sysinfo, freeram);
  F(struct sysinfo, sharedram);
  F(struct sysinfo, bufferram);
  F(struct sysinfo, totalswap);
  F(struct sysinfo, freeswap);
  F(struct sysinfo, procs);
  F(struct sysinfo, totalhigh);
  F(struct sysinfo, freehigh);
  F(struct sysinfo, mem_unit);
  end();
  begin("termios", sizeof(struct termios));
  F(struct termios, c_iflag);
  F(struct termios, c_oflag);
  F(struct termios, c_cflag);
  F(struct termios, c_lflag);
  F(struct termios, c_line);
  F(struct termios, c_cc);
  end();
  begin("winsize", sizeof(struct winsize));
  F(struct winsize, ws_row);
  F(struct winsize, ws_col);
  F(struct winsize, ws_xpixel);
  F(struct winsize, ws_ypixel);
  end();
  begin("iovec", sizeof(struct iovec));
  F(struct iovec, iov_base);
  F(struct iovec, iov_len);
  end();
  begin("tms", sizeof(struct tms));
  F(struct tms, tms_utime);
  F(struct tms, tms_stime);
  F(struct tms, tms_cutime);
  F(struct tms, tms_cstime);
  end();
  begin("rusage", sizeof(struct rusage));
  F(struct rusage, ru_utime);
  F(struct rusage, ru_stime);
  F(struct rusage, ru_maxrss);
  end();
  begin("timeval", sizeof(struct timeval));
  F(struct timeval, tv_sec);
  F(struct timeval, tv_usec);
  end();
  begin("timespec", sizeof(struct timespec));
  F(struct timespec, tv_sec);
  F(struct timespec, tv_nsec);
  end();
  begin("utsname", sizeof(struct utsname));
  F(struct utsname, sysname);
  F(struct utsname, nodename);
  F(struct utsname, release);
  F(struct utsname, version);
  F(struct utsname, machine);
  F(struct utsname, domainname);
  end();
  begin("time_t", sizeof(time_t));
  end();
  printf("},\"extents\":{");
  first_field = 1;
  flag("UTSNAME_FIELD_BYTES", (long)sizeof(((struct utsname *)0)->sysname));
  C(NCCS);
  flag("st_nlink", (long)sizeof(((struct stat *)0)->st_nlink));
  flag("st_blksize", (long)sizeof(((struct stat *)0)->st_blksize));
  printf("},\"flags\":{");
  first_field = 1;
  C(O_ACCMODE);
  C(O_RDONLY);
  C(O_WRONLY);
  C(O_RDWR);
  C(O_CREAT);
  C(O_EXCL);
  C(O_NOCTTY);
  C(O_TRUNC);
  C(O_APPEND);
  C(O_NONBLOCK);
  C(O_DIRECTORY);
  C(O_NOFOLLOW);
  C(O_CLOEXEC);
  C(AT_FDCWD);
  C(AT_SYMLINK_NOFOLLOW);
  C(AT_REMOVEDIR);
  C(AT_EMPTY_PATH);
  C(R_OK);
  C(W_OK);
  C(X_OK);
  C(F_OK);
  C(SEEK_SET);
  C(SEEK_CUR);
  C(SEEK_END);
  C(TCGETS);
  C(TCSETS);
  C(TCSETSW);
  C(TCSETSF);
  C(TIOCGPGRP);
  C(TIOCGWINSZ);
  C(TIOCSWINSZ);
  C(FIONREAD);
  C(FIONCLEX);
  C(FIOCLEX);
  C(ISTRIP);
  C(INLCR);
  C(IGNCR);
  C(ICRNL);
  C(IXON);
  C(OPOST);
  C(ONLCR);
  C(B38400);
  C(CS8);
  C(CREAD);
  C(ISIG);
  C(ICANON);
  C(ECHO);
  C(ECHOE);
  C(ECHOK);
  C(ECHONL);
  C(NOFLSH);
  C(ECHOCTL);
  C(ECHOKE);
  C(IEXTEN);
  C(VINTR);
  C(VQUIT);
  C(VERASE);
  C(VKILL);
  C(VEOF);
  C(VTIME);
  C(VMIN);
  C(VSTART);
  C(VSTOP);
  C(VSUSP);
  C(VEOL);
  C(VREPRINT);
  C(VDISCARD);
  C(VWERASE);
  C(VLNEXT);
  C(VEOL2);
  C(F_DUPFD);
  C(F_GETFD);
  C(F_SETFD);
  C(F_GETFL);
  C(F_SETFL);
  C(F_DUPFD_CLOEXEC);
  C(FD_CLOEXEC);
  C(RENAME_NOREPLACE);
  C(RUSAGE_SELF);
  C(RUSAGE_CHILDREN);
  C(RUSAGE_THREAD);
  C(_PC_LINK_MAX);
  C(_PC_NAME_MAX);
  C(_PC_PATH_MAX);
  C(CLOCK_REALTIME);
  C(CLOCK_MONOTONIC);
  C(CLOCK_PROCESS_CPUTIME_ID);
  C(CLOCK_THREAD_CPUTIME_ID);
  C(CLOCK_MONOTONIC_RAW);
  C(CLOCK_REALTIME_COARSE);
  C(CLOCK_MONOTONIC_COARSE);
  C(CLOCK_BOOTTIME);
  C(CLOCK_REALTIME_ALARM);
  C(CLOCK_BOOTTIME_ALARM);
  printf("}}\n");
  return 0;
}
