#include "adv/gradalign.h"

#include <math.h>

#include "core/arena.h"
#include "core/error.h"
#include "core/ops.h"

/* sum_j a[j] b[j] in double, in 8 interleaved partial sums (one vector of
 * doubles: a single running sum is a chain of dependent adds, 4x slower) */
static double row_dot(const float *a, const float *b, size_t len) {
  enum { LANES = 8 };
  double part[LANES] = {0}, s = 0;
  size_t j = 0;
  for (; j + LANES <= len; j += LANES)
    for (int t = 0; t < LANES; t++) part[t] += (double)a[j + t] * b[j + t];
  for (; j < len; j++) s += (double)a[j] * b[j];
  for (int t = 0; t < LANES; t++) s += part[t];
  return s;
}

fa_tensor *fa_grad_align_reg(fa_tensor *g1, fa_tensor *g2, float lambda) {
  if (!g1 || !g2) return NULL;
  if (!fa_same_shape(g1, g2)) return fa_error_set(FA_ERR_INVALID, "GradAlign: g1 and g2 differ in shape"), NULL;
  int n = g1->shape[0], kept = 0;
  size_t row = g1->numel / (size_t)n;
  int *nonzero = fa_arena_alloc(fa_arena_current(), (size_t)n * sizeof *nonzero);
  if (!nonzero) return NULL;
  for (int i = 0; i < n; i++) {
    const float *a = g1->data + i * row, *b = g2->data + i * row;
    if (row_dot(a, a, row) != 0 && row_dot(b, b, row) != 0) nonzero[kept++] = i;
  }
  if (kept == 0) return fa_zeros(0, NULL);
  fa_tensor *cos = kept == n ? fa_cosine_per_example(g1, g2)
                             : fa_cosine_per_example(fa_select_rows(g1, kept, nonzero), fa_select_rows(g2, kept, nonzero));
  return fa_scale(fa_affine(fa_mean(cos), -1.0f, 1.0f), lambda);
}

double fa_mean_cosine(const fa_tensor *a, const fa_tensor *b) {
  int n = a->shape[0];
  size_t row = a->numel / (size_t)n;
  double total = 0;
  for (int i = 0; i < n; i++) {
    const float *ra = a->data + i * row, *rb = b->data + i * row;
    double norms = sqrt(row_dot(ra, ra, row) * row_dot(rb, rb, row));
    total += norms == 0 ? 1.0 : row_dot(ra, rb, row) / norms;
  }
  return total / n;
}

double fa_mean_row_norm(const fa_tensor *a) {
  int n = a->shape[0];
  size_t row = a->numel / (size_t)n;
  double total = 0;
  for (int i = 0; i < n; i++) total += sqrt(row_dot(a->data + i * row, a->data + i * row, row));
  return total / n;
}
