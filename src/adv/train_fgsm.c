/* FGSM training (the paper's section 4): one signed-gradient step of
 * alpha * eps from a start of 0 (FGSM) or uniform in the eps-ball (FGSM-RS,
 * --attack_init=random), and AT for Free (--minibatch_replay > 1): each
 * replay of a batch starts from the perturbation the previous one left. */
#include <stdio.h>

#include "adv/attack.h"
#include "adv/registry.h"
#include "core/ops.h"

static fa_tensor *start(const fa_train_attack_input *in) {
  fa_tensor *x = in->x;
  if (in->carried) {
    fa_tensor *d = fa_tensor_new(fa_tensor_ndim(x), fa_tensor_shape(x));
    return d && fa_tensor_copy_rows(d, 0, in->carried, 0, fa_tensor_dim(x, 0)) == FA_OK ? d : NULL;
  }
  if (in->options->init == FA_INIT_ZERO) return fa_zeros_like(x);
  return fa_uniform_delta(x, in->eps, in->rng);
}

/* The step ramps up with the SVHN warm-up; the gradient at the start is g1. */
static fa_status perturb(const fa_train_attack_input *in, fa_tensor *delta, fa_tensor **input_grad) {
  float step = in->ramp * in->options->step_of_eps * in->eps;
  if (!fa_fgsm(in->model, true, in->x, in->y, delta, in->eps, step, in->create_graph, input_grad))
    return fa_error_code();
  return in->carried ? fa_tensor_copy_rows(in->carried, 0, delta, 0, fa_tensor_dim(delta, 0)) : FA_OK;
}

static void method(const fa_run_method *run, char *out, size_t len) {
  if (run->minibatch_replay > 1) snprintf(out, len, "AT for Free (m=%d)", run->minibatch_replay);
  else if (run->grad_align_lambda > 0) snprintf(out, len, "FGSM + GradAlign");
  else snprintf(out, len, run->init == FA_INIT_RANDOM ? "FGSM-RS" : "FGSM");
}

const fa_train_attack fa_train_attack_fgsm = {
    .name = "fgsm",
    .summary = "one signed-gradient step of fgsm_alpha * eps: FGSM from 0, FGSM-RS from a random start, "
               "AT for Free with --minibatch_replay=m",
    .options = FA_OPTION_INIT | FA_OPTION_STEP_OF_EPS,
    .defaults = {.init = FA_INIT_RANDOM, .step_of_eps = 1.25f},
    .gives_input_grad = true,
    .start = start,
    .perturb = perturb,
    .method = method,
};
