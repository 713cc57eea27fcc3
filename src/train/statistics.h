/* The periodic statistics of a training run (docs/METHOD.md section 5): how robust
 * the model is now and how aligned its input gradients are, the signals of
 * catastrophic overfitting. */
#ifndef FA_TRAIN_STATISTICS_H
#define FA_TRAIN_STATISTICS_H

#include "adv/registry.h"
#include "core/error.h"
#include "core/rng.h"
#include "dist/comm.h"
#include "nn/model.h"

/* A fixed set of examples, materialised once: x (n, C, H, W) in [0, 1]. */
typedef struct {
  int n;
  float *x;
  int *y;
} fa_example_set;

typedef struct {
  double clean_acc, fgsm_acc, pgd_acc, fgsm_loss, pgd_loss;
  double cos_fgsm_pgd;  /* mean cos(delta_FGSM, delta_PGD) */
  double grad_align;    /* mean cos(grad at x, grad at x + eta) */
  double train_pgd_acc; /* PGD accuracy on the training examples: drives early stopping */
} fa_periodic_stats;

/* How the periodic statistics attack: eps in [0, 1] units, and the
 * evaluation attack of their robust accuracy with its options (the paper's:
 * pgd with --attack_iters steps and one restart). */
typedef struct {
  float eps;
  const fa_eval_attack *attack;
  fa_attack_options options;
} fa_stats_attack;

/* In evaluation mode on `test` and `train`, batches of batch_size: clean,
 * FGSM (one step of eps from 0) and attacked accuracy ("PGD"), FGSM and
 * PGD loss, the two cosines (0/0 counts as 1), and PGD accuracy on
 * `train`. The random starts and eta are drawn per example from a stream
 * of this report (the report's number is rng's counter, which it advances:
 * what a resume checkpoint keeps), so the accuracies do not depend on
 * batch_size. Collective: the batches are spread over comm's ranks (batch
 * b on rank b mod size), and every rank gets the numbers one process
 * computes, the same bits. */
fa_status fa_periodic_stats_compute(fa_model *model, const fa_example_set *test, const fa_example_set *train,
                                    const fa_stats_attack *attack, int batch_size, fa_rng *rng, fa_comm *comm,
                                    fa_periodic_stats *out);

/* For the cnn: the L2 norm of each first-layer filter and of its outgoing
 * weights in the next layer (the paper's Figure 6). Writes n_filters values
 * to each array; FA_ERR_INVALID for another architecture. */
fa_status fa_cnn_filter_norms(const fa_model *model, double *filter_norms, double *outgoing_norms);

#endif
