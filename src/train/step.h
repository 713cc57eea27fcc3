/* One training step of the paper (docs/METHOD.md section 4): the attack, the loss
 * with GradAlign, and the parameter gradients. */
#ifndef FA_TRAIN_STEP_H
#define FA_TRAIN_STEP_H

#include "adv/elle.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "nn/model.h"
#include "train/config.h"

typedef struct {
  const fa_train_config *config;
  fa_model *model;
  fa_attack_options attack_options; /* of config->attack, from the flags */
  fa_rng attack_rng;        /* FA_STREAM_ATTACK: random starts, eta */
  fa_store *replay;         /* AT for Free: "delta" (B, C, H, W), carried across iterations; else NULL */
  fa_elle_adaptive elle;    /* ELLE-A's weight and penalty history (--elle_adaptive) */
} fa_trainer;

/* Sums over the examples of steps since the last report. */
typedef struct {
  double loss, reg;         /* per-step values times the batch size */
  double elle;              /* ELLE's penalty (before its weight), times the batch size */
  double correct;           /* on the training adversarial examples */
  double grad_norm;         /* sum of ||g1_i||_2 */
  double delta_norm;        /* sum of ||delta_i||_2 */
  int n;                    /* examples */
} fa_step_stats;

fa_status fa_trainer_init(fa_trainer *t, const fa_train_config *config, fa_model *model);
void fa_trainer_free(fa_trainer *t);

/* One step on the batch x (B, C, H, W), labels y (B, int32): fills every parameter's
 * ->grad with the gradient of CE(model(clip(x + delta)), y) + reg
 * (GradAlign) + lambda * ELLE's penalty (the gradients are zeroed first)
 * and adds to *stats. ELLE-A's weight is updated with this step's penalty
 * before it weighs it (adv/elle.h). `ramp` in [0, 1] scales
 * the radius, or the attack's step for an attack that does not ramp its
 * radius (fgsm): the SVHN warm-up; 1 otherwise.
 * Everything but the gradients lives in the current arena. */
fa_status fa_train_step(fa_trainer *t, fa_tensor *x, const fa_tensor *y, float ramp, fa_step_stats *stats);

#endif
