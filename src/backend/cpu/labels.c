/* Labels (int32) on the CPU: one-hot rows, gathers, argmax and the count
 * of correct predictions (backend/backend.h). */
#include "backend/cpu/updates.h"

#include <string.h>

void fa_cpu_one_hot(int n, int k, const int32_t *labels, float *y) {
  memset(y, 0, (size_t)n * k * sizeof *y);
  for (int i = 0; i < n; i++)
    if (labels[i] >= 0 && labels[i] < k) y[(size_t)i * k + labels[i]] = 1.0f;
}

void fa_cpu_gather_labels(int n_idx, const int *idx, const int32_t *labels, int32_t *out) {
  for (int r = 0; r < n_idx; r++) out[r] = labels[idx[r]];
}

static int32_t argmax(const float *row, int cols) {
  int32_t arg = 0;
  for (int j = 1; j < cols; j++)
    if (row[j] > row[arg]) arg = j;
  return arg;
}

void fa_cpu_argmax_rows(int rows, int cols, const float *x, int32_t *out) {
  for (int r = 0; r < rows; r++) out[r] = argmax(x + (size_t)r * cols, cols);
}

void fa_cpu_count_correct(int rows, int cols, const float *x, const int32_t *labels, float *count) {
  int n = 0;
  for (int r = 0; r < rows; r++) n += argmax(x + (size_t)r * cols, cols) == labels[r];
  count[0] = (float)n;
}
