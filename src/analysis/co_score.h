/* Scoring the catastrophic-overfitting monitor (train/co_monitor.h) on
 * finished runs (docs/EXPERIMENTS.md, "The monitor's record").
 *
 * For scoring, a run has collapsed when its periodic test PGD accuracy
 * reached FA_CO_SCORE_MIN_BEST at some report (there was robustness to
 * lose) and its final PGD-50-10 accuracy (last model) is below
 * FA_CO_SCORE_FRACTION of that best: the outcome at the end, which the
 * live monitor does not see. The collapse's onset is the report after the
 * last one whose PGD accuracy was above FA_CO_SCORE_FRACTION of the best.
 * A run whose periodic PGD accuracy never reached FA_CO_SCORE_MIN_BEST was
 * never robust: it has not collapsed, nor can the monitor fire on it (its
 * first condition), and it is counted apart.
 *
 * The monitor is replayed on the run's reports with the rule of
 * train/co_monitor.c as built (so that a changed rule is scored on the
 * same runs): a hit fired on a collapsed run, a miss did not, a false
 * alarm fired on a run that did not collapse. */
#ifndef FA_ANALYSIS_CO_SCORE_H
#define FA_ANALYSIS_CO_SCORE_H

#include "analysis/runlog.h"

#define FA_CO_SCORE_MIN_BEST 0.05
#define FA_CO_SCORE_FRACTION 0.5

typedef enum { FA_CO_QUIET, FA_CO_HIT, FA_CO_MISS, FA_CO_FALSE_ALARM } fa_co_verdict;

typedef struct {
  int scored;       /* 1: the fields below were computed from the run's reports */
  double best_pgd;  /* best periodic test PGD accuracy, in [0, 1] */
  int collapsed;    /* by the definition above */
  int never_robust; /* best_pgd below FA_CO_SCORE_MIN_BEST */
  long onset;       /* the iteration of the collapse's onset; -1: none (or not in the reports) */
  long fired;       /* the iteration the replayed monitor fires at; -1: never */
  fa_co_verdict verdict;
} fa_co_score;

/* Scores one run from its reports and its final PGD-50-10 accuracy (in
 * [0, 1]). FA_ERR_FORMAT when the reports lack a statistic the monitor
 * reads (test.acc_pgd, test.acc_fgsm, test.cos_x_eta). */
fa_status fa_co_score_run(const fa_metrics_table *t, double final_pgd, fa_co_score *out);

#endif
