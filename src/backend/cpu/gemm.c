/* Single-precision GEMM: OpenBLAS (OpenMP build, so its threads are the same
 * libgomp pool as ours and oneDNN's), except the shapes of a linear layer
 * with few classes (one dimension at most FA_SKINNY), which go to
 * gemm_skinny.c. */
#include <cblas.h>
#include <omp.h>

#include "backend/cpu/conv_impl.h"
#include "backend/cpu/elementwise.h"
#include "backend/cpu/gemm_impl.h"

/* OpenBLAS fixes its thread count when it is loaded and ignores later
 * omp_set_num_threads(); make it follow omp_get_max_threads(). Inside a
 * parallel region OpenBLAS runs serially, and its count is left alone. */
static void follow_omp_threads(void) {
  if (omp_in_parallel()) return;
  int t = omp_get_max_threads();
  if (openblas_get_num_threads() != t) openblas_set_num_threads(t);
}

/* C (m x n) = alpha * op(A) (m x k) * op(B) (k x n) + beta * C, row-major, packed. */
void fa_cpu_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a,
                  const float *b, float beta, float *c) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) { /* op(A) op(B) is zero: only the scaling of C remains */
    for (long i = 0; i < (long)m * n; i++) c[i] = beta == 0.0f ? 0.0f : beta * c[i];
    return;
  }
  if (trans_a && !trans_b && m <= FA_SKINNY) {
    fa_cpu_gemm_few_rows(m, n, k, alpha, a, b, beta, c);
  } else if (!trans_a && trans_b && n <= FA_SKINNY) {
    fa_cpu_gemm_few_cols(m, n, k, alpha, a, b, beta, c);
  } else if (!trans_a && !trans_b && k <= FA_SKINNY) {
    fa_cpu_gemm_small_inner(m, n, k, alpha, a, b, beta, c);
  } else {
    follow_omp_threads();
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, m, n,
                k, alpha, a, trans_a ? m : k, b, trans_b ? k : n, beta, c, n);
  }
}

void fa_cpu_sgemm_bf16(fa_cpu_state *s, bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                       const float *a, const float *b, float beta, float *c) {
  if (m <= 0 || n <= 0 || k <= 0) {
    fa_cpu_sgemm(trans_a, trans_b, m, n, k, alpha, a, b, beta, c);
    return;
  }
  const size_t na = (size_t)m * k, nb = (size_t)k * n, na_padded = (na + 15) / 16 * 16; /* 64-byte rows */
  float *ra = fa_cpu_conv_workspace(s, (na_padded + nb) * sizeof(float)), *rb = ra + na_padded;
  fa_cpu_round_bf16(na, a, ra);
  fa_cpu_round_bf16(nb, b, rb);
  fa_cpu_sgemm(trans_a, trans_b, m, n, k, alpha, ra, rb, beta, c);
}
