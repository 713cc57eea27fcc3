/* Philox streams: known-answer vector, determinism, independence of
 * streams, resumption from a saved counter, the moments of draws, and the
 * per-item streams. */
#include <math.h>
#include <stdlib.h>

#include "core/rng.h"
#include "testlib.h"

int main(void) {
  /* Known answer of Philox4x32-10 from the Random123 test vectors:
   * counter = 0, key = 0 -> 6627e8d5 e169c58d bc57ac4c 9b00dbd8 */
  uint32_t w[4];
  fa_philox4x32(0, 0, w);
  FA_CHECK(w[0] == 0x6627e8d5u && w[1] == 0xe169c58du && w[2] == 0xbc57ac4cu && w[3] == 0x9b00dbd8u,
           "philox(0,0) = %08x %08x %08x %08x", w[0], w[1], w[2], w[3]);

  fa_rng a = fa_rng_stream(0, FA_STREAM_INIT), b = fa_rng_stream(0, FA_STREAM_INIT);
  fa_rng c = fa_rng_stream(0, FA_STREAM_ATTACK), d = fa_rng_stream(1, FA_STREAM_INIT);
  FA_CHECK(a.key == b.key && a.key != c.key && a.key != d.key, "stream keys");

  enum { N = 100003 };
  float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
  fa_rng_fill_uniform(&a, x, N, -2.0f, 3.0f);
  fa_rng saved = a;
  fa_rng_fill_uniform(&b, y, N, -2.0f, 3.0f);
  int same = 1;
  for (int i = 0; i < N; i++) same &= x[i] == y[i];
  FA_CHECK(same, "same stream, same draws");
  FA_CHECK(a.counter == (N + 3) / 4, "counter advanced by blocks: %llu", (unsigned long long)a.counter);

  double mean = 0, lo = 1e9, hi = -1e9;
  for (int i = 0; i < N; i++) {
    mean += x[i];
    lo = fmin(lo, x[i]);
    hi = fmax(hi, x[i]);
  }
  mean /= N;
  FA_CHECK(fabs(mean - 0.5) < 0.02 && lo >= -2.0 && hi < 3.0, "uniform mean %g range [%g, %g]", mean, lo, hi);

  /* the vectorised fill is Philox4x32 block by block, from any counter, and
   * writes nothing past n: sizes that end in a partial block after whole
   * groups of 16 blocks, and inside the last group */
  const int sizes[2] = {4 * 16 * 5 + 7, 4 * 16 * 5 - 1};
  for (int t = 0; t < 2; t++) {
    const int m = sizes[t];
    fa_rng e = fa_rng_stream(3, FA_STREAM_ATTACK);
    (void)fa_rng_u32(&e);
    fa_rng e0 = e;
    for (int i = 0; i < m + 8; i++) x[i] = 42.0f;
    fa_rng_fill_uniform(&e, x, (size_t)m, -2.0f, 3.0f);
    int agree = 1;
    for (int i = 0; i < m; i++) {
      fa_philox4x32(e0.key, e0.counter + (uint64_t)i / 4, w);
      agree &= x[i] == -2.0f + 5.0f * ((float)(w[i % 4] >> 8) * (1.0f / 16777216.0f));
    }
    for (int i = m; i < m + 8; i++) agree &= x[i] == 42.0f;
    FA_CHECK(agree && e.counter == e0.counter + (uint64_t)(m + 3) / 4,
             "fill_uniform of %d against fa_philox4x32, block by block, nothing written past the end", m);
  }
  /* resuming from the saved state continues the sequence */
  fa_rng_fill_normal(&a, x, N, 1.0f, 2.0f);
  fa_rng_fill_normal(&saved, y, N, 1.0f, 2.0f);
  same = 1;
  for (int i = 0; i < N; i++) same &= x[i] == y[i];
  FA_CHECK(same, "resumed stream repeats");
  double m = 0, v = 0;
  for (int i = 0; i < N; i++) m += x[i];
  m /= N;
  for (int i = 0; i < N; i++) v += (x[i] - m) * (x[i] - m);
  v /= N - 1;
  FA_CHECK(fabs(m - 1.0) < 0.03 && fabs(sqrt(v) - 2.0) < 0.03, "normal mean %g std %g", m, sqrt(v));

  int counts[7] = {0};
  for (int i = 0; i < 70000; i++) counts[fa_rng_below(&c, 7)]++;
  for (int k = 0; k < 7; k++) FA_CHECK(abs(counts[k] - 10000) < 500, "below(7) count[%d] = %d", k, counts[k]);

  /* item streams: one key per (stream, item), counter 0, the same from the same stream */
  fa_rng eval = fa_rng_stream(0, FA_STREAM_EVAL), other = fa_rng_stream(1, FA_STREAM_EVAL);
  fa_rng i0 = fa_rng_item_stream(&eval, 0), i1 = fa_rng_item_stream(&eval, 1), j0 = fa_rng_item_stream(&other, 0);
  fa_rng again = fa_rng_item_stream(&eval, 1);
  FA_CHECK(i0.key != i1.key && i0.key != j0.key && i0.key != eval.key && again.key == i1.key && i1.counter == 0,
           "item streams: keys %llx %llx %llx", (unsigned long long)i0.key, (unsigned long long)i1.key,
           (unsigned long long)j0.key);
  free(x);
  free(y);
  return fa_test_exit();
}
