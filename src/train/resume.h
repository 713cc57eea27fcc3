/* Resume checkpoints: everything a stopped training run needs to continue
 * as if it had never stopped, bit for bit (same machine and build).
 *
 * A safetensors file (train/checkpoint.h) holding the model (parameters and
 * batch-norm buffers), the optimiser's state under "optimizer." (moments
 * and step count), the best model so far under "best.", AT for Free's
 * carried perturbation under "free." (minibatch_replay > 1), and in the
 * metadata: the run's name and flags (fa_train_config_fingerprint), the
 * place of the next iteration (iteration, epoch, batch, replay round), the
 * loader's state (epoch, position, shuffle and augment counters), the
 * counters of the attack and statistics streams, the best training PGD
 * accuracy, the sums since the last report, and where the metrics files
 * ended. Doubles are written in C's hexadecimal form (%a): exact.
 *
 * Reading checks everything against the run before the run uses it: the
 * flags, every tensor's checksum, name, shape and dtype and that every
 * value is finite (fa_ckpt_open, fa_ckpt_load), every metadata value a
 * number in range, and that the
 * place, the optimiser's step count and the loader's state agree with
 * each other. Any problem is refused with a message naming the file. */
#ifndef FA_TRAIN_RESUME_H
#define FA_TRAIN_RESUME_H

#include <stdint.h>

#include "core/error.h"
#include "core/tensor.h"
#include "data/loader.h"
#include "io/metrics.h"
#include "nn/model.h"
#include "train/config.h"
#include "train/step.h"

#define FA_RUN_NAME_MAX 1024
#define FA_RESUME_BEST_PREFIX "best." /* the best model's tensors in a resume checkpoint */

/* Where a run stands between two iterations. */
typedef struct {
  long iteration;            /* the next iteration (iterations done) */
  int epoch, batch, rep;     /* its place: epoch 0..epochs (epochs + 1: done), batch, replay round */
  fa_loader_state loader;    /* the loader state from which the next iteration's batch is drawn: at rep > 0
                                the state before the current batch, else the current state (the loop
                                begins a new epoch itself at batch 0, rep 0) */
  uint64_t attack_counter;   /* the trainer's attack stream */
  uint64_t stats_counter;    /* the periodic statistics' stream */
  double best_train_pgd;     /* -1 before the first report */
  fa_step_stats since_report;
  fa_metrics_position metrics;
  char run_name[FA_RUN_NAME_MAX];
  bool checksummed;          /* set by fa_resume_load: the file's tensors had checksums (and they matched) */
} fa_resume_point;

/* The stores a resume checkpoint carries besides the model. */
typedef struct {
  fa_model *model;
  fa_store *optimizer;       /* fa_optimizer_state */
  fa_store *best;            /* the best model, the model store's names and shapes */
  fa_store *free_delta;      /* one tensor, AT for Free's delta; NULL without replay */
} fa_resume_stores;

/* The iteration number of a place: 0 in epoch 0, then one per replay round. */
long fa_resume_iteration_at(int epoch, int batch, int rep, int batches_per_epoch, int replay);

fa_status fa_resume_save(const char *path, const fa_train_config *config, const fa_resume_stores *stores,
                         const fa_resume_point *point);

/* Loads the checkpoint at path into the stores and *point, after checking
 * it against the run's config (see above). On failure the stores may hold
 * part of the file: the caller stops. */
fa_status fa_resume_load(const char *path, const fa_train_config *config, int batches_per_epoch,
                         const fa_resume_stores *stores, fa_resume_point *point);

#endif
