#include "timing.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/conv.h"

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double fa_bench_median(double *t, int n) {
  qsort(t, (size_t)n, sizeof t[0], cmp_double);
  return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

double fa_bench_median_seconds(fa_bench_fn fn, void *ctx, int warmup, int reps) {
  double t[FA_BENCH_MAX_REPS];
  if (reps < 1) reps = 1;
  if (reps > FA_BENCH_MAX_REPS) reps = FA_BENCH_MAX_REPS;
  for (int w = 0; w < warmup; w++) fn(ctx);
  for (int r = 0; r < reps; r++) {
    double t0 = omp_get_wtime();
    fn(ctx);
    t[r] = omp_get_wtime() - t0;
  }
  return fa_bench_median(t, reps);
}

float *fa_bench_random_floats(fa_rng *rng, size_t n) {
  float *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
  if (!p) {
    fprintf(stderr, "benchmark: out of memory\n");
    exit(1);
  }
  fa_rng_fill_uniform(rng, p, n, -1.0f, 1.0f);
  return p;
}

typedef struct {
  bool ta, tb;
  int m, n, k;
  float *a, *b, *c;
} gemm_case;

static void run_gemm(void *ctx) {
  const gemm_case *g = ctx;
  fa_cpu_sgemm(g->ta, g->tb, g->m, g->n, g->k, 1.0f, g->a, g->b, 0.0f, g->c);
}

double fa_bench_sgemm_seconds(bool ta, bool tb, int m, int n, int k, float *a, float *b, float *c, int reps) {
  gemm_case g = {ta, tb, m, n, k, a, b, c};
  return fa_bench_median_seconds(run_gemm, &g, 1, reps);
}

double fa_bench_sgemm_gflops(fa_rng *rng, bool ta, bool tb, int m, int n, int k, int reps) {
  float *a = fa_bench_random_floats(rng, (size_t)m * k), *b = fa_bench_random_floats(rng, (size_t)k * n),
        *c = fa_bench_random_floats(rng, (size_t)m * n);
  double s = fa_bench_sgemm_seconds(ta, tb, m, n, k, a, b, c, reps);
  free(a), free(b), free(c);
  return 2.0 * m * n * k / s * 1e-9;
}

double fa_bench_square_sgemm(fa_rng *rng, int reps, bool print) {
  double best = 0;
  for (int s = 1024; s <= 2048; s *= 2) {
    double gf = fa_bench_sgemm_gflops(rng, false, false, s, s, s, reps);
    if (print) printf("  %4d x %4d x %4d  %7.1f GFLOP/s\n", s, s, s, gf);
    if (gf > best) best = gf;
  }
  return best;
}

double fa_bench_peak_rss_mib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  double kib = 0;
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, "VmHWM:", 6)) kib = atof(line + 6);
  fclose(f);
  return kib / 1024.0;
}
