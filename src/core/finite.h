/* Finds a NaN or an Inf in float arrays and in the tensors of a store
 * (parameters and buffers, or their gradients): the training loop's
 * numerical guard stops a run at the first non-finite number instead of
 * training on garbage, and the checkpoint loader refuses a file that holds
 * one.
 *
 * The host scan is backend/finite_scan.h's; a store's tensors are scanned
 * on their device, one kernel pass per slab (core/tensor.h), and only the
 * position found and the one bad value come back to the host. */
#ifndef FA_CORE_FINITE_H
#define FA_CORE_FINITE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/tensor.h"

/* Whether x[0..n) are all finite; else *first receives the first bad index. */
bool fa_all_finite(const float *x, size_t n, size_t *first);

/* The first tensor of the store whose values (gradients = false) or
 * gradient (true; tensors without one are skipped) hold a NaN or an Inf,
 * with that element's index and value; NULL when all are finite. Its
 * result slot comes from the context's current arena when there is one
 * (released before it returns). */
const fa_tensor *fa_first_nonfinite(fa_store *store, bool gradients, size_t *index, float *value);

/* "NaN", "+Inf" or "-Inf" for a non-finite value (printf's "-nan" says
 * nothing useful). */
const char *fa_nonfinite_name(double v);

#endif
