/* ref's GEMM and convolutions (loops.h), each output element one double sum
 * written from the definition, rounded to float once.
 *
 * The convolution is a cross-correlation with zero padding (geometry and
 * layouts in backend/cpu/conv.h, fa_conv_geom): output pixel (oh, ow) reads
 * input pixel (oh * stride - pad + ki, ow * stride - pad + kj) through tap
 * (ki, kj); taps that land in the padding read zero. With bf16 (the
 * geometry's, or sgemm's) every factor is rounded to bfloat16 first
 * (backend/bf16.h); the sums stay double. */
#include "backend/bf16.h"
#include "backend/ref/loops.h"

/* a factor of a product: v, or v rounded to bfloat16 */
static double factor(float v, bool bf16) { return bf16 ? fa_bf16_round(v) : v; }

/* C (m x n) = alpha op(A) op(B) + beta C, row-major; C is not read when beta is 0 */
void fa_ref_sgemm(bool bf16, bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a,
                  const float *b, float beta, float *c) {
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) {
      double acc = 0;
      for (int l = 0; l < k; l++) {
        const float ail = trans_a ? a[(size_t)l * m + i] : a[(size_t)i * k + l];
        const float blj = trans_b ? b[(size_t)j * k + l] : b[(size_t)l * n + j];
        acc += factor(ail, bf16) * factor(blj, bf16);
      }
      float *cij = c + (size_t)i * n + j;
      *cij = (float)(beta == 0.0f ? alpha * acc : alpha * acc + (double)beta * *cij);
    }
}

/* flat indices: x (n, c_in, h_in, w_in), y (n, c_out, h_out, w_out), w (c_out, c_in, k, k) */
static size_t x_at(const fa_conv_geom *g, int b, int c, int h, int w) {
  return (((size_t)b * g->c_in + c) * g->h_in + h) * g->w_in + w;
}
static size_t y_at(const fa_conv_geom *g, int b, int o, int h, int w) {
  return (((size_t)b * g->c_out + o) * g->h_out + h) * g->w_out + w;
}
static size_t w_at(const fa_conv_geom *g, int o, int c, int ki, int kj) {
  return (((size_t)o * g->c_in + c) * g->k + ki) * g->k + kj;
}

/* y[b,o,oh,ow] = sum over c, ki, kj of x[b,c,oh*s-p+ki,ow*s-p+kj] w[o,c,ki,kj], then + bias[o] */
void fa_ref_conv2d_forward(const fa_conv_geom *g, const float *x, const float *w, const float *bias, float *y) {
  for (int b = 0; b < g->n; b++)
    for (int o = 0; o < g->c_out; o++)
      for (int oh = 0; oh < g->h_out; oh++)
        for (int ow = 0; ow < g->w_out; ow++) {
          double acc = 0;
          for (int c = 0; c < g->c_in; c++)
            for (int ki = 0; ki < g->k; ki++)
              for (int kj = 0; kj < g->k; kj++) {
                const int ih = oh * g->stride - g->pad + ki, iw = ow * g->stride - g->pad + kj;
                if (ih >= 0 && ih < g->h_in && iw >= 0 && iw < g->w_in)
                  acc += factor(x[x_at(g, b, c, ih, iw)], g->bf16) * factor(w[w_at(g, o, c, ki, kj)], g->bf16);
              }
          /* the bias is added to the finished sum, a float addition (backend/cpu/conv.h) */
          y[y_at(g, b, o, oh, ow)] = bias ? (float)acc + bias[o] : (float)acc;
        }
}

/* The output position a tap reads input position i from along one axis:
 * o * stride - pad + tap = i; -1 when no output position does. */
static int output_reading(const fa_conv_geom *g, int i, int tap, int n_out) {
  const int t = i + g->pad - tap;
  if (t < 0 || t % g->stride) return -1;
  return t / g->stride < n_out ? t / g->stride : -1;
}

/* gx[b,c,ih,iw] = sum over o, ki, kj of gy[b,o,oh,ow] w[o,c,ki,kj] for the (oh, ow)
 * whose tap (ki, kj) reads (ih, iw) */
void fa_ref_conv2d_grad_input(const fa_conv_geom *g, const float *gy, const float *w, float *gx) {
  for (int b = 0; b < g->n; b++)
    for (int c = 0; c < g->c_in; c++)
      for (int ih = 0; ih < g->h_in; ih++)
        for (int iw = 0; iw < g->w_in; iw++) {
          double acc = 0;
          for (int o = 0; o < g->c_out; o++)
            for (int ki = 0; ki < g->k; ki++)
              for (int kj = 0; kj < g->k; kj++) {
                const int oh = output_reading(g, ih, ki, g->h_out), ow = output_reading(g, iw, kj, g->w_out);
                if (oh >= 0 && ow >= 0)
                  acc += factor(gy[y_at(g, b, o, oh, ow)], g->bf16) * factor(w[w_at(g, o, c, ki, kj)], g->bf16);
              }
          gx[x_at(g, b, c, ih, iw)] = (float)acc;
        }
}

/* gw[o,c,ki,kj] = sum over b, oh, ow of gy[b,o,oh,ow] x[b,c,oh*s-p+ki,ow*s-p+kj] */
void fa_ref_conv2d_grad_weight(const fa_conv_geom *g, const float *gy, const float *x, float *gw) {
  for (int o = 0; o < g->c_out; o++)
    for (int c = 0; c < g->c_in; c++)
      for (int ki = 0; ki < g->k; ki++)
        for (int kj = 0; kj < g->k; kj++) {
          double acc = 0;
          for (int b = 0; b < g->n; b++)
            for (int oh = 0; oh < g->h_out; oh++)
              for (int ow = 0; ow < g->w_out; ow++) {
                const int ih = oh * g->stride - g->pad + ki, iw = ow * g->stride - g->pad + kj;
                if (ih >= 0 && ih < g->h_in && iw >= 0 && iw < g->w_in)
                  acc += factor(gy[y_at(g, b, o, oh, ow)], g->bf16) * factor(x[x_at(g, b, c, ih, iw)], g->bf16);
              }
          gw[w_at(g, o, c, ki, kj)] = (float)acc;
        }
}
