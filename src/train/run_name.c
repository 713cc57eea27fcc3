#include "train/run_name.h"

#include <stdio.h>
#include <string.h>

const char *fa_attack_init_name(fa_attack_init a) { return a == FA_INIT_ZERO ? "zero" : "random"; }

/* " nfgsm_k=2 nfgsm_clip elle=0.1" / " elle_a=4000": the flags of the
 * methods beyond the paper, where they act ("" otherwise). */
static void extra_methods(const fa_train_config *c, char *out, size_t len) {
  int at = 0;
  out[0] = '\0';
  if (c->attack->options & FA_OPTION_NOISE)
    at = snprintf(out, len, " nfgsm_k=%g%s", c->nfgsm_k, c->nfgsm_clip ? " nfgsm_clip" : "");
  if (at < 0 || (size_t)at >= len) return;
  if (c->elle_adaptive) snprintf(out + at, len - (size_t)at, " elle_a=%g", c->elle_lambda_max);
  else if (c->elle_lambda > 0) snprintf(out + at, len - (size_t)at, " elle=%g", c->elle_lambda);
}

void fa_run_name(const fa_train_config *c, const char *timestamp, char *out, size_t len) {
  char extra[96];
  extra_methods(c, extra, sizeof extra);
  int at = snprintf(out, len,
                    "%s dataset=%s model=%s eps=%.1f attack=%s m=%d attack_init=%s fgsm_alpha=%g epochs=%d "
                    "pgd=%.1f-%d grad_align_cos_lambda=%g%s lr_max=%g seed=%d",
                    timestamp, c->dataset, c->model, c->eps.pixels, c->attack->name, c->minibatch_replay,
                    fa_attack_init_name(c->attack_init), c->fgsm_alpha, c->epochs, c->pgd_alpha_train.pixels,
                    c->pgd_train_n_iters, c->grad_align_cos_lambda, extra, c->lr_max, c->seed);
  if (at > 0 && (size_t)at < len && strcmp(c->model, "cnn") == 0)
    snprintf(out + at, len - (size_t)at, " n_layers=%d n_filters_cnn=%d", c->n_layers, c->n_filters_cnn);
}
