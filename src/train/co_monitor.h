/* The live catastrophic-overfitting monitor (docs/LATER_METHODS.md, "The
 * catastrophic-overfitting monitor"): it reads each report's periodic
 * statistics and says when the run has collapsed.
 *
 * A collapse, at a report, is all of:
 *   - the periodic PGD accuracy on the test examples has been at least
 *     FA_CO_MIN_BEST_PGD at some report (there was robustness to lose, and
 *     its halving is more than the noise of 256 examples: 10%, calibrated
 *     on the fast methods' Fashion-MNIST runs, docs/EXPERIMENTS.md);
 *   - it is now at most FA_CO_PGD_FRACTION of its best;
 *   - and FGSM no longer finds what PGD finds: FGSM accuracy exceeds PGD
 *     accuracy by FA_CO_FGSM_GAP or more, or the gradient alignment has
 *     fallen to FA_CO_ALIGN_FRACTION of its best or below.
 * It fires once per run. Its state is part of the resume checkpoint. */
#ifndef FA_TRAIN_CO_MONITOR_H
#define FA_TRAIN_CO_MONITOR_H

#include <stdbool.h>
#include <stddef.h>

#include "train/statistics.h"

#define FA_CO_MIN_BEST_PGD 0.10
#define FA_CO_PGD_FRACTION 0.5
#define FA_CO_FGSM_GAP 0.3
#define FA_CO_ALIGN_FRACTION 0.5

typedef struct {
  double best_pgd;    /* best periodic test PGD accuracy so far, -1 before the first report */
  double best_align;  /* best gradient alignment so far, -2 before the first report */
  long detected_at;   /* the iteration of the collapse, -1 while none */
} fa_co_monitor;

fa_co_monitor fa_co_monitor_start(void);

/* Reads the report of `iteration`: true when it shows the collapse for the
 * first time (then detected_at is set and `evidence` says why, one line:
 * "PGD accuracy 6.2% (best 18.8%), FGSM accuracy 78.9%, alignment 0.295
 * (best 0.679)"). False afterwards and while healthy. */
bool fa_co_monitor_observe(fa_co_monitor *m, long iteration, const fa_periodic_stats *s, char *evidence,
                           size_t len);

#endif
