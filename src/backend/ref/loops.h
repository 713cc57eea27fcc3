/* ref's kernels as plain loops on host addresses (internal to
 * src/backend/ref): each one computes its entry of the kernel table
 * (backend/backend.h, whose comments are the definitions) the obvious way.
 * kernels.c untags the device addresses and calls these.
 *
 * Arithmetic: maps (one value from a few) in float, each operation in the
 * order the table states, so they give the floats the definition gives;
 * every sum over more than a handful of terms (GEMM, convolutions, sum_to,
 * the channel and row reductions, pools, log-softmax) in double, rounded to
 * float once at the end. */
#ifndef FA_BACKEND_REF_LOOPS_H
#define FA_BACKEND_REF_LOOPS_H

#include "backend/backend.h"

/* The flat index in a contiguous tensor of `shape` of the element at
 * coordinates i of a tensor it broadcasts to (a dim of size 1 reads index 0). */
static inline size_t fa_ref_broadcast_at(const int shape[4], const size_t i[4]) {
  size_t at = 0;
  for (int d = 0; d < 4; d++) at = at * (size_t)shape[d] + (shape[d] == 1 ? 0 : i[d]);
  return at;
}

/* The coordinates of flat index `at` in a contiguous tensor of `shape`. */
static inline void fa_ref_coords(const int shape[4], size_t at, size_t i[4]) {
  for (int d = 3; d >= 0; d--) {
    i[d] = at % (size_t)shape[d];
    at /= (size_t)shape[d];
  }
}

static inline size_t fa_ref_numel(const int shape[4]) {
  return (size_t)shape[0] * shape[1] * shape[2] * shape[3];
}

/* loops_map.c: elementwise maps, broadcasting, per-channel and per-row maps */
void fa_ref_unary(fa_unary_kind kind, size_t n, const float *x, float *y, float p0, float p1);
void fa_ref_binary(fa_binary_kind kind, const int out_shape[4], const float *a, const int a_shape[4],
                   const float *b, const int b_shape[4], float *out);
void fa_ref_expand(const int x_shape[4], const float *x, const int y_shape[4], float *y);
void fa_ref_channel_affine(const int x_shape[4], const float *x, const float *scale, const float *shift, bool relu,
                           float *y);
void fa_ref_channel_fma(const int y_shape[4], const float *a, const float *s, const float *x, const float *t,
                        const float *b, const float *mask, float *y);
void fa_ref_fill(size_t n, float value, float *y);
void fa_ref_axpy(size_t n, float alpha, const float *x, float *y);
void fa_ref_row_combine(int rows, size_t cols, const float *a, const float *alpha, const float *b, const float *beta,
                        float *y);
void fa_ref_add_clamp(size_t n, const float *a, const float *b, float lo, float hi, float *y);
void fa_ref_mul_in_range(size_t n, const float *g, const float *a, const float *b, float lo, float hi, float *y);
void fa_ref_attack_step(size_t n, const float *x, const float *g, float *delta, float step, float eps,
                        bool box_first);

/* labels, random fills, the optimisers' updates (maps too) */
void fa_ref_one_hot(int n, int k, const int32_t *labels, float *y);
void fa_ref_fill_uniform(size_t n, uint64_t key, uint64_t counter, float lo, float hi, float *y);
void fa_ref_sgd_update(size_t n, float *p, const float *g, float *buf, float lr, float momentum, float wd);
void fa_ref_adam_update(size_t n, float *p, const float *g, float *m, float *v, float beta1, float beta2, float eps,
                        float wd, float step_size, float bc2_sqrt);

/* loops_reduce.c: reductions, softmax, pools, row gathers */
void fa_ref_sum_to(const int x_shape[4], const float *x, const int y_shape[4], float *y);
void fa_ref_channel_dot(const int x_shape[4], const float *a, const float *b, const float *mask, float *y);
void fa_ref_channel_sq_dev(const int x_shape[4], const float *x, const float *mean, float *y);
void fa_ref_row_dot(int rows, size_t cols, const float *a, const float *b, float *y);
void fa_ref_log_softmax(int rows, int cols, const float *x, float *y);
void fa_ref_avg_pool(const int x_shape[4], int k, const float *x, float *y);
void fa_ref_avg_pool_adjoint(const int x_shape[4], int k, const float *g, float *x);
void fa_ref_max_pool(const int x_shape[4], int k, const float *x, float *y, float *mask);
void fa_ref_gather_rows(size_t row_len, int n_idx, const int *idx, const float *src, float *dst);
void fa_ref_scatter_add_rows(size_t row_len, int n_idx, const int *idx, const float *src, float *dst);
/* labels and per-example statistics */
void fa_ref_gather_labels(int n_idx, const int *idx, const int32_t *labels, int32_t *out);
void fa_ref_argmax_rows(int rows, int cols, const float *x, int32_t *out);
void fa_ref_count_correct(int rows, int cols, const float *x, const int32_t *labels, float *count);
void fa_ref_count_nonzero_pairs(size_t n, const float *a, const float *b, float *count);
void fa_ref_mean_row_norm(int rows, size_t cols, const float *a, double *out);
void fa_ref_mean_row_cosine(int rows, size_t cols, const float *a, const float *b, double *out);
void fa_ref_keep_best_rows(int rows, size_t cols, const float *loss, float *best_loss, const float *src,
                           float *best);
void fa_ref_first_nonfinite(size_t n, const float *x, double *out);

/* loops_conv.c: GEMM and the three convolutions, from their definitions */
void fa_ref_sgemm(bool bf16, bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a,
                  const float *b, float beta, float *c);
void fa_ref_conv2d_forward(const fa_conv_geom *g, const float *x, const float *w, const float *bias, float *y);
void fa_ref_conv2d_grad_input(const fa_conv_geom *g, const float *gy, const float *w, float *gx);
void fa_ref_conv2d_grad_weight(const fa_conv_geom *g, const float *gy, const float *x, float *gw);

#endif
