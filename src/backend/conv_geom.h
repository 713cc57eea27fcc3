/* The geometry of one 2-D convolution, as the op layer hands it to any
 * backend's convolution kernels (backend/backend.h):
 *   x (n, c_in, h_in, w_in)   w (c_out, c_in, k, k)   y (n, c_out, h_out, w_out)
 * with h_out = (h_in + 2 pad - k) / stride + 1 (likewise w_out), zero padding,
 * the precision of the products and the storage of x and y (bf16: backend/bf16.h). */
#ifndef FA_BACKEND_CONV_GEOM_H
#define FA_BACKEND_CONV_GEOM_H

typedef struct {
  int n, c_in, h_in, w_in;
  int c_out, k, stride, pad;
  int h_out, w_out;
  int bf16; /* 1: each factor rounded to bfloat16, products summed in float32 (backend/bf16.h) */
  int x_bf16, y_bf16; /* 1: x (the input: forward, grad-weight), y (the forward's output) stored in bfloat16 */
} fa_conv_geom;

/* Fills h_out and w_out from the other fields. */
static inline void fa_conv_geom_finish(fa_conv_geom *g) {
  g->h_out = (g->h_in + 2 * g->pad - g->k) / g->stride + 1;
  g->w_out = (g->w_in + 2 * g->pad - g->k) / g->stride + 1;
}

#endif
