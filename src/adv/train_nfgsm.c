/* N-FGSM training (de Jorge et al., NeurIPS 2022; docs/LATER_METHODS.md): noise
 * uniform in [-k eps, k eps], x + noise kept in the [0, 1] box, then one
 * signed-gradient step of alpha * eps from the noisy point, without the
 * projection back onto the eps-ball (unless --nfgsm_clip). The
 * perturbation can so reach (k + alpha) eps. */
#include <stdio.h>

#include "adv/attack.h"
#include "adv/registry.h"

static fa_tensor *start(const fa_train_attack_input *in) {
  fa_tensor *d = fa_uniform_delta(in->x, in->options->noise_of_eps * in->eps, in->rng);
  if (d) fa_project_box(in->x, d);
  return d;
}

/* fa_fgsm clamps to a radius: eps with --nfgsm_clip, else one that the
 * noise and the step cannot reach, so that only the box binds. The gradient
 * at the noisy point is g1. */
static fa_status perturb(const fa_train_attack_input *in, fa_tensor *delta, fa_tensor **input_grad) {
  const fa_attack_options *o = in->options;
  float step = o->step_of_eps * in->eps;
  float radius = o->clip ? in->eps : 2.0f * (o->noise_of_eps * in->eps + step) + 1.0f;
  return fa_fgsm(in->model, true, in->x, in->y, delta, radius, step, in->create_graph, input_grad) ? FA_OK
                                                                                                    : fa_error_code();
}

static void method(const fa_run_method *run, char *out, size_t len) {
  snprintf(out, len, "N-FGSM%s", run->grad_align_lambda > 0 ? " + GradAlign" : "");
}

const fa_train_attack fa_train_attack_nfgsm = {
    .name = "nfgsm",
    .summary = "N-FGSM: noise uniform in [-k eps, k eps] (k = nfgsm_k), then one signed-gradient step of "
               "fgsm_alpha * eps, not projected onto the eps-ball unless --nfgsm_clip",
    .options = FA_OPTION_STEP_OF_EPS | FA_OPTION_NOISE | FA_OPTION_CLIP,
    .defaults = {.step_of_eps = 1.0f, .noise_of_eps = 2.0f, .clip = false},
    .ramps_radius = true,
    .gives_input_grad = true,
    .start = start,
    .perturb = perturb,
    .method = method,
};
