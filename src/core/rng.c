#include "core/rng.h"

#include <math.h>
#include <string.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

/* splitmix64: spreads (seed, purpose) into a well-mixed key */
static uint64_t mix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

fa_rng fa_rng_stream(uint64_t seed, fa_stream_purpose purpose) {
  fa_rng r = {mix64(mix64(seed) ^ (uint64_t)purpose), 0};
  return r;
}

fa_rng fa_rng_item_stream(const fa_rng *stream, uint64_t item) {
  fa_rng r = {mix64(stream->key ^ mix64(item)), 0};
  return r;
}

void fa_philox4x32(uint64_t key, uint64_t counter, uint32_t out[4]) {
  uint32_t c0 = (uint32_t)counter, c1 = (uint32_t)(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
  for (int round = 0; round < 10; round++) {
    uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
    uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
    uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
    c1 = (uint32_t)p1;
    c3 = (uint32_t)p0;
    c0 = n0;
    c2 = n2;
    k0 += PHILOX_W0;
    k1 += PHILOX_W1;
  }
  out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

/* fa_philox4x32 of the counters counter, counter + 1, ... counter + LANES - 1 at
 * once, one lane per counter (the same bits, in vectors: GCC/Clang vector
 * extension): w[j][l] is word j of counter + l */
enum { PHILOX_LANES = 16 };
typedef uint32_t philox_u32s __attribute__((vector_size(PHILOX_LANES * 4)));
typedef uint64_t philox_u64s __attribute__((vector_size(PHILOX_LANES * 8)));

static void philox4x32_lanes(uint64_t key, uint64_t counter, uint32_t w[4][PHILOX_LANES]) {
  philox_u32s c0, c1, c2 = {0}, c3 = {0};
  for (int l = 0; l < PHILOX_LANES; l++) c0[l] = (uint32_t)(counter + l), c1[l] = (uint32_t)((counter + l) >> 32);
  uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
  for (int round = 0; round < 10; round++) {
    philox_u64s p0 = __builtin_convertvector(c0, philox_u64s) * PHILOX_M0,
                p1 = __builtin_convertvector(c2, philox_u64s) * PHILOX_M1;
    philox_u32s n0 = __builtin_convertvector(p1 >> 32, philox_u32s) ^ c1 ^ k0;
    philox_u32s n2 = __builtin_convertvector(p0 >> 32, philox_u32s) ^ c3 ^ k1;
    c1 = __builtin_convertvector(p1, philox_u32s);
    c3 = __builtin_convertvector(p0, philox_u32s);
    c0 = n0;
    c2 = n2;
    k0 += PHILOX_W0;
    k1 += PHILOX_W1;
  }
  memcpy(w[0], &c0, sizeof c0);
  memcpy(w[1], &c1, sizeof c1);
  memcpy(w[2], &c2, sizeof c2);
  memcpy(w[3], &c3, sizeof c3);
}

uint32_t fa_rng_u32(fa_rng *r) {
  uint32_t w[4];
  fa_philox4x32(r->key, r->counter++, w);
  return w[0];
}

uint32_t fa_rng_below(fa_rng *r, uint32_t n) {
  /* rejection: accept draws below the largest multiple of n */
  uint32_t limit = UINT32_MAX - UINT32_MAX % n;
  for (;;) {
    uint32_t v = fa_rng_u32(r);
    if (v < limit) return v % n;
  }
}

static float u32_to_unit(uint32_t v) { return (float)(v >> 8) * (1.0f / 16777216.0f); }

float fa_rng_uniform(fa_rng *r) { return u32_to_unit(fa_rng_u32(r)); }

void fa_rng_fill_uniform(fa_rng *r, float *out, size_t n, float lo, float hi) {
  /* groups of PHILOX_LANES blocks of 4 whole values, then the rest block by block */
  size_t blocks = (n + 3) / 4, groups = n / 4 / PHILOX_LANES;
  float span = hi - lo;
#pragma omp parallel for schedule(static) if (n > 65536)
  for (size_t gr = 0; gr < groups; gr++) {
    uint32_t w[4][PHILOX_LANES];
    philox4x32_lanes(r->key, r->counter + gr * PHILOX_LANES, w);
    float *o = out + 4 * PHILOX_LANES * gr;
    for (int l = 0; l < PHILOX_LANES; l++)
      for (int j = 0; j < 4; j++) o[4 * l + j] = lo + span * u32_to_unit(w[j][l]);
  }
  for (size_t b = groups * PHILOX_LANES; b < blocks; b++) {
    uint32_t w[4];
    fa_philox4x32(r->key, r->counter + b, w);
    for (size_t j = 0; j < 4 && 4 * b + j < n; j++) out[4 * b + j] = lo + span * u32_to_unit(w[j]);
  }
  r->counter += blocks;
}

void fa_rng_fill_normal(fa_rng *r, float *out, size_t n, float mean, float std) {
  size_t blocks = (n + 3) / 4;
#pragma omp parallel for schedule(static) if (n > 65536)
  for (size_t b = 0; b < blocks; b++) {
    uint32_t w[4];
    fa_philox4x32(r->key, r->counter + b, w);
    for (size_t pair = 0; pair < 2; pair++) {
      /* u1 in (0, 1] keeps the log finite */
      double u1 = ((double)(w[2 * pair] >> 8) + 1.0) / 16777216.0;
      double u2 = (double)(w[2 * pair + 1] >> 8) / 16777216.0;
      double radius = sqrt(-2.0 * log(u1)), angle = 2.0 * M_PI * u2;
      size_t i = 4 * b + 2 * pair;
      if (i < n) out[i] = mean + std * (float)(radius * cos(angle));
      if (i + 1 < n) out[i + 1] = mean + std * (float)(radius * sin(angle));
    }
  }
  r->counter += blocks;
}
