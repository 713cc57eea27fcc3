/* Inside backend/cpu's GEMM: the hand-written kernels for the skinny shapes
 * that fa_cpu_sgemm (conv.h) hands over instead of calling OpenBLAS. Row-major,
 * packed; C (m x n) = alpha op(A) op(B) + beta C as in fa_cpu_sgemm. */
#ifndef FA_BACKEND_CPU_GEMM_IMPL_H
#define FA_BACKEND_CPU_GEMM_IMPL_H

enum { FA_SKINNY = 16 }; /* the largest small dimension the kernels take */

/* op(A) = A^T, op(B) = B, m <= FA_SKINNY */
void fa_cpu_gemm_few_rows(int m, int n, int k, float alpha, const float *a, const float *b, float beta,
                          float *c);

/* op(A) = A, op(B) = B^T, n <= FA_SKINNY */
void fa_cpu_gemm_few_cols(int m, int n, int k, float alpha, const float *a, const float *b, float beta, float *c);

/* op(A) = A, op(B) = B, k <= FA_SKINNY */
void fa_cpu_gemm_small_inner(int m, int n, int k, float alpha, const float *a, const float *b, float beta,
                             float *c);

#endif
