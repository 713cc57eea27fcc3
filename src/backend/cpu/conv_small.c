/* Direct stride-1 convolutions for layers with few channels (the paper's
 * single-layer cnn: 3 -> 4 filters), straight on NCHW. oneDNN pads channels
 * to blocks of 16 and reorders every tensor around the call, so on such a
 * layer it does 4x the arithmetic plus copies (docs/PERFORMANCE.md).
 *
 * With xp the input zero-padded by pad on each side (per image and channel):
 *   forward      y[n,o,i,j]  = sum_{c,a,b} w[o,c,a,b] xp[n,c,i+a,j+b]
 *   grad_input   gx = the forward convolution of gy, padded by k-1-pad, with
 *                w' (c_in, c_out, k, k), w'[c,o,a,b] = w[o,c,k-1-a,k-1-b]
 *   grad_weight  gw[o,c,a,b] = sum_{n,i,j} gy[n,o,i,j] xp[n,c,i+a,j+b]
 * Images are split over the threads. forward walks each output row in steps
 * of FA_SC_CHUNKS vectors and the output channels in blocks of FA_SC_OB, with
 * one vector accumulator per chunk and channel (8 registers: 8 independent
 * FMA chains); this file is compiled with FMA contraction (CMakeLists.txt).
 * grad_weight sums an image in float and the images in double, per thread,
 * then the threads in thread order: the result depends on the thread count,
 * not on timing. */
#include <omp.h>
#include <string.h>

#include "backend/cpu/conv_impl.h"
#include "backend/cpu/vec16.h"

enum {
  FA_SC_VEC = FA_VEC, /* columns per chunk (one vector) */
  FA_SC_CHUNKS = 2,   /* chunks per step along an output row */
  FA_SC_STEP = FA_SC_VEC * FA_SC_CHUNKS,
  FA_SC_OB = 4,       /* output channels per block */
  FA_SC_CHANNELS = 16, /* the most channels in or out a pass takes (a multiple of FA_SC_OB) */
  FA_SC_MAX_K = 7,     /* the largest kernel size */
  /* Where the direct passes beat oneDNN (bench_kernels, batch 64, one thread;
   * docs/PERFORMANCE.md "The cnn-16's first layer"): forward and grad-input
   * (a forward pass from in to out channels) with at least FA_SC_MIN_TAPS
   * multiply-adds per output and FA_SC_MIN_OUT output channels (a block of
   * FA_SC_OB mostly used); grad-weight up to FA_SC_GW_CHANNELS channels. */
  FA_SC_MIN_TAPS = 27,
  FA_SC_MIN_OUT = 3,
  FA_SC_GW_CHANNELS = 8,
};

static int round_up(int v, int m) { return (v + m - 1) / m * m; }

bool fa_cpu_conv_small_fits(const fa_conv_geom *g, fa_conv_dir dir) {
  if (g->stride != 1 || g->pad >= g->k || g->k > FA_SC_MAX_K) return false;
  if (dir == FA_CONV_GRAD_WEIGHT) return g->c_in <= FA_SC_GW_CHANNELS && g->c_out <= FA_SC_GW_CHANNELS;
  const int in = dir == FA_CONV_GRAD_INPUT ? g->c_out : g->c_in, out = dir == FA_CONV_GRAD_INPUT ? g->c_in : g->c_out;
  return in <= FA_SC_CHANNELS && out <= FA_SC_CHANNELS && out >= FA_SC_MIN_OUT && in * g->k * g->k >= FA_SC_MIN_TAPS;
}

/* The zero-padded planes of one image: x (c, h, w) -> xp (c, h + 2 pad, wp), the
 * image at row and column pad, zeros around and up to column wp. */
static void pad_image(const float *x, int c, int h, int w, int pad, int wp, float *xp) {
  const int hp = h + 2 * pad;
  memset(xp, 0, sizeof(float) * c * hp * wp);
  for (int ch = 0; ch < c; ch++)
    for (int i = 0; i < h; i++)
      memcpy(xp + ((long)ch * hp + i + pad) * wp + pad, x + ((long)ch * h + i) * w, sizeof(float) * w);
}

/* The geometry of one forward pass of the kernel below */
typedef struct {
  int c_in, h_in, w_in, c_out, k, pad, h_out, w_out;
} direct_geom;

/* Columns of a padded plane: every step's reads (up to column
 * round_up(w_out, STEP) - 1 + k - 1) stay inside the row. */
static int padded_width(const direct_geom *d) { return round_up(d->w_out, FA_SC_STEP) + d->k - 1; }

/* acc[h][q] += sum_{c,a,b} wblk[c][a][b][q] xp[c][a][h*VEC + b ...], from xp at
 * an output row's first tap: the FA_SC_STEP columns of one step of one output
 * row, for one block of output channels. Inlined with k a constant. */
static inline __attribute__((always_inline)) void taps(int c_in, int k, long plane, int wp, const float *xp,
                                                       const float *wblk, fa_vec16 acc[FA_SC_CHUNKS][FA_SC_OB]) {
  for (int c = 0; c < c_in; c++)
    for (int a = 0; a < k; a++) {
      const float *row = xp + c * plane + (long)a * wp;
      const float *wr = wblk + ((long)c * k + a) * k * FA_SC_OB;
      for (int b = 0; b < k; b++)
        for (int h = 0; h < FA_SC_CHUNKS; h++) {
          fa_vec16 xv = fa_vec16_load(row + h * FA_SC_VEC + b);
          FA_VEC16_IN_REGISTER(xv);
          for (int q = 0; q < FA_SC_OB; q++) acc[h][q] += wr[b * FA_SC_OB + q] * xv;
        }
    }
}

/* y (n, c_out, h_out, w_out) = conv(x (n, c_in, h_in, w_in), w) + bias (c_out,
 * or NULL) where wb holds w by blocks: wb[blk][c][a][b][q] = w[blk*OB + q][c][a][b],
 * zero past c_out. */
static void direct_forward(fa_cpu_state *s, const direct_geom *d, int n, const float *x, const float *wb,
                           const float *bias, float *y) {
  const int hp = d->h_in + 2 * d->pad, wp = padded_width(d), kk = d->k * d->k;
  const long plane_in = (long)d->h_in * d->w_in, plane_out = (long)d->h_out * d->w_out, plane_p = (long)hp * wp;
  const long scratch_floats = d->c_in * plane_p;
  float *scratch = fa_cpu_conv_workspace(s, sizeof(float) * scratch_floats * omp_get_max_threads());
#pragma omp parallel for schedule(static)
  for (int img = 0; img < n; img++) {
    float *xp = scratch + scratch_floats * omp_get_thread_num();
    pad_image(x + (long)img * d->c_in * plane_in, d->c_in, d->h_in, d->w_in, d->pad, wp, xp);
    float *yi = y + (long)img * d->c_out * plane_out;
    for (int blk = 0; blk * FA_SC_OB < d->c_out; blk++) {
      const float *wblk = wb + (long)blk * d->c_in * kk * FA_SC_OB;
      const int q_end = d->c_out - blk * FA_SC_OB < FA_SC_OB ? d->c_out - blk * FA_SC_OB : FA_SC_OB;
      for (int i = 0; i < d->h_out; i++)
        for (int j0 = 0; j0 < d->w_out; j0 += FA_SC_STEP) {
          fa_vec16 acc[FA_SC_CHUNKS][FA_SC_OB];
          memset(acc, 0, sizeof acc);
          const float *at = xp + (long)i * wp + j0;
          switch (d->k) {
            case 3: taps(d->c_in, 3, plane_p, wp, at, wblk, acc); break;
            case 5: taps(d->c_in, 5, plane_p, wp, at, wblk, acc); break;
            default: taps(d->c_in, d->k, plane_p, wp, at, wblk, acc); break;
          }
          for (int h = 0; h < FA_SC_CHUNKS; h++) {
            const int col = j0 + h * FA_SC_VEC, cols = d->w_out - col < FA_SC_VEC ? d->w_out - col : FA_SC_VEC;
            for (int q = 0; q < q_end && cols > 0; q++) {
              float *dst = yi + (blk * FA_SC_OB + q) * plane_out + (long)i * d->w_out + col;
              const fa_vec16 v = bias ? acc[h][q] + bias[blk * FA_SC_OB + q] : acc[h][q];
              if (cols == FA_SC_VEC)
                fa_vec16_store(dst, v);
              else
                memcpy(dst, &v, sizeof(float) * cols);
            }
          }
        }
    }
  }
}

/* wb for direct_forward from filters f (co, ci, k, k); flip_transpose uses
 * f'[c][o][a][b] = f[o][c][k-1-a][k-1-b] instead (grad_input). */
static void block_filters(const float *f, int co, int ci, int k, bool flip_transpose, float *wb) {
  const int kk = k * k, out = flip_transpose ? ci : co, in = flip_transpose ? co : ci;
  memset(wb, 0, sizeof(float) * round_up(out, FA_SC_OB) * in * kk);
  for (int o = 0; o < out; o++)
    for (int c = 0; c < in; c++)
      for (int a = 0; a < k; a++)
        for (int b = 0; b < k; b++) {
          const float v = flip_transpose ? f[(((long)c * ci + o) * k + k - 1 - a) * k + k - 1 - b]
                                         : f[(((long)o * ci + c) * k + a) * k + b];
          wb[((((long)(o / FA_SC_OB) * in + c) * k + a) * k + b) * FA_SC_OB + o % FA_SC_OB] = v;
        }
}

/* acc[q][b] = sum_{i,j} gyp[q][i][j] xpa[i][j + b] over one image's output
 * rows and columns: one input channel c and filter row a (xpa = its padded
 * plane from row a), one block of output channels (gyp, planes of h_out x wq,
 * zero past w_out). Inlined with k a constant. */
static inline __attribute__((always_inline)) void weight_taps(int k, int h_out, int wq, int wp, const float *gyp,
                                                              const float *xpa, fa_vec16 acc[FA_SC_OB][FA_SC_MAX_K]) {
  const long gplane = (long)h_out * wq;
  fa_vec16 s[FA_SC_OB][FA_SC_MAX_K]; /* registers when k is a constant */
  for (int q = 0; q < FA_SC_OB; q++)
    for (int b = 0; b < k; b++) s[q][b] = (fa_vec16){0};
  for (int i = 0; i < h_out; i++)
    for (int j0 = 0; j0 < wq; j0 += FA_SC_VEC) {
      fa_vec16 xv[FA_SC_MAX_K];
      for (int b = 0; b < k; b++) {
        xv[b] = fa_vec16_load(xpa + (long)i * wp + j0 + b);
        FA_VEC16_IN_REGISTER(xv[b]);
      }
      for (int q = 0; q < FA_SC_OB; q++) {
        const fa_vec16 gv = fa_vec16_load(gyp + q * gplane + (long)i * wq + j0);
        for (int b = 0; b < k; b++) s[q][b] += gv * xv[b];
      }
    }
  for (int q = 0; q < FA_SC_OB; q++)
    for (int b = 0; b < k; b++) acc[q][b] = s[q][b];
}

/* gw (c_out, c_in, k, k) = sum over images of gy . xp, see the top of the file. */
static void direct_grad_weight(fa_cpu_state *s, const fa_conv_geom *g, const float *x, const float *gy, float *gw) {
  const direct_geom d = {g->c_in, g->h_in, g->w_in, g->c_out, g->k, g->pad, g->h_out, g->w_out};
  const int k = g->k, kk = k * k, hp = g->h_in + 2 * g->pad, wp = padded_width(&d);
  const int wq = round_up(g->w_out, FA_SC_VEC), c_out_blocks = round_up(g->c_out, FA_SC_OB);
  const long n_w = (long)g->c_out * g->c_in * kk; /* filter entries */
  const long plane_in = (long)g->h_in * g->w_in, plane_out = (long)g->h_out * g->w_out, plane_p = (long)hp * wp;
  const int threads = omp_get_max_threads();
  /* gy's rows are read in place when they are whole vectors and its channels whole blocks */
  const bool gy_in_place = wq == g->w_out && c_out_blocks == g->c_out;
  /* per thread, in floats: xp (c_in, hp, wp), gyp (c_out rounded up to OB, h_out, wq; unless
   * gy_in_place), n_w doubles */
  const long xp_f = g->c_in * plane_p, gyp_f = gy_in_place ? 0 : (long)c_out_blocks * g->h_out * wq;
  const long sums_at = round_up((int)(xp_f + gyp_f), 2), per_thread = sums_at + 2 * n_w;
  float *scratch = fa_cpu_conv_workspace(s, sizeof(float) * per_thread * threads);
#pragma omp parallel
  {
    float *xp = scratch + per_thread * omp_get_thread_num(), *gyp = xp + xp_f;
    double *sum = (double *)(xp + sums_at);
    memset(sum, 0, sizeof(double) * n_w);
    memset(gyp, 0, sizeof(float) * gyp_f); /* the channels past c_out stay zero */
#pragma omp for schedule(static)
    for (int img = 0; img < g->n; img++) {
      pad_image(x + (long)img * g->c_in * plane_in, g->c_in, g->h_in, g->w_in, g->pad, wp, xp);
      const float *gyi = gy + (long)img * g->c_out * plane_out;
      if (!gy_in_place) pad_image(gyi, g->c_out, g->h_out, g->w_out, 0, wq, gyp);
      const float *gys = gy_in_place ? gyi : gyp;
      for (int o0 = 0; o0 < g->c_out; o0 += FA_SC_OB)
        for (int c = 0; c < g->c_in; c++)
          for (int a = 0; a < k; a++) {
            fa_vec16 acc[FA_SC_OB][FA_SC_MAX_K];
            const float *gyb = gys + (long)o0 * g->h_out * wq, *xpa = xp + c * plane_p + (long)a * wp;
            switch (k) {
              case 3: weight_taps(3, g->h_out, wq, wp, gyb, xpa, acc); break;
              case 5: weight_taps(5, g->h_out, wq, wp, gyb, xpa, acc); break;
              default: weight_taps(k, g->h_out, wq, wp, gyb, xpa, acc); break;
            }
            for (int q = 0; q < FA_SC_OB && o0 + q < g->c_out; q++)
              for (int b = 0; b < k; b++) {
                float s = 0;
                for (int t = 0; t < FA_SC_VEC; t++) s += acc[q][b][t];
                sum[((long)(o0 + q) * g->c_in + c) * kk + a * k + b] += s;
              }
          }
    }
  }
  for (long e = 0; e < n_w; e++) {
    double total = 0;
    for (int th = 0; th < threads; th++) total += ((const double *)(scratch + per_thread * th + sums_at))[e];
    gw[e] = (float)total;
  }
}

void fa_cpu_conv_small(fa_cpu_state *s, const fa_conv_geom *g, fa_conv_dir dir, float *x, float *w, float *y,
                       const float *bias) {
  if (dir == FA_CONV_GRAD_WEIGHT) {
    direct_grad_weight(s, g, x, y, w);
    return;
  }
  const bool grad_input = dir == FA_CONV_GRAD_INPUT;
  const int out_c = grad_input ? g->c_in : g->c_out, in_c = grad_input ? g->c_out : g->c_in;
  float wb[FA_SC_CHANNELS * FA_SC_CHANNELS * FA_SC_MAX_K * FA_SC_MAX_K];
  block_filters(w, g->c_out, g->c_in, g->k, grad_input, wb);
  const direct_geom d = grad_input ? (direct_geom){in_c, g->h_out, g->w_out, out_c, g->k, g->k - 1 - g->pad,
                                                   g->h_in, g->w_in}
                                   : (direct_geom){in_c, g->h_in, g->w_in, out_c, g->k, g->pad, g->h_out, g->w_out};
  direct_forward(s, &d, g->n, grad_input ? y : x, wb, grad_input ? NULL : bias, grad_input ? x : y);
}
