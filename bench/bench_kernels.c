/* Kernel benchmark: the cost of an OpenMP parallel region (fork and join of
 * the threads: what each threaded kernel pays, with OMP_WAIT_POLICY as set),
 * the machine's SGEMM GFLOP/s, then conv forward,
 * grad-input and grad-weight GFLOP/s for every PreAct ResNet-18 (CIFAR-10)
 * convolution and the small cnn's at batch 128, each with its fraction of the
 * square SGEMM rate, then the three products of the models' linear layers.
 * Each figure is the median of REPS timed runs after one warm-up run; FILTER
 * keeps the layers whose name contains it.
 *   usage: bench_kernels [batch] [reps] [filter]    (defaults 128, 7, all) */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/conv.h"
#include "core/rng.h"
#include "timing.h"

static int reps = 7;

/* ---- an empty parallel region ---- */

enum { REGIONS = 200 };

static void run_regions(void *ctx) {
  volatile int *sink = ctx;
  for (int r = 0; r < REGIONS; r++) {
#pragma omp parallel
    sink[omp_get_thread_num() % 64] = r;
  }
}

/* ---- convolution ---- */

typedef struct {
  fa_cpu_state *state; /* the convolutions' caches and workspace */
  fa_conv_geom g;
  int which; /* 0 forward, 1 grad-input, 2 grad-weight */
  float *x, *w, *y;
} conv_case;

static void run_conv(void *ctx) {
  const conv_case *c = ctx;
  if (c->which == 0) fa_cpu_conv2d_forward(c->state, &c->g, c->x, c->w, NULL, c->y);
  if (c->which == 1) fa_cpu_conv2d_grad_input(c->state, &c->g, c->y, c->w, c->x);
  if (c->which == 2) fa_cpu_conv2d_grad_weight(c->state, &c->g, c->y, c->x, c->w);
}

typedef struct {
  const char *name;
  int c_in, hw, c_out, k, stride, pad;
} layer;

/* The convolutions of PreAct ResNet-18 on 32x32 inputs (each distinct shape
 * once), then the single-layer cnn's: 4 filters on CIFAR-10, 16 on Fashion-MNIST
 * and on CIFAR-10. */
static const layer layers[] = {
    {"conv1 3->64 @32", 3, 32, 64, 3, 1, 1},
    {"64->64 @32", 64, 32, 64, 3, 1, 1},
    {"64->128 s2 @32", 64, 32, 128, 3, 2, 1},
    {"sc 64->128 1x1 s2", 64, 32, 128, 1, 2, 0},
    {"128->128 @16", 128, 16, 128, 3, 1, 1},
    {"128->256 s2 @16", 128, 16, 256, 3, 2, 1},
    {"sc 128->256 1x1 s2", 128, 16, 256, 1, 2, 0},
    {"256->256 @8", 256, 8, 256, 3, 1, 1},
    {"256->512 s2 @8", 256, 8, 512, 3, 2, 1},
    {"sc 256->512 1x1 s2", 256, 8, 512, 1, 2, 0},
    {"512->512 @4", 512, 4, 512, 3, 1, 1},
    {"cnn 3->4 @32", 3, 32, 4, 3, 1, 1},
    {"cnn 1->16 @28", 1, 28, 16, 3, 1, 1},
    {"cnn 3->16 @32", 3, 32, 16, 3, 1, 1},
};

/* The linear layers (features -> 10 classes): cnn-4's on CIFAR-10, cnn-16's
 * on Fashion-MNIST, ResNet-18's. */
static const struct {
  const char *name;
  int features;
} linears[] = {{"linear cnn-4 4096->10", 4096}, {"linear cnn-16 12544->10", 12544}, {"linear resnet 512->10", 512}};

/* Milliseconds of the layer's forward X W^T, grad-input G W and grad-weight
 * G^T X as fa_cpu_sgemm computes them. */
static void bench_linear(fa_rng *rng, int batch, int features, int classes, double ms[3]) {
  float *x = fa_bench_random_floats(rng, (size_t)batch * features);
  float *w = fa_bench_random_floats(rng, (size_t)classes * features);
  float *g = fa_bench_random_floats(rng, (size_t)batch * classes);
  const int shapes[3][5] = {{false, true, batch, classes, features},
                            {false, false, batch, features, classes},
                            {true, false, classes, features, batch}};
  float *const operands[3][3] = {{x, w, g}, {g, w, x}, {g, x, w}}; /* A, B, C */
  for (int p = 0; p < 3; p++) {
    const int *s = shapes[p];
    float *const *o = operands[p];
    ms[p] = 1e3 * fa_bench_sgemm_seconds(s[0], s[1], s[2], s[3], s[4], o[0], o[1], o[2], reps);
  }
  free(x), free(w), free(g);
}

int main(int argc, char **argv) {
  int batch = argc > 1 ? atoi(argv[1]) : 128;
  reps = argc > 2 ? atoi(argv[2]) : 7;
  const char *filter = argc > 3 ? argv[3] : "";
  if (batch < 1 || reps < 1 || reps > FA_BENCH_MAX_REPS) {
    fprintf(stderr, "usage: bench_kernels [batch >= 1] [reps 1..%d] [layer name filter]\n", FA_BENCH_MAX_REPS);
    return 2;
  }
  fa_rng rng = fa_rng_stream(1, FA_STREAM_INIT);
  printf("threads %d, batch %d, median of %d runs after 1 warm-up\n\n", omp_get_max_threads(), batch, reps);
  static int sink[64];
  printf("an empty OpenMP parallel region (fork and join): %.1f us\n\n",
         fa_bench_median_seconds(run_regions, sink, 1, reps) / REGIONS * 1e6);
  printf("SGEMM (row-major, C = A B)\n");
  const double peak = fa_bench_square_sgemm(&rng, reps, true);
  printf("  reference: %.1f GFLOP/s (frac below = conv GFLOP/s / reference)\n\n", peak);

  printf("%-19s %5s | %6s %4s | %6s %4s | %6s %4s | %7s | %s\n", "conv, GFLOP/s", "GFLOP", "fwd", "frac",
         "gradin", "frac", "gradw", "frac", "scratch", "im2col GEMM M x N x K: GFLOP/s fwd, gradin, gradw");
  size_t scratch_max = 0;
  fa_cpu_state *state = fa_cpu_state_create();
  if (!state) {
    fprintf(stderr, "bench_kernels: out of memory\n");
    return 1;
  }
  for (size_t l = 0; l < sizeof layers / sizeof layers[0]; l++) {
    const layer *L = &layers[l];
    if (!strstr(L->name, filter)) continue;
    fa_cpu_conv_release(state); /* so that the scratch column is this layer's own */
    conv_case c = {.state = state, .g = {.n = batch, .c_in = L->c_in, .h_in = L->hw, .w_in = L->hw, .c_out = L->c_out,
                         .k = L->k, .stride = L->stride, .pad = L->pad}};
    fa_conv_geom_finish(&c.g);
    const long p = (long)c.g.h_out * c.g.w_out, ckk = (long)L->c_in * L->k * L->k;
    c.x = fa_bench_random_floats(&rng, (size_t)batch * L->c_in * L->hw * L->hw);
    c.w = fa_bench_random_floats(&rng, (size_t)L->c_out * ckk);
    c.y = fa_bench_random_floats(&rng, (size_t)batch * L->c_out * p);
    double flop = 2.0 * batch * L->c_out * p * ckk, gf[3];
    for (c.which = 0; c.which < 3; c.which++)
      gf[c.which] = flop / fa_bench_median_seconds(run_conv, &c, 1, reps) * 1e-9;
    const size_t scratch = fa_cpu_conv_scratch_bytes(state);
    if (scratch > scratch_max) scratch_max = scratch;
    /* the same layer lowered to one GEMM over 4096 output pixels, for comparison */
    double gg[3] = {fa_bench_sgemm_gflops(&rng, false, false, L->c_out, 4096, (int)ckk, reps),
                    fa_bench_sgemm_gflops(&rng, true, false, (int)ckk, 4096, L->c_out, reps),
                    fa_bench_sgemm_gflops(&rng, false, true, L->c_out, (int)ckk, 4096, reps)};
    printf("%-19s %5.2f | %6.1f %4.2f | %6.1f %4.2f | %6.1f %4.2f | %6.1fM | ", L->name, flop * 1e-9, gf[0],
           gf[0] / peak, gf[1], gf[1] / peak, gf[2], gf[2] / peak, scratch / 1048576.0);
    printf("%4ld x 4096 x %4ld: %3.0f, %3.0f, %3.0f\n", (long)L->c_out, ckk, gg[0], gg[1], gg[2]);
    free(c.x), free(c.w), free(c.y);
  }
  printf("\n%-24s | %8s | %8s | %8s   (ms, batch %d)\n", "linear, ms", "fwd XW^T", "gradin GW", "gradw G^TX", batch);
  for (size_t l = 0; l < sizeof linears / sizeof linears[0]; l++) {
    if (!strstr(linears[l].name, filter)) continue;
    double ms[3];
    bench_linear(&rng, batch, linears[l].features, 10, ms);
    printf("%-24s | %8.3f | %8.3f | %8.3f\n", linears[l].name, ms[0], ms[1], ms[2]);
  }
  const double again = fa_bench_square_sgemm(&rng, reps, false);
  printf("\nscratch of the largest layer: %.1f MiB\nsquare SGEMM at the end: %.1f GFLOP/s (%+.0f%%)%s\n",
         scratch_max / 1048576.0, again, 100.0 * (again / peak - 1.0),
         fabs(again / peak - 1.0) > 0.1 ? ": the machine was busy, the numbers are noisy" : "");
  fa_cpu_state_destroy(state);
  return 0;
}
