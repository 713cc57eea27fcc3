/* One training step of the paper (docs/METHOD.md section 4): the attack, the loss
 * with GradAlign, and the parameter gradients. */
#ifndef FA_TRAIN_STEP_H
#define FA_TRAIN_STEP_H

#include "adv/elle.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "dist/comm.h"
#include "nn/model.h"
#include "train/config.h"

typedef struct {
  const fa_train_config *config;
  fa_model *model;
  fa_attack_options attack_options; /* of config->attack, from the flags */
  fa_rng attack_rng;        /* FA_STREAM_ATTACK: random starts, eta */
  fa_store *replay;         /* AT for Free: "delta" (B, C, H, W), carried across iterations; else NULL */
  fa_elle_adaptive elle;    /* ELLE-A's weight and penalty history (--elle_adaptive) */
  /* A run spread over processes (docs/SCALE.md): the step's batch is rows
   * [first_row, first_row + B) of a global batch of total_rows, its random
   * draws those rows of the global batch's (core/rng.h), and every mean is
   * over the global batch: the parameter gradients are this slice's part, to
   * be summed over the ranks (train/train.c), and GradAlign's and ELLE-A's
   * global terms are summed in the step (collective). A plain run: comm of
   * size 1, the slice the whole batch. */
  fa_comm *comm;
  int first_row, total_rows;
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

/* comm: the run's processes (NULL: a single process) */
fa_status fa_trainer_init(fa_trainer *t, const fa_train_config *config, fa_model *model, fa_comm *comm);
void fa_trainer_free(fa_trainer *t);

/* One step on the batch x (B, C, H, W), labels y (B, int32): fills every parameter's
 * ->grad with the gradient of CE(model(clip(x + delta)), y) + reg
 * (GradAlign) + lambda * ELLE's penalty (the gradients are zeroed first)
 * and adds to *stats (this slice's sums, reg's as its part times the
 * global batch). x is rows t->first_row.. of the global batch (a plain
 * run: t->total_rows 0 or B, the whole batch). ELLE-A's weight is updated with this step's penalty
 * before it weighs it (adv/elle.h). `ramp` in [0, 1] scales
 * the radius, or the attack's step for an attack that does not ramp its
 * radius (fgsm): the SVHN warm-up; 1 otherwise.
 * Everything but the gradients lives in the current arena. */
fa_status fa_train_step(fa_trainer *t, fa_tensor *x, const fa_tensor *y, float ramp, fa_step_stats *stats);

#endif
