/* Numbers read back from tensors: predictions against labels and the
 * per-example statistics of the training step. Each is computed on the
 * device and comes back as a few scalars, so that the training step copies
 * nothing larger to the host. Nothing is recorded for autograd. */
#ifndef FA_CORE_MEASURE_H
#define FA_CORE_MEASURE_H

#include "core/tensor.h"

/* The number of rows of logits (N, K) whose argmax (the first of equal
 * values) is the label, labels (N) int32; -1 and a message on failure. */
int fa_count_correct(const fa_tensor *logits, const fa_tensor *labels);
/* Each row's argmax of logits (N, K), as above: (N) int32. */
fa_tensor *fa_argmax_rows(const fa_tensor *logits);
/* The number of i with a[i] != 0 and b[i] != 0 (a, b of one shape); -1 and
 * a message on failure. */
long fa_count_nonzero_pairs(const fa_tensor *a, const fa_tensor *b);

/* Mean over examples of cos(a_i, b_i) for rows of equal-shaped a and b,
 * a cosine with a zero vector (0/0 or x/0) counting as 1 (docs/METHOD.md
 * section 5); each row's dot products summed in double, the mean in double.
 * NaN on failure. */
double fa_mean_cosine(const fa_tensor *a, const fa_tensor *b);
/* Mean over examples of the L2 norm of each row; NaN on failure. */
double fa_mean_row_norm(const fa_tensor *a);

#endif
