/*
 * The relay's own parts (protocol_relay.h is its interface): its state while it serves and what its
 * files share. relay_config.c reads its configuration, relay_io.c waits on and moves bytes,
 * relay_answers.c answers calls itself, protocol_relay.c reads calls and relays the rest.
 */
#ifndef PYPY_BOX_RELAY_STATE_H
#define PYPY_BOX_RELAY_STATE_H
#include <stdint.h>
#include <string.h>

#include "protocol_relay.h"
#include "wire.h"

/* The protocol's limits (docs/protocol.md): a signature of 1..255 bytes, at most 32 argument words. */
#define MAX_ARG_WORDS 32
#define GUEST_PIPE_BYTES (1 << 20)
#define BUF_BYTES 65536
/*
 * How long the rest of a call that started may take to come. A guest writes a call at once; one
 * that stops in the middle is handed to the controller as it is (its bytes untouched from then
 * on), whose stall clock and messages take over.
 */
#define CALL_PATIENCE_MS 100

/* Bytes read ahead from one descriptor. */
struct inbuf {
  int fd;
  unsigned char b[BUF_BYTES];
  size_t pos, len;
  int eof;
};

/* Bytes on their way out to one descriptor, written when a reply is awaited or an answer is whole. */
struct outbuf {
  int fd;
  unsigned char b[BUF_BYTES];
  size_t len;
};

/* A directory stream's listing (dirent records, as the controller's readdir writes them), by DIR pointer. */
struct dir_stream {
  uint64_t dir;
  unsigned char *records;
  size_t len, pos;
};

#define MAX_DIR_STREAMS 64

/* A read-only host file behind one of the guest's descriptors, read here (the controller keeps the descriptor). */
struct host_file {
  int64_t fd; /* the guest's number */
  int host;   /* our descriptor of the same file */
  uint64_t pos, dev;
};

#define MAX_HOST_FILES 128

/* The relay while it serves: its configuration, the pipes, and what it waits on. */
struct relay {
  struct run *run;
  const struct relay_config *rc;
  struct local *lc;
  struct inbuf from_guest, from_controller;
  struct outbuf to_guest;
  relay_notified notified;
  void *ctx;
  int passthrough; /* a call could not be read: every byte goes through untouched from now on */
  int deaf;        /* a reply the controller refuses went to it: the guest's bytes are dropped */
  /* The call being read, as it arrived, and as it goes to the controller (paths along). */
  unsigned char call[1 + 255 + 8 * MAX_ARG_WORDS];
  size_t call_len;
  struct call out; /* buf: the call as forwarded or reported */
  struct dir_stream streams[MAX_DIR_STREAMS];
  size_t n_streams;
  unsigned char *pending_listing; /* sent with the answer in flight ('L'), kept if it opens a stream */
  size_t pending_len;
  struct host_file files[MAX_HOST_FILES];
  size_t n_files;
  struct host_file pending_file; /* named with the answer in flight ('H'), kept if it is the result (host >= 0) */
  unsigned char *io;             /* one read's bytes (max_io) */
};

static inline uint64_t u64_at(const unsigned char *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

static inline int is_sig(const char *sig, size_t n, const char *want) {
  return strlen(want) == n && memcmp(sig, want, n) == 0;
}

/* relay_config.c: which signatures are the clock's and the names' */
int clock_call_bit(const char *sig, size_t n);
int path_call_bit(const char *sig, size_t n);

/* relay_io.c: waits that answer the strict filter meanwhile, reads, writes, passthrough */
int wait_for(struct relay *r, int fd, short events, int patience_ms);
int fill_within(struct relay *r, struct inbuf *in, int patience_ms);
int fill(struct relay *r, struct inbuf *in);
int take_within(struct relay *r, struct inbuf *in, void *dst, size_t n, size_t *got, int patience_ms);
int take(struct relay *r, struct inbuf *in, void *dst, size_t n, size_t *got);
void write_all(struct relay *r, int fd, const unsigned char *p, size_t n);

/*
 * The guest owed its reply (the rest of a call the relay reads) or the reading of its answer past
 * the stall time: the controller is told with a note (it makes the run's error of it, as of its own
 * stall check), and the run ends.
 */
__attribute__((noreturn)) void guest_stalled(const struct relay *r, int in_reply);
void guest_flush(struct relay *r);
void guest_put(struct relay *r, const void *p, size_t n);
void from_controller(struct relay *r, void *dst, size_t n);
int pass_reply(struct relay *r, uint64_t n);
void pass_payload(struct relay *r, uint64_t n);
void start_passthrough(struct relay *r, const void *head, size_t n);

/* relay_answers.c: directory streams, host files, the clock, names */
void forget_stream(struct relay *r, uint64_t dir);
void keep_stream(struct relay *r, uint64_t dir);
void forget_file(struct relay *r, int64_t fd);
void take_host_file(struct relay *r);
void settle_host_file(struct relay *r, int64_t result);
int answer_clock(struct relay *r, int bit, const unsigned char *words, int64_t *result);
int clock_bit(const struct relay_config *rc, const char *sig, size_t n);
int answer_path(struct relay *r, int bit, const unsigned char *words, int64_t *result, int *err, int *grant,
                char *host);
void put_result(struct relay *r, int64_t result);
int answer_file(struct relay *r, const char *sig, size_t n, const unsigned char *words, int64_t *result);
void give_back_files(struct relay *r, const char *kinds, size_t nkinds, const unsigned char *words);
int answer_readdir(struct relay *r, const unsigned char *words, int64_t *result);
#endif
