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
  /* the squared norms (N) decide which rows count and go into their cosines */
  fa_tensor *g1_sq = fa_row_dot(g1, g1), *g2_sq = fa_row_dot(g2, g2);
  int *nonzero = fa_arena_alloc(fa_arena_current(), (size_t)n * sizeof *nonzero);
  if (!g1_sq || !g2_sq || !nonzero) return NULL;
  for (int i = 0; i < n; i++)
    if (g1_sq->data[i] != 0 && g2_sq->data[i] != 0) nonzero[kept++] = i;
  if (kept == 0) return fa_zeros(0, NULL);
  fa_tensor *dot = fa_row_dot(g1, g2);
  if (kept < n) {
    g1_sq = fa_select_rows(g1_sq, kept, nonzero);
    g2_sq = fa_select_rows(g2_sq, kept, nonzero);
    dot = fa_select_rows(dot, kept, nonzero);
  }
  fa_tensor *cos = fa_cosine_of_dots(dot, g1_sq, g2_sq);
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
