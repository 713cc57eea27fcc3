/* Convolution by lowering to GEMM (im2col / col2im), images taken in groups so
 * that small feature maps still give the GEMM wide matrices.
 *
 * For a group of G images, with CKK = c_in*k*k and P = h_out*w_out:
 *   col (CKK, G*P)     column b*P + p holds the receptive field of pixel p of image b
 *   ymat (c_out, G*P)  the outputs (or output gradients) of the group, channel-major
 *   forward      ymat = W (c_out, CKK) . col,      then scattered to y (G, c_out, P)
 *   grad_input   col  = W^T (CKK, c_out) . ymat,   then col2im into gx (G, c_in, h_in, w_in)
 *   grad_weight  gw  += ymat . col^T (CKK, c_out)  over all groups */
#include "backend/cpu/conv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fa_conv_geom_finish(fa_conv_geom *g) {
  g->h_out = (g->h_in + 2 * g->pad - g->k) / g->stride + 1;
  g->w_out = (g->w_in + 2 * g->pad - g->k) / g->stride + 1;
}

/* ---- scratch: one growing buffer, reused by every call (not re-entrant) ---- */

static float *ws_data;
static size_t ws_floats;

static float *workspace(size_t floats) {
  if (floats > ws_floats) {
    free(ws_data);
    size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
    ws_data = aligned_alloc(64, bytes);
    if (!ws_data) {
      fprintf(stderr, "fastadv: out of memory for %zu bytes of convolution scratch\n", bytes);
      abort();
    }
    ws_floats = floats;
  }
  return ws_data;
}

/* ---- lowering ---- */

/* Output columns ow in [*lo, *hi) whose input column ow*stride - pad + kj lies in [0, w_in). */
static void valid_range(int w_in, int w_out, int stride, int pad, int kj, int *lo, int *hi) {
  int a = pad - kj, b = w_in - 1 + pad - kj; /* need a <= ow*stride <= b */
  int l = a <= 0 ? 0 : (a + stride - 1) / stride;
  int h = b < 0 ? -1 : b / stride;
  *lo = l;
  *hi = h + 1 < w_out ? h + 1 : w_out;
  if (*hi < *lo) *hi = *lo;
}

/* One row (c, ki, kj) of col for one image: dst (P) <- x (c_in, h_in, w_in) */
static void im2col_row(const fa_conv_geom *g, const float *xc, int ki, int kj, float *dst) {
  int lo, hi;
  valid_range(g->w_in, g->w_out, g->stride, g->pad, kj, &lo, &hi);
  for (int oh = 0; oh < g->h_out; oh++) {
    float *d = dst + (long)oh * g->w_out;
    int ih = oh * g->stride - g->pad + ki;
    if (ih < 0 || ih >= g->h_in) {
      memset(d, 0, sizeof(float) * g->w_out);
      continue;
    }
    const float *s = xc + (long)ih * g->w_in - g->pad + kj;
    for (int ow = 0; ow < lo; ow++) d[ow] = 0.0f;
    if (g->stride == 1)
      memcpy(d + lo, s + lo, sizeof(float) * (hi - lo));
    else
      for (int ow = lo; ow < hi; ow++) d[ow] = s[ow * g->stride];
    for (int ow = hi; ow < g->w_out; ow++) d[ow] = 0.0f;
  }
}

/* col (CKK, G*P) <- images x (G, c_in, h_in, w_in) */
static void im2col(const fa_conv_geom *g, int group, const float *x, float *col) {
  const int kk = g->k * g->k, rows = g->c_in * kk;
  const long p = (long)g->h_out * g->w_out, ld = group * p, img = (long)g->c_in * g->h_in * g->w_in;
#pragma omp parallel for collapse(2) schedule(static)
  for (int b = 0; b < group; b++)
    for (int r = 0; r < rows; r++) {
      int c = r / kk, ki = r % kk / g->k, kj = r % g->k;
      im2col_row(g, x + b * img + (long)c * g->h_in * g->w_in, ki, kj, col + r * ld + b * p);
    }
}

/* images gx (G, c_in, h_in, w_in) <- sum of the receptive fields in col (CKK, G*P) */
static void col2im(const fa_conv_geom *g, int group, const float *col, float *gx) {
  const int kk = g->k * g->k;
  const long p = (long)g->h_out * g->w_out, ld = group * p, plane = (long)g->h_in * g->w_in;
#pragma omp parallel for collapse(2) schedule(static)
  for (int b = 0; b < group; b++)
    for (int c = 0; c < g->c_in; c++) {
      float *xc = gx + ((long)b * g->c_in + c) * plane;
      memset(xc, 0, sizeof(float) * plane);
      for (int ki = 0; ki < g->k; ki++)
        for (int kj = 0; kj < g->k; kj++) {
          const float *src = col + ((long)c * kk + ki * g->k + kj) * ld + b * p;
          int lo, hi;
          valid_range(g->w_in, g->w_out, g->stride, g->pad, kj, &lo, &hi);
          for (int oh = 0; oh < g->h_out; oh++) {
            int ih = oh * g->stride - g->pad + ki;
            if (ih < 0 || ih >= g->h_in) continue;
            float *d = xc + (long)ih * g->w_in - g->pad + kj;
            const float *s = src + (long)oh * g->w_out;
            for (int ow = lo; ow < hi; ow++) d[ow * g->stride] += s[ow];
          }
        }
    }
}

/* Copies the G*C planes of P floats between t (G, C, P) and mat (C, G*P),
 * from src to dst; src_is_mat says which of the two layouts src has. */
static void regroup(int group, int channels, long p, const float *src, float *dst, bool src_is_mat) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int b = 0; b < group; b++)
    for (int c = 0; c < channels; c++) {
      long in_mat = (long)c * group * p + b * p, in_t = ((long)b * channels + c) * p;
      memcpy(dst + (src_is_mat ? in_t : in_mat), src + (src_is_mat ? in_mat : in_t), sizeof(float) * p);
    }
}

/* ---- grouping ---- */

enum { FA_CONV_TARGET_COLS = 1024 }; /* columns per GEMM: G*P reaches at least this */

typedef struct {
  int group;      /* images per GEMM */
  long cols;      /* group * P */
  float *col;     /* (CKK, cols), or NULL when col is the input itself (1x1, stride 1, pad 0) */
  float *mat;     /* (c_out, cols), or NULL when group == 1 (y / gy used in place) */
} conv_plan;

static conv_plan plan(const fa_conv_geom *g) {
  const long p = (long)g->h_out * g->w_out, ckk = (long)g->c_in * g->k * g->k;
  conv_plan pl;
  pl.group = (int)((FA_CONV_TARGET_COLS + p - 1) / p);
  if (pl.group > g->n) pl.group = g->n;
  if (pl.group < 1) pl.group = 1;
  pl.cols = pl.group * p;
  int direct = g->k == 1 && g->stride == 1 && g->pad == 0;
  size_t col_floats = direct && pl.group == 1 ? 0 : (size_t)(ckk * pl.cols);
  size_t mat_floats = pl.group == 1 ? 0 : (size_t)g->c_out * pl.cols;
  float *ws = workspace(col_floats + mat_floats + 1);
  pl.col = col_floats ? ws : NULL;
  pl.mat = mat_floats ? ws + col_floats : NULL;
  return pl;
}

/* ---- the three kernels ---- */

void fa_cpu_conv2d_forward(const fa_conv_geom *g, const float *x, const float *w, float *y) {
  const long p = (long)g->h_out * g->w_out, ckk = (long)g->c_in * g->k * g->k;
  const long x_img = (long)g->c_in * g->h_in * g->w_in, y_img = g->c_out * p;
  conv_plan pl = plan(g);
  for (int b0 = 0; b0 < g->n; b0 += pl.group) {
    int gsz = g->n - b0 < pl.group ? g->n - b0 : pl.group;
    const float *col = x + b0 * x_img;
    if (pl.col) {
      im2col(g, gsz, x + b0 * x_img, pl.col);
      col = pl.col;
    }
    float *ymat = pl.mat ? pl.mat : y + b0 * y_img;
    fa_cpu_sgemm(false, false, g->c_out, (int)(gsz * p), (int)ckk, 1.0f, w, col, 0.0f, ymat);
    if (pl.mat) regroup(gsz, g->c_out, p, pl.mat, y + b0 * y_img, true);
  }
}

void fa_cpu_conv2d_grad_input(const fa_conv_geom *g, const float *gy, const float *w, float *gx) {
  const long p = (long)g->h_out * g->w_out, ckk = (long)g->c_in * g->k * g->k;
  const long x_img = (long)g->c_in * g->h_in * g->w_in, y_img = g->c_out * p;
  conv_plan pl = plan(g);
  for (int b0 = 0; b0 < g->n; b0 += pl.group) {
    int gsz = g->n - b0 < pl.group ? g->n - b0 : pl.group;
    const float *ymat = gy + b0 * y_img;
    if (pl.mat) {
      regroup(gsz, g->c_out, p, gy + b0 * y_img, pl.mat, false);
      ymat = pl.mat;
    }
    float *col = pl.col ? pl.col : gx + b0 * x_img;
    fa_cpu_sgemm(true, false, (int)ckk, (int)(gsz * p), g->c_out, 1.0f, w, ymat, 0.0f, col);
    if (pl.col) col2im(g, gsz, pl.col, gx + b0 * x_img);
  }
}

void fa_cpu_conv2d_grad_weight(const fa_conv_geom *g, const float *gy, const float *x, float *gw) {
  const long p = (long)g->h_out * g->w_out, ckk = (long)g->c_in * g->k * g->k;
  const long x_img = (long)g->c_in * g->h_in * g->w_in, y_img = g->c_out * p;
  conv_plan pl = plan(g);
  if (g->n == 0) memset(gw, 0, sizeof(float) * g->c_out * ckk);
  for (int b0 = 0; b0 < g->n; b0 += pl.group) {
    int gsz = g->n - b0 < pl.group ? g->n - b0 : pl.group;
    const float *ymat = gy + b0 * y_img, *col = x + b0 * x_img;
    if (pl.mat) {
      regroup(gsz, g->c_out, p, gy + b0 * y_img, pl.mat, false);
      ymat = pl.mat;
    }
    if (pl.col) {
      im2col(g, gsz, x + b0 * x_img, pl.col);
      col = pl.col;
    }
    fa_cpu_sgemm(false, true, g->c_out, (int)ckk, (int)(gsz * p), 1.0f, ymat, col, b0 ? 1.0f : 0.0f, gw);
  }
}
