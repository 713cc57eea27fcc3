/* C = alpha A^T B + beta C with at most FA_SKINNY rows (the small cnn's
 * linear layer's weight gradient: (10 x 128) . (128 x 4096)), which OpenBLAS
 * packs B for: 0.31 ms on one core against 0.14 ms here, measured. Each
 * vector of columns of C runs down the rows of B once, one accumulator per
 * row of C. (The layer's other two products, with 10 columns or an inner
 * dimension of 10, stay on OpenBLAS: plain loops of this kind measured 0.29
 * and 0.37 ms against its 0.24 and 0.27.) Row-major, packed; compiled with
 * FMA contraction (CMakeLists.txt). Each entry of C is computed by one thread
 * in a fixed order: results do not depend on timing. */
#include "backend/cpu/gemm_impl.h"

#include <omp.h>

#include "backend/cpu/vec16.h"

enum { FA_SKINNY_PAR_MIN = 1 << 16 }; /* multiply-adds below which one thread does it all */

/* alpha s + beta c, where beta 0 ignores c (NaN included) */
static inline float scaled(float alpha, float s, float beta, float c) {
  return beta == 0.0f ? alpha * s : alpha * s + beta * c;
}

/* A (k x m), B (k x n), m <= FA_SKINNY */
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
      for (int o = 0; o < FA_SKINNY; o++)
        if (o < m) acc[o] += a[(long)l * m + o] * bv;
    }
    for (int o = 0; o < m; o++) {
      float *co = c + (long)o * n + j;
      fa_vec16_store(co, beta == 0.0f ? alpha * acc[o] : alpha * acc[o] + beta * fa_vec16_load(co));
    }
  }
  for (int j = chunks * FA_VEC; j < n; j++)
    for (int o = 0; o < m; o++) {
      float s = 0;
      for (int l = 0; l < k; l++) s += a[(long)l * m + o] * b[(long)l * n + j];
      c[(long)o * n + j] = scaled(alpha, s, beta, c[(long)o * n + j]);
    }
}
