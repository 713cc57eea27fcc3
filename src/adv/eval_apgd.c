/* APGD as evaluation attacks (docs/AUTOATTACK.md): apgd_ce, apgd_dlr and
 * apgd_t, with the defaults of AutoAttack's standard version: 100
 * iterations, 1 restart, and 9 target classes for apgd_t. */
#include <ctype.h>
#include <stdio.h>

#include "adv/apgd.h"
#include "adv/registry.h"

static fa_apgd_config config_of(fa_apgd_loss loss, const fa_eval_attack_input *in) {
  const fa_attack_options *o = in->options;
  return (fa_apgd_config){.loss = loss, .eps = in->eps, .n_iter = o->n_iters, .n_restarts = o->n_restarts,
                          .n_target_classes = o->n_target_classes};
}

static fa_tensor *perturb_with(fa_apgd_loss loss, const fa_eval_attack_input *in) {
  fa_apgd_config c = config_of(loss, in);
  return fa_apgd(in->model, &c, in->x, in->y, in->rng, fa_eval_examples(in), NULL);
}

static fa_status check_with(fa_apgd_loss loss, const fa_attack_options *o, int n_classes) {
  if (n_classes < fa_apgd_min_classes(loss))
    return fa_error_set(FA_ERR_INVALID, "%s needs at least %d classes; the data set has %d: choose another "
                        "--attack", fa_apgd_name(loss), fa_apgd_min_classes(loss), n_classes);
  if (loss == FA_APGD_DLR_TARGETED && o->n_target_classes > n_classes - 1)
    return fa_error_set(FA_ERR_INVALID, "--n_target_classes=%d: %s targets the classes other than the true one, "
                        "%d on this data set: give at most %d", o->n_target_classes, fa_apgd_name(loss),
                        n_classes - 1, n_classes - 1);
  return FA_OK;
}

/* "apgd-ce-100-1", "apgd-t-100-1-9": the name in lower case, iterations, restarts (and targets) */
static void label_with(fa_apgd_loss loss, const fa_attack_options *o, char *out, size_t len) {
  const char *name = fa_apgd_name(loss);
  size_t at = 0;
  for (; name[at] && at + 1 < len; at++) out[at] = (char)tolower((unsigned char)name[at]);
  if (loss == FA_APGD_DLR_TARGETED)
    snprintf(out + at, len - at, "-%d-%d-%d", o->n_iters, o->n_restarts, o->n_target_classes);
  else
    snprintf(out + at, len - at, "-%d-%d", o->n_iters, o->n_restarts);
}

/* The registry's functions of one loss. */
#define APGD_FUNCTIONS(suffix, loss)                                                                           \
  static fa_tensor *perturb_##suffix(const fa_eval_attack_input *in) { return perturb_with(loss, in); }      \
  static fa_status check_##suffix(const fa_attack_options *o, int n) { return check_with(loss, o, n); }      \
  static void label_##suffix(const fa_attack_options *o, char *out, size_t len) { label_with(loss, o, out, len); }
APGD_FUNCTIONS(ce, FA_APGD_CE)
APGD_FUNCTIONS(dlr, FA_APGD_DLR)
APGD_FUNCTIONS(t, FA_APGD_DLR_TARGETED)

const fa_eval_attack fa_eval_attack_apgd_ce = {
    .name = "apgd_ce",
    .summary = "APGD on the cross-entropy (AutoAttack's first stage): step size 2 eps halved at checkpoints, "
               "momentum 0.75",
    .options = FA_OPTION_ITERS | FA_OPTION_RESTARTS,
    .defaults = {.n_iters = 100, .n_restarts = 1},
    .perturb = perturb_ce,
    .label = label_ce,
    .title = "APGD-CE",
    .check = check_ce,
};

const fa_eval_attack fa_eval_attack_apgd_dlr = {
    .name = "apgd_dlr",
    .summary = "APGD on the DLR loss (3 classes or more)",
    .options = FA_OPTION_ITERS | FA_OPTION_RESTARTS,
    .defaults = {.n_iters = 100, .n_restarts = 1},
    .perturb = perturb_dlr,
    .label = label_dlr,
    .title = "APGD-DLR",
    .check = check_dlr,
};

const fa_eval_attack fa_eval_attack_apgd_t = {
    .name = "apgd_t",
    .summary = "APGD on the targeted DLR loss (4 classes or more), one run per target: the classes of the "
               "largest clean logits after the top one",
    .options = FA_OPTION_ITERS | FA_OPTION_RESTARTS | FA_OPTION_TARGETS,
    .defaults = {.n_iters = 100, .n_restarts = 1, .n_target_classes = 9},
    .perturb = perturb_t,
    .label = label_t,
    .title = "APGD-T",
    .check = check_t,
};
