/* Scoring the catastrophic-overfitting monitor (analysis/co_score.h) on
 * reports made here: a collapse the monitor catches (a hit, and when), one it
 * misses (FGSM falls with PGD, the alignment holds), a dip it fires on that
 * the run recovers from (a false alarm), a run with no robustness to lose,
 * and a collapse that shows only in the final evaluation. */
#include <math.h>
#include <string.h>

#include "analysis/co_score.h"
#include "testlib.h"

enum { MAX_REPORTS = 8 };

/* A table of n reports, one every 100 iterations, of the three statistics the monitor reads. */
typedef struct {
  fa_metrics_table t;
  char *keys[4];
  double *values[4];
  double it[MAX_REPORTS], pgd[MAX_REPORTS], fgsm[MAX_REPORTS], align[MAX_REPORTS];
} reports;

static void make(reports *r, int n, const double *pgd, const double *fgsm, const double *align) {
  static char names[4][32] = {"iteration", "test.acc_pgd", "test.acc_fgsm", "test.cos_x_eta"};
  for (int i = 0; i < n; i++) {
    r->it[i] = 100.0 * i;
    r->pgd[i] = pgd[i];
    r->fgsm[i] = fgsm[i];
    r->align[i] = align[i];
  }
  double *cols[4] = {r->it, r->pgd, r->fgsm, r->align};
  for (int k = 0; k < 4; k++) {
    r->keys[k] = names[k];
    r->values[k] = cols[k];
  }
  r->t = (fa_metrics_table){.n_reports = n, .n_keys = 4, .keys = r->keys, .values = r->values, .iters_per_epoch = 100};
}

static fa_co_score score(int n, const double *pgd, const double *fgsm, const double *align, double final_pgd) {
  reports r;
  make(&r, n, pgd, fgsm, align);
  fa_co_score s;
  FA_CHECK(fa_co_score_run(&r.t, final_pgd, &s) == FA_OK, "scored: %s", fa_error_message());
  return s;
}

int main(void) {
  /* PGD from 30% to 10% at iteration 400 while FGSM rises to 50%: the monitor fires there, the onset */
  const double flat[] = {0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7};
  const double pgd[] = {0, 0.2, 0.3, 0.25, 0.1, 0.02, 0.01}, fgsm[] = {0, 0.2, 0.3, 0.3, 0.5, 0.6, 0.7};
  fa_co_score s = score(7, pgd, fgsm, flat, 0.01);
  FA_CHECK(s.scored && s.collapsed && !s.never_robust && s.verdict == FA_CO_HIT && s.onset == 400 && s.fired == 400 &&
               fabs(s.best_pgd - 0.3) < 1e-12,
           "a hit at the onset: collapsed %d, verdict %d, onset %ld, fired %ld, best %g", s.collapsed, s.verdict,
           s.onset, s.fired, s.best_pgd);
  /* the same fall with FGSM falling alike and the alignment holding: not the monitor's kind of collapse */
  s = score(7, pgd, pgd, flat, 0.01);
  FA_CHECK(s.collapsed && s.verdict == FA_CO_MISS && s.onset == 400 && s.fired == -1,
           "a miss: verdict %d, onset %ld, fired %ld", s.verdict, s.onset, s.fired);
  /* the alignment halving alone fires it, one report later than the fall */
  const double align[] = {0.7, 0.7, 0.7, 0.7, 0.5, 0.3, 0.2};
  s = score(7, pgd, pgd, align, 0.01);
  FA_CHECK(s.verdict == FA_CO_HIT && s.onset == 400 && s.fired == 500,
           "a hit by the alignment, 100 iterations after the onset: verdict %d, onset %ld, fired %ld", s.verdict,
           s.onset, s.fired);
  /* a dip at 300 that the run recovers from, ending at 28% PGD-50-10: a false alarm */
  const double dip[] = {0, 0.2, 0.3, 0.1, 0.3, 0.3}, dip_fgsm[] = {0, 0.2, 0.3, 0.5, 0.3, 0.3};
  s = score(6, dip, dip_fgsm, flat, 0.28);
  FA_CHECK(!s.collapsed && s.verdict == FA_CO_FALSE_ALARM && s.fired == 300 && s.onset == -1,
           "a false alarm: collapsed %d, verdict %d, fired %ld", s.collapsed, s.verdict, s.fired);
  /* never 5% robust: nothing to lose, whatever the end */
  const double low[] = {0, 0.02, 0.04, 0.01}, low_fgsm[] = {0, 0.3, 0.5, 0.6};
  s = score(4, low, low_fgsm, flat, 0.0);
  FA_CHECK(!s.collapsed && s.never_robust && s.verdict == FA_CO_QUIET && s.fired == -1,
           "no robustness: verdict %d", s.verdict);
  /* healthy reports, a final PGD-50-10 under half the best: collapsed, with no onset in the reports, missed */
  const double steady[] = {0, 0.3, 0.3, 0.3};
  s = score(4, steady, steady, flat, 0.1);
  FA_CHECK(s.collapsed && s.verdict == FA_CO_MISS && s.onset == -1, "a collapse after the last report: %d %ld",
           s.verdict, s.onset);
  /* the boundary: exactly half the best is not below it */
  s = score(4, steady, steady, flat, 0.15);
  FA_CHECK(!s.collapsed, "final at half the best: not collapsed");
  /* reports without the monitor's statistics */
  reports r;
  make(&r, 3, steady, steady, flat);
  r.t.n_keys = 2;
  FA_CHECK(fa_co_score_run(&r.t, 0.1, &s) == FA_ERR_FORMAT && strstr(fa_error_message(), "test.acc_fgsm"),
           "missing statistics are named: %s", fa_error_message());
  return fa_test_exit();
}
