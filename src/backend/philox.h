/* Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2,
 * 3", SC 2011): one 128-bit block of random words from (key, counter), and
 * the uniform fill core/rng.h defines (value i from block counter + i/4, word
 * i%4, 24 random bits). Backend-neutral and header-only: core's host fills
 * (core/rng.c) and the CPU backend's fill_uniform kernel share it, so a
 * random start drawn on the device is the one drawn on the host. */
#ifndef FA_BACKEND_PHILOX_H
#define FA_BACKEND_PHILOX_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FA_PHILOX_M0 0xD2511F53u
#define FA_PHILOX_M1 0xCD9E8D57u
#define FA_PHILOX_W0 0x9E3779B9u
#define FA_PHILOX_W1 0xBB67AE85u

static inline void fa_philox_block(uint64_t key, uint64_t counter, uint32_t out[4]) {
  uint32_t c0 = (uint32_t)counter, c1 = (uint32_t)(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
  for (int round = 0; round < 10; round++) {
    uint64_t p0 = (uint64_t)FA_PHILOX_M0 * c0, p1 = (uint64_t)FA_PHILOX_M1 * c2;
    uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
    uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
    c1 = (uint32_t)p1;
    c3 = (uint32_t)p0;
    c0 = n0;
    c2 = n2;
    k0 += FA_PHILOX_W0;
    k1 += FA_PHILOX_W1;
  }
  out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

/* fa_philox_block of the counters counter, counter + 1, ... counter + LANES - 1 at
 * once, one lane per counter (the same bits, in vectors: GCC/Clang vector
 * extension): w[j][l] is word j of counter + l */
enum { FA_PHILOX_LANES = 16 };
typedef uint32_t fa_philox_u32s __attribute__((vector_size(FA_PHILOX_LANES * 4)));
typedef uint64_t fa_philox_u64s __attribute__((vector_size(FA_PHILOX_LANES * 8)));

static inline void fa_philox_lanes(uint64_t key, uint64_t counter, uint32_t w[4][FA_PHILOX_LANES]) {
  fa_philox_u32s c0, c1, c2 = {0}, c3 = {0};
  for (int l = 0; l < FA_PHILOX_LANES; l++) c0[l] = (uint32_t)(counter + l), c1[l] = (uint32_t)((counter + l) >> 32);
  uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
  for (int round = 0; round < 10; round++) {
    fa_philox_u64s p0 = __builtin_convertvector(c0, fa_philox_u64s) * FA_PHILOX_M0,
                   p1 = __builtin_convertvector(c2, fa_philox_u64s) * FA_PHILOX_M1;
    fa_philox_u32s n0 = __builtin_convertvector(p1 >> 32, fa_philox_u32s) ^ c1 ^ k0;
    fa_philox_u32s n2 = __builtin_convertvector(p0 >> 32, fa_philox_u32s) ^ c3 ^ k1;
    c1 = __builtin_convertvector(p1, fa_philox_u32s);
    c3 = __builtin_convertvector(p0, fa_philox_u32s);
    c0 = n0;
    c2 = n2;
    k0 += FA_PHILOX_W0;
    k1 += FA_PHILOX_W1;
  }
  memcpy(w[0], &c0, sizeof c0);
  memcpy(w[1], &c1, sizeof c1);
  memcpy(w[2], &c2, sizeof c2);
  memcpy(w[3], &c3, sizeof c3);
}

/* A word's top 24 bits as a float in [0, 1). */
static inline float fa_philox_unit(uint32_t v) { return (float)(v >> 8) * (1.0f / 16777216.0f); }

/* out[i] = lo + (hi - lo) * unit(word i%4 of block counter + i/4), i < n: ceil(n/4) blocks */
static inline void fa_philox_fill_uniform(uint64_t key, uint64_t counter, size_t n, float lo, float hi, float *out) {
  /* groups of FA_PHILOX_LANES blocks of 4 whole values, then the rest block by block */
  size_t blocks = (n + 3) / 4, groups = n / 4 / FA_PHILOX_LANES;
  float span = hi - lo;
#pragma omp parallel for schedule(static) if (n > 65536)
  for (size_t gr = 0; gr < groups; gr++) {
    uint32_t w[4][FA_PHILOX_LANES];
    fa_philox_lanes(key, counter + gr * FA_PHILOX_LANES, w);
    float *o = out + 4 * FA_PHILOX_LANES * gr;
    for (int l = 0; l < FA_PHILOX_LANES; l++)
      for (int j = 0; j < 4; j++) o[4 * l + j] = lo + span * fa_philox_unit(w[j][l]);
  }
  for (size_t b = groups * FA_PHILOX_LANES; b < blocks; b++) {
    uint32_t w[4];
    fa_philox_block(key, counter + b, w);
    for (size_t j = 0; j < 4 && 4 * b + j < n; j++) out[4 * b + j] = lo + span * fa_philox_unit(w[j]);
  }
}

#endif
