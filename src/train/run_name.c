#include "train/run_name.h"

#include <stdio.h>
#include <string.h>

const char *fa_attack_init_name(fa_attack_init a) { return a == FA_INIT_ZERO ? "zero" : "random"; }

void fa_run_name(const fa_train_config *c, const char *timestamp, char *out, size_t len) {
  int at = snprintf(out, len,
                    "%s dataset=%s model=%s eps=%.1f attack=%s m=%d attack_init=%s fgsm_alpha=%g epochs=%d "
                    "pgd=%.1f-%d grad_align_cos_lambda=%g lr_max=%g seed=%d",
                    timestamp, c->dataset, c->model, c->eps.pixels, c->attack->name, c->minibatch_replay,
                    fa_attack_init_name(c->attack_init), c->fgsm_alpha, c->epochs, c->pgd_alpha_train.pixels,
                    c->pgd_train_n_iters, c->grad_align_cos_lambda, c->lr_max, c->seed);
  if (at > 0 && (size_t)at < len && strcmp(c->model, "cnn") == 0)
    snprintf(out + at, len - (size_t)at, " n_layers=%d n_filters_cnn=%d", c->n_layers, c->n_filters_cnn);
}
