/* The tables `fastadv plot --kind=eps` prints (docs/EXPERIMENTS.md, "Fast
 * methods"), as Markdown: per method and eps, the clean, PGD-50-10 and
 * AutoAttack accuracies of the last models (mean ± sample standard
 * deviation over the seeds, then each seed's value) and how many seeds
 * collapsed (analysis/co_score.h); then the catastrophic-overfitting
 * monitor's record per method: hits, the iterations from the collapse's
 * onset to the alarm, misses and false alarms, and each run it fired on or
 * missed. */
#ifndef FA_ANALYSIS_SWEEP_TABLES_H
#define FA_ANALYSIS_SWEEP_TABLES_H

#include <stdio.h>

#include "analysis/co_score.h"

typedef struct {
  fa_run_info info;
  fa_co_score co;
} fa_sweep_run;

/* runs: finished runs, sorted by method, then eps, then seed. */
void fa_sweep_tables_print(FILE *f, const fa_sweep_run *runs, int n);

#endif
