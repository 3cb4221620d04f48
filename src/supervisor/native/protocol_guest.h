/*
 * Launcher mode (--protocol-guest), for a guest that speaks the protocol itself: its standard
 * streams go straight to the controller, untouched. The supervisor builds the walls around it and,
 * with --wall, puts it behind the strict filter of strict.h before execve, then stays to answer
 * the filter's notifications: the execve of its own child (once), and the dynamic loader's window
 * (library opens, /proc/self/exe, fstat of a library). Everything else never reaches it.
 *
 * The child tells the supervisor how its walls went on a socket (messages below); the supervisor
 * alone writes the notes, so `walls` names seccomp-strict only once it holds the listener of a
 * filter in force, and a wall that could not be set up ends the run before the program starts
 * (`wall-failed NAME REASON ERRNO`, exit status 127).
 *
 * With --relay-calls the streams are the supervisor's pipes instead, and it relays the conversation
 * (protocol_relay.h).
 */
#ifndef PYPY_BOX_PROTOCOL_GUEST_H
#define PYPY_BOX_PROTOCOL_GUEST_H
#include "protocol_relay.h"
#include "state.h"

/* Starts the guest behind its walls and serves the strict filter until the guest ends (never returns). */
__attribute__((noreturn)) void launch_protocol_guest(struct run *run, struct walls *w, const char *wall_lib,
                                                     char **argv, struct relay_config *rc, struct local *lc);
#endif
