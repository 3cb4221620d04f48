/*
 * What the controller hands the supervisor so that it answers some calls itself (docs/protocol.md,
 * "Local answers"; the controller's side is src/supervisor/delegation.ts): read-only host grants
 * that appear at their own host path with no filter, the virtual symlinks leading to them, the
 * directories of its own tree whose every name is known, the stats and small files of that tree,
 * the guest's identity and working directory. Given as options (on the command line or the
 * configuration frame on stdin), kept in one struct local, and resolved here; the answers
 * themselves are local.h's.
 *
 * Also what the supervisor learns while the run goes on: which virtual descriptors are granted
 * host directories (their fstat), the listings of virtual directories sent with their open ('L'),
 * and the last stat of the working directory.
 */
#ifndef PYPY_BOX_DELEGATION_H
#define PYPY_BOX_DELEGATION_H
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "contract.h"

/* MAX_GRANTS, MAX_LINKS, MAX_DIRS, MAX_NAMES, MAX_ABSENT, MAX_HOST_DEVS and MAX_LISTING are the contract's (contract.h). */
#define MAX_STATS 512
#define MAX_VFILES 1024
#define MAX_DIR_FDS 128
#define MAX_LISTINGS 64
#define MAX_LINK_HOPS 40

/*
 * What resolve_local and the answers return: a grant's index (>= 0), one of the contract's report
 * codes (GRANT_MISSING_NAME, GRANT_OWN_TREE, ...: reported as they are), or one of these,
 * below every report code, which never reach a report.
 */
#define LOCAL_FORWARD (-100)  /* not answered here: the call goes to the controller */
#define RESOLVED_LINK (-101)  /* the name is a virtual symlink itself (not followed) */
#define LOCAL_ANSWERED (-102) /* answered and reported by the handler itself (local.c) */

#define MAX_HIDE_RULES 8

struct local_grant {
  char *path; /* where the guest sees it */
  size_t len;
  uint64_t dev;
  /* The host directory behind it (NULL: the same as path). Only a relayed guest's grants differ. */
  char *host;
  size_t host_len;
  /* Names its filter hides at any depth: exactly these, or ending with these (--hide-name, --hide-suffix). */
  char *hide_names[MAX_HIDE_RULES], *hide_suffixes[MAX_HIDE_RULES];
  size_t n_hide_names, n_hide_suffixes;
};

struct local_link {
  char *path;
  size_t len;
  char *target;
};

/* A directory of the controller's tree whose every name is a grant, a link or a way to them. */
struct local_dir {
  char *path;
  size_t len;
  int err; /* for a name not there: ENOENT, or EACCES (outside the sandbox's filesystem) */
};

/* The stat the controller answers for a directory, symlink or small file of its own tree. */
struct own_stat {
  char *path;
  size_t len;
  struct stat st;
};

/*
 * A small read-only virtual file as a sealed memfd, kept open here for the run (so its inode
 * number stays ours); every open gets a read-only description of it.
 */
struct vfile {
  char *path;
  int memfd;
  dev_t dev;
  ino_t ino;
  struct stat st;
  unsigned char *content;
  size_t len;
};

/* A virtual descriptor the controller gave for a granted host directory. */
struct dir_fd {
  int fd, grant;
  char *host;
};

/* The getdents64 records of a virtual directory descriptor, and how far the guest has read. */
struct listing {
  int fd;
  unsigned char *buf;
  size_t len, pos;
};

/* Which host mount a real descriptor's file belongs to, learned once from its name. */
struct seen_file {
  dev_t dev;
  ino_t ino;
  uint64_t vdev; /* 0: not under a host mount */
  int used;
};

struct local {
  struct local_grant grants[MAX_GRANTS];
  size_t n_grants;
  struct local_link links[MAX_LINKS];
  size_t n_links;
  struct local_dir dirs[MAX_DIRS];
  size_t n_dirs;
  char *names[MAX_NAMES]; /* other names in those directories: always the controller's */
  size_t name_lens[MAX_NAMES], n_names;
  /*
   * Names the controller's tree shows as missing (ENOENT) in directories that otherwise refuse
   * unknown names (the stock profile's probes: /etc/ld.so.preload, locales, ...); everything
   * below one is missing too (--absent).
   */
  char *absent[MAX_ABSENT];
  size_t absent_lens[MAX_ABSENT], n_absent;
  struct local_grant host_devs[MAX_HOST_DEVS]; /* every host mount, with the device number shown */
  size_t n_host_devs;
  struct own_stat own_stats[MAX_STATS];
  size_t n_own_stats;
  struct vfile vfiles[MAX_VFILES];
  size_t n_vfiles;
  uint32_t owner_uid, owner_gid;
  size_t max_path;
  int64_t ids[4];                /* uid, euid, gid, egid (-1: not given) */
  unsigned char utsname[6 * 65]; /* --uname HEX: the struct utsname the controller shows */
  int utsname_known;
  unsigned char calls[512]; /* by syscall number: answered here when possible */
  int stdio;                /* standard streams that are not terminals (needs ids) */
  /*
   * The working directory (--cwd): known until the guest changes it. Its stat (--cwd-stat) is
   * remembered from the controller's last answer and repeated while the guest makes no forwarded
   * call that could change anything (only stat-like calls went by since).
   */
  char *cwd;
  size_t cwd_len;
  int cwd_known, cwd_stat_ok, cwd_stat_cacheable;
  unsigned char cwd_stat[sizeof(struct stat)];
  struct dir_fd dir_fds[MAX_DIR_FDS];
  size_t n_dir_fds;
  char pending_dir[PATH_MAX + 1]; /* an open of a granted host directory on its way to the controller */
  int pending_dir_grant;
  struct listing listings[MAX_LISTINGS];
  size_t n_listings;
  unsigned char *pending_listing; /* sent with an open ('L'), until its result is known */
  size_t pending_listing_len;
  struct seen_file seen[256];
};

/* Nothing handed over yet: the default owner, the longest path, no identity. */
void local_init(struct local *lc);

/*
 * An option that hands over local answers, on the command line or in the configuration read from
 * stdin. Returns 1 (consumed; *k is on its last word), 0 (not one of them) or -1 (a bad value;
 * *k is still on the option).
 */
int local_option(struct local *lc, int argc, char **argv, int *k);

/*
 * Lexical resolution through the delegated part of the tree. On success fills `host` with the
 * host path (grant path, then the rest) and returns the grant's index; LOCAL_FORWARD: forward it.
 * Virtual symlinks are followed like the controller's walker does (relative to their directory).
 * GRANT_MISSING_NAME: a name missing from a fully known directory; `host` then holds the virtual
 * path up to that name and *missing_err its errno. RESOLVED_LINK: the link itself (not followed),
 * its target in `host` and its index in *missing_err. GRANT_OWN_TREE: a directory or file of the
 * controller's tree, its path in `host`.
 */
int resolve_local(struct local *lc, const char *in, size_t n, int follow_last, char *host, int *missing_err);

/* Opens a resolved host path; symlinks anywhere below the grant send the call to the controller. */
int open_host(struct local *lc, const char *host, int g, uint64_t flags);
/* The controller's view of a host file (src/vfs/stat.ts and the platform's struct stat). */
void virtual_stat(struct local *lc, const struct stat *h, uint64_t dev, struct stat *out);
/*
 * Host metadata of a resolved path, for stat and access. Returns 0, a negative errno the guest
 * gets as is (ENOENT), or 1: forward the call.
 */
int host_stat(struct local *lc, const char *host, int g, struct stat *st);
/*
 * The stat of a directory or symlink of the controller's own tree (GRANT_OWN_TREE, or RESOLVED_LINK
 * with the link's index in `link`): from --stat, with `host` set to its virtual path. NULL if unknown.
 */
const struct stat *own_stat(struct local *lc, int g, int link, const char *path, size_t n, char *host);

/* The entry for this name and content, made if new; -1 when none can be made. */
int vfile_get(struct local *lc, const char *path, const struct stat *st, const unsigned char *content, size_t len);
/* The newest entry for the name, or -1. */
int vfile_find(struct local *lc, const char *path);
/* A read-only description of the file's memfd (its own offset), for the guest; -errno on failure. */
int vfile_open(struct local *lc, int k);
/* The stat the controller gave for a sealed copy, by the memfd's identity (NULL: not one). */
const struct stat *vfile_stat(struct local *lc, dev_t dev, ino_t ino);

/* Granted host directories behind virtual descriptors: learned from the open, forgotten at close or dup over. */
void forget_dir_fd(struct local *lc, int64_t fd);
void remember_dir_fd(struct local *lc, int64_t fd, const char *host, int grant);
int dir_fd_index(struct local *lc, int64_t fd);

/* Listings of virtual directories: forgotten when the number is closed or replaced, or all at once. */
void forget_listing(struct local *lc, int64_t fd);
void forget_listings(struct local *lc);
/* The open that sent a listing returned `fd`: the listing is that descriptor's from now on. */
void keep_listing(struct local *lc, int64_t fd);
/* A listing sent with an open that did not take it: dropped. */
void drop_pending_listing(struct local *lc);
#endif
