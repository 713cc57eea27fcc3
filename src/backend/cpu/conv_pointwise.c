/* 1x1 convolutions without padding (ResNet shortcuts), straight on NCHW: no
 * layout reorders, which cost more than the arithmetic for these layers.
 *
 * Images go in groups of G, G*P >= FA_PW_COLS (P = h_out*w_out). For a group
 *   xs (c_in, G*P)   the inputs at the output pixels (every stride-th row, column)
 *   ym (c_out, G*P)  the outputs or output gradients
 *   forward      ym  = W (c_out, c_in) . xs     then copied to y
 *   grad_input   xs  = W^T . ym                 then put in gx, zeros between samples
 *   grad_weight  gw += ym . xs^T                partial sums per thread, added in thread order
 * Each thread takes whole groups with a single-threaded GEMM (OpenBLAS runs
 * serially inside a parallel region); with fewer groups than threads, one
 * thread walks the groups and the GEMM is threaded. A group of one image uses
 * the tensors in place wherever the layouts coincide. */
#include <omp.h>
#include <stdbool.h>
#include <string.h>

#include "backend/cpu/conv_impl.h"

enum { FA_PW_COLS = 256 }; /* GEMM columns per group, at least */

/* mat (C, G*P) <- images t (G, C, h, w) at rows and columns 0, s, 2s, ... (P = ho*wo) */
static void gather(const float *t, int group, int channels, int h, int w, int s, int ho, int wo, float *mat) {
  const long p = (long)ho * wo;
  for (int b = 0; b < group; b++)
    for (int c = 0; c < channels; c++) {
      const float *src = t + ((long)b * channels + c) * h * w;
      float *dst = mat + (long)c * group * p + b * p;
      if (s == 1) {
        memcpy(dst, src, sizeof(float) * p);
        continue;
      }
      for (int i = 0; i < ho; i++)
        for (int j = 0; j < wo; j++) dst[i * wo + j] = src[(long)i * s * w + (long)j * s];
    }
}

/* images t (G, C, h, w) <- mat (C, G*P) at the sampled pixels, zeros elsewhere */
static void scatter(const float *mat, int group, int channels, int h, int w, int s, int ho, int wo,
                    float *t) {
  const long p = (long)ho * wo;
  for (int b = 0; b < group; b++)
    for (int c = 0; c < channels; c++) {
      const float *src = mat + (long)c * group * p + b * p;
      float *dst = t + ((long)b * channels + c) * h * w;
      if (s == 1) {
        memcpy(dst, src, sizeof(float) * p);
        continue;
      }
      memset(dst, 0, sizeof(float) * h * w);
      for (int i = 0; i < ho; i++)
        for (int j = 0; j < wo; j++) dst[(long)i * s * w + (long)j * s] = src[i * wo + j];
    }
}

typedef struct {
  const fa_conv_geom *g;
  int group; /* images per group */
  long p;    /* output pixels per image */
  float *x, *w, *y;
} pw_call;

/* Runs group i of the call; xbuf (c_in, G*P) and ybuf (c_out, G*P) are this
 * thread's buffers, acc its grad-weight sum (beta 0 on its first group). */
static void run_group(const pw_call *c, fa_conv_dir dir, int i, float *xbuf, float *ybuf, float *acc,
                      bool first) {
  const fa_conv_geom *g = c->g;
  const int b0 = i * c->group, gs = g->n - b0 < c->group ? g->n - b0 : c->group, s = g->stride;
  const int cols = (int)(gs * c->p);
  float *xi = c->x + (long)b0 * g->c_in * g->h_in * g->w_in, *yi = c->y + b0 * g->c_out * c->p;
  const bool x_in_place = gs == 1 && s == 1, y_in_place = gs == 1;
  if (dir != FA_CONV_GRAD_INPUT && !x_in_place)
    gather(xi, gs, g->c_in, g->h_in, g->w_in, s, g->h_out, g->w_out, xbuf);
  if (dir != FA_CONV_FORWARD && !y_in_place)
    gather(yi, gs, g->c_out, g->h_out, g->w_out, 1, g->h_out, g->w_out, ybuf);
  float *xm = x_in_place ? xi : xbuf, *ym = y_in_place ? yi : ybuf;
  if (dir == FA_CONV_FORWARD) {
    fa_cpu_sgemm(false, false, g->c_out, cols, g->c_in, 1.0f, c->w, xm, 0.0f, ym);
    if (!y_in_place) scatter(ym, gs, g->c_out, g->h_out, g->w_out, 1, g->h_out, g->w_out, yi);
  } else if (dir == FA_CONV_GRAD_INPUT) {
    fa_cpu_sgemm(true, false, g->c_in, cols, g->c_out, 1.0f, c->w, ym, 0.0f, xm);
    if (!x_in_place) scatter(xm, gs, g->c_in, g->h_in, g->w_in, s, g->h_out, g->w_out, xi);
  } else {
    fa_cpu_sgemm(false, true, g->c_out, g->c_in, cols, 1.0f, ym, xm, first ? 0.0f : 1.0f, acc);
  }
}

/* This thread's share of the groups (all of them outside a parallel region).
 * Thread t's buffers start at ws + t * per; grad-weight sums of threads > 0
 * follow their buffers, thread 0 sums straight into gw. */
static void run_groups(const pw_call *c, fa_conv_dir dir, int groups, float *ws, long per, int *team) {
  const fa_conv_geom *g = c->g;
  const int t = omp_get_thread_num();
  if (t == 0) *team = omp_get_num_threads();
  float *xbuf = ws + t * per, *ybuf = xbuf + (long)g->c_in * c->group * c->p;
  float *acc = t == 0 ? c->w : ybuf + (long)g->c_out * c->group * c->p;
  bool first = true;
#pragma omp for schedule(static)
  for (int i = 0; i < groups; i++) {
    run_group(c, dir, i, xbuf, ybuf, acc, first);
    first = false;
  }
  if (dir == FA_CONV_GRAD_WEIGHT && first) memset(acc, 0, sizeof(float) * g->c_out * g->c_in);
}

void fa_cpu_conv_pointwise(fa_cpu_state *s, const fa_conv_geom *g, fa_conv_dir dir, float *x, float *w, float *y) {
  pw_call c = {.g = g, .p = (long)g->h_out * g->w_out, .x = x, .w = w, .y = y};
  c.group = (int)((FA_PW_COLS + c.p - 1) / c.p);
  if (c.group > g->n) c.group = g->n;
  const int groups = (g->n + c.group - 1) / c.group, threads = omp_get_max_threads();
  const long wn = (long)g->c_out * g->c_in, bufs = (g->c_in + g->c_out) * c.group * c.p;
  const long per = bufs + (dir == FA_CONV_GRAD_WEIGHT ? wn : 0); /* floats per thread */
  /* Fewer groups than threads: no parallel region at all, since OpenBLAS
   * would run nested in it, on fresh threads each call (measured 10x slower). */
  const bool parallel = threads > 1 && groups >= threads;
  float *ws = fa_cpu_conv_workspace(s, sizeof(float) * (size_t)((parallel ? threads : 1) * per));
  int team = 1; /* threads the runtime gave */
  if (parallel) {
#pragma omp parallel
    run_groups(&c, dir, groups, ws, per, &team);
  } else {
    run_groups(&c, dir, groups, ws, per, &team);
  }
  if (dir == FA_CONV_GRAD_WEIGHT && team > 1) {
#pragma omp parallel for schedule(static)
    for (long i = 0; i < wn; i++)
      for (int t = 1; t < team; t++) w[i] += ws[t * per + bufs + i];
  }
}
