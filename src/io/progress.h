/* A progress display for long loops (training, evaluation).
 *
 * On a terminal (isatty) one line is redrawn in place, at most ten times a
 * second:
 *   train [#########-----------]  1200/11700  10.3%  1523 img/s  14m05s left
 * Elsewhere (a log file, a pipe, CI) a plain line is written every
 * `interval_s` seconds and when the loop ends:
 *   train: 1200/11700 (10.3%), 1523 images/s, 14m05s left
 * Rates and time left are averages since the display was created. */
#ifndef FA_IO_PROGRESS_H
#define FA_IO_PROGRESS_H

#include <stdbool.h>
#include <stdio.h>

typedef struct fa_progress fa_progress;

/* A display of `total` steps named `label` on `out`. NULL when out of
 * memory (progress is never worth failing a run for: every function
 * accepts NULL and does nothing). */
fa_progress *fa_progress_create(FILE *out, const char *label, long total, double interval_s);
/* `done` steps and `images` images processed since the start. */
void fa_progress_update(fa_progress *p, long done, long images);
/* A note said at the end of every later line ("CO at 500"; "" for none). */
void fa_progress_set_note(fa_progress *p, const char *note);
/* The final state, a newline on a terminal, and the display freed. */
void fa_progress_finish(fa_progress *p);

/* Whether `out` is a terminal (a redrawn bar) or not (plain lines). */
bool fa_progress_is_terminal(FILE *out);

#endif
