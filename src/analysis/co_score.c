#include "analysis/co_score.h"

#include <math.h>

#include "train/co_monitor.h"

fa_status fa_co_score_run(const fa_metrics_table *t, double final_pgd, fa_co_score *out) {
  *out = (fa_co_score){.onset = -1, .fired = -1};
  const double *it = fa_metrics_column(t, "iteration"), *pgd = fa_metrics_column(t, "test.acc_pgd");
  const double *fgsm = fa_metrics_column(t, "test.acc_fgsm"), *align = fa_metrics_column(t, "test.cos_x_eta");
  if (!pgd || !fgsm || !align)
    return fa_error_set(FA_ERR_FORMAT, "the reports lack test.acc_pgd, test.acc_fgsm or test.cos_x_eta, which the "
                        "catastrophic-overfitting monitor reads");
  const double *clean = fa_metrics_column(t, "test.acc_clean"), *fgsm_loss = fa_metrics_column(t, "test.loss_fgsm");
  const double *pgd_loss = fa_metrics_column(t, "test.loss_pgd"), *cos = fa_metrics_column(t, "test.cos_fgsm_pgd");
  const double *train_pgd = fa_metrics_column(t, "train.acc_pgd");
#define AT(col) ((col) ? (col)[r] : NAN)
  fa_co_monitor m = fa_co_monitor_start();
  for (int r = 0; r < t->n_reports; r++) {
    if (isfinite(pgd[r]) && pgd[r] > out->best_pgd) out->best_pgd = pgd[r];
    fa_periodic_stats s = {.clean_acc = AT(clean), .fgsm_acc = fgsm[r], .pgd_acc = pgd[r], .fgsm_loss = AT(fgsm_loss),
                           .pgd_loss = AT(pgd_loss), .cos_fgsm_pgd = AT(cos), .grad_align = align[r],
                           .train_pgd_acc = AT(train_pgd)};
    char evidence[256];
    if (fa_co_monitor_observe(&m, (long)it[r], &s, evidence, sizeof evidence)) out->fired = m.detected_at;
  }
#undef AT
  out->never_robust = out->best_pgd < FA_CO_SCORE_MIN_BEST;
  out->collapsed = !out->never_robust && final_pgd < FA_CO_SCORE_FRACTION * out->best_pgd;
  if (out->collapsed) {
    int last_above = -1;
    for (int r = 0; r < t->n_reports; r++)
      if (pgd[r] > FA_CO_SCORE_FRACTION * out->best_pgd) last_above = r;
    if (last_above + 1 < t->n_reports) out->onset = (long)it[last_above + 1];
  }
  out->scored = 1;
  out->verdict = out->collapsed ? (out->fired >= 0 ? FA_CO_HIT : FA_CO_MISS)
                                : (out->fired >= 0 ? FA_CO_FALSE_ALARM : FA_CO_QUIET);
  return FA_OK;
}
