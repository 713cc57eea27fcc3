/* The two jobs of the fastadv program: train a model, evaluate a checkpoint.
 * Each returns a process exit status: 0 on success, 1 when the run failed
 * (a message has been printed to stderr saying what and what to do). */
#ifndef FA_TRAIN_RUN_H
#define FA_TRAIN_RUN_H

#include "train/config.h"

int fa_run_train(const fa_train_config *config);
int fa_run_eval(const fa_eval_config *config);

#endif
