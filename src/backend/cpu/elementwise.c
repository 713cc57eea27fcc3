/* CPU kernels for elementwise maps, broadcasting, reductions, pooling and
 * softmax, threaded with OpenMP. Reductions accumulate in double. */
#include "backend/cpu/elementwise.h"

#include "backend/bf16.h"

#include <math.h>
#include <string.h>


static size_t prod4(const int s[4]) { return (size_t)s[0] * s[1] * s[2] * s[3]; }

/* element strides of a contiguous `shape`, 0 along dims broadcast to `out` */
static void broadcast_strides(const int shape[4], const int out[4], size_t st[4]) {
  size_t s = 1;
  for (int d = 3; d >= 0; d--) {
    st[d] = (shape[d] == 1 && out[d] != 1) ? 0 : s;
    s *= (size_t)shape[d];
  }
}

/* min(max(v, lo), hi) for lo <= hi, NaN kept, without libm (fminf/fmaxf are
 * calls here); two selects, which vectorise where the nested ternary may not */
static inline float clamp(float v, float lo, float hi) {
  v = v < lo ? lo : v;
  return v > hi ? hi : v;
}

void fa_cpu_unary(fa_unary_kind kind, size_t n, const float *x, float *y, float p0, float p1) {
#define UNARY_LOOP(EXPR)                                                        \
  _Pragma("omp parallel for simd schedule(static) if (parallel : n > FA_CPU_PASS_PAR_MIN)") \
  for (size_t i = 0; i < n; i++) {                                              \
    float v = x[i];                                                             \
    y[i] = (EXPR);                                                              \
  }                                                                             \
  break;
  switch (kind) {
    case FA_UNARY_RELU: UNARY_LOOP(v > 0.0f ? v : 0.0f)
    case FA_UNARY_STEP: UNARY_LOOP(v > 0.0f ? 1.0f : 0.0f)
    case FA_UNARY_SIGN: UNARY_LOOP((float)((v > 0.0f) - (v < 0.0f)))
    case FA_UNARY_SQRT: UNARY_LOOP(sqrtf(v))
    case FA_UNARY_EXP: UNARY_LOOP(expf(v))
    case FA_UNARY_CLAMP: UNARY_LOOP(clamp(v, p0, p1))
    case FA_UNARY_AFFINE: UNARY_LOOP(p0 * v + p1)
  }
#undef UNARY_LOOP
}

void fa_cpu_binary(fa_binary_kind kind, const int os[4], const float *a, const int as[4], const float *b,
                   const int bs[4], float *out) {
  size_t n = prod4(os), sa[4], sb[4];
  broadcast_strides(as, os, sa);
  broadcast_strides(bs, os, sb);
  size_t rows = (size_t)os[0] * os[1] * os[2];
  int w = os[3];
  bool same = prod4(as) == n && prod4(bs) == n;
#define ADD(x, y) ((x) + (y))
#define SUB(x, y) ((x) - (y))
#define MUL(x, y) ((x) * (y))
#define DIV(x, y) ((x) / (y))
#define MUL_POSITIVE(x, y) ((x) * ((y) > 0.0f ? 1.0f : 0.0f)) /* as x * step(y), one pass */
#define BINARY_LOOP(F)                                                                       \
  if (same) {                                                                                 \
    _Pragma("omp parallel for simd schedule(static) if (parallel : n > FA_CPU_PASS_PAR_MIN)")             \
    for (size_t i = 0; i < n; i++) out[i] = F(a[i], b[i]);                                     \
  } else {                                                                                    \
    _Pragma("omp parallel for schedule(static) if (n > FA_CPU_PASS_PAR_MIN)")                             \
    for (size_t r = 0; r < rows; r++) {                                                       \
      size_t i0 = r / ((size_t)os[1] * os[2]), i1 = r / os[2] % os[1], i2 = r % os[2];        \
      const float *pa = a + i0 * sa[0] + i1 * sa[1] + i2 * sa[2];                             \
      const float *pb = b + i0 * sb[0] + i1 * sb[1] + i2 * sb[2];                             \
      float *po = out + r * w;                                                                \
      if (sa[3] && sb[3])                                                                     \
        for (int j = 0; j < w; j++) po[j] = F(pa[j], pb[j]);                                   \
      else if (sa[3])                                                                         \
        for (int j = 0; j < w; j++) po[j] = F(pa[j], pb[0]);                                   \
      else if (sb[3])                                                                         \
        for (int j = 0; j < w; j++) po[j] = F(pa[0], pb[j]);                                   \
      else                                                                                    \
        for (int j = 0; j < w; j++) po[j] = F(pa[0], pb[0]);                                   \
    }                                                                                         \
  }                                                                                           \
  break;
  switch (kind) {
    case FA_BINARY_ADD: BINARY_LOOP(ADD)
    case FA_BINARY_SUB: BINARY_LOOP(SUB)
    case FA_BINARY_MUL: BINARY_LOOP(MUL)
    case FA_BINARY_DIV: BINARY_LOOP(DIV)
    case FA_BINARY_MUL_POSITIVE: BINARY_LOOP(MUL_POSITIVE)
  }
#undef BINARY_LOOP
#undef ADD
#undef SUB
#undef MUL
#undef DIV
#undef MUL_POSITIVE
}

void fa_cpu_sum_to(const int xs[4], const float *x, const int ys[4], float *y) {
  size_t st[4], s = 1;
  for (int d = 3; d >= 0; d--) {
    st[d] = s;
    s *= (size_t)xs[d];
  }
  int r[4];  /* extent summed along each dim */
  for (int d = 0; d < 4; d++) r[d] = ys[d] == 1 ? xs[d] : 1;
  size_t ny = prod4(ys);
  bool par = ny > 1 && prod4(xs) > FA_CPU_PASS_PAR_MIN;
#pragma omp parallel for schedule(static) if (par)
  for (size_t o = 0; o < ny; o++) {
    size_t i0 = o / ((size_t)ys[1] * ys[2] * ys[3]), i1 = o / ((size_t)ys[2] * ys[3]) % ys[1];
    size_t i2 = o / ys[3] % ys[2], i3 = o % ys[3];
    const float *base = x + i0 * st[0] * (r[0] == 1) + i1 * st[1] * (r[1] == 1) + i2 * st[2] * (r[2] == 1) +
                        i3 * (r[3] == 1);
    double acc = 0;
    /* summed dims 2 and 3 together are one contiguous run */
    const int runs = r[3] == xs[3] && r[2] == xs[2] ? 1 : r[2];
    const size_t run = r[3] == xs[3] && r[2] == xs[2] ? (size_t)r[2] * r[3] : (size_t)r[3];
    for (int a = 0; a < r[0]; a++)
      for (int b = 0; b < r[1]; b++)
        for (int c = 0; c < runs; c++) {
          const float *p = base + a * st[0] + b * st[1] + c * st[2];
#pragma omp simd reduction(+ : acc)
          for (size_t e = 0; e < run; e++) acc += p[e];
        }
    y[o] = (float)acc;
  }
}

void fa_cpu_expand(const int xs[4], const float *x, const int ys[4], float *y) {
  size_t sx[4];
  broadcast_strides(xs, ys, sx);
  const size_t rows = (size_t)ys[0] * ys[1] * ys[2], w = (size_t)ys[3];
#pragma omp parallel for schedule(static) if (rows * w > FA_CPU_PASS_PAR_MIN)
  for (size_t r = 0; r < rows; r++) {  /* row (i0, i1, i2) of w values */
    size_t i0 = r / ((size_t)ys[1] * ys[2]), i1 = r / ys[2] % ys[1], i2 = r % ys[2];
    const float *src = x + i0 * sx[0] + i1 * sx[1] + i2 * sx[2];
    float *dst = y + r * w;
    if (sx[3]) {
      memcpy(dst, src, w * sizeof(float));
    } else {
      const float v = src[0];
#pragma omp simd
      for (size_t j = 0; j < w; j++) dst[j] = v;
    }
  }
}

void fa_cpu_fill(size_t n, float value, float *y) {
#pragma omp parallel for simd schedule(static) if (parallel : n > FA_CPU_PASS_PAR_MIN)
  for (size_t i = 0; i < n; i++) y[i] = value;
}

void fa_cpu_round_bf16(size_t n, const float *x, float *y) {
#pragma omp parallel for simd schedule(static) if (parallel : n > FA_CPU_PASS_PAR_MIN)
  for (size_t i = 0; i < n; i++) y[i] = fa_bf16_round(x[i]);
}

void fa_cpu_axpy(size_t n, float alpha, const float *x, float *y) {
#pragma omp parallel for simd schedule(static) if (parallel : n > FA_CPU_PASS_PAR_MIN)
  for (size_t i = 0; i < n; i++) y[i] += alpha * x[i];
}

void fa_cpu_row_dot(int rows, size_t cols, const float *a, const float *b, float *y) {
#pragma omp parallel for schedule(static) if (parallel : (size_t)rows * cols > FA_CPU_PASS_PAR_MIN)
  for (int r = 0; r < rows; r++) {
    const float *ar = a + (size_t)r * cols, *br = b + (size_t)r * cols;
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (size_t j = 0; j < cols; j++) s += (double)ar[j] * br[j];
    y[r] = (float)s;
  }
}

void fa_cpu_row_combine(int rows, size_t cols, const float *a, const float *alpha, const float *b, const float *beta,
                        float *y) {
#pragma omp parallel for schedule(static) if (parallel : (size_t)rows * cols > FA_CPU_PASS_PAR_MIN)
  for (int r = 0; r < rows; r++) {
    const float *ar = a + (size_t)r * cols, *br = b ? b + (size_t)r * cols : NULL;
    float *yr = y + (size_t)r * cols;
    const float s = alpha[r], t = b ? beta[r] : 0.0f;
    if (br) {
#pragma omp simd
      for (size_t j = 0; j < cols; j++) yr[j] = ar[j] * s + br[j] * t;
    } else {
#pragma omp simd
      for (size_t j = 0; j < cols; j++) yr[j] = ar[j] * s;
    }
  }
}

void fa_cpu_add_clamp(size_t n, const float *a, const float *b, float lo, float hi, float *y) {
  if (!b) {
    fa_cpu_unary(FA_UNARY_CLAMP, n, a, y, lo, hi);
    return;
  }
#pragma omp parallel for simd schedule(static) if (parallel : n > FA_CPU_PASS_PAR_MIN)
  for (size_t i = 0; i < n; i++) y[i] = clamp(a[i] + b[i], lo, hi);
}

void fa_cpu_mul_in_range(size_t n, const float *g, const float *a, const float *b, float lo, float hi, float *y) {
#define IN_RANGE_LOOP(S)                                                        \
  _Pragma("omp parallel for simd schedule(static) if (parallel : n > FA_CPU_PASS_PAR_MIN)") \
  for (size_t i = 0; i < n; i++) {                                              \
    const float s = (S);                                                        \
    y[i] = g[i] * (s >= lo && s <= hi ? 1.0f : 0.0f);                           \
  }
  if (b)
    IN_RANGE_LOOP(a[i] + b[i])
  else
    IN_RANGE_LOOP(a[i])
#undef IN_RANGE_LOOP
}

/* The same arithmetic as sign, axpy, clamp and the box's add / clamp / sub
 * one after another (same roundings, one pass instead of six). */
void fa_cpu_attack_step(size_t n, const float *x, const float *g, float *delta, float step, float eps,
                        bool box_first) {
#define ATTACK_STEP_LOOP(PROJECTED)                                             \
  _Pragma("omp parallel for simd schedule(static) if (parallel : n > FA_CPU_PASS_PAR_MIN)") \
  for (size_t i = 0; i < n; i++) {                                              \
    const float d = delta[i] + step * (float)((g[i] > 0.0f) - (g[i] < 0.0f));   \
    delta[i] = (PROJECTED);                                                     \
  }
  if (box_first)
    ATTACK_STEP_LOOP(clamp(clamp(x[i] + d, 0.0f, 1.0f) - x[i], -eps, eps))
  else
    ATTACK_STEP_LOOP(clamp(x[i] + clamp(d, -eps, eps), 0.0f, 1.0f) - x[i])
#undef ATTACK_STEP_LOOP
}

void fa_cpu_log_softmax(int rows, int cols, const float *x, float *y) {
#pragma omp parallel for schedule(static) if ((size_t)rows * cols > FA_CPU_PASS_PAR_MIN)
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * cols;
    float *yr = y + (size_t)r * cols;
    float m = xr[0];
    for (int j = 1; j < cols; j++) m = fmaxf(m, xr[j]);
    double s = 0;
    for (int j = 0; j < cols; j++) s += exp((double)xr[j] - m);
    float lse = m + (float)log(s);
    for (int j = 0; j < cols; j++) yr[j] = xr[j] - lse;
  }
}

void fa_cpu_avg_pool_adjoint(const int xs[4], int k, const float *g, float *x) {
  int ho = xs[2] / k, wo = xs[3] / k;
  size_t planes = (size_t)xs[0] * xs[1];
  float scale = 1.0f / (float)(k * k);
#pragma omp parallel for schedule(static) if (prod4(xs) > FA_CPU_PASS_PAR_MIN)
  for (size_t p = 0; p < planes; p++)
    for (int h = 0; h < xs[2]; h++)
      for (int w = 0; w < xs[3]; w++)
        x[(p * xs[2] + h) * xs[3] + w] = g[(p * ho + h / k) * wo + w / k] * scale;
}

void fa_cpu_max_pool(const int xs[4], int k, const float *x, float *y, float *mask) {
  int ho = xs[2] / k, wo = xs[3] / k;
  size_t planes = (size_t)xs[0] * xs[1];
  memset(mask, 0, prod4(xs) * sizeof(float));
#pragma omp parallel for schedule(static) if (prod4(xs) > FA_CPU_PASS_PAR_MIN)
  for (size_t p = 0; p < planes; p++) {
    const float *xp = x + p * xs[2] * xs[3];
    for (int i = 0; i < ho; i++)
      for (int j = 0; j < wo; j++) {
        size_t best = (size_t)(i * k) * xs[3] + j * k;
        for (int a = 0; a < k; a++)
          for (int b = 0; b < k; b++) {
            size_t at = (size_t)(i * k + a) * xs[3] + j * k + b;
            if (xp[at] > xp[best]) best = at;
          }
        y[(p * ho + i) * wo + j] = xp[best];
        mask[p * xs[2] * xs[3] + best] = 1.0f;
      }
  }
}

void fa_cpu_gather_rows(size_t row_len, int n_idx, const int *idx, const float *src, float *dst) {
  for (int r = 0; r < n_idx; r++) memcpy(dst + r * row_len, src + (size_t)idx[r] * row_len, row_len * sizeof(float));
}

void fa_cpu_scatter_add_rows(size_t row_len, int n_idx, const int *idx, const float *src, float *dst) {
  for (int r = 0; r < n_idx; r++) fa_cpu_axpy(row_len, 1.0f, src + r * row_len, dst + (size_t)idx[r] * row_len);
}
