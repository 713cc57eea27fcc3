/* FAB-T as an evaluation attack (docs/AUTOATTACK.md), with the defaults of
 * AutoAttack's standard version: 100 iterations, 1 restart, 9 target
 * classes. */
#include <stdio.h>

#include "adv/fab.h"
#include "adv/registry.h"

static fa_tensor *perturb(const fa_eval_attack_input *in) {
  const fa_attack_options *o = in->options;
  fa_fab_config c = {.eps = in->eps, .n_iter = o->n_iters, .n_restarts = o->n_restarts,
                     .n_target_classes = o->n_target_classes};
  return fa_fab(in->model, &c, in->x, in->y, in->rng, fa_eval_examples(in), NULL);
}

static fa_status check(const fa_attack_options *o, int n_classes) {
  if (o->n_target_classes > n_classes - 1)
    return fa_error_set(FA_ERR_INVALID, "--n_target_classes=%d: FAB-T targets the classes other than the true one, "
                        "%d on this data set: give at most %d", o->n_target_classes, n_classes - 1, n_classes - 1);
  return FA_OK;
}

/* "fab-t-100-1-9": iterations, restarts, targets */
static void label(const fa_attack_options *o, char *out, size_t len) {
  snprintf(out, len, "fab-t-%d-%d-%d", o->n_iters, o->n_restarts, o->n_target_classes);
}

const fa_eval_attack fa_eval_attack_fab_t = {
    .name = "fab_t",
    .summary = "targeted FAB (L-inf, minimum-norm), one run per target: the classes of the largest clean logits "
               "after the top one; broken when the point found is within eps",
    .options = FA_OPTION_ITERS | FA_OPTION_RESTARTS | FA_OPTION_TARGETS,
    .defaults = {.n_iters = 100, .n_restarts = 1, .n_target_classes = 9},
    .perturb = perturb,
    .label = label,
    .title = "FAB-T",
    .check = check,
};
