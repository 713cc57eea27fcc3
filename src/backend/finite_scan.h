/* The first NaN or Inf of a float array, found fast: the exponent bits are
 * tested with an integer OR that the compiler vectorises, and the element
 * is located only when one is there. Backend-neutral and header-only: the
 * CPU backend's first_nonfinite kernel and core's host check
 * (core/finite.h, fa_all_finite) share it. */
#ifndef FA_BACKEND_FINITE_SCAN_H
#define FA_BACKEND_FINITE_SCAN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The index of the first NaN or Inf of x[0..n), n when all are finite. */
static inline size_t fa_scan_first_nonfinite(const float *x, size_t n) {
  /* exponent bits all ones (NaN or Inf) iff (bits & exp) + 1 ulp of exp carries into the sign bit */
  uint32_t any = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t bits;
    memcpy(&bits, x + i, sizeof bits);
    any |= (bits & 0x7f800000u) + 0x00800000u;
  }
  if (!(any & 0x80000000u)) return n;
  size_t i = 0;
  while (i < n && ((x[i] - x[i]) == 0.0f)) i++; /* x - x is NaN exactly for NaN and Inf */
  return i;
}

#endif
