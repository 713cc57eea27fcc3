/* The CPU convolution kernels (forward, grad-input, grad-weight) and sgemm
 * (all four transpose combinations) against naive double-precision loops,
 * over geometries from 4x4 single-channel images to ResNet-18 layers:
 * kernels 1, 3, 5, 7; stride 1, 2, 3; padding 0..2; odd and non-square sizes;
 * the Winograd and the direct algorithms; repeated runs bit for bit; no
 * writes past the outputs or into the inputs. Also the fused attack step
 * against the kernels it fuses, bit for bit. Under ASan/UBSan the oneDNN
 * JIT code and OpenBLAS run uninstrumented (no reports from them, false or
 * true), which is why the outputs carry guards. Also that oneDNN's forward
 * and grad-input give the same bits on one thread as on two (conv.c runs the
 * small ones on one). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "backend/cpu/conv.h"
#include "backend/cpu/conv_impl.h"
#include "core/rng.h"
#include "testlib.h"

static fa_rng rng;
static fa_cpu_state *state; /* the convolutions' caches and workspace */

static float *random_floats(size_t n) {
  float *p = malloc(n * sizeof *p);
  fa_rng_fill_uniform(&rng, p, n, -1.0f, 1.0f);
  return p;
}

/* An output: n floats of garbage the kernels must overwrite, then a guard
 * they must not touch (the libraries' code is not instrumented by ASan). */
enum { GUARD = 64 };
static const float guard_value = 1234.5f;

static float *poisoned(size_t n) {
  float *p = malloc((n + GUARD) * sizeof *p);
  for (size_t i = 0; i < n; i++) p[i] = NAN;
  for (size_t i = n; i < n + GUARD; i++) p[i] = guard_value;
  return p;
}

static bool guard_intact(const float *p, size_t n) {
  for (size_t i = n; i < n + GUARD; i++)
    if (p[i] != guard_value) return false;
  return true;
}

static float *copy_of(const float *p, size_t n) {
  float *q = malloc(n * sizeof *q);
  memcpy(q, p, n * sizeof *q);
  return q;
}

/* All three products at once, from the definition: for every tap of the
 * cross-correlation that lands inside the input,
 *   y[b,o,oh,ow]  += x[b,c,ih,iw] * w[o,c,ki,kj]
 *   gx[b,c,ih,iw] += gy[b,o,oh,ow] * w[o,c,ki,kj]
 *   gw[o,c,ki,kj] += gy[b,o,oh,ow] * x[b,c,ih,iw]
 * x (n, c_in, h_in, w_in), w (c_out, c_in, k, k), gy and y (n, c_out, h_out, w_out). */
static void reference(const fa_conv_geom *g, const float *x, const float *w, const float *gy, double *y,
                      double *gx, double *gw) {
  const int k = g->k;
  for (int b = 0; b < g->n; b++)
    for (int o = 0; o < g->c_out; o++)
      for (int c = 0; c < g->c_in; c++)
        for (int ki = 0; ki < k; ki++)
          for (int kj = 0; kj < k; kj++) {
            const long wi = ((long)o * g->c_in + c) * k * k + ki * k + kj;
            for (int oh = 0; oh < g->h_out; oh++) {
              int ih = oh * g->stride - g->pad + ki;
              if (ih < 0 || ih >= g->h_in) continue;
              for (int ow = 0; ow < g->w_out; ow++) {
                int iw = ow * g->stride - g->pad + kj;
                if (iw < 0 || iw >= g->w_in) continue;
                long xi = (((long)b * g->c_in + c) * g->h_in + ih) * g->w_in + iw;
                long yi = (((long)b * g->c_out + o) * g->h_out + oh) * g->w_out + ow;
                y[yi] += (double)x[xi] * w[wi];
                gx[xi] += (double)gy[yi] * w[wi];
                gw[wi] += (double)gy[yi] * x[xi];
              }
            }
          }
}

/* oneDNN's forward and grad-input on one thread and on two, bit for bit */
static void check_dnnl_threads(int n, int c_in, int hw, int c_out) {
  fa_conv_geom g = {.n = n, .c_in = c_in, .h_in = hw, .w_in = hw, .c_out = c_out, .k = 3, .stride = 1, .pad = 1};
  fa_conv_geom_finish(&g);
  const size_t nx = (size_t)n * c_in * hw * hw, nw = (size_t)c_out * c_in * 9, ny = (size_t)n * c_out * hw * hw;
  float *x = random_floats(nx), *w = random_floats(nw), *gy = random_floats(ny);
  float *y[2] = {malloc(ny * sizeof(float)), malloc(ny * sizeof(float))};
  float *gx[2] = {malloc(nx * sizeof(float)), malloc(nx * sizeof(float))};
  const int threads = omp_get_max_threads();
  for (int t = 0; t < 2; t++) {
    omp_set_num_threads(t + 1);
    fa_cpu_conv_dnnl(state, &g, FA_CONV_FORWARD, x, w, y[t]);
    fa_cpu_conv_dnnl(state, &g, FA_CONV_GRAD_INPUT, gx[t], w, gy);
  }
  omp_set_num_threads(threads);
  FA_CHECK(!memcmp(y[0], y[1], ny * sizeof(float)) && !memcmp(gx[0], gx[1], nx * sizeof(float)),
           "oneDNN n=%d c_in=%d %dx%d c_out=%d: forward or grad-input differs between 1 and 2 threads", n, c_in,
           hw, hw, c_out);
  free(x), free(w), free(gy), free(y[0]), free(y[1]), free(gx[0]), free(gx[1]);
}

static void check_conv(int n, int c_in, int hw_in, int w_in, int c_out, int k, int stride, int pad) {
  fa_conv_geom g = {.n = n, .c_in = c_in, .h_in = hw_in, .w_in = w_in, .c_out = c_out, .k = k,
                    .stride = stride, .pad = pad};
  fa_conv_geom_finish(&g);
  const size_t nx = (size_t)n * c_in * hw_in * w_in, nw = (size_t)c_out * c_in * k * k,
               ny = (size_t)n * c_out * g.h_out * g.w_out;
  float *x = random_floats(nx), *w = random_floats(nw), *gy = random_floats(ny);
  double *ry = calloc(ny, sizeof *ry), *rgx = calloc(nx, sizeof *rgx), *rgw = calloc(nw, sizeof *rgw);
  reference(&g, x, w, gy, ry, rgx, rgw);

  float *x0 = copy_of(x, nx), *w0 = copy_of(w, nw), *gy0 = copy_of(gy, ny);
  float *y = poisoned(ny), *gx = poisoned(nx), *gw = poisoned(nw);
  fa_cpu_conv2d_forward(state, &g, x, w, NULL, y);
  fa_cpu_conv2d_grad_input(state, &g, gy, w, gx);
  fa_cpu_conv2d_grad_weight(state, &g, gy, x, gw);
  double ey = fa_test_rel_err(y, ry, ny), egx = fa_test_rel_err(gx, rgx, nx),
         egw = fa_test_rel_err(gw, rgw, nw);
  FA_CHECK(ey <= 1e-5 && egx <= 1e-5 && egw <= 1e-5,
           "n=%d c_in=%d %dx%d c_out=%d k=%d stride=%d pad=%d: rel err forward %.2e grad_input %.2e "
           "grad_weight %.2e",
           n, c_in, hw_in, w_in, c_out, k, stride, pad, ey, egx, egw);
  FA_CHECK(guard_intact(y, ny) && guard_intact(gx, nx) && guard_intact(gw, nw) &&
               !memcmp(x, x0, nx * sizeof *x) && !memcmp(w, w0, nw * sizeof *w) &&
               !memcmp(gy, gy0, ny * sizeof *gy),
           "n=%d c_in=%d %dx%d c_out=%d k=%d: wrote past an output or into an input", n, c_in, hw_in, w_in,
           c_out, k);
  /* a second run gives the same bits (runs must be reproducible) */
  float *y2 = poisoned(ny), *gx2 = poisoned(nx), *gw2 = poisoned(nw);
  fa_cpu_conv2d_forward(state, &g, x, w, NULL, y2);
  fa_cpu_conv2d_grad_input(state, &g, gy, w, gx2);
  fa_cpu_conv2d_grad_weight(state, &g, gy, x, gw2);
  FA_CHECK(!memcmp(y, y2, ny * sizeof *y) && !memcmp(gx, gx2, nx * sizeof *gx) &&
               !memcmp(gw, gw2, nw * sizeof *gw),
           "n=%d c_in=%d %dx%d c_out=%d k=%d: repeated run differs", n, c_in, hw_in, w_in, c_out, k);
  /* with a bias: the same floats as the convolution, then the addition */
  float *bias = random_floats((size_t)c_out), *yb = poisoned(ny);
  const size_t plane = (size_t)g.h_out * g.w_out;
  fa_cpu_conv2d_forward(state, &g, x, w, bias, yb);
  for (size_t i = 0; i < ny; i++) y2[i] = y[i] + bias[i / plane % (size_t)c_out];
  FA_CHECK(!memcmp(yb, y2, ny * sizeof *yb) && guard_intact(yb, ny),
           "n=%d c_in=%d %dx%d c_out=%d k=%d: forward with a bias is not conv + bias", n, c_in, hw_in, w_in, c_out,
           k);
  free(bias), free(yb);
  free(x), free(w), free(gy), free(x0), free(w0), free(gy0), free(ry), free(rgx), free(rgw);
  free(y), free(gx), free(gw), free(y2), free(gx2), free(gw2);
}

/* C (m x n) = alpha op(A) op(B) + beta C against a double loop. */
static void check_sgemm(bool ta, bool tb, int m, int n, int k, float alpha, float beta) {
  float *a = random_floats((size_t)m * k + 1), *b = random_floats((size_t)k * n + 1),
        *c = random_floats((size_t)m * n);
  double *ref = malloc((size_t)m * n * sizeof *ref);
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) {
      double s = 0;
      for (int l = 0; l < k; l++)
        s += (double)(ta ? a[(long)l * m + i] : a[(long)i * k + l]) *
             (tb ? b[(long)j * k + l] : b[(long)l * n + j]);
      ref[(long)i * n + j] = alpha * s + (double)beta * c[(long)i * n + j];
    }
  if (beta == 0.0f)
    for (long i = 0; i < (long)m * n; i++) c[i] = NAN; /* beta 0 must ignore C */
  fa_cpu_sgemm(ta, tb, m, n, k, alpha, a, b, beta, c);
  double e = fa_test_rel_err(c, ref, (size_t)m * n);
  FA_CHECK(e <= 1e-5, "sgemm ta=%d tb=%d m=%d n=%d k=%d alpha=%g beta=%g: rel err %.2e", ta, tb, m, n, k,
           alpha, beta, e);
  free(a), free(b), free(c), free(ref);
}

/* attack_step equals sign, axpy, clamp and the box's add / clamp / sub run
 * one after another, bit for bit, in both projection orders; g has zeros. */
static void check_attack_step(size_t n, float step, float eps) {
  const fa_kernel_table *k = fa_backend_find("cpu")->kernels;
  float *x = random_floats(n), *g = random_floats(n), *d0 = random_floats(n);
  for (size_t i = 0; i < n; i++) x[i] = 0.5f * x[i] + 0.5f, d0[i] *= 1.5f * eps;
  for (size_t i = 0; i < n; i += 7) g[i] = 0.0f;
  const int s[4] = {1, 1, 1, (int)n};
  for (int box_first = 0; box_first < 2; box_first++) {
    float *fused = copy_of(d0, n), *parts = copy_of(d0, n), *sign = malloc(n * sizeof *sign);
    k->attack_step(n, x, g, fused, step, eps, box_first);
    k->unary(FA_UNARY_SIGN, n, g, sign, 0, 0);
    k->axpy(n, step, sign, parts);
    if (!box_first) k->unary(FA_UNARY_CLAMP, n, parts, parts, -eps, eps);
    k->binary(FA_BINARY_ADD, s, x, s, parts, s, parts);
    k->unary(FA_UNARY_CLAMP, n, parts, parts, 0.0f, 1.0f);
    k->binary(FA_BINARY_SUB, s, parts, s, x, s, parts);
    if (box_first) k->unary(FA_UNARY_CLAMP, n, parts, parts, -eps, eps);
    FA_CHECK(!memcmp(fused, parts, n * sizeof *fused), "attack_step n=%zu box_first=%d differs from its parts", n,
             box_first);
    free(fused), free(parts), free(sign);
  }
  free(x), free(g), free(d0);
}

int main(void) {
  rng = fa_rng_stream(7, FA_STREAM_INIT);
  state = fa_cpu_state_create();

  for (int t = 0; t < 4; t++) {
    bool ta = t & 1, tb = t & 2;
    check_sgemm(ta, tb, 1, 1, 1, 1.0f, 0.0f);
    check_sgemm(ta, tb, 7, 13, 5, 1.0f, 0.0f);
    check_sgemm(ta, tb, 33, 1, 70, -0.5f, 1.0f);
    check_sgemm(ta, tb, 1, 65, 17, 2.0f, 0.25f);
    check_sgemm(ta, tb, 129, 67, 300, 1.0f, 1.0f);
    check_sgemm(ta, tb, 6, 5, 0, 1.0f, 0.5f); /* k = 0: C = beta C */
  }
  /* the hand-written skinny shapes of a linear layer (threaded, tails of n or k, an odd row count):
   * A^T B with few rows (weight gradient), A B^T with few columns (forward), A B with a small inner size
   * (input gradient) */
  check_sgemm(true, false, 10, 4101, 128, 1.0f, 0.0f);
  check_sgemm(true, false, 16, 300, 77, -0.5f, 0.75f);
  check_sgemm(false, true, 129, 10, 4101, 1.0f, 0.0f);
  check_sgemm(false, true, 128, 16, 4096, -0.5f, 0.75f);
  check_sgemm(false, true, 3, 1, 15, 2.0f, 0.0f);
  check_sgemm(false, false, 129, 4101, 10, 1.0f, 0.0f);
  check_sgemm(false, false, 128, 4096, 16, -0.5f, 0.75f);
  check_sgemm(false, false, 5, 40, 1, 2.0f, 0.0f);

  check_attack_step(37, 2.0f / 255, 8.0f / 255);
  check_attack_step(393217, 10.0f / 255, 8.0f / 255);

  /* tiny and odd geometries: n c_in h w c_out k stride pad */
  check_conv(1, 1, 4, 4, 1, 1, 1, 0);
  check_conv(1, 1, 4, 4, 1, 3, 1, 1);
  check_conv(1, 1, 4, 4, 1, 3, 2, 1);
  check_conv(1, 1, 4, 4, 1, 5, 1, 2);
  check_conv(1, 1, 4, 4, 1, 5, 2, 2);
  check_conv(1, 1, 5, 5, 1, 3, 2, 0);
  check_conv(2, 3, 7, 9, 4, 3, 2, 1);
  check_conv(3, 2, 9, 7, 5, 5, 2, 2);
  check_conv(2, 3, 6, 5, 3, 5, 1, 0);
  check_conv(2, 3, 3, 3, 3, 5, 1, 2);
  check_conv(2, 4, 5, 5, 2, 1, 2, 0);
  check_conv(2, 5, 7, 7, 3, 1, 1, 1);
  check_conv(2, 3, 8, 8, 4, 3, 1, 2);
  check_conv(2, 3, 11, 11, 4, 3, 2, 0);
  /* larger batches of small images */
  check_conv(70, 8, 4, 4, 16, 3, 1, 1);
  check_conv(67, 4, 5, 5, 3, 3, 2, 1);
  check_conv(300, 2, 4, 4, 3, 3, 2, 1);
  check_conv(9, 3, 7, 7, 5, 1, 1, 0);
  check_conv(2, 8, 33, 33, 4, 1, 1, 0);
  /* stride 1 with at most 16 channels in and out (direct kernels, some
   * passes on oneDNN: conv_small.c's rules): the cnn's 3 -> 4 layer, rows that
   * are not a multiple of 16, output channels not a multiple of 4, 7x7, 16
   * channels in or out */
  check_conv(5, 3, 32, 32, 4, 3, 1, 1);
  check_conv(3, 3, 13, 21, 8, 3, 1, 1);
  check_conv(4, 8, 10, 18, 5, 3, 1, 1);
  check_conv(2, 2, 9, 9, 3, 7, 1, 3);
  check_conv(3, 1, 33, 35, 7, 5, 1, 1);
  check_conv(3, 16, 10, 18, 3, 3, 1, 1);
  check_conv(4, 3, 13, 21, 16, 5, 1, 2);
  check_conv(2, 12, 9, 9, 14, 7, 1, 3);
  /* 1x1 without padding (GEMMs on NCHW): one group of several images, an
   * uneven last group, stride 3 */
  check_conv(3, 4, 5, 5, 6, 1, 1, 0);
  check_conv(37, 6, 6, 6, 10, 1, 2, 0);
  check_conv(5, 3, 10, 10, 4, 1, 3, 0);
  /* 3x3 stride 1 with 16+ channels and 32+ output tiles: Winograd (pad 2: no
   * Winograd kernel, direct instead) */
  check_conv(2, 16, 16, 16, 16, 3, 1, 1);
  check_conv(4, 16, 9, 11, 32, 3, 1, 1);
  check_conv(8, 32, 8, 8, 16, 3, 1, 0);
  check_conv(8, 16, 8, 8, 16, 3, 1, 2);
  check_conv(8, 24, 8, 8, 20, 3, 1, 1);
  /* lenet / cnn: 1x28x28 and 3x32x32 inputs, 4..64 filters */
  check_conv(2, 1, 28, 28, 4, 5, 1, 2);
  check_conv(2, 1, 28, 28, 32, 3, 1, 1);
  check_conv(2, 32, 14, 14, 64, 3, 2, 1);
  check_conv(2, 3, 32, 32, 16, 3, 1, 1);
  check_conv(2, 16, 16, 16, 32, 5, 1, 0);
  /* PreAct ResNet-18 layers (CIFAR), small batch */
  check_conv(2, 3, 32, 32, 64, 3, 1, 1);
  check_conv(1, 64, 32, 32, 64, 3, 1, 1);
  check_conv(1, 64, 32, 32, 128, 3, 2, 1);
  check_conv(2, 64, 32, 32, 128, 1, 2, 0);
  check_conv(1, 128, 16, 16, 128, 3, 1, 1);
  check_conv(1, 128, 16, 16, 256, 3, 2, 1);
  check_conv(2, 128, 16, 16, 256, 1, 2, 0);
  check_conv(1, 256, 8, 8, 256, 3, 1, 1);
  check_conv(1, 256, 8, 8, 512, 3, 2, 1);
  check_conv(2, 256, 8, 8, 512, 1, 2, 0);
  check_conv(1, 512, 4, 4, 512, 3, 1, 1);

  check_dnnl_threads(64, 1, 28, 16); /* the Fashion-MNIST cnn-16's layer */
  check_dnnl_threads(64, 3, 32, 16); /* the CIFAR-10 cnn-16's */
  check_dnnl_threads(7, 16, 8, 32);

  /* a changed thread count is followed (OpenBLAS and the cached primitives) */
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  check_sgemm(false, true, 65, 33, 129, 1.0f, 0.0f);
  check_conv(5, 16, 8, 8, 32, 3, 1, 1);
  check_conv(4, 8, 9, 9, 16, 1, 2, 0);
  check_conv(3, 3, 32, 32, 4, 3, 1, 1);
  omp_set_num_threads(threads);

  fa_cpu_state_destroy(state);
  return fa_test_exit();
}
