#include "train/config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/run_name.h"

void fa_train_config_defaults(fa_train_config *c) {
  *c = (fa_train_config){
      .batch_size = 128,
      .batch_size_eval = 256,
      .epochs = 30,
      .lr_schedule = FA_SCHEDULE_CYCLIC,
      .lr_max = 0.2f,
      .weight_decay = 5e-4f,
      .attack = fa_train_attack_find("fgsm"),
      .final_eval = fa_eval_attack_find("pgd"),
      .eps = fa_pixels_of(8),
      .attack_iters = 10,
      .pgd_train_n_iters = 10,
      .pgd_alpha_train = fa_pixels_of(2),
      .fgsm_alpha = 1.25f,
      .minibatch_replay = 1,
      .attack_init = FA_INIT_RANDOM,
      .grad_align_cos_lambda = 0,
      .nfgsm_k = 2.0f,
      .elle_lambda_max = 4000.0f,
      .seed = 0,
      .eval_iter_freq = 200,
      .n_eval_every_k_iter = 256,
      .n_layers = 1,
      .n_filters_cnn = 16,
      .n_final_eval = -1,
      .gpu = 0,
      .checkpoint_every = 200,
  };
  strcpy(c->dataset, "cifar10");
  strcpy(c->model, "resnet18");
  strcpy(c->out_dir, ".");
  strcpy(c->aa_attacks, "standard");
}

bool fa_train_config_elle(const fa_train_config *c) { return c->elle_lambda > 0 || c->elle_adaptive; }

void fa_eval_config_defaults(fa_eval_config *c) {
  *c = (fa_eval_config){
      .attack = fa_eval_attack_find("pgd"),
      .eps = fa_pixels_of(8),
      .n_eval = 256,
      .batch_size_eval = 1024,
      .attack_iters = 50,
      .n_restarts = 10,
      .n_target_classes = 9,
      .n_queries = 5000,
      .p_init = 0.8f,
      .n_layers = 1,
      .n_filters_cnn = 16,
      .gpu = 0,
      .seed = 0,
  };
  c->dataset[0] = '\0'; /* the checkpoint's data set */
  strcpy(c->model, "resnet18");
  strcpy(c->set, "test");
  strcpy(c->out_dir, ".");
  strcpy(c->aa_attacks, "standard");
}

fa_attack_options fa_train_attack_options(const fa_train_config *c) {
  return (fa_attack_options){.init = c->attack_init, .step_of_eps = c->fgsm_alpha, .step = c->pgd_alpha_train,
                             .n_iters = c->pgd_train_n_iters, .noise_of_eps = c->nfgsm_k, .clip = c->nfgsm_clip};
}

fa_attack_options fa_eval_attack_options(const fa_eval_config *c) {
  fa_attack_options o = {.n_iters = c->attack_iters, .n_restarts = c->n_restarts,
                         .n_target_classes = c->n_target_classes, .n_queries = c->n_queries, .p_init = c->p_init};
  snprintf(o.stages, sizeof o.stages, "%s", c->aa_attacks);
  return o;
}

static void word(char *out, size_t len, size_t *at, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void word(char *out, size_t len, size_t *at, const char *fmt, ...) {
  if (*at >= len) return;
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(out + *at, len - *at, fmt, ap);
  va_end(ap);
  *at += k > 0 ? (size_t)k : 0;
}

/* The fewest significant digits (6 to 9) that read back as the same float. */
typedef struct {
  char text[24];
} float_text;

static float_text shortest(float v) {
  float_text t;
  for (int digits = 6; digits <= 9; digits++) {
    snprintf(t.text, sizeof t.text, "%.*g", digits, v);
    if (strtof(t.text, NULL) == v) break;
  }
  return t;
}

bool fa_train_config_fingerprint(const fa_train_config *c, char *out, size_t len) {
  static const char *const schedules[] = {"cyclic", "piecewise", "constant"};
  size_t at = 0;
  word(out, len, &at, "--dataset=%s --model=%s --batch_size=%d --epochs=%d --lr_schedule=%s --lr_max=%s "
       "--weight_decay=%s --attack=%s --eps=%s --attack_init=%s --fgsm_alpha=%s --pgd_train_n_iters=%d "
       "--pgd_alpha_train=%s --minibatch_replay=%d --grad_align_cos_lambda=%s --attack_iters=%d "
       "--eval_iter_freq=%d --n_eval_every_k_iter=%d --n_layers=%d --n_filters_cnn=%d --seed=%d --debug=%s",
       c->dataset, c->model, c->batch_size, c->epochs, schedules[c->lr_schedule], shortest(c->lr_max).text,
       shortest(c->weight_decay).text, c->attack->name, shortest(c->eps.pixels).text,
       fa_attack_init_name(c->attack_init), shortest(c->fgsm_alpha).text, c->pgd_train_n_iters,
       shortest(c->pgd_alpha_train.pixels).text, c->minibatch_replay, shortest(c->grad_align_cos_lambda).text,
       c->attack_iters, c->eval_iter_freq, c->n_eval_every_k_iter, c->n_layers, c->n_filters_cnn, c->seed,
       c->debug ? "true" : "false");
  /* the new methods' flags only where they act, so that other runs' checkpoints keep their fingerprints */
  if (c->attack->options & FA_OPTION_NOISE)
    word(out, len, &at, " --nfgsm_k=%s --nfgsm_clip=%s", shortest(c->nfgsm_k).text, c->nfgsm_clip ? "true" : "false");
  if (c->elle_adaptive) word(out, len, &at, " --elle_adaptive=true --elle_lambda_max=%s",
                             shortest(c->elle_lambda_max).text);
  else if (c->elle_lambda > 0) word(out, len, &at, " --elle_lambda=%s", shortest(c->elle_lambda).text);
  return at < len;
}
