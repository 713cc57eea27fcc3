/* ref's elementwise maps (loops.h): one output element at a time, in float,
 * each expression as the table (backend/backend.h) defines it. */
#include "backend/ref/loops.h"

#include <math.h>

#include "backend/philox.h"

/* min(max(v, lo), hi), a NaN kept (the table's clamp) */
static float clamp(float v, float lo, float hi) {
  if (v < lo) v = lo;
  if (v > hi) v = hi;
  return v;
}

static float sign(float v) { return v > 0.0f ? 1.0f : v < 0.0f ? -1.0f : 0.0f; }

static float unary(fa_unary_kind kind, float v, float p0, float p1) {
  switch (kind) {
    case FA_UNARY_RELU: return v > 0.0f ? v : 0.0f;
    case FA_UNARY_STEP: return v > 0.0f ? 1.0f : 0.0f;
    case FA_UNARY_SIGN: return sign(v);
    case FA_UNARY_SQRT: return sqrtf(v);
    case FA_UNARY_EXP: return expf(v);
    case FA_UNARY_CLAMP: return clamp(v, p0, p1);
    case FA_UNARY_AFFINE: return p0 * v + p1;
  }
  return NAN; /* not a kind of the table */
}

void fa_ref_unary(fa_unary_kind kind, size_t n, const float *x, float *y, float p0, float p1) {
  for (size_t i = 0; i < n; i++) y[i] = unary(kind, x[i], p0, p1);
}

static float binary(fa_binary_kind kind, float a, float b) {
  switch (kind) {
    case FA_BINARY_ADD: return a + b;
    case FA_BINARY_SUB: return a - b;
    case FA_BINARY_MUL: return a * b;
    case FA_BINARY_DIV: return a / b;
    case FA_BINARY_MUL_POSITIVE: return a * (b > 0.0f ? 1.0f : 0.0f);
  }
  return NAN; /* not a kind of the table */
}

void fa_ref_binary(fa_binary_kind kind, const int os[4], const float *a, const int as[4], const float *b,
                   const int bs[4], float *out) {
  for (size_t o = 0; o < fa_ref_numel(os); o++) {
    size_t i[4];
    fa_ref_coords(os, o, i);
    out[o] = binary(kind, a[fa_ref_broadcast_at(as, i)], b[fa_ref_broadcast_at(bs, i)]);
  }
}

void fa_ref_expand(const int xs[4], const float *x, const int ys[4], float *y) {
  for (size_t o = 0; o < fa_ref_numel(ys); o++) {
    size_t i[4];
    fa_ref_coords(ys, o, i);
    y[o] = x[fa_ref_broadcast_at(xs, i)];
  }
}

/* the channel of flat index `at` in an (n, c, h, w) tensor */
static size_t channel_of(const int shape[4], size_t at) {
  return at / ((size_t)shape[2] * shape[3]) % (size_t)shape[1];
}

void fa_ref_channel_affine(const int xs[4], const float *x, const float *scale, const float *shift, bool relu,
                           float *y) {
  for (size_t e = 0; e < fa_ref_numel(xs); e++) {
    const size_t c = channel_of(xs, e);
    const float v = x[e] * scale[c] + shift[c];
    y[e] = relu ? (v > 0.0f ? v : 0.0f) : v;
  }
}

void fa_ref_channel_fma(const int ys[4], const float *a, const float *s, const float *x, const float *t,
                        const float *b, const float *mask, float *y) {
  for (size_t e = 0; e < fa_ref_numel(ys); e++) {
    const size_t c = channel_of(ys, e);
    float v = 0.0f;
    if (s) {
      const bool kept = !mask || mask[e] > 0.0f;
      v = kept ? (a ? a[e] * s[c] : s[c]) : 0.0f;
    }
    if (t) v += x[e] * t[c];
    if (b) v += b[c];
    y[e] = v;
  }
}

void fa_ref_fill(size_t n, float value, float *y) {
  for (size_t i = 0; i < n; i++) y[i] = value;
}

void fa_ref_axpy(size_t n, float alpha, const float *x, float *y) {
  for (size_t i = 0; i < n; i++) y[i] += alpha * x[i];
}

void fa_ref_row_combine(int rows, size_t cols, const float *a, const float *alpha, const float *b, const float *beta,
                        float *y) {
  for (int r = 0; r < rows; r++)
    for (size_t j = 0; j < cols; j++) {
      const size_t e = (size_t)r * cols + j;
      y[e] = b ? a[e] * alpha[r] + b[e] * beta[r] : a[e] * alpha[r];
    }
}

void fa_ref_add_clamp(size_t n, const float *a, const float *b, float lo, float hi, float *y) {
  for (size_t i = 0; i < n; i++) y[i] = clamp(b ? a[i] + b[i] : a[i], lo, hi);
}

void fa_ref_mul_in_range(size_t n, const float *g, const float *a, const float *b, float lo, float hi, float *y) {
  for (size_t i = 0; i < n; i++) {
    const float s = b ? a[i] + b[i] : a[i];
    y[i] = g[i] * (s >= lo && s <= hi ? 1.0f : 0.0f);
  }
}

void fa_ref_attack_step(size_t n, const float *x, const float *g, float *delta, float step, float eps,
                        bool box_first) {
  for (size_t i = 0; i < n; i++) {
    float d = delta[i] + step * sign(g[i]);
    if (box_first) {
      d = clamp(x[i] + d, 0.0f, 1.0f) - x[i]; /* the box: x + delta in [0, 1] */
      d = clamp(d, -eps, eps);               /* the ball */
    } else {
      d = clamp(d, -eps, eps);
      d = clamp(x[i] + d, 0.0f, 1.0f) - x[i];
    }
    delta[i] = d;
  }
}

/* ---- labels, random fills, the optimisers' updates ---- */

void fa_ref_one_hot(int n, int k, const int32_t *labels, float *y) {
  for (int i = 0; i < n; i++)
    for (int j = 0; j < k; j++) y[(size_t)i * k + j] = labels[i] == j ? 1.0f : 0.0f;
}

/* word i % 4 of the Philox block (key, counter + i / 4), computed for each i alone */
void fa_ref_fill_uniform(size_t n, uint64_t key, uint64_t counter, float lo, float hi, float *y) {
  for (size_t i = 0; i < n; i++) {
    uint32_t w[4];
    fa_philox_block(key, counter + i / 4, w);
    const float u = (float)(w[i % 4] >> 8) / 16777216.0f;
    y[i] = lo + (hi - lo) * u;
  }
}

void fa_ref_sgd_update(size_t n, float *p, const float *g, float *buf, float lr, float momentum, float wd) {
  for (size_t i = 0; i < n; i++) {
    const float d = g[i] + wd * p[i];
    buf[i] = momentum * buf[i] + d;
    p[i] = p[i] - lr * buf[i];
  }
}

void fa_ref_adam_update(size_t n, float *p, const float *g, float *m, float *v, float beta1, float beta2, float eps,
                        float wd, float step_size, float bc2_sqrt) {
  const float one_minus_beta1 = (float)(1.0 - (double)beta1), one_minus_beta2 = (float)(1.0 - (double)beta2);
  for (size_t i = 0; i < n; i++) {
    const float d = g[i] + wd * p[i];
    m[i] = beta1 * m[i] + one_minus_beta1 * d;
    v[i] = beta2 * v[i] + one_minus_beta2 * d * d;
    const float denom = sqrtf(v[i]) / bc2_sqrt + eps;
    p[i] = p[i] - step_size * (m[i] / denom);
  }
}
