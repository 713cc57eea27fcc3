/* Finds a NaN or an Inf in float arrays and in the tensors of a store
 * (parameters and buffers, or their gradients): the training loop's
 * numerical guard stops a run at the first non-finite number instead of
 * training on garbage, and the checkpoint loader refuses a file that holds
 * one.
 *
 * The scan reads the bits (exponent all ones) with an integer OR that the
 * compiler vectorises; the element is located only when one is found. */
#ifndef FA_CORE_FINITE_H
#define FA_CORE_FINITE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/tensor.h"

/* Whether x[0..n) are all finite; else *first receives the first bad index. */
bool fa_all_finite(const float *x, size_t n, size_t *first);

/* The first tensor of the store whose values (gradients = false) or
 * gradient (true; tensors without one are skipped) hold a NaN or an Inf,
 * with that element's index and value; NULL when all are finite. */
const fa_tensor *fa_first_nonfinite(const fa_store *store, bool gradients, size_t *index, float *value);

/* "NaN", "+Inf" or "-Inf" for a non-finite value (printf's "-nan" says
 * nothing useful). */
const char *fa_nonfinite_name(double v);

#endif
