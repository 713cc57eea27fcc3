/* ref's kernel table (ref.h): each entry takes the device addresses of its
 * tensor arguments off their tag (tag.h) and runs the plain loop of loops.h.
 * An entry handed a host address stops the program with a message (tag.h). */
#include "backend/bf16.h"
#include "backend/ref/loops.h"
#include "backend/ref/ref.h"
#include "backend/ref/tag.h"

#include <stdio.h>
#include <stdlib.h>

/* the host address behind a tensor argument of the kernel this is used in */
#define DEV(p) fa_ref_untag((p), __func__)

/* ---- operands stored in bfloat16 (backend/bf16.h): ref widens them into float32 copies, runs its
 * float32 loops, and rounds a bfloat16 output from a float32 one ---- */

static float *host_floats(size_t n, const char *what) {
  float *f = malloc((n ? n : 1) * sizeof *f);
  if (!f) {
    fprintf(stderr, "fastadv: ref: out of memory widening %zu bfloat16 values in %s\n", n, what);
    abort();
  }
  return f;
}

/* The n values of the device operand p as float32 host memory: its own when !half, else a widened copy
 * in *copy (free it); NULL for NULL. */
static const float *widen(const void *p, bool half, size_t n, float **copy, const char *what) {
  *copy = NULL;
  const void *host = p ? fa_ref_untag(p, what) : NULL;
  if (!host || !half) return host;
  *copy = host_floats(n, what);
  for (size_t i = 0; i < n; i++) (*copy)[i] = fa_bf16_to_float(((const uint16_t *)host)[i]);
  return *copy;
}

/* Where a kernel writes n values of the device operand p: its own memory when !half, else a float32
 * host buffer that narrow() rounds into it. */
static float *out_floats(void *p, bool half, size_t n, const char *what) {
  return half ? host_floats(n, what) : fa_ref_untag(p, what);
}

static void narrow(float *v, bool half, size_t n, void *p, const char *what) {
  if (!half) return;
  uint16_t *h = fa_ref_untag(p, what);
  for (size_t i = 0; i < n; i++) h[i] = fa_bf16_from_float(v[i]);
  free(v);
}

static size_t numel4(const int s[4]) { return (size_t)s[0] * s[1] * s[2] * s[3]; }

static void unary(fa_unary_kind kind, size_t n, const float *x, float *y, float p0, float p1) {
  fa_ref_unary(kind, n, DEV(x), DEV(y), p0, p1);
}

static void binary(fa_binary_kind kind, const int os[4], const float *a, const int as[4], const float *b,
                   const int bs[4], float *out) {
  fa_ref_binary(kind, os, DEV(a), as, DEV(b), bs, DEV(out));
}

static void sum_to(const int xs[4], const float *x, const int ys[4], float *y) {
  fa_ref_sum_to(xs, DEV(x), ys, DEV(y));
}

static void expand(const int xs[4], const float *x, const int ys[4], float *y) {
  fa_ref_expand(xs, DEV(x), ys, DEV(y));
}

static void channel_affine(const int xs[4], const void *x, const float *scale, const float *shift, bool relu,
                           void *y, unsigned bf16) {
  const size_t n = numel4(xs);
  const bool half = bf16 & FA_BF16_X;
  float *xc, *yv = out_floats(y, half, n, __func__);
  fa_ref_channel_affine(xs, widen(x, half, n, &xc, __func__), DEV(scale), DEV(shift), relu, yv);
  narrow(yv, half, n, y, __func__);
  free(xc);
}

static void channel_fma(const int ys[4], const void *a, const float *s, const void *x, const float *t,
                        const float *b, const void *mask, float *y, unsigned bf16) {
  const size_t n = numel4(ys);
  float *ac, *xc, *mc;
  fa_ref_channel_fma(ys, widen(a, bf16 & FA_BF16_A, n, &ac, __func__), DEV(s),
                     widen(x, bf16 & FA_BF16_X, n, &xc, __func__), DEV(t), DEV(b),
                     widen(mask, bf16 & FA_BF16_MASK, n, &mc, __func__), DEV(y));
  free(ac), free(xc), free(mc);
}

static void channel_dot(const int xs[4], const void *a, const void *b, const void *mask, float *y, float *y_a,
                        unsigned bf16) {
  const size_t n = numel4(xs);
  float *ac, *bc, *mc;
  const float *av = widen(a, bf16 & FA_BF16_A, n, &ac, __func__), *mv = widen(mask, bf16 & FA_BF16_MASK, n, &mc, __func__);
  fa_ref_channel_dot(xs, av, widen(b, bf16 & FA_BF16_B, n, &bc, __func__), mv, DEV(y));
  if (y_a) fa_ref_channel_dot(xs, av, NULL, mv, DEV(y_a));
  free(ac), free(bc), free(mc);
}

static void channel_sq_dev(const int xs[4], const void *x, const float *mean, float *y, unsigned bf16) {
  float *xc;
  fa_ref_channel_sq_dev(xs, widen(x, bf16 & FA_BF16_X, numel4(xs), &xc, __func__), DEV(mean), DEV(y));
  free(xc);
}

static void axpy(size_t n, float alpha, const float *x, float *y) { fa_ref_axpy(n, alpha, DEV(x), DEV(y)); }

static void add_to_bf16(size_t n, const void *x, void *y, unsigned bf16) {
  float *xc, *yc;
  const float *xv = widen(x, bf16 & FA_BF16_X, n, &xc, __func__);
  float *sum = (float *)widen(y, true, n, &yc, __func__);
  fa_ref_axpy(n, 1.0f, xv, sum);
  narrow(sum, true, n, y, __func__);
  free(xc);
}

static void row_dot(int rows, size_t cols, const float *a, const float *b, float *y) {
  fa_ref_row_dot(rows, cols, DEV(a), DEV(b), DEV(y));
}

static void row_combine(int rows, size_t cols, const float *a, const float *alpha, const float *b, const float *beta,
                        float *y) {
  fa_ref_row_combine(rows, cols, DEV(a), DEV(alpha), DEV(b), DEV(beta), DEV(y));
}

static void add_clamp(size_t n, const float *a, const float *b, float lo, float hi, float *y) {
  fa_ref_add_clamp(n, DEV(a), DEV(b), lo, hi, DEV(y));
}

static void mul_in_range(size_t n, const float *g, const float *a, const float *b, float lo, float hi, float *y) {
  fa_ref_mul_in_range(n, DEV(g), DEV(a), DEV(b), lo, hi, DEV(y));
}

static void attack_step(size_t n, const float *x, const float *g, float *delta, float step, float eps,
                        bool box_first) {
  fa_ref_attack_step(n, DEV(x), DEV(g), DEV(delta), step, eps, box_first);
}

static void log_softmax(int rows, int cols, const float *x, float *y) {
  fa_ref_log_softmax(rows, cols, DEV(x), DEV(y));
}

static void avg_pool(const int xs[4], int k, const void *x, float *y, unsigned bf16) {
  float *xc;
  fa_ref_avg_pool(xs, k, widen(x, bf16 & FA_BF16_X, numel4(xs), &xc, __func__), DEV(y));
  free(xc);
}

static void avg_pool_adjoint(const int xs[4], int k, const float *g, float *x) {
  fa_ref_avg_pool_adjoint(xs, k, DEV(g), DEV(x));
}

static void max_pool(const int xs[4], int k, const float *x, float *y, float *mask) {
  fa_ref_max_pool(xs, k, DEV(x), DEV(y), DEV(mask));
}

/* idx: host memory (see ref.h) */
static void gather_rows(size_t row_len, int n_idx, const int *idx, const float *src, float *dst) {
  fa_ref_gather_rows(row_len, n_idx, idx, DEV(src), DEV(dst));
}

static void scatter_add_rows(size_t row_len, int n_idx, const int *idx, const float *src, float *dst) {
  fa_ref_scatter_add_rows(row_len, n_idx, idx, DEV(src), DEV(dst));
}

/* ref keeps no state (ref.h): the state argument is unused */
static void sgemm(void *state, bool bf16, bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                  const float *a, const float *b, float beta, float *c) {
  (void)state;
  fa_ref_sgemm(bf16, trans_a, trans_b, m, n, k, alpha, DEV(a), DEV(b), beta, DEV(c));
}

static size_t conv_x_numel(const fa_conv_geom *g) { return (size_t)g->n * g->c_in * g->h_in * g->w_in; }

static void conv2d_forward(void *state, const fa_conv_geom *g, const void *x, const float *w, const float *bias,
                           void *y) {
  (void)state;
  const size_t ny = (size_t)g->n * g->c_out * g->h_out * g->w_out;
  float *xc, *yv = out_floats(y, g->y_bf16, ny, __func__);
  fa_ref_conv2d_forward(g, widen(x, g->x_bf16, conv_x_numel(g), &xc, __func__), DEV(w), DEV(bias), yv);
  narrow(yv, g->y_bf16, ny, y, __func__);
  free(xc);
}

static void conv2d_grad_input(void *state, const fa_conv_geom *g, const float *gy, const float *w, float *gx) {
  (void)state;
  fa_ref_conv2d_grad_input(g, DEV(gy), DEV(w), DEV(gx));
}

static void conv2d_grad_weight(void *state, const fa_conv_geom *g, const float *gy, const void *x, float *gw) {
  (void)state;
  float *xc;
  fa_ref_conv2d_grad_weight(g, DEV(gy), widen(x, g->x_bf16, conv_x_numel(g), &xc, __func__), DEV(gw));
  free(xc);
}

static void conv2d_backward(void *state, const fa_conv_geom *g, const float *gy, const void *x, const float *w,
                            float *gx, float *gw) {
  conv2d_grad_input(state, g, gy, w, gx);
  conv2d_grad_weight(state, g, gy, x, gw);
}

/* labels (int32) and row indices: idx is host memory, as gather_rows' */
static void one_hot(int n, int k, const int32_t *labels, float *y) { fa_ref_one_hot(n, k, DEV(labels), DEV(y)); }

static void gather_labels(int n_idx, const int *idx, const int32_t *labels, int32_t *out) {
  fa_ref_gather_labels(n_idx, idx, DEV(labels), DEV(out));
}

static void argmax_rows(int rows, int cols, const float *x, int32_t *out) {
  fa_ref_argmax_rows(rows, cols, DEV(x), DEV(out));
}

static void count_correct(int rows, int cols, const float *x, const int32_t *labels, float *count) {
  fa_ref_count_correct(rows, cols, DEV(x), DEV(labels), DEV(count));
}

static void count_nonzero_pairs(size_t n, const float *a, const float *b, float *count) {
  fa_ref_count_nonzero_pairs(n, DEV(a), DEV(b), DEV(count));
}

static void mean_row_norm(int rows, size_t cols, const float *a, double *out) {
  fa_ref_mean_row_norm(rows, cols, DEV(a), DEV(out));
}

static void mean_row_cosine(int rows, size_t cols, const float *a, const float *b, double *out) {
  fa_ref_mean_row_cosine(rows, cols, DEV(a), DEV(b), DEV(out));
}

static void keep_best_rows(int rows, size_t cols, const float *loss, float *best_loss, const float *src,
                           float *best) {
  fa_ref_keep_best_rows(rows, cols, DEV(loss), DEV(best_loss), DEV(src), DEV(best));
}

static void fill_uniform(size_t n, uint64_t key, uint64_t counter, float lo, float hi, float *y) {
  fa_ref_fill_uniform(n, key, counter, lo, hi, DEV(y));
}

static void sgd_update(size_t n, float *p, const float *g, float *buf, float lr, float momentum, float wd) {
  fa_ref_sgd_update(n, DEV(p), DEV(g), DEV(buf), lr, momentum, wd);
}

static void adam_update(size_t n, float *p, const float *g, float *m, float *v, float beta1, float beta2, float eps,
                        float wd, float step_size, float bc2_sqrt) {
  fa_ref_adam_update(n, DEV(p), DEV(g), DEV(m), DEV(v), beta1, beta2, eps, wd, step_size, bc2_sqrt);
}

static void first_nonfinite(size_t n, const float *x, double *out) { fa_ref_first_nonfinite(n, DEV(x), DEV(out)); }

const fa_kernel_table fa_ref_kernel_table = {
    .name = "ref",
    .unary = unary,
    .binary = binary,
    .sum_to = sum_to,
    .expand = expand,
    .channel_affine = channel_affine,
    .channel_fma = channel_fma,
    .channel_dot = channel_dot,
    .channel_sq_dev = channel_sq_dev,
    .axpy = axpy,
    .add_to_bf16 = add_to_bf16,
    .row_dot = row_dot,
    .row_combine = row_combine,
    .add_clamp = add_clamp,
    .mul_in_range = mul_in_range,
    .attack_step = attack_step,
    .log_softmax = log_softmax,
    .avg_pool = avg_pool,
    .avg_pool_adjoint = avg_pool_adjoint,
    .max_pool = max_pool,
    .gather_rows = gather_rows,
    .scatter_add_rows = scatter_add_rows,
    .sgemm = sgemm,
    .conv2d_forward = conv2d_forward,
    .conv2d_grad_input = conv2d_grad_input,
    .conv2d_grad_weight = conv2d_grad_weight,
    .conv2d_backward = conv2d_backward,
    .one_hot = one_hot,
    .gather_labels = gather_labels,
    .argmax_rows = argmax_rows,
    .count_correct = count_correct,
    .count_nonzero_pairs = count_nonzero_pairs,
    .mean_row_norm = mean_row_norm,
    .mean_row_cosine = mean_row_cosine,
    .keep_best_rows = keep_best_rows,
    .fill_uniform = fill_uniform,
    .sgd_update = sgd_update,
    .adam_update = adam_update,
    .first_nonfinite = first_nonfinite,
};
