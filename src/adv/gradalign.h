/* GradAlign (docs/METHOD.md section 4) and the alignment statistics. */
#ifndef FA_ADV_GRADALIGN_H
#define FA_ADV_GRADALIGN_H

#include "core/tensor.h"

/* reg = lambda * (1 - mean cos(g1, g2)): the per-example cosine of the
 * flattened input gradients, over the examples where neither gradient's
 * squared norm (summed in double, as a float) is zero (0 when there is
 * none). g1 and g2 (N, C, H, W) should be
 * recorded with create_graph so that reg differentiates through both. */
fa_tensor *fa_grad_align_reg(fa_tensor *g1, fa_tensor *g2, float lambda);

/* Mean over examples of cos(a_i, b_i) for rows of equal-shaped a and b,
 * a cosine with a zero vector (0/0 or x/0) counting as 1 (docs/METHOD.md section 5).
 * Plain numbers, nothing recorded. */
double fa_mean_cosine(const fa_tensor *a, const fa_tensor *b);

/* Mean over examples of the L2 norm of each row. */
double fa_mean_row_norm(const fa_tensor *a);

#endif
