/* GradAlign (docs/METHOD.md section 4). */
#ifndef FA_ADV_GRADALIGN_H
#define FA_ADV_GRADALIGN_H

#include "core/tensor.h"

/* reg = lambda * (1 - mean cos(g1, g2)): the per-example cosine of the
 * flattened input gradients, over the examples where neither gradient's
 * squared norm (summed in double, as a float) is zero (0 when there is
 * none). g1 and g2 (N, C, H, W) should be
 * recorded with create_graph so that reg differentiates through both. */
fa_tensor *fa_grad_align_reg(fa_tensor *g1, fa_tensor *g2, float lambda);

/* The same when the batch is one slice of a global batch spread over
 * processes (docs/SCALE.md): `total` gets the number of rows that count on
 * this slice and returns the number over every slice (called once, on every
 * slice, also when none of its rows counts or a step before failed: it is
 * collective); the result is this slice's part,
 * lambda * (k / K - sum_i cos_i / K) for its k rows of K, so that the
 * parts add up to reg of the global batch (and equal it when k = K). */
fa_tensor *fa_grad_align_reg_part(fa_tensor *g1, fa_tensor *g2, float lambda, long (*total)(void *ctx, long kept),
                                  void *ctx);

/* The alignment statistics (mean cosine, mean row norm) are core's:
 * core/measure.h. */

#endif
