/* Square as an evaluation attack (docs/AUTOATTACK.md), with the defaults of
 * AutoAttack's stage: 5,000 queries, p_init 0.8, 1 restart, the schedule of
 * square sizes not rescaled and the windows placed as the official code
 * places them (as AutoAttack runs it). */
#include <stdio.h>

#include "adv/registry.h"
#include "adv/square.h"

static fa_tensor *perturb(const fa_eval_attack_input *in) {
  const fa_attack_options *o = in->options;
  fa_square_config c = {.eps = in->eps, .n_queries = o->n_queries, .p_init = o->p_init,
                        .n_restarts = o->n_restarts, .rescale = false, .official_windows = true};
  return fa_square(in->model, &c, in->x, in->y, in->rng, fa_eval_examples(in), NULL, NULL);
}

/* "square-5000-1" */
static void label(const fa_attack_options *o, char *out, size_t len) {
  snprintf(out, len, "square-%d-%d", o->n_queries, o->n_restarts);
}

const fa_eval_attack fa_eval_attack_square = {
    .name = "square",
    .summary = "Square, score-based (forward passes only): random squares of +-eps on the margin, from vertical "
               "stripes",
    .options = FA_OPTION_QUERIES | FA_OPTION_P_INIT | FA_OPTION_RESTARTS,
    .defaults = {.n_queries = 5000, .p_init = 0.8f, .n_restarts = 1},
    .perturb = perturb,
    .label = label,
    .title = "Square",
};
