/* Inside backend/cpu's convolutions: the implementations behind conv.h,
 * the state they share and its scratch memory. Not for use outside backend/cpu.
 *
 * Each implementation takes the three tensors of a convolution in fixed roles,
 *   x (n, c_in, h_in, w_in)   w (c_out, c_in, k, k)   y (n, c_out, h_out, w_out)
 * and overwrites the one that `dir` computes (y, x as gx, or w as gw). */
#ifndef FA_BACKEND_CPU_CONV_IMPL_H
#define FA_BACKEND_CPU_CONV_IMPL_H

#include <stddef.h>

#include "backend/cpu/conv.h"

typedef enum { FA_CONV_FORWARD, FA_CONV_GRAD_INPUT, FA_CONV_GRAD_WEIGHT } fa_conv_dir;

/* oneDNN's engine, stream and primitives (conv_dnnl.c). */
typedef struct fa_cpu_dnnl fa_cpu_dnnl;

struct fa_cpu_state {
  double flops_done;
  char *ws_data;     /* the workspace: ws_bytes, 4096-byte aligned */
  size_t ws_bytes;
  fa_cpu_dnnl *dnnl; /* NULL until the first oneDNN convolution */
};

/* oneDNN primitives, cached in s per geometry, direction and thread count. */
void fa_cpu_conv_dnnl(fa_cpu_state *s, const fa_conv_geom *g, fa_conv_dir dir, void *x, float *w, void *y);
/* Grad-input into gx, then grad-weight into gw, the same bits as the two calls above, gy's inner copy
 * made once where the two primitives want the same layout. */
void fa_cpu_conv_dnnl_backward(fa_cpu_state *s, const fa_conv_geom *g, float *gy, void *x, float *w, float *gx,
                               float *gw);
/* Frees s's oneDNN objects (s->dnnl becomes NULL). */
void fa_cpu_conv_dnnl_release(fa_cpu_state *s);

/* Direct stride-1 kernels for few channels in and out (the small cnn's first
 * layer); fa_cpu_conv_small_fits says whether they take g's pass dir. */
bool fa_cpu_conv_small_fits(const fa_conv_geom *g, fa_conv_dir dir);
/* bias (forward only) or NULL: added to each finished output value */
void fa_cpu_conv_small(fa_cpu_state *s, const fa_conv_geom *g, fa_conv_dir dir, float *x, float *w, float *y,
                       const float *bias);

/* 1x1 kernels without padding: GEMMs straight on NCHW (no layout reorders). */
void fa_cpu_conv_pointwise(fa_cpu_state *s, const fa_conv_geom *g, fa_conv_dir dir, float *x, float *w, float *y);

/* s's 4096-byte-aligned scratch buffer, grown on demand and reused by every
 * call; the previous contents are not kept. */
void *fa_cpu_conv_workspace(fa_cpu_state *s, size_t bytes);

#endif
