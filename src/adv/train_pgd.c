/* PGD training: n_iters signed-gradient steps of size alpha from a start of
 * 0 or uniform in the eps-ball (put into the [0, 1] box), each projected
 * into the box and the ball; and its corner variant, which then moves the
 * perturbation to the corner eps * sign(delta) of the ball. */
#include <stdio.h>

#include "adv/attack.h"
#include "adv/registry.h"
#include "core/ops.h"

static fa_tensor *start(const fa_train_attack_input *in) {
  fa_tensor *x = in->x;
  if (in->options->init == FA_INIT_ZERO) return fa_zeros_like(x);
  fa_tensor *d = fa_uniform_delta(x, in->eps, in->rng);
  if (d) fa_project_box(x, d);
  return d;
}

static fa_status perturb(const fa_train_attack_input *in, fa_tensor *delta, fa_tensor **input_grad) {
  (void)input_grad;
  const fa_attack_options *o = in->options;
  return fa_pgd(in->model, true, in->x, in->y, delta, in->eps, o->step.value, o->n_iters) ? FA_OK : fa_error_code();
}

/* PGD, then delta <- eps sign(delta), into the box */
static fa_status perturb_corner(const fa_train_attack_input *in, fa_tensor *delta, fa_tensor **input_grad) {
  fa_status st = perturb(in, delta, input_grad);
  if (st != FA_OK) return st;
  fa_sign_scale(delta, in->eps);
  fa_project_box(in->x, delta);
  return FA_OK;
}

static void method(const fa_run_method *run, char *out, size_t len) {
  char steps[16] = "?";
  if (run->n_iters >= 0) snprintf(steps, sizeof steps, "%d", run->n_iters);
  snprintf(out, len, "PGD-%s%s", steps, run->grad_align_lambda > 0 ? " + GradAlign" : "");
}

#define PGD_OPTIONS .options = FA_OPTION_INIT | FA_OPTION_STEP | FA_OPTION_ITERS, \
                    .defaults = {.init = FA_INIT_RANDOM, .step = FA_PIXELS(2), .n_iters = 10}, \
                    .ramps_radius = true, .start = start

const fa_train_attack fa_train_attack_pgd = {
    .name = "pgd",
    .summary = "PGD-k: k = pgd_train_n_iters signed-gradient steps of pgd_alpha_train, each projected into the "
               "eps-ball",
    PGD_OPTIONS,
    .perturb = perturb,
    .method = method,
};

const fa_train_attack fa_train_attack_pgd_corner = {
    .name = "pgd_corner",
    .summary = "PGD, then the corner eps * sign(delta) of the ball",
    PGD_OPTIONS,
    .perturb = perturb_corner,
};
