/*
 * The `pypy-box` command's native client: hands an `interact` run to a warm worker of the command
 * server (src/server/server.ts) and relays its terminal, or executes the command in Node when there
 * is no server to use. docs/server.md tells the whole design.
 */
#ifndef PYPY_BOX_CLIENT_H
#define PYPY_BOX_CLIENT_H
#include <stddef.h>
#include <stdint.h>

/* Where the server of this context listens, and the package it runs from. */
struct server_place {
  char socket[108]; /* the socket's path, as the server is told it (and shown in ps) */
  char name[32];    /* its name in the directory */
  char via[64];     /* the socket reached through dir_fd: /proc/self/fd/N/NAME */
  char dir[4096];   /* the per-user directory holding the sockets (mode 0700, ours) */
  int dir_fd;       /* that directory, held open since it was checked */
  char entry[4096]; /* dist/controller/pypy-box.cjs of this package */
  char node[4096];  /* the node the command runs on (the first on PATH) */
};

/* The command's entry and the node to run it (node empty when none is on PATH); -1 without the entry. */
int find_command(struct server_place *place);

/*
 * The rest of place, for this process's context (after find_command); 0, or -1 when no server
 * may be used (the command then runs in Node).
 */
int find_server_place(struct server_place *place);

/* Connects to the server's socket: the descriptor, or -1 (none listening). */
int connect_server(const struct server_place *place);

/* Starts a server for this context in the background (detached, its own session). */
void start_server(const struct server_place *place);

/* An invocation's request words (docs/server.md), made before any server is asked. */
struct request {
  char *words;
  size_t len;
};

/* 0, or -1 when no request can be made of this command line (then it runs in Node). */
int build_request(struct request *req, int argc, char **argv);

/* The server closed the connection before its worker said a word: the run did not start. */
#define RUN_NOT_TAKEN (-1)

/*
 * Runs the invocation through the worker on fd: its exit code (or it raises the signal the run
 * ended by), or RUN_NOT_TAKEN.
 */
int relay_invocation(int fd, const struct request *req);

/* The terminal on standard input raw for the run (as Node's setRawMode), or as it was. */
void terminal_raw(int on);

/* Writes all of buf to fd (retrying short writes and EINTR): 0, or -1 with errno. */
int write_all(int fd, const void *buf, size_t len);
#endif
