/* ELLE and ELLE-A (Abad Rocamora et al., ICLR 2024; docs/LATER_METHODS.md): a
 * penalty on the loss's departure from linearity between random points of
 * the eps-ball, and the adaptive weight of ELLE-A. */
#ifndef FA_ADV_ELLE_H
#define FA_ADV_ELLE_H

#include <stdbool.h>

#include "core/rng.h"
#include "core/tensor.h"
#include "nn/model.h"

/* For each example of x (N, C, H, W) in [0, 1]: x_a = clip(x + u_a),
 * x_b = clip(x + u_b), u uniform in [-eps, eps], and
 * x_c = (1 - t) x_a + t x_b with t uniform in [0, 1], drawn from rng in
 * that order (u_a, u_b, t). The three go through the model in one batch of
 * 3N (training mode: batch norm sees the 3N, as in the public code); the
 * result is the scalar mean over examples of
 * (l(x_c) - (1 - t) l(x_a) - t l(x_b))^2, l the cross-entropy of each
 * example, recorded for backpropagation to the parameters. NULL on error. */
fa_tensor *fa_elle_penalty(fa_model *model, fa_tensor *x, const fa_tensor *y, float eps, fa_rng *rng);

/* ELLE-A's weight and the history of the penalty: how many values, their
 * mean and the sum of squared deviations (Welford), in double. */
typedef struct {
  double lambda;
  long count;
  double mean, m2;
} fa_elle_adaptive;

/* lambda starts at 0 and the history empty. */
fa_elle_adaptive fa_elle_adaptive_start(void);

/* One step of ELLE-A with this step's penalty: when the history holds at
 * least 3 values and penalty > mean + 2 std of them (std with divisor
 * count), lambda = lambda_max, else lambda *= 0.99; then the penalty joins
 * the history. Returns the new lambda, the weight of this step's penalty;
 * *spike (when not NULL) says whether it jumped. */
double fa_elle_adaptive_step(fa_elle_adaptive *s, double penalty, double lambda_max, bool *spike);

#endif
