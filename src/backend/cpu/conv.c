/* The convolution kernels of conv.h: each call picks an implementation
 * (measurements in docs/PERFORMANCE.md, "Convolution kernels"):
 *   1x1 without padding   conv_pointwise.c (GEMMs on NCHW, no reorders)
 *   stride 1, <= 16 channels in and out (rules in conv_small.c)   conv_small.c (direct, on NCHW)
 *   everything else       conv_dnnl.c (oneDNN, Winograd for 3x3 stride 1)
 *   bf16 (any geometry)   conv_dnnl.c (oneDNN's bfloat16 kernels)
 *   bfloat16 x or y       conv_dnnl.c (its reorders convert)
 * and both gradients in one call (fa_cpu_conv2d_backward) where oneDNN runs them.
 * A state is not re-entrant: call with one state from one thread at a time;
 * each call is itself OpenMP-parallel over omp_get_max_threads() threads, but
 * for a small oneDNN forward or grad-input (below). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/conv_impl.h"
#include "backend/cpu/elementwise.h"

fa_cpu_state *fa_cpu_state_create(void) { return calloc(1, sizeof(fa_cpu_state)); }

void fa_cpu_state_destroy(fa_cpu_state *s) {
  if (!s) return;
  fa_cpu_conv_release(s);
  free(s);
}

void fa_cpu_count_flops(fa_cpu_state *s, double flops) { s->flops_done += flops; }
double fa_cpu_flops_done(const fa_cpu_state *s) { return s->flops_done; }

void *fa_cpu_conv_workspace(fa_cpu_state *s, size_t bytes) {
  if (bytes > s->ws_bytes) {
    free(s->ws_data);
    s->ws_bytes = (bytes + 4095) / 4096 * 4096;
    s->ws_data = aligned_alloc(4096, s->ws_bytes);
    if (!s->ws_data) {
      fprintf(stderr, "fastadv: out of memory for %zu bytes of convolution workspace\n", s->ws_bytes);
      abort();
    }
  }
  return s->ws_data;
}

size_t fa_cpu_conv_scratch_bytes(const fa_cpu_state *s) { return s->ws_bytes; }

/* y (n, c_out, h_out, w_out) += bias per channel */
static void add_channel_bias(const fa_conv_geom *g, const float *bias, float *y) {
  const long plane = (long)g->h_out * g->w_out, planes = (long)g->n * g->c_out;
#pragma omp parallel for schedule(static) if (parallel : planes * plane > FA_CPU_PASS_PAR_MIN)
  for (long p = 0; p < planes; p++) {
    const float b = bias[p % g->c_out];
    float *yp = y + p * plane;
#pragma omp simd
    for (long i = 0; i < plane; i++) yp[i] += b;
  }
}

/* below this many FLOPs a oneDNN convolution's forward and grad-input run on
 * one thread: the Fashion-MNIST cnn's 1 -> 16 layer on the few points an
 * AutoAttack stage has left took 72 us a call on one thread and 93 us on two
 * (docs/PERFORMANCE.md, "Threads in small passes"). Grad-weight keeps every
 * thread: oneDNN splits its sum over the batch between them, so its bits
 * depend on the thread count (forward and grad-input compute each output on
 * one thread). */
enum { FA_DNNL_SERIAL_MAX_FLOPS = 1 << 25 };

static double conv_flops(const fa_conv_geom *g) {
  return 2.0 * g->n * g->c_out * g->h_out * g->w_out * g->c_in * g->k * g->k;
}

static bool dnnl_serial(const fa_conv_geom *g, fa_conv_dir dir) {
  return dir != FA_CONV_GRAD_WEIGHT && conv_flops(g) < FA_DNNL_SERIAL_MAX_FLOPS && omp_get_max_threads() > 1;
}

/* oneDNN alone: bfloat16 products, or an operand stored in bfloat16 */
static bool dnnl_only(const fa_conv_geom *g) { return g->bf16 || g->x_bf16 || g->y_bf16; }
static bool is_pointwise(const fa_conv_geom *g) { return !dnnl_only(g) && g->k == 1 && g->pad == 0; }
static bool is_small(const fa_conv_geom *g, fa_conv_dir dir) {
  return !dnnl_only(g) && !is_pointwise(g) && fa_cpu_conv_small_fits(g, dir);
}

static void conv_dnnl_threads(fa_cpu_state *s, const fa_conv_geom *g, fa_conv_dir dir, void *x, float *w, void *y) {
  const int threads = omp_get_max_threads();
  const bool serial = dnnl_serial(g, dir);
  if (serial) omp_set_num_threads(1); /* oneDNN caches a primitive per thread count (conv_dnnl.c) */
  fa_cpu_conv_dnnl(s, g, dir, x, w, y);
  if (serial) omp_set_num_threads(threads);
}

/* bias: forward only, or NULL; x and y float32 but where g says bfloat16 (oneDNN's path alone) */
static void conv(fa_cpu_state *s, const fa_conv_geom *g, fa_conv_dir dir, void *x, float *w, void *y,
                 const float *bias) {
  if (g->n == 0) { /* an empty batch: only grad-weight has an output, zero */
    if (dir == FA_CONV_GRAD_WEIGHT) memset(w, 0, sizeof(float) * g->c_out * g->c_in * g->k * g->k);
    return;
  }
  fa_cpu_count_flops(s, conv_flops(g));
  if (is_small(g, dir)) {
    fa_cpu_conv_small(s, g, dir, x, w, y, bias); /* adds the bias as it stores */
    return;
  }
  if (is_pointwise(g))
    fa_cpu_conv_pointwise(s, g, dir, x, w, y);
  else
    conv_dnnl_threads(s, g, dir, x, w, y);
  if (bias) {
    if (g->y_bf16) abort(); /* the op layer makes no bfloat16 output with a bias (core/ops_linalg.c) */
    add_channel_bias(g, bias, y);
  }
}

/* The inputs are only read; the roles share one signature, hence the casts. */
void fa_cpu_conv2d_forward(fa_cpu_state *s, const fa_conv_geom *g, const void *x, const float *w, const float *bias,
                           void *y) {
  conv(s, g, FA_CONV_FORWARD, (void *)x, (float *)w, y, bias);
}

void fa_cpu_conv2d_grad_input(fa_cpu_state *s, const fa_conv_geom *g, const float *gy, const float *w, float *gx) {
  conv(s, g, FA_CONV_GRAD_INPUT, gx, (float *)w, (float *)gy, NULL);
}

void fa_cpu_conv2d_grad_weight(fa_cpu_state *s, const fa_conv_geom *g, const float *gy, const void *x, float *gw) {
  conv(s, g, FA_CONV_GRAD_WEIGHT, (void *)x, gw, (float *)gy, NULL);
}

void fa_cpu_conv2d_backward(fa_cpu_state *s, const fa_conv_geom *g, const float *gy, const void *x, const float *w,
                            float *gx, float *gw) {
  if (g->n == 0 || is_small(g, FA_CONV_GRAD_INPUT) || is_small(g, FA_CONV_GRAD_WEIGHT) || is_pointwise(g) ||
      dnnl_serial(g, FA_CONV_GRAD_INPUT)) {
    fa_cpu_conv2d_grad_input(s, g, gy, w, gx); /* kernels without reorders, or a serial grad-input */
    fa_cpu_conv2d_grad_weight(s, g, gy, x, gw);
    return;
  }
  fa_cpu_count_flops(s, 2 * conv_flops(g));
  fa_cpu_conv_dnnl_backward(s, g, (float *)gy, (void *)x, (float *)w, gx, gw);
}

void fa_cpu_conv_release(fa_cpu_state *s) {
  fa_cpu_conv_dnnl_release(s);
  free(s->ws_data);
  s->ws_data = NULL, s->ws_bytes = 0;
}
