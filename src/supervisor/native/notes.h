/*
 * The notes: lines for the controller on descriptor 3, when it gave one (docs/protocol.md,
 * "Notes"; the controller reads them with src/supervisor/notes.ts). Every line is one of the
 * contract's note forms: walls in force, a limit hit or reached, why a run could not start, the
 * guest's exit status.
 */
#ifndef PYPY_BOX_NOTES_H
#define PYPY_BOX_NOTES_H
#include "state.h"

/* One line from a format with one string and one number (either may be unused: "%.0llu"). */
void note(const struct notes *n, const char *fmt, const char *a, unsigned long long b);

/*
 * A run that cannot start says why: the note `start-failed TEXT ERRNO` (errno 0: none), which the
 * controller makes the run's error; on stderr when there are no notes. TEXT names what failed.
 */
void say_start_failed(const struct notes *n, const char *text, int err);
#endif
