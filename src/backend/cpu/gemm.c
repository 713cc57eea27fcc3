/* Single-precision GEMM: a thin wrapper over OpenBLAS (OpenMP build, so its
 * threads are the same libgomp pool as ours and follow omp_get_max_threads()). */
#include <cblas.h>

#include "backend/cpu/conv.h"

/* C (m x n) = alpha * op(A) (m x k) * op(B) (k x n) + beta * C, row-major, packed. */
void fa_cpu_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a,
                  const float *b, float beta, float *c) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) { /* op(A) op(B) is zero: only the scaling of C remains */
    for (long i = 0; i < (long)m * n; i++) c[i] = beta == 0.0f ? 0.0f : beta * c[i];
    return;
  }
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              m, n, k, alpha, a, trans_a ? m : k, b, trans_b ? k : n, beta, c, n);
}
