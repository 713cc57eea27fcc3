/* TEMPORARY naive reference kernels (replaced by the conv branch). */
#include "backend/cpu/conv.h"

#include <string.h>

void fa_conv_geom_finish(fa_conv_geom *g) {
  g->h_out = (g->h_in + 2 * g->pad - g->k) / g->stride + 1;
  g->w_out = (g->w_in + 2 * g->pad - g->k) / g->stride + 1;
}

#define FOR_EACH_TAP(g)                                                          \
  for (int n = 0; n < g->n; n++)                                                 \
    for (int o = 0; o < g->c_out; o++)                                           \
      for (int i = 0; i < g->c_in; i++)                                          \
        for (int oh = 0; oh < g->h_out; oh++)                                    \
          for (int ow = 0; ow < g->w_out; ow++)                                  \
            for (int kh = 0; kh < g->k; kh++)                                    \
              for (int kw = 0; kw < g->k; kw++) {                                \
                int ih = oh * g->stride - g->pad + kh, iw = ow * g->stride - g->pad + kw; \
                if (ih < 0 || iw < 0 || ih >= g->h_in || iw >= g->w_in) continue; \
                size_t xi = (((size_t)n * g->c_in + i) * g->h_in + ih) * g->w_in + iw; \
                size_t wi = (((size_t)o * g->c_in + i) * g->k + kh) * g->k + kw;  \
                size_t yi = (((size_t)n * g->c_out + o) * g->h_out + oh) * g->w_out + ow;

void fa_cpu_conv2d_forward(const fa_conv_geom *g, const float *x, const float *w, float *y) {
  memset(y, 0, sizeof(float) * g->n * g->c_out * g->h_out * g->w_out);
  FOR_EACH_TAP(g) y[yi] += x[xi] * w[wi]; }
}
void fa_cpu_conv2d_grad_input(const fa_conv_geom *g, const float *gy, const float *w, float *gx) {
  memset(gx, 0, sizeof(float) * g->n * g->c_in * g->h_in * g->w_in);
  FOR_EACH_TAP(g) gx[xi] += gy[yi] * w[wi]; }
}
void fa_cpu_conv2d_grad_weight(const fa_conv_geom *g, const float *gy, const float *x, float *gw) {
  memset(gw, 0, sizeof(float) * g->c_out * g->c_in * g->k * g->k);
  FOR_EACH_TAP(g) gw[wi] += gy[yi] * x[xi]; }
}
