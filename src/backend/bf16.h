/* bfloat16 products (--half_prec, docs/PERFORMANCE.md "bfloat16"): a
 * convolution whose geometry has bf16 set, or an sgemm called with bf16,
 * computes the sums of the float32 definition from factors rounded to
 * bfloat16 (the upper 16 bits of a float32, rounded to nearest, ties to
 * even), summing in float32 or wider, with float32 results. The product of
 * two bfloat16 values is exact in float32, so the definition leaves only the
 * summation order to the backend: what oneDNN's bfloat16 kernels (float32
 * accumulation) and PyTorch's CPU autocast compute.
 *
 * bfloat16 storage: with --half_prec a model may keep tensors between its
 * layers in bfloat16 (core/dtype.h's FA_BF16: 2 bytes an element, the upper
 * half of the float32 rounded to nearest, ties to even), as PyTorch's
 * autocast keeps its convolutions' outputs; kernels widen them to float32
 * as they read them and round what they store (docs/PERFORMANCE.md,
 * "bfloat16 activations"). */
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

/* x's bfloat16 bits (x rounded as fa_bf16_round; a NaN stays a NaN). */
static inline uint16_t fa_bf16_from_float(float x) {
  x = fa_bf16_round(x);
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  uint16_t h = (uint16_t)(u >> 16);
  return (u & 0x7fffffffu) > 0x7f800000u ? (uint16_t)(h | 0x40u) : h; /* a NaN's low bits alone would read Inf */
}

/* The float32 value of bfloat16 bits h (exact). */
static inline float fa_bf16_to_float(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float x;
  memcpy(&x, &u, sizeof x);
  return x;
}

#endif
