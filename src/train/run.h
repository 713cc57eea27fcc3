/* The two jobs of the fastadv program: train a model, evaluate a checkpoint.
 * Each returns a process exit status (a message on stderr says what
 * happened and what to do): */
#ifndef FA_TRAIN_RUN_H
#define FA_TRAIN_RUN_H

#include "data/dataset.h"
#include "dist/comm.h"
#include "io/json.h"
#include "train/checkpoint.h"
#include "train/config.h"

enum {
  FA_EXIT_OK = 0,
  FA_EXIT_FAILED = 1,   /* the run failed (bad file, full disk, ...) */
  FA_EXIT_USAGE = 2,    /* a wrong command line, before any work (cli/main.c) */
  FA_EXIT_STOPPED = 3,  /* train: stopped by SIGINT, SIGTERM or SIGHUP after writing a resume checkpoint */
  FA_EXIT_NUMERIC = 4,  /* train: a NaN or Inf in the loss, a gradient or a parameter; the last good
                           checkpoint is kept */
  FA_EXIT_CO = 5,       /* train --on_co=stop: the catastrophic-overfitting monitor fired; the best and last
                           models were saved and evaluated, the resume checkpoint holds the run */
};

/* `flags`: every flag's value as JSON members (cli/flags.h), written into
 * the run's configuration record with the version and the run's name.
 * `comm`: the processes of the run (docs/SCALE.md), one in a plain run;
 * rank 0 alone writes. */
int fa_run_train(const fa_train_config *config, fa_json *flags, fa_comm *comm);
int fa_run_eval(const fa_eval_config *config, fa_comm *comm);

/* The model `fastadv eval` evaluates, from an opened checkpoint: described
 * by its metadata, or, for a file without fastadv's metadata (PyTorch's
 * safetensors.torch.save_file of a state_dict), by the config's --model,
 * --n_layers and --n_filters_cnn and the images and classes of ds, as the
 * paper's eval.py builds it from its flags; the tensors' names and shapes
 * are checked (fa_ckpt_load). prefix: as fa_ckpt_load_model_as. NULL and a
 * message on failure. */
fa_model *fa_eval_load_model(const fa_eval_config *c, const fa_checkpoint *ckpt, const fa_dataset *ds,
                             const char *prefix);

#endif
