/* Per-example statistics and bookkeeping on the CPU (backend/backend.h):
 * the mean row norm and cosine the training step reports, the rows that
 * count in GradAlign, the strongest perturbation per example, the uniform
 * random fill and the numerical guard's scan. */
#include "backend/cpu/updates.h"

#include <math.h>
#include <string.h>

#include "backend/cpu/elementwise.h"
#include "backend/finite_scan.h"
#include "backend/philox.h"

enum { STAT_ROWS = 256 }; /* the row dot products are taken in blocks of rows */

void fa_cpu_count_nonzero_pairs(size_t n, const float *a, const float *b, float *count) {
  size_t c = 0;
  for (size_t i = 0; i < n; i++) c += a[i] != 0 && b[i] != 0;
  count[0] = (float)c;
}

void fa_cpu_mean_row_norm(int rows, size_t cols, const float *a, double *out) {
  double total = 0;
  for (int r0 = 0; r0 < rows; r0 += STAT_ROWS) {
    const int count = rows - r0 < STAT_ROWS ? rows - r0 : STAT_ROWS;
    float aa[STAT_ROWS];
    const float *ar = a + (size_t)r0 * cols;
    fa_cpu_row_dot(count, cols, ar, ar, aa);
    for (int i = 0; i < count; i++) total += sqrt((double)aa[i]);
  }
  out[0] = total / rows;
}

void fa_cpu_mean_row_cosine(int rows, size_t cols, const float *a, const float *b, double *out) {
  double total = 0;
  for (int r0 = 0; r0 < rows; r0 += STAT_ROWS) {
    const int count = rows - r0 < STAT_ROWS ? rows - r0 : STAT_ROWS;
    float ab[STAT_ROWS], aa[STAT_ROWS], bb[STAT_ROWS];
    const float *ar = a + (size_t)r0 * cols, *br = b + (size_t)r0 * cols;
    fa_cpu_row_dot(count, cols, ar, br, ab);
    fa_cpu_row_dot(count, cols, ar, ar, aa);
    fa_cpu_row_dot(count, cols, br, br, bb);
    for (int i = 0; i < count; i++) {
      double norms = sqrt((double)aa[i] * bb[i]);
      total += norms == 0 ? 1.0 : ab[i] / norms;
    }
  }
  out[0] = total / rows;
}

void fa_cpu_keep_best_rows(int rows, size_t cols, const float *loss, float *best_loss, const float *src,
                           float *best) {
  for (int r = 0; r < rows; r++)
    if (loss[r] >= best_loss[r]) {
      best_loss[r] = loss[r];
      memcpy(best + (size_t)r * cols, src + (size_t)r * cols, cols * sizeof *best);
    }
}

void fa_cpu_fill_uniform(size_t n, uint64_t key, uint64_t counter, float lo, float hi, float *y) {
  fa_philox_fill_uniform(key, counter, n, lo, hi, y);
}

void fa_cpu_first_nonfinite(size_t n, const float *x, double *out) { out[0] = (double)fa_scan_first_nonfinite(x, n); }
