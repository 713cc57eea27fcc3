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

/* The alignment statistics (mean cosine, mean row norm) are core's:
 * core/measure.h. */

#endif
