/* Robust evaluation of a model on a data set: clean accuracy and PGD
 * accuracy with random restarts (PGD-50-10 is the paper's final metric). */
#ifndef FA_TRAIN_EVALUATE_H
#define FA_TRAIN_EVALUATE_H

#include "adv/registry.h"
#include "core/error.h"
#include "data/dataset.h"
#include "nn/model.h"

typedef struct {
  int n;                /* examples evaluated */
  double clean_acc;
  double robust_acc;    /* under the attack */
  double seconds;
} fa_eval_result;

/* On the first n examples of ds in file order (all when n <= 0 or n > ds->n),
 * in evaluation mode, batches of batch_size: clean accuracy and accuracy
 * under `attack` with `options` at radius eps ([0, 1] units), its random
 * numbers drawn from FA_STREAM_EVAL of `seed`, so that the same seed gives
 * the same numbers for the same model and examples. */
fa_status fa_evaluate(fa_model *model, const fa_dataset *ds, int n, int batch_size, float eps,
                      const fa_eval_attack *attack, const fa_attack_options *options, int seed, fa_eval_result *out);

#endif
