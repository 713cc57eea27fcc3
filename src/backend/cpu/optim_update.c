/* The optimisers' updates on the CPU, as PyTorch 1.13 computes them
 * (backend/backend.h). Each is one pass over a parameter's floats, threaded
 * on large tensors; every element is computed alone, so results do not
 * depend on the thread count. */
#include "backend/cpu/updates.h"

#include <math.h>

/* below this many elements an update runs on one thread */
#define PAR_MIN 32768

void fa_cpu_sgd_update(size_t n, float *restrict p, const float *restrict g, float *restrict buf, float lr,
                       float momentum, float wd) {
#pragma omp parallel for simd schedule(static) if (parallel : n > PAR_MIN)
  for (size_t i = 0; i < n; i++) {
    float d = g[i] + wd * p[i];
    buf[i] = momentum * buf[i] + d;
    p[i] -= lr * buf[i];
  }
}

void fa_cpu_adam_update(size_t n, float *restrict p, const float *restrict g, float *restrict m, float *restrict v,
                        float beta1, float beta2, float eps, float wd, float step_size, float bc2_sqrt) {
  const float one_m_beta1 = (float)(1.0 - (double)beta1), one_m_beta2 = (float)(1.0 - (double)beta2);
#pragma omp parallel for simd schedule(static) if (parallel : n > PAR_MIN)
  for (size_t i = 0; i < n; i++) {
    float d = g[i] + wd * p[i];
    float mi = beta1 * m[i] + one_m_beta1 * d;
    float vi = beta2 * v[i] + one_m_beta2 * d * d;
    m[i] = mi;
    v[i] = vi;
    p[i] -= step_size * (mi / (sqrtf(vi) / bc2_sqrt + eps));
  }
}
