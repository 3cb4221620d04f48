/*
 * --config-stdin: the controller sends what the supervisor answers itself after starting it (it
 * decides that while the guest starts): u32 length, then NUL-terminated words, the local answers'
 * (delegation.h) and the relay's (protocol_relay.h).
 */
#ifndef PYPY_BOX_CONFIG_H
#define PYPY_BOX_CONFIG_H
#include "delegation.h"
#include "protocol_relay.h"

/* Reads and applies the configuration; a bad one ends the run (protocol error, exit 126). */
void read_configuration(struct local *lc, struct relay_config *rc);
#endif
