/* A run's metrics: a machine-readable JSON-lines file and a human log.
 *
 * <dir>/<run>.jsonl gets one JSON object per report, on one line:
 *   {"iteration": 200, "epoch": 1, "time_s": 12.5, "train.loss": 2.303, ...}
 * with the caller's keys in the order given. Numbers are written with the
 * fewest digits that read back to the same double. NaN and +-Inf, which
 * JSON cannot hold, are written as null, so every line stays valid JSON
 * (a reader sees a missing number, never a parse error); strings are
 * escaped as io/json.h says.
 *
 * Between the reports go records, lines of one member whose value is an
 * object and that have no "iteration": {"<name>": {...}}. What training
 * writes there (config, resume, final) is in README, "Outputs".
 *
 * <dir>/<run>.log gets the human lines, in the style of the paper's
 * train.py, each prefixed with the local time "[YYYY-MM-DD HH:MM:SS] ":
 *   1-200: [train] loss 2.303, acc 10.00%  [test] acc_clean 10.16%, cos_x_eta 0.8123 (0.21m)
 * A key "section.name" goes under "[section]"; keys without a section come
 * first, unbracketed. A value whose name contains "acc" is printed as a
 * percentage with 2 decimals, others with 4 significant digits; the time
 * since the file was opened ends the line, in minutes. The same lines go to
 * `echo` (stdout in the program) when it is not NULL.
 *
 * A new run creates both files (exclusively: never into another run's);
 * they are written by appending and flushed after every report, so a
 * crash loses nothing already reported. A run that resumes from a
 * checkpoint reopens them at the position the checkpoint recorded
 * (fa_metrics_tell): what was written after it is cut off, because the
 * resumed run writes it again, so the files hold each report once, as an
 * uninterrupted run's do.
 *
 * A NULL fa_metrics writes nothing (tell, report, record, log return at
 * once, FA_OK): the ranks other than 0 of a run spread over processes
 * (docs/SCALE.md). */
#ifndef FA_IO_METRICS_H
#define FA_IO_METRICS_H

#include <stdio.h>

#include "core/error.h"
#include "io/json.h"

typedef struct fa_metrics fa_metrics;

/* Opens the two files for run `run_name` in `dir` (created if missing,
 * one level). NULL and a message on failure. */
fa_metrics *fa_metrics_open(const char *dir, const char *run_name, FILE *echo);
/* The same for a new run: both files are created, exclusively (an error,
 * and nothing changed, when either exists). */
fa_metrics *fa_metrics_create(const char *dir, const char *run_name, FILE *echo);
/* Where the files end and the clock stands: recorded in a checkpoint. */
typedef struct {
  long long jsonl_bytes, log_bytes;
  double elapsed_s;
} fa_metrics_position;

fa_metrics_position fa_metrics_tell(const fa_metrics *m);
/* Opens the files of a run resumed at `at`: each is cut back to its
 * recorded length (a shorter file is left as it is) and time_s continues
 * from at->elapsed_s. */
fa_metrics *fa_metrics_reopen(const char *dir, const char *run_name, FILE *echo, const fa_metrics_position *at);
/* Closes the files; an error if the last writes could not be completed. */
fa_status fa_metrics_close(fa_metrics *m);

/* One report of n named numbers. Keys must be unique, non-empty and not
 * "iteration", "epoch" or "time_s". The JSON line holds all n; the log
 * line shows the first n_shown (n_shown <= n: per-filter norms, say, can
 * go to the JSON file only). */
fa_status fa_metrics_report(fa_metrics *m, long iteration, int epoch, int n, const char *const *keys,
                            const double *values, int n_shown);

/* A record {"<name>": object} on a line of the JSON file (nothing in the
 * human log). */
fa_status fa_metrics_record(fa_metrics *m, const char *name, fa_json *object);

/* A free-form human line (final results, warnings) to the log and echo. */
fa_status fa_metrics_log(fa_metrics *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
