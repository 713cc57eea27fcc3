/* bfloat16 products (--half_prec, docs/PERFORMANCE.md "bfloat16"): a
 * convolution whose geometry has bf16 set, or an sgemm called with bf16,
 * computes the sums of the float32 definition from factors rounded to
 * bfloat16 (the upper 16 bits of a float32, rounded to nearest, ties to
 * even), summing in float32 or wider, with float32 results. The product of
 * two bfloat16 values is exact in float32, so the definition leaves only the
 * summation order to the backend: what oneDNN's bfloat16 kernels (float32
 * accumulation) and PyTorch's CPU autocast compute. */
#ifndef FA_BACKEND_BF16_H
#define FA_BACKEND_BF16_H

#include <stdint.h>
#include <string.h>

/* x rounded to the nearest bfloat16 (ties to even), as a float; NaN stays NaN. */
static inline float fa_bf16_round(float x) {
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return x; /* NaN: rounding could carry it into Inf */
  u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
  memcpy(&x, &u, sizeof u);
  return x;
}

#endif
