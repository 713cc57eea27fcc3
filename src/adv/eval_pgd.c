/* The evaluation PGD, PGD-k-r (the paper's PGD-50-10): k steps of size
 * eps / 4 from r uniform random starts, drawn per example (fa_pgd_restarts);
 * each example keeps the perturbation of highest cross-entropy. */
#include <stdio.h>

#include "adv/attack.h"
#include "adv/registry.h"

static fa_tensor *perturb(const fa_eval_attack_input *in) {
  const fa_attack_options *o = in->options;
  return fa_pgd_restarts(in->model, in->x, in->y, in->eps, in->eps / 4.0f, o->n_iters, o->n_restarts, in->rng,
                         in->first_example, in->examples, NULL);
}

static void label(const fa_attack_options *options, char *out, size_t len) {
  snprintf(out, len, "pgd-%d-%d", options->n_iters, options->n_restarts);
}

const fa_eval_attack fa_eval_attack_pgd = {
    .name = "pgd",
    .summary = "PGD-k-r: k steps of eps/4 from r random starts, the strongest kept",
    .options = FA_OPTION_ITERS | FA_OPTION_RESTARTS,
    .defaults = {.n_iters = 50, .n_restarts = 10},
    .perturb = perturb,
    .label = label,
};
