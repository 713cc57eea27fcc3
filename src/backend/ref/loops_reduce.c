/* ref's reductions, softmax, pools and row gathers (loops.h): sums in
 * double, rounded to float once. */
#include "backend/ref/loops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

void fa_ref_sum_to(const int xs[4], const float *x, const int ys[4], float *y) {
  const size_t ny = fa_ref_numel(ys);
  double *acc = calloc(ny ? ny : 1, sizeof *acc);
  if (!acc) {
    fprintf(stderr, "fastadv: the ref backend is out of memory for sum_to's %zu sums\n", ny);
    abort();
  }
  for (size_t e = 0; e < fa_ref_numel(xs); e++) { /* each x element into the y element it sums to */
    size_t i[4];
    fa_ref_coords(xs, e, i);
    acc[fa_ref_broadcast_at(ys, i)] += x[e];
  }
  for (size_t o = 0; o < ny; o++) y[o] = (float)acc[o];
  free(acc);
}

/* x (n, c, h, w): the flat index of element (b, ch, p) with p in the h*w plane */
static size_t at(const int xs[4], int b, int ch, size_t p) {
  return ((size_t)b * xs[1] + ch) * ((size_t)xs[2] * xs[3]) + p;
}

void fa_ref_channel_dot(const int xs[4], const float *a, const float *b, const float *mask, float *y) {
  for (int ch = 0; ch < xs[1]; ch++) {
    double acc = 0;
    for (int n = 0; n < xs[0]; n++)
      for (size_t p = 0; p < (size_t)xs[2] * xs[3]; p++) {
        const size_t e = at(xs, n, ch, p);
        if (!mask || mask[e] > 0.0f) acc += (double)a[e] * (b ? b[e] : 1.0f);
      }
    y[ch] = (float)acc;
  }
}

void fa_ref_channel_sq_dev(const int xs[4], const float *x, const float *mean, float *y) {
  for (int ch = 0; ch < xs[1]; ch++) {
    double acc = 0;
    for (int n = 0; n < xs[0]; n++)
      for (size_t p = 0; p < (size_t)xs[2] * xs[3]; p++) {
        const double d = (double)x[at(xs, n, ch, p)] - mean[ch];
        acc += d * d;
      }
    y[ch] = (float)acc;
  }
}

void fa_ref_row_dot(int rows, size_t cols, const float *a, const float *b, float *y) {
  for (int r = 0; r < rows; r++) {
    double acc = 0;
    for (size_t j = 0; j < cols; j++) acc += (double)a[(size_t)r * cols + j] * b[(size_t)r * cols + j];
    y[r] = (float)acc;
  }
}

/* y = x - log(sum_j exp(x_j)), with the row's maximum taken out first */
void fa_ref_log_softmax(int rows, int cols, const float *x, float *y) {
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * cols;
    double m = xr[0], s = 0;
    for (int j = 1; j < cols; j++)
      if (xr[j] > m) m = xr[j];
    for (int j = 0; j < cols; j++) s += exp(xr[j] - m);
    const double lse = m + log(s);
    for (int j = 0; j < cols; j++) y[(size_t)r * cols + j] = (float)(xr[j] - lse); /* y may be x: read first */
  }
}

/* Pools: x (n, c, h, w) in k x k windows, y (n, c, h/k, w/k); h and w are
 * multiples of k (the op layer checks). Plane p = n * c + ch. */
static size_t in_at(const int xs[4], size_t p, int h, int w) { return (p * xs[2] + h) * xs[3] + w; }
static size_t out_at(const int xs[4], int k, size_t p, int i, int j) {
  return (p * (size_t)(xs[2] / k) + i) * (xs[3] / k) + j;
}

void fa_ref_avg_pool(const int xs[4], int k, const float *x, float *y) {
  for (size_t p = 0; p < (size_t)xs[0] * xs[1]; p++)
    for (int i = 0; i < xs[2] / k; i++)
      for (int j = 0; j < xs[3] / k; j++) {
        double acc = 0;
        for (int a = 0; a < k; a++)
          for (int b = 0; b < k; b++) acc += x[in_at(xs, p, i * k + a, j * k + b)];
        y[out_at(xs, k, p, i, j)] = (float)(acc / (k * k));
      }
}

void fa_ref_avg_pool_adjoint(const int xs[4], int k, const float *g, float *x) {
  for (size_t p = 0; p < (size_t)xs[0] * xs[1]; p++)
    for (int h = 0; h < xs[2]; h++)
      for (int w = 0; w < xs[3]; w++) x[in_at(xs, p, h, w)] = g[out_at(xs, k, p, h / k, w / k)] / (float)(k * k);
}

void fa_ref_max_pool(const int xs[4], int k, const float *x, float *y, float *mask) {
  for (size_t e = 0; e < fa_ref_numel(xs); e++) mask[e] = 0.0f;
  for (size_t p = 0; p < (size_t)xs[0] * xs[1]; p++)
    for (int i = 0; i < xs[2] / k; i++)
      for (int j = 0; j < xs[3] / k; j++) {
        size_t best = in_at(xs, p, i * k, j * k); /* the first maximum in row-major window order */
        for (int a = 0; a < k; a++)
          for (int b = 0; b < k; b++)
            if (x[in_at(xs, p, i * k + a, j * k + b)] > x[best]) best = in_at(xs, p, i * k + a, j * k + b);
        y[out_at(xs, k, p, i, j)] = x[best];
        mask[best] = 1.0f;
      }
}

void fa_ref_gather_rows(size_t row_len, int n_idx, const int *idx, const float *src, float *dst) {
  for (int r = 0; r < n_idx; r++)
    for (size_t j = 0; j < row_len; j++) dst[(size_t)r * row_len + j] = src[(size_t)idx[r] * row_len + j];
}

void fa_ref_scatter_add_rows(size_t row_len, int n_idx, const int *idx, const float *src, float *dst) {
  for (int r = 0; r < n_idx; r++)
    for (size_t j = 0; j < row_len; j++) dst[(size_t)idx[r] * row_len + j] += src[(size_t)r * row_len + j];
}

/* ---- labels and per-example statistics ---- */

void fa_ref_gather_labels(int n_idx, const int *idx, const int32_t *labels, int32_t *out) {
  for (int r = 0; r < n_idx; r++) out[r] = labels[idx[r]];
}

/* the first column of row r holding its largest value (a NaN never wins) */
static int32_t row_argmax(int cols, const float *row) {
  int32_t a = 0;
  for (int j = 1; j < cols; j++)
    if (row[j] > row[a]) a = j;
  return a;
}

void fa_ref_argmax_rows(int rows, int cols, const float *x, int32_t *out) {
  for (int r = 0; r < rows; r++) out[r] = row_argmax(cols, x + (size_t)r * cols);
}

void fa_ref_count_correct(int rows, int cols, const float *x, const int32_t *labels, float *count) {
  long n = 0;
  for (int r = 0; r < rows; r++) n += row_argmax(cols, x + (size_t)r * cols) == labels[r];
  count[0] = (float)n;
}

void fa_ref_count_nonzero_pairs(size_t n, const float *a, const float *b, float *count) {
  size_t c = 0;
  for (size_t i = 0; i < n; i++)
    if (a[i] != 0.0f && b[i] != 0.0f) c++;
  count[0] = (float)c;
}

/* row r's dot product of a and b, as row_dot gives it (a float) */
static float one_row_dot(size_t cols, const float *a, const float *b, int r) {
  float y;
  fa_ref_row_dot(1, cols, a + (size_t)r * cols, b + (size_t)r * cols, &y);
  return y;
}

void fa_ref_mean_row_norm(int rows, size_t cols, const float *a, double *out) {
  double total = 0;
  for (int r = 0; r < rows; r++) total += sqrt((double)one_row_dot(cols, a, a, r));
  out[0] = total / rows;
}

void fa_ref_mean_row_cosine(int rows, size_t cols, const float *a, const float *b, double *out) {
  double total = 0;
  for (int r = 0; r < rows; r++) {
    const float ab = one_row_dot(cols, a, b, r), aa = one_row_dot(cols, a, a, r), bb = one_row_dot(cols, b, b, r);
    const double m = sqrt((double)aa * (double)bb);
    total += m == 0 ? 1.0 : (double)ab / m;
  }
  out[0] = total / rows;
}

void fa_ref_first_nonfinite(size_t n, const float *x, double *out) {
  size_t i = 0;
  while (i < n && isfinite(x[i])) i++;
  out[0] = (double)i;
}

void fa_ref_keep_best_rows(int rows, size_t cols, const float *loss, float *best_loss, const float *src,
                           float *best) {
  for (int r = 0; r < rows; r++)
    if (loss[r] >= best_loss[r]) {
      best_loss[r] = loss[r];
      for (size_t j = 0; j < cols; j++) best[(size_t)r * cols + j] = src[(size_t)r * cols + j];
    }
}
