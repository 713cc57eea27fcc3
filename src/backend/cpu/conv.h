/* CPU convolution and GEMM kernels: raw float32 arrays, no autograd.
 *
 * Layouts (all contiguous, row-major):
 *   x  (n, c_in, h_in, w_in)      input, NCHW
 *   w  (c_out, c_in, k, k)        filters, OIHW
 *   y  (n, c_out, h_out, w_out)   output, h_out = (h_in + 2*pad - k)/stride + 1
 * Each kernel overwrites its output. Threads: OpenMP (omp_get_max_threads()).
 * The convolutions keep their primitive cache, their workspace and the
 * operation count in a state (one per context, backend/backend.h): call
 * them with one state from one thread at a time, outside OpenMP parallel
 * regions. */
#ifndef FA_BACKEND_CPU_CONV_H
#define FA_BACKEND_CPU_CONV_H

#include <stdbool.h>
#include <stddef.h>

#include "backend/conv_geom.h"

/* The CPU backend's per-context state. */
typedef struct fa_cpu_state fa_cpu_state;
/* NULL when out of memory. */
fa_cpu_state *fa_cpu_state_create(void);
/* Frees the cached convolution primitives, the workspace and the state. NULL is a no-op. */
void fa_cpu_state_destroy(fa_cpu_state *s);

/* y = conv2d(x, w) (cross-correlation, zero padding), plus bias (c_out) per
 * output channel unless bias is NULL (added to each finished sum: the same
 * floats as a separate addition; no bias with a bfloat16 y). x and y are
 * float32, or bfloat16 as g->x_bf16 and g->y_bf16 say (backend/backend.h). */
void fa_cpu_conv2d_forward(fa_cpu_state *s, const fa_conv_geom *g, const void *x, const float *w, const float *bias,
                           void *y);
/* gx = d<gy, conv2d(x, w)>/dx, i.e. the transposed convolution of gy with w */
void fa_cpu_conv2d_grad_input(fa_cpu_state *s, const fa_conv_geom *g, const float *gy, const float *w, float *gx);
/* gw = d<gy, conv2d(x, w)>/dw */
void fa_cpu_conv2d_grad_weight(fa_cpu_state *s, const fa_conv_geom *g, const float *gy, const void *x, float *gw);
/* Both: the same bits as fa_cpu_conv2d_grad_input then fa_cpu_conv2d_grad_weight, gy converted into
 * oneDNN's layout once for the two where they share it (docs/PERFORMANCE.md, "bfloat16") */
void fa_cpu_conv2d_backward(fa_cpu_state *s, const fa_conv_geom *g, const float *gy, const void *x, const float *w,
                            float *gx, float *gw);

/* Bytes of scratch the state's convolutions hold now: one workspace that
 * grows to the largest call's need and is reused (blocked copies of the
 * tensors, oneDNN scratchpads, GEMM buffers). oneDNN's JIT code is not counted. */
size_t fa_cpu_conv_scratch_bytes(const fa_cpu_state *s);
/* Floating-point operations done by the state's convolution and SGEMM
 * kernels so far, for reports of the achieved rate: a convolution counts as
 * the direct algorithm's 2*n*c_out*h_out*w_out*c_in*k*k whatever algorithm
 * runs it, a GEMM of the kernel table 2*m*n*k (GEMMs inside a convolution are
 * not counted again). */
double fa_cpu_flops_done(const fa_cpu_state *s);
/* Adds to that count (the kernel table's GEMMs). */
void fa_cpu_count_flops(fa_cpu_state *s, double flops);

/* Frees the state's cached convolution primitives and workspace (they are
 * rebuilt on the next call): to measure one layer's scratch alone. */
void fa_cpu_conv_release(fa_cpu_state *s);

/* C (m x n) = alpha * op(A) op(B) + beta * C; op(A) is (m x k), op(B) (k x n);
 * A is stored (m x k) or, when trans_a, (k x m); likewise B. Row-major, packed. */
void fa_cpu_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a,
                  const float *b, float beta, float *c);
/* The same with each element of A and B rounded to bfloat16 first (backend/bf16.h), into s's
 * workspace: products of bfloat16 values, float32 sums (Debian's OpenBLAS has no bfloat16 GEMM). */
void fa_cpu_sgemm_bf16(fa_cpu_state *s, bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                       const float *a, const float *b, float beta, float *c);

#endif
