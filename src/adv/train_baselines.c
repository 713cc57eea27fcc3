/* The baselines without a gradient: a uniformly random corner of the
 * eps-ball (eps * sign(u), u uniform), and no perturbation (standard
 * training). */
#include <stdio.h>

#include "adv/attack.h"
#include "adv/registry.h"
#include "core/ops.h"

static fa_tensor *random_corner(const fa_train_attack_input *in) {
  return fa_scale(fa_sign(fa_uniform_delta(in->x, 1.0f, in->rng)), in->eps);
}

static fa_tensor *zero(const fa_train_attack_input *in) { return fa_zeros_like(in->x); }

static void standard(const fa_run_method *run, char *out, size_t len) {
  (void)run;
  snprintf(out, len, "Standard");
}

const fa_train_attack fa_train_attack_random_corner = {
    .name = "random_corner",
    .summary = "a random corner eps * sign(u) of the eps-ball, u uniform",
    .ramps_radius = true,
    .start = random_corner,
};

const fa_train_attack fa_train_attack_none = {
    .name = "none",
    .summary = "no perturbation: standard training",
    .ramps_radius = true,
    .start = zero,
    .method = standard,
};
