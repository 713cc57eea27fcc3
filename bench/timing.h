/* Timing helpers shared by the benchmark programs (not part of the library). */
#ifndef FA_BENCH_TIMING_H
#define FA_BENCH_TIMING_H

#include <stdbool.h>
#include <stddef.h>

#include "core/rng.h"

#define FA_BENCH_MAX_REPS 64

typedef void (*fa_bench_fn)(void *ctx);

/* The median of t[0 .. n), n >= 1 (sorts t). */
double fa_bench_median(double *t, int n);

/* Median seconds of `reps` runs of fn (1..FA_BENCH_MAX_REPS) after `warmup` runs. */
double fa_bench_median_seconds(fa_bench_fn fn, void *ctx, int warmup, int reps);

/* n uniform floats in [-1, 1], 64-byte aligned (free with free()); exits on failure. */
float *fa_bench_random_floats(fa_rng *rng, size_t n);

/* Median seconds of fa_cpu_sgemm C = op(A) op(B) (m x k)(k x n) on the
 * given operands, after one warm-up. */
double fa_bench_sgemm_seconds(bool ta, bool tb, int m, int n, int k, float *a, float *b, float *c, int reps);

/* GFLOP/s of a row-major SGEMM (m x k)(k x n), median of `reps` after one warm-up. */
double fa_bench_sgemm_gflops(fa_rng *rng, bool ta, bool tb, int m, int n, int k, int reps);

/* The machine's reference rate: the best of the square SGEMMs 1024^3 and
 * 2048^3 (printed when `print`). */
double fa_bench_square_sgemm(fa_rng *rng, int reps, bool print);

/* The process's peak resident memory (VmHWM) in MiB; 0 if unknown. */
double fa_bench_peak_rss_mib(void);

#endif
