/* Robust evaluation of a model on a data set: clean accuracy and accuracy
 * under an evaluation attack (PGD-50-10 is the paper's final metric), per
 * stage for an attack of stages (autoattack), with each example's results
 * written as the evaluation goes so that a stopped one can be resumed
 * (docs/AUTOATTACK.md). */
#ifndef FA_TRAIN_EVALUATE_H
#define FA_TRAIN_EVALUATE_H

#include "adv/registry.h"
#include "core/error.h"
#include "data/dataset.h"
#include "dist/comm.h"
#include "nn/model.h"

typedef struct {
  int n;                /* examples evaluated */
  double clean_acc;
  double robust_acc;    /* under the attack */
  double seconds;       /* of this process (a resumed evaluation's earlier ones not counted) */
  int n_stages;         /* an attack of stages': robust accuracy after each (0 otherwise) */
  char stage_titles[FA_EVAL_MAX_STAGES][16];
  double stage_acc[FA_EVAL_MAX_STAGES];
  double stage_seconds[FA_EVAL_MAX_STAGES];
  int n_resumed;        /* examples taken from the per-example log, not evaluated again */
} fa_eval_result;

/* The per-example log: one JSON line per example, appended as each batch is
 * done, after a first line naming the evaluation (`header`):
 *   {"evaluation": "<header>"}
 *   {"index": 17, "clean": 1, "robust": [1, 0]}     (robust after each stage)
 * With resume, the examples a log of the same header holds are taken from it
 * and not evaluated again (a torn last line is dropped); without, an
 * existing log is refused (FA_ERR_IO, nothing written). */
typedef struct {
  const char *path;
  const char *header;
  bool resume;
} fa_eval_log;

/* On the first n examples of ds in file order (all when n <= 0 or n > ds->n),
 * in evaluation mode, batches of batch_size: clean accuracy and accuracy
 * under `attack` with `options` at radius eps ([0, 1] units), its random
 * numbers drawn from FA_STREAM_EVAL of `seed` per example, so that the same
 * seed gives the same numbers for the same model and examples, whatever
 * batch_size. Collective: the batches are spread over comm's ranks (batch
 * b on rank b mod size), which exchange each example's results; every rank
 * gets the counts one process gets, rank 0 alone writes the log (and the
 * progress line). A stage's seconds are summed over the ranks. log: NULL,
 * or the per-example log. */
fa_status fa_evaluate(fa_model *model, const fa_dataset *ds, int n, int batch_size, float eps,
                      const fa_eval_attack *attack, const fa_attack_options *options, int seed, fa_comm *comm,
                      const fa_eval_log *log, fa_eval_result *out);

/* The results as RobustBench's JSON (clean_acc, autoattack_acc for an
 * attack of stages or robust_acc, eps in [0, 1] units, n_examples, model,
 * attack, stages: name, robust_acc, seconds; seconds) into path, atomically
 * (a temporary file renamed over it). */
fa_status fa_eval_write_results(const char *path, const fa_eval_result *r, const char *model, float eps,
                                const char *label);

#endif
