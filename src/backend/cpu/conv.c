/* The convolution kernels of conv.h: each call picks an implementation
 * (measurements in docs/PERFORMANCE.md, "Convolution kernels"):
 *   1x1 without padding   conv_pointwise.c (GEMMs on NCHW, no reorders)
 *   stride 1, <= 8 channels in and out   conv_small.c (direct, on NCHW)
 *   everything else       conv_dnnl.c (oneDNN, Winograd for 3x3 stride 1)
 * Not re-entrant: call from one thread at a time; each call is itself
 * OpenMP-parallel over omp_get_max_threads() threads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/conv_impl.h"

void fa_conv_geom_finish(fa_conv_geom *g) {
  g->h_out = (g->h_in + 2 * g->pad - g->k) / g->stride + 1;
  g->w_out = (g->w_in + 2 * g->pad - g->k) / g->stride + 1;
}

static double flops_done;

void fa_cpu_count_flops(double flops) { flops_done += flops; }
double fa_cpu_flops_done(void) { return flops_done; }

static char *ws_data;
static size_t ws_bytes;

void *fa_cpu_conv_workspace(size_t bytes) {
  if (bytes > ws_bytes) {
    free(ws_data);
    ws_bytes = (bytes + 4095) / 4096 * 4096;
    ws_data = aligned_alloc(4096, ws_bytes);
    if (!ws_data) {
      fprintf(stderr, "fastadv: out of memory for %zu bytes of convolution workspace\n", ws_bytes);
      abort();
    }
  }
  return ws_data;
}

size_t fa_cpu_conv_scratch_bytes(void) { return ws_bytes; }

static void conv(const fa_conv_geom *g, fa_conv_dir dir, float *x, float *w, float *y) {
  if (g->n == 0) { /* an empty batch: only grad-weight has an output, zero */
    if (dir == FA_CONV_GRAD_WEIGHT) memset(w, 0, sizeof(float) * g->c_out * g->c_in * g->k * g->k);
    return;
  }
  fa_cpu_count_flops(2.0 * g->n * g->c_out * g->h_out * g->w_out * g->c_in * g->k * g->k);
  if (g->k == 1 && g->pad == 0)
    fa_cpu_conv_pointwise(g, dir, x, w, y);
  else if (fa_cpu_conv_small_fits(g))
    fa_cpu_conv_small(g, dir, x, w, y);
  else
    fa_cpu_conv_dnnl(g, dir, x, w, y);
}

/* The inputs are only read; the roles share one signature, hence the casts. */
void fa_cpu_conv2d_forward(const fa_conv_geom *g, const float *x, const float *w, float *y) {
  conv(g, FA_CONV_FORWARD, (float *)x, (float *)w, y);
}

void fa_cpu_conv2d_grad_input(const fa_conv_geom *g, const float *gy, const float *w, float *gx) {
  conv(g, FA_CONV_GRAD_INPUT, gx, (float *)w, (float *)gy);
}

void fa_cpu_conv2d_grad_weight(const fa_conv_geom *g, const float *gy, const float *x, float *gw) {
  conv(g, FA_CONV_GRAD_WEIGHT, (float *)x, gw, (float *)gy);
}

void fa_cpu_conv_release(void) {
  fa_cpu_conv_dnnl_release();
  free(ws_data);
  ws_data = NULL, ws_bytes = 0;
}
