/* APGD, Auto-PGD (Croce & Hein, ICML 2020), in the L-infinity ball: the
 * gradient attack of AutoAttack. Where it follows the paper and where the
 * official code (and why): docs/AUTOATTACK.md.
 *
 * From a start in the eps-ball around x: sign-gradient steps with momentum
 * 0.75, the step size 2 eps halved at the checkpoints where the loss has
 * stopped rising (each halving restarting from the best point); per
 * example, the highest loss and where, and whether any iterate was
 * misclassified. Losses: cross-entropy (APGD-CE), DLR (APGD-DLR) and the
 * targeted DLR (APGD-T). The model runs in evaluation mode; eps is in
 * [0, 1] units; x + delta stays in the eps-ball and the [0, 1] box. */
#ifndef FA_ADV_APGD_H
#define FA_ADV_APGD_H

#include <stdbool.h>

#include "core/error.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "nn/model.h"

typedef enum { FA_APGD_CE, FA_APGD_DLR, FA_APGD_DLR_TARGETED } fa_apgd_loss;

/* The attack's name in print: "APGD-CE", "APGD-DLR", "APGD-T". */
const char *fa_apgd_name(fa_apgd_loss loss);
/* The fewest classes the loss is defined for (3 for the DLR losses' third
 * largest logit, 4 for the targeted one's fourth; 2 for cross-entropy). */
int fa_apgd_min_classes(fa_apgd_loss loss);

/* More than any iteration count has: p_j grows by at least 0.06 from 0.22. */
#define FA_APGD_MAX_CHECKPOINTS 16

/* The checkpoints 0 < w_1 < w_2 < ... <= n_iter of a run of n_iter
 * iterations, w_j = ceil(p_j n_iter) with p_0 = 0, p_1 = 0.22,
 * p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06), into w; returns their
 * count (0 when n_iter < 1). */
int fa_apgd_checkpoints(int n_iter, int w[FA_APGD_MAX_CHECKPOINTS]);

/* Whether a checkpoint halves an example's step size (and restarts it from
 * its best point): condition 1, fewer than rho = 0.75 of the `window` steps
 * since the last checkpoint raised the loss (`raised` did), or condition 2,
 * the last checkpoint did not halve it (halved_last false; at the first
 * checkpoint too) and its best loss has not risen above best_at_last, the
 * best at the last checkpoint (the start's loss at the first). */
bool fa_apgd_halves(int raised, int window, bool halved_last, float best, float best_at_last);

typedef struct {
  fa_apgd_loss loss;
  float eps;              /* the radius, [0, 1] units */
  int n_iter;             /* iterations of one run (>= 1) */
  int n_restarts;         /* fa_apgd: runs from new random starts, each on the examples still robust */
  int n_target_classes;   /* FA_APGD_DLR_TARGETED: runs per restart, one per target class, the classes of the
                             largest clean logits after the top one (at most classes - 1) */
} fa_apgd_config;

/* What one run gives, per example, in the current arena. */
typedef struct {
  bool *broken;           /* (N) some iterate, the start included, was misclassified */
  fa_tensor *adv;         /* (N, C, H, W) the last misclassified iterate where broken, else the start */
  fa_tensor *best;        /* (N, C, H, W) the iterate of highest loss (the first of equal ones) */
  float *best_loss;       /* (N) its loss */
} fa_apgd_result;

/* A window on a run (a test's): after iteration `it` (0-based) computed its
 * iterate delta (N, C, H, W) and its loss (N), before a checkpoint acts;
 * step (N) holds the step sizes that made it. */
typedef struct {
  void (*iterate)(void *ctx, int it, const fa_tensor *delta, const float *loss, const float *step);
  void *ctx;
} fa_apgd_trace;

/* One run of c->n_iter iterations on the batch x (N, C, H, W), labels y,
 * from `start` (x's shape, in the eps-ball; put into the box here); target
 * (N) the target classes of the targeted loss, else NULL; trace optional.
 * c->n_restarts and c->n_target_classes are not read. */
fa_status fa_apgd_run(fa_model *model, const fa_apgd_config *c, fa_tensor *x, const fa_tensor *y, const int *target,
                      fa_tensor *start, const fa_apgd_trace *trace, fa_apgd_result *out);

/* The attack on a batch, as AutoAttack runs it. Examples misclassified
 * clean are not attacked. Per target class (the targeted loss; one pass
 * otherwise), per restart, one run on the examples still robust, from a
 * start uniform in the eps-ball drawn from example i's own
 * stream within `stream` (fa_rng_item_stream), so that an example's result
 * depends on neither its batch nor the batch size. Returns the perturbation
 * (N, C, H, W): for an example broken, the misclassified point its run
 * found; 0 elsewhere. robust (N, optional) gets whether each example
 * withstood it. NULL and a message on failure (too few classes for the
 * loss, too many target classes, memory). */
fa_tensor *fa_apgd(fa_model *model, const fa_apgd_config *c, fa_tensor *x, const fa_tensor *y, const fa_rng *stream,
                   const long *examples, bool *robust);

#endif
