/*
 * Reports of the calls the supervisor answered itself (docs/protocol.md, "Local answers"): kept
 * in call order and sent before the next forwarded call, in the same write, or after 10 ms at
 * most. The controller checks each like guest input (src/supervisor/reports.ts).
 */
#ifndef PYPY_BOX_REPORTS_H
#define PYPY_BOX_REPORTS_H
#include <stdint.h>

#include "state.h"
#include "wire.h"

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t mono_ns(void);

void reports_flush(struct reports *r);

/* Reports go out before the next forwarded call (msg), in the same write. */
void reports_flush_with(struct reports *r, const void *msg, size_t n);

/*
 * 0x00, the call exactly as it would have been forwarded, then i64 result, i32 errno, u16 grant
 * (an index, or GRANT_WIRE of a GRANT_ code of contract.h), u64 CLOCK_MONOTONIC ns when the call arrived, u32 ns
 * spent, u16 length and the host path that answered (empty when none).
 */
void report(struct reports *r, const struct call *c, int64_t result, int32_t err, int grant, uint64_t t0,
            const char *host);

/* Milliseconds the oldest unsent report has waited (-1: none waits). */
long reports_age_ms(const struct reports *r);
#endif
