/* CPU implementations of the non-convolution kernels of backend/backend.h. */
#ifndef FA_BACKEND_CPU_ELEMENTWISE_H
#define FA_BACKEND_CPU_ELEMENTWISE_H

/* below this many elements a pass over them runs on one thread: with passive
 * waits, waking the second thread costs ~50 us, and on a pass over a tensor
 * that fits in a core's cache (up to ~1M floats) two threads lost to one
 * (docs/PERFORMANCE.md, "Threads in small passes") */
enum { FA_CPU_PASS_PAR_MIN = 1 << 20 };

#include "backend/backend.h"

void fa_cpu_unary(fa_unary_kind kind, size_t n, const float *x, float *y, float p0, float p1);
void fa_cpu_binary(fa_binary_kind kind, const int out_shape[4], const float *a, const int a_shape[4],
                   const float *b, const int b_shape[4], float *out);
void fa_cpu_sum_to(const int x_shape[4], const float *x, const int y_shape[4], float *y);
void fa_cpu_expand(const int x_shape[4], const float *x, const int y_shape[4], float *y);
/* channel.c: batch norm's per-channel passes and the other kernels of bfloat16 activations */
void fa_cpu_channel_affine(const int x_shape[4], const void *x, const float *scale, const float *shift, bool relu,
                           void *y, unsigned bf16);
void fa_cpu_channel_fma(const int x_shape[4], const void *a, const float *s, const void *x, const float *t,
                        const float *b, const void *mask, float *y, unsigned bf16);
void fa_cpu_channel_dot(const int x_shape[4], const void *a, const void *b, const void *mask, float *y, float *y_a,
                        unsigned bf16);
void fa_cpu_channel_sq_dev(const int x_shape[4], const void *x, const float *mean, float *y, unsigned bf16);
void fa_cpu_add_to_bf16(size_t n, const void *x, void *y, unsigned bf16);
void fa_cpu_avg_pool(const int x_shape[4], int k, const void *x, float *y, unsigned bf16);
void fa_cpu_fill(size_t n, float value, float *y);
/* y = x rounded to bfloat16 (backend/bf16.h), kept in float32; y may be x */
void fa_cpu_round_bf16(size_t n, const float *x, float *y);
void fa_cpu_axpy(size_t n, float alpha, const float *x, float *y);
void fa_cpu_row_dot(int rows, size_t cols, const float *a, const float *b, float *y);
void fa_cpu_row_combine(int rows, size_t cols, const float *a, const float *alpha, const float *b, const float *beta,
                        float *y);
void fa_cpu_add_clamp(size_t n, const float *a, const float *b, float lo, float hi, float *y);
void fa_cpu_mul_in_range(size_t n, const float *g, const float *a, const float *b, float lo, float hi, float *y);
void fa_cpu_attack_step(size_t n, const float *x, const float *g, float *delta, float step, float eps,
                        bool box_first);
void fa_cpu_log_softmax(int rows, int cols, const float *x, float *y);
void fa_cpu_avg_pool_adjoint(const int x_shape[4], int k, const float *g, float *x);
void fa_cpu_max_pool(const int x_shape[4], int k, const float *x, float *y, float *mask);
void fa_cpu_gather_rows(size_t row_len, int n_idx, const int *idx, const float *src, float *dst);
void fa_cpu_scatter_add_rows(size_t row_len, int n_idx, const int *idx, const float *src, float *dst);

#endif
