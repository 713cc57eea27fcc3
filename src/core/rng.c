#include "core/rng.h"

#include <math.h>

#include "backend/philox.h"

/* splitmix64: spreads (seed, purpose) into a well-mixed key */
static uint64_t mix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

fa_rng fa_rng_stream(uint64_t seed, fa_stream_purpose purpose) {
  fa_rng r = {.key = mix64(mix64(seed) ^ (uint64_t)purpose)};
  return r;
}

fa_rng fa_rng_item_stream(const fa_rng *stream, uint64_t item) {
  fa_rng r = {.key = mix64(stream->key ^ mix64(item))};
  return r;
}

void fa_philox4x32(uint64_t key, uint64_t counter, uint32_t out[4]) { fa_philox_block(key, counter, out); }

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

float fa_rng_uniform(fa_rng *r) { return fa_philox_unit(fa_rng_u32(r)); }

void fa_rng_fill_uniform(fa_rng *r, float *out, size_t n, float lo, float hi) {
  fa_philox_fill_uniform(r->key, r->counter, n, lo, hi, out);
  r->counter += (n + 3) / 4;
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
