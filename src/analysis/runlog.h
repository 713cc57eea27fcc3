/* Reading what `fastadv train` wrote: a run's metrics file (<run>.jsonl),
 * its reports and its records (README, "Outputs": {"config": ...} first,
 * {"resume": ...} for each resume, {"final": ...} last).
 *
 * Legacy: metrics files written before the records (fastadv 0.1) hold
 * reports only; a run's description then comes from its human log
 * (<run>.log beside it: the run's name, which holds its hyper-parameters,
 * and the final evaluation's line). */
#ifndef FA_ANALYSIS_RUNLOG_H
#define FA_ANALYSIS_RUNLOG_H

#include <stddef.h>

#include "core/error.h"

/* The reports of one run, as columns: values[k][r] is key k at report r
 * (NAN where the report lacks it). */
typedef struct {
  int n_reports, n_keys;
  char **keys;
  double **values;
  int iters_per_epoch;  /* estimated from (iteration, epoch) pairs: see fa_metrics_epoch */
} fa_metrics_table;

/* Reads the reports of a .jsonl file, leaving out its records;
 * FA_ERR_FORMAT naming the line on a bad one, and on a file without
 * reports. */
fa_status fa_metrics_read(const char *path, fa_metrics_table *t);
void fa_metrics_free(fa_metrics_table *t);
/* The column of `key`, NULL when no report has it. */
const double *fa_metrics_column(const fa_metrics_table *t, const char *key);
/* Fractional epoch of report r: iteration / iterations per epoch, the
 * latter the smallest whole number consistent with every report's
 * (iteration, epoch) (exact to within the reporting interval). */
double fa_metrics_epoch(const fa_metrics_table *t, int r);

/* A run's description. */
typedef struct {
  char name[1024];    /* the run's name */
  char method[64];    /* "FGSM", "FGSM-RS", "FGSM + GradAlign", "PGD-10", "AT for Free (m=8)", "Standard",
                         "N-FGSM", "FGSM + ELLE-A" */
  char dataset[64];
  double eps;         /* /255 */
  int seed;
  double lambda;      /* grad_align_cos_lambda */
  int finished;       /* the final evaluation was found */
  double clean_acc, pgd_acc;  /* final, last model, in [0, 1]: clean and under the final attack (pgd-50-10) */
  double aa_acc;      /* AutoAttack accuracy of the last model in [0, 1]; NAN without autoattack.json */
  int monitored;      /* the run had the catastrophic-overfitting monitor (its config has on_co) */
  long co_detected;   /* the iteration of the run's co_detected record (the monitor fired); -1 for none */
  int legacy;         /* read from the .log (a metrics file without records): plot says so */
} fa_run_info;

/* Reads a run's .jsonl: the hyper-parameters from its last "config" or
 * "resume" record, the accuracies from its "final" record, the monitor's
 * from its "co_detected" record. A .jsonl without records, or a .log given
 * directly, is read the legacy way, from the .log. FA_ERR_FORMAT when the
 * file is neither. AutoAttack's accuracy comes from autoattack.json in the
 * run's directory (the parent of logs/), the --results_json of
 * `fastadv eval --attack=autoattack` on its last model, as
 * experiments/lib.sh writes it; a file there that is not such a result is
 * FA_ERR_FORMAT. */
fa_status fa_run_info_read(const char *path, fa_run_info *info);

#endif
