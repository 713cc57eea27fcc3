/* The products of a linear layer with few classes, by hand: OpenBLAS packs
 * the large operand of each, which costs more than the arithmetic (a linear
 * layer 4096 -> 10 at batch 128, one thread, measured in
 * docs/PERFORMANCE.md). Three shapes, each with one small dimension s
 * (at most FA_SKINNY):
 *   A^T B, m = s rows:    the weight gradient G^T X   (10 x 128) . (128 x 4096)
 *   A B^T, n = s columns: the forward pass X W^T      (128 x 4096) . (4096 x 10)
 *   A B,   k = s inner:   the input gradient G W      (128 x 10) . (10 x 4096)
 * Row-major, packed. Each entry of C is computed by one thread in a fixed
 * order of multiplies and adds, not contracted to FMAs (CMakeLists.txt):
 * results do not depend on timing, the number of threads or the build (the
 * unoptimised Debug build gives the Release build's floats; the reference
 * tests' PGD signs depend on them). The kernels are bound by memory, not by
 * the arithmetic: FMAs were no faster (docs/PERFORMANCE.md). */
#include "backend/cpu/gemm_impl.h"

#include <omp.h>
#include <stdbool.h>

#include "backend/cpu/vec16.h"

/* multiply-adds below which one thread does it all: waking the second thread
 * costs ~50 us with passive waits on this machine, and at 1-8 M multiply-adds
 * (the cnn-16's last layer) two threads lost to one (docs/PERFORMANCE.md,
 * "Threads in small passes") */
enum { FA_SKINNY_PAR_MIN = 1 << 23 };

/* alpha s + beta c, where beta 0 ignores c (NaN included) */
static inline float scaled(float alpha, float s, float beta, float c) {
  return beta == 0.0f ? alpha * s : alpha * s + beta * c;
}

static inline fa_vec16 scaled_vec(float alpha, fa_vec16 s, float beta, const float *c) {
  return beta == 0.0f ? alpha * s : alpha * s + beta * fa_vec16_load(c);
}

/* A (k x m), B (k x n), m <= FA_SKINNY. Each vector of columns of C runs
 * down the rows of B once, one accumulator per row of C. */
void fa_cpu_gemm_few_rows(int m, int n, int k, float alpha, const float *a, const float *b, float beta,
                          float *c) {
  const int chunks = n / FA_VEC;
#pragma omp parallel for schedule(static) if ((long)m * n * k >= FA_SKINNY_PAR_MIN)
  for (int ch = 0; ch < chunks; ch++) {
    const int j = ch * FA_VEC;
    fa_vec16 acc[FA_SKINNY];
    for (int o = 0; o < FA_SKINNY; o++) acc[o] = (fa_vec16){0};
    for (int l = 0; l < k; l++) {
      fa_vec16 bv = fa_vec16_load(b + (long)l * n + j);
      FA_VEC16_IN_REGISTER(bv);
#pragma GCC unroll 16
      for (int o = 0; o < FA_SKINNY; o++)
        if (o < m) acc[o] += a[(long)l * m + o] * bv;
    }
    for (int o = 0; o < m; o++) {
      float *co = c + (long)o * n + j;
      fa_vec16_store(co, scaled_vec(alpha, acc[o], beta, co));
    }
  }
  for (int j = chunks * FA_VEC; j < n; j++)
    for (int o = 0; o < m; o++) {
      float s = 0;
      for (int l = 0; l < k; l++) s += a[(long)l * m + o] * b[(long)l * n + j];
      c[(long)o * n + j] = scaled(alpha, s, beta, c[(long)o * n + j]);
    }
}

/* Rows i and i + 1 of C = A B^T with N columns (a constant where inlined),
 * A (m x k), B (N x k): each vector of a row of A is loaded once for all N
 * dot products, each vector of B once for both rows. The sums are 16 lanes
 * in vector order, then the lanes in a fixed tree, then the tail of k. */
static inline __attribute__((always_inline)) void few_cols_row_pair(int N, int k, long i, bool pair, float alpha,
                                                                     const float *a, const float *b, float beta,
                                                                     float *c) {
  const float *a0 = a + i * k, *a1 = pair ? a0 + k : a0;
  fa_vec16 acc0[FA_SKINNY], acc1[FA_SKINNY];
#pragma GCC unroll 16
  for (int j = 0; j < N; j++) acc0[j] = acc1[j] = (fa_vec16){0};
  int l = 0;
  for (; l + FA_VEC <= k; l += FA_VEC) {
    fa_vec16 x0 = fa_vec16_load(a0 + l), x1 = fa_vec16_load(a1 + l);
    FA_VEC16_IN_REGISTER(x0);
    FA_VEC16_IN_REGISTER(x1);
#pragma GCC unroll 16
    for (int j = 0; j < N; j++) {
      fa_vec16 w = fa_vec16_load(b + (long)j * k + l);
      FA_VEC16_IN_REGISTER(w);
      acc0[j] += x0 * w;
      acc1[j] += x1 * w;
    }
  }
#pragma GCC unroll 16
  for (int j = 0; j < N; j++) {
    float s0 = fa_vec16_sum(acc0[j]), s1 = fa_vec16_sum(acc1[j]);
    for (int t = l; t < k; t++) {
      s0 += a0[t] * b[(long)j * k + t];
      s1 += a1[t] * b[(long)j * k + t];
    }
    c[i * N + j] = scaled(alpha, s0, beta, c[i * N + j]);
    if (pair) c[(i + 1) * N + j] = scaled(alpha, s1, beta, c[(i + 1) * N + j]);
  }
}

/* A (m x k), B (n x k), n <= FA_SKINNY: a pair of rows at a time, specialised
 * for each n (inside the parallel loop, which GCC outlines before inlining),
 * so that the 2n accumulators stay in registers. */
void fa_cpu_gemm_few_cols(int m, int n, int k, float alpha, const float *a, const float *b, float beta, float *c) {
  const long pairs = (m + 1) / 2;
#pragma omp parallel for schedule(static) if ((long)m * n * k >= FA_SKINNY_PAR_MIN)
  for (long p = 0; p < pairs; p++) {
    const long i = 2 * p;
    const bool pair = i + 1 < m;
    switch (n) {
#define FA_FEW_COLS_CASE(N) \
  case N: few_cols_row_pair(N, k, i, pair, alpha, a, b, beta, c); break;
      FA_FEW_COLS_CASE(1) FA_FEW_COLS_CASE(2) FA_FEW_COLS_CASE(3) FA_FEW_COLS_CASE(4) FA_FEW_COLS_CASE(5)
      FA_FEW_COLS_CASE(6) FA_FEW_COLS_CASE(7) FA_FEW_COLS_CASE(8) FA_FEW_COLS_CASE(9) FA_FEW_COLS_CASE(10)
      FA_FEW_COLS_CASE(11) FA_FEW_COLS_CASE(12) FA_FEW_COLS_CASE(13) FA_FEW_COLS_CASE(14) FA_FEW_COLS_CASE(15)
      FA_FEW_COLS_CASE(16)
#undef FA_FEW_COLS_CASE
    }
  }
}

/* A (m x k), B (k x n), k <= FA_SKINNY. Each thread takes a range of column
 * vectors; a vector of columns of B is loaded once (k registers) and used
 * for every row of C. */
void fa_cpu_gemm_small_inner(int m, int n, int k, float alpha, const float *a, const float *b, float beta,
                             float *c) {
  const int chunks = n / FA_VEC;
#pragma omp parallel for schedule(static) if ((long)m * n * k >= FA_SKINNY_PAR_MIN)
  for (int ch = 0; ch < chunks; ch++) {
    const int j = ch * FA_VEC;
    fa_vec16 bv[FA_SKINNY];
    for (int l = 0; l < FA_SKINNY; l++) bv[l] = l < k ? fa_vec16_load(b + (long)l * n + j) : (fa_vec16){0};
    for (long i = 0; i < m; i++) {
      const float *ai = a + i * k;
      fa_vec16 acc = ai[0] * bv[0];
#pragma GCC unroll 16
      for (int l = 1; l < FA_SKINNY; l++)
        if (l < k) acc += ai[l] * bv[l];
      fa_vec16_store(c + i * n + j, scaled_vec(alpha, acc, beta, c + i * n + j));
    }
  }
  for (long i = 0; i < m; i++)
    for (int j = chunks * FA_VEC; j < n; j++) {
      float s = 0;
      for (int l = 0; l < k; l++) s += a[i * k + l] * b[(long)l * n + j];
      c[i * n + j] = scaled(alpha, s, beta, c[i * n + j]);
    }
}
