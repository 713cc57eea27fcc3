/* Sixteen floats as one value (GCC/Clang vector extension: one AVX-512
 * register, two AVX ones), for the hand-written kernels of backend/cpu.
 * Inside backend/cpu only; a file that uses it is compiled with
 * -Wno-psabi (CMakeLists.txt): such values pass between its static
 * functions, whose ABI GCC warns about without AVX-512. */
#ifndef FA_BACKEND_CPU_VEC16_H
#define FA_BACKEND_CPU_VEC16_H

#include <string.h>

enum { FA_VEC = 16 };

typedef float fa_vec16 __attribute__((vector_size(FA_VEC * sizeof(float))));

/* loads and stores of any alignment */
static inline fa_vec16 fa_vec16_load(const float *p) {
  fa_vec16 v;
  memcpy(&v, p, sizeof v);
  return v;
}
static inline void fa_vec16_store(float *p, fa_vec16 v) { memcpy(p, &v, sizeof v); }

/* The sum of the 16 lanes, in a fixed order (halves added pairwise). */
static inline float fa_vec16_sum(fa_vec16 v) {
  float s[FA_VEC];
  memcpy(s, &v, sizeof s);
  for (int w = FA_VEC / 2; w > 0; w /= 2)
    for (int i = 0; i < w; i++) s[i] += s[i + w];
  return s[0];
}

/* Keeps a loaded vector in a register. GCC otherwise folds the load into each
 * FMA that uses it: one load per FMA instead of one per several FMAs
 * (measured: 1.5x on the small convolutions). Only where a vector is one
 * register. */
#if defined(__GNUC__) && defined(__AVX512F__)
#define FA_VEC16_IN_REGISTER(v) __asm__("" : "+v"(v))
#else
#define FA_VEC16_IN_REGISTER(v) ((void)0)
#endif

#endif
