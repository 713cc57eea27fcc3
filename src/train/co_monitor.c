#include "train/co_monitor.h"

#include <stdio.h>

fa_co_monitor fa_co_monitor_start(void) { return (fa_co_monitor){.best_pgd = -1, .best_align = -2, .detected_at = -1}; }

bool fa_co_monitor_observe(fa_co_monitor *m, long iteration, const fa_periodic_stats *s, char *evidence,
                           size_t len) {
  double best_pgd = m->best_pgd, best_align = m->best_align;
  if (s->pgd_acc > m->best_pgd) m->best_pgd = s->pgd_acc;
  if (s->grad_align > m->best_align) m->best_align = s->grad_align;
  if (m->detected_at >= 0 || best_pgd < FA_CO_MIN_BEST_PGD) return false;
  bool robustness_lost = s->pgd_acc <= FA_CO_PGD_FRACTION * best_pgd;
  bool fgsm_blind = s->fgsm_acc - s->pgd_acc >= FA_CO_FGSM_GAP;
  bool misaligned = s->grad_align <= FA_CO_ALIGN_FRACTION * best_align;
  if (!robustness_lost || !(fgsm_blind || misaligned)) return false;
  m->detected_at = iteration;
  snprintf(evidence, len, "PGD accuracy %.1f%% (best %.1f%%), FGSM accuracy %.1f%%, alignment %.3f (best %.3f)",
           100 * s->pgd_acc, 100 * best_pgd, 100 * s->fgsm_acc, s->grad_align, best_align);
  return true;
}
