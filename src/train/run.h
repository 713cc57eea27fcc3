/* The two jobs of the fastadv program: train a model, evaluate a checkpoint.
 * Each returns a process exit status (a message on stderr says what
 * happened and what to do): */
#ifndef FA_TRAIN_RUN_H
#define FA_TRAIN_RUN_H

#include "io/json.h"
#include "train/config.h"

enum {
  FA_EXIT_OK = 0,
  FA_EXIT_FAILED = 1,   /* the run failed (bad file, full disk, ...) */
  FA_EXIT_USAGE = 2,    /* a wrong command line, before any work (cli/main.c) */
  FA_EXIT_STOPPED = 3,  /* train: stopped by SIGINT or SIGTERM after writing a resume checkpoint */
  FA_EXIT_NUMERIC = 4,  /* train: a NaN or Inf in the loss, a gradient or a parameter; the last good
                           checkpoint is kept */
};

/* `flags`: every flag's value as JSON members (cli/flags.h), written into
 * the run's configuration record with the version and the run's name. */
int fa_run_train(const fa_train_config *config, fa_json *flags);
int fa_run_eval(const fa_eval_config *config);

#endif
