/* The Difference of Logits Ratio losses of APGD (docs/AUTOATTACK.md), per
 * example, built from ops so that their gradients come from autograd.
 *
 * For logits z (N, K) sorted per row z_pi1 >= z_pi2 >= ..., label y:
 *   DLR(z, y)             = -(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3 + 1e-12)     (K >= 3)
 *   targeted DLR(z, y, t) = -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2 + 1e-12)    (K >= 4)
 * Which entries are picked (the order of the row) is a constant for the
 * gradient, as a sort is in PyTorch; the gradient flows to those entries.
 * DLR is 1, and flat, wherever the true class ranks third: its gradient
 * there is the 1e-12's alone, below float32's resolution, so it is rounding
 * noise (as in PyTorch's float32). */
#ifndef FA_ADV_DLR_H
#define FA_ADV_DLR_H

#include "core/tensor.h"

/* The fewest classes each loss is defined for. */
#define FA_DLR_MIN_CLASSES 3
#define FA_DLR_TARGETED_MIN_CLASSES 4

/* logits (N, K), labels y (N, int32) -> (N), the logits read back to the host; NULL and a message when K is too small
 * or a label is outside [0, K). */
fa_tensor *fa_dlr_loss(fa_tensor *logits, const fa_tensor *y);
/* The same with target classes t (N, on the host). */
fa_tensor *fa_dlr_targeted_loss(fa_tensor *logits, const fa_tensor *y, const int *target);

#endif
