/* TEMPORARY: replaced by the training loop and evaluator in this session. */
#include "train/run.h"

#include <stdio.h>

int fa_run_train(const fa_train_config *config) {
  (void)config;
  fprintf(stderr, "fastadv: training is not built yet\n");
  return 1;
}

int fa_run_eval(const fa_eval_config *config) {
  (void)config;
  fprintf(stderr, "fastadv: evaluation is not built yet\n");
  return 1;
}
