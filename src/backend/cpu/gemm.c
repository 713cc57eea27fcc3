/* TEMPORARY (replaced by the conv branch). */
#include <cblas.h>
#include "backend/cpu/conv.h"
void fa_cpu_sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, const float *b, float beta,
                  float *c) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a,
              ta ? m : k, b, tb ? k : n, beta, c, n);
}
