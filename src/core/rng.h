/* Counter-based random numbers (Philox4x32-10), one stream per purpose.
 *
 * A stream is (key, counter): the key comes from the run's seed and the
 * stream's purpose, the counter counts 128-bit blocks drawn so far. Saving
 * and restoring the counter resumes a stream exactly. Fills are
 * deterministic for a given (key, counter) whatever the thread count:
 * value i of a fill comes from block counter + i/4, word i%4. */
#ifndef FA_CORE_RNG_H
#define FA_CORE_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
  FA_STREAM_INIT = 1,      /* weight initialisation */
  FA_STREAM_SHUFFLE = 2,   /* per-epoch data order */
  FA_STREAM_AUGMENT = 3,   /* crops and flips */
  FA_STREAM_ATTACK = 4,    /* training: random starts, eta of GradAlign, statistics */
  FA_STREAM_EVAL = 5,      /* final evaluation: PGD restarts (same for train and eval) */
} fa_stream_purpose;

typedef struct {
  uint64_t key;      /* fixed for the stream's life */
  uint64_t counter;  /* 128-bit blocks consumed so far */
  /* A rank's slice of a stream the ranks share (docs/SCALE.md): when
   * total_rows > 0, a fill of a tensor of R rows (fa_uniform, core/update.h)
   * draws rows [first_row, first_row + R) of the fill of total_rows rows, and
   * advances the counter past that whole fill, so that a row of the global
   * batch gets the same values whatever the slicing. 0: the tensor is the
   * whole fill. Set by who slices the batch; not part of the stream's state. */
  int first_row, total_rows;
} fa_rng;

fa_rng fa_rng_stream(uint64_t seed, fa_stream_purpose purpose);
/* The stream of one item (an example by its index in the data set) within
 * `stream`: a key of its own from the stream's key and the index, counter
 * 0. An item's draws then depend on neither the other items drawn with it
 * nor their order (an evaluation attack's random starts per example). */
fa_rng fa_rng_item_stream(const fa_rng *stream, uint64_t item);

/* One Philox block: 4 words from (key, counter). Pure function. */
void fa_philox4x32(uint64_t key, uint64_t counter, uint32_t out[4]);

/* Single draws; each consumes one whole block. */
uint32_t fa_rng_u32(fa_rng *r);
/* Uniform integer in [0, n), n >= 1, without modulo bias. */
uint32_t fa_rng_below(fa_rng *r, uint32_t n);
/* Uniform float in [0, 1) with 24 random bits. */
float fa_rng_uniform(fa_rng *r);

/* out[i] uniform in [lo, hi); consumes ceil(n/4) blocks. */
void fa_rng_fill_uniform(fa_rng *r, float *out, size_t n, float lo, float hi);
/* out[i] ~ N(mean, std^2) by Box-Muller; consumes ceil(n/4) blocks. */
void fa_rng_fill_normal(fa_rng *r, float *out, size_t n, float mean, float std);

#endif
