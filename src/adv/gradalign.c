#include "adv/gradalign.h"

#include <math.h>

#include "backend/backend.h"
#include "core/arena.h"
#include "core/error.h"
#include "core/ops.h"

enum { FA_STAT_ROWS = 256 }; /* the statistics take the per-example dot products in blocks of rows */

/* out[i] = <a_r, b_r> for the count rows from r0 (row floats each): the backend's row_dot, summed in double */
static void row_dots(const fa_tensor *a, const fa_tensor *b, int r0, int count, size_t row, float *out) {
  fa_context_kernels(a->ctx)->row_dot(count, row, a->data + (size_t)r0 * row, b->data + (size_t)r0 * row, out);
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
  for (int r0 = 0; r0 < n; r0 += FA_STAT_ROWS) {
    const int count = n - r0 < FA_STAT_ROWS ? n - r0 : FA_STAT_ROWS;
    float ab[FA_STAT_ROWS], aa[FA_STAT_ROWS], bb[FA_STAT_ROWS];
    row_dots(a, b, r0, count, row, ab);
    row_dots(a, a, r0, count, row, aa);
    row_dots(b, b, r0, count, row, bb);
    for (int i = 0; i < count; i++) {
      double norms = sqrt((double)aa[i] * bb[i]);
      total += norms == 0 ? 1.0 : ab[i] / norms;
    }
  }
  return total / n;
}

double fa_mean_row_norm(const fa_tensor *a) {
  int n = a->shape[0];
  size_t row = a->numel / (size_t)n;
  double total = 0;
  for (int r0 = 0; r0 < n; r0 += FA_STAT_ROWS) {
    const int count = n - r0 < FA_STAT_ROWS ? n - r0 : FA_STAT_ROWS;
    float aa[FA_STAT_ROWS];
    row_dots(a, a, r0, count, row, aa);
    for (int i = 0; i < count; i++) total += sqrt((double)aa[i]);
  }
  return total / n;
}
