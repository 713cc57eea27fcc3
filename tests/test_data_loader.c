/* The batch loader: eval order and last batch, "first n", train shuffling
 * (the stream's permutation, drop-last), float conversion, crops and flips
 * exactly as the augment stream dictates with zero padding, their
 * distribution, exact resume, and prefetch giving the same batches. */
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "data/augment.h"
#include "data/loader.h"
#include "testlib.h"

enum { N = 103, C = 3, S = 32, IMG = C * S * S, B = 10 };

/* Example i: channel 0 holds row + 1, channel 1 column + 1 (so every output
 * pixel tells where it came from), channel 2 holds i + 1; label i % 10. */
static fa_dataset make_dataset(void) {
  fa_dataset ds;
  fa_dataset_alloc(&ds, N, C, S, S, 10, "test");
  for (int i = 0; i < N; i++) {
    uint8_t *img = ds.images + (size_t)i * IMG;
    for (int y = 0; y < S; y++)
      for (int x = 0; x < S; x++) {
        img[y * S + x] = (uint8_t)(y + 1);
        img[S * S + y * S + x] = (uint8_t)(x + 1);
        img[2 * S * S + y * S + x] = (uint8_t)(i + 1);
      }
    ds.labels[i] = (uint8_t)(i % 10);
  }
  return ds;
}

static int example_of(const float *img) { return (int)(img[2 * S * S + 16 * S + 16] * 255.0f + 0.5f) - 1; }

static fa_loader *make_loader(const fa_dataset *ds, fa_loader_mode mode, int n_examples, fa_augment aug,
                              int prefetch, uint64_t seed) {
  fa_loader_config cfg = {mode, B, n_examples, aug, prefetch};
  fa_loader *l = fa_loader_create(ds, &cfg, fa_rng_stream(seed, FA_STREAM_SHUFFLE),
                                  fa_rng_stream(seed, FA_STREAM_AUGMENT));
  FA_CHECK(l != NULL, "create: %s", fa_error_message());
  return l;
}

static void test_eval(const fa_dataset *ds, float *x, int *y) {
  fa_loader *l = make_loader(ds, FA_LOADER_EVAL, 0, FA_AUGMENT_CROP_FLIP, 1, 0);
  FA_CHECK(fa_loader_batches_per_epoch(l) == 11, "eval batches %d", fa_loader_batches_per_epoch(l));
  FA_CHECK(fa_loader_next(l, x, y) == 0, "no batch before the first epoch");
  for (int epoch = 0; epoch < 2; epoch++) {
    fa_loader_begin_epoch(l);
    int seen = 0, exact = 1, n;
    for (int b = 0; (n = fa_loader_next(l, x, y)) > 0; b++) {
      FA_CHECK(n == (b < 10 ? B : 3), "eval batch %d has %d examples", b, n);
      for (int i = 0; i < n; i++, seen++) {
        const uint8_t *src = ds->images + (size_t)seen * IMG;
        for (int p = 0; p < IMG; p++) exact &= x[i * IMG + p] == (float)src[p] / 255.0f;
        exact &= y[i] == seen % 10;
      }
    }
    FA_CHECK(seen == N && exact, "eval epoch %d: file order, unaugmented, x = byte / 255 (%d seen)", epoch, seen);
  }
  fa_loader_free(l);

  l = make_loader(ds, FA_LOADER_EVAL, 25, FA_AUGMENT_NONE, 0, 0);
  fa_loader_begin_epoch(l);
  int sizes[4] = {0};
  for (int b = 0; b < 4; b++) sizes[b] = fa_loader_next(l, x, y);
  FA_CHECK(sizes[0] == 10 && sizes[1] == 10 && sizes[2] == 5 && sizes[3] == 0 && example_of(x) == 20,
           "first 25: batches %d %d %d %d, last starts at %d", sizes[0], sizes[1], sizes[2], sizes[3], example_of(x));
  fa_loader_free(l);
}

/* The train order of one epoch must be Fisher-Yates from the stream. */
static void expected_order(fa_rng *shuffle, int n, int *order) {
  for (int i = 0; i < n; i++) order[i] = i;
  for (int i = n - 1; i > 0; i--) {
    int j = (int)fa_rng_below(shuffle, (uint32_t)i + 1), t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
}

/* Checks one augmented image against the draw computed here from Philox. */
static int image_is_augmented(const float *out, const uint8_t *in, uint64_t key, uint64_t counter, int flips) {
  uint32_t w[4];
  fa_philox4x32(key, counter, w);
  int dy = (int)(((uint64_t)w[0] * 9) >> 32), dx = (int)(((uint64_t)w[1] * 9) >> 32);
  int flip = flips ? (int)(w[2] >> 31) : 0;
  for (int c = 0; c < C; c++)
    for (int y = 0; y < S; y++)
      for (int x = 0; x < S; x++) {
        int sy = y + dy - 4, sx = (flip ? S - 1 - x : x) + dx - 4;
        float want = sy < 0 || sy >= S || sx < 0 || sx >= S ? 0.0f : (float)in[(c * S + sy) * S + sx] / 255.0f;
        if (out[(c * S + y) * S + x] != want) return 0;
      }
  return 1;
}

static void test_train(const fa_dataset *ds, float *x, int *y, fa_augment aug) {
  fa_loader *l = make_loader(ds, FA_LOADER_TRAIN, 0, aug, 1, 7);
  FA_CHECK(fa_loader_batches_per_epoch(l) == 10, "train drops the last batch: %d", fa_loader_batches_per_epoch(l));
  fa_rng shuffle = fa_rng_stream(7, FA_STREAM_SHUFFLE), augment = fa_rng_stream(7, FA_STREAM_AUGMENT);
  int order[N], first_order[N];
  int counts[9][9] = {{0}}, flips = 0, total = 0, orders_match = 1, augment_exact = 1, labels_ok = 1;
  for (int epoch = 0; epoch < 40; epoch++) {
    expected_order(&shuffle, N, order);
    if (epoch == 0) memcpy(first_order, order, sizeof order);
    fa_loader_begin_epoch(l);
    for (int b = 0, n; (n = fa_loader_next(l, x, y)) > 0; b++) {
      FA_CHECK(n == B, "train batch of %d", n);
      for (int i = 0; i < n; i++) {
        const float *img = x + (size_t)i * IMG;
        int ex = order[b * B + i];
        orders_match &= example_of(img) == ex;
        labels_ok &= y[i] == ex % 10;
        augment_exact &= image_is_augmented(img, ds->images + (size_t)ex * IMG, augment.key,
                                            augment.counter + (uint64_t)(b * B + i), aug == FA_AUGMENT_CROP_FLIP);
        /* where the centre pixel came from, read off the pixels themselves */
        int src_row = (int)(img[16 * S + 16] * 255.0f + 0.5f) - 1;
        int src_col = (int)(img[S * S + 16 * S + 16] * 255.0f + 0.5f) - 1;
        int right_col = (int)(img[S * S + 16 * S + 17] * 255.0f + 0.5f) - 1;
        int flipped = right_col < src_col;
        int dx = (flipped ? src_col - 15 : src_col - 16) + 4;  /* flipped: output x 16 shows input x 15 + shift */
        counts[src_row - 16 + 4][dx]++;
        flips += flipped;
        total++;
      }
    }
    augment.counter += 10 * B;
  }
  FA_CHECK(orders_match && labels_ok, "train order is the stream's Fisher-Yates permutation, labels follow");
  FA_CHECK(augment_exact, "crops, flips and zero padding are the stream's draws");
  int all_offsets = 1, balanced = 1;
  for (int dy = 0; dy < 9; dy++)
    for (int dx = 0; dx < 9; dx++) {
      all_offsets &= counts[dy][dx] > 0;
      balanced &= abs(counts[dy][dx] - total / 81) < total / 81 / 2;  /* 49 +- 24 (3.4 sigma; fixed by the seed) */
    }
  FA_CHECK(all_offsets && balanced, "every crop offset occurs, about equally (%d images)", total);
  if (aug == FA_AUGMENT_CROP_FLIP)
    FA_CHECK(abs(2 * flips - total) < total / 10, "about half flipped: %d of %d", flips, total);
  else
    FA_CHECK(flips == 0, "crop only: %d flipped", flips);
  fa_loader_free(l);

  /* the same seed gives the same first epoch, another seed another */
  for (uint64_t seed = 7; seed <= 8; seed++) {
    l = make_loader(ds, FA_LOADER_TRAIN, 0, aug, 0, seed);
    fa_loader_begin_epoch(l);
    fa_loader_next(l, x, y);
    int same = 1;
    for (int i = 0; i < B; i++) same &= example_of(x + (size_t)i * IMG) == first_order[i];
    FA_CHECK(same == (seed == 7), "seed %llu: first batch %s seed 7's", (unsigned long long)seed,
             seed == 7 ? "repeats" : "differs from");
    fa_loader_free(l);
  }
}

static void test_unaugmented_train(const fa_dataset *ds, float *x, int *y) {
  fa_loader *l = make_loader(ds, FA_LOADER_TRAIN, 30, FA_AUGMENT_NONE, 0, 3);
  FA_CHECK(fa_loader_batches_per_epoch(l) == 3 && fa_loader_n_examples(l) == 30, "first 30 of train");
  fa_loader_begin_epoch(l);
  int exact = 1, seen[30] = {0}, n;
  while ((n = fa_loader_next(l, x, y)) > 0)
    for (int i = 0; i < n; i++) {
      int ex = example_of(x + (size_t)i * IMG);
      exact &= ex >= 0 && ex < 30;
      if (!exact) break;
      seen[ex]++;
      for (int p = 0; p < IMG; p++) exact &= x[i * IMG + p] == (float)ds->images[(size_t)ex * IMG + p] / 255.0f;
    }
  for (int i = 0; i < 30; i++) exact &= seen[i] == 1;
  FA_CHECK(exact, "train without augmentation: each of the first 30 once, pixels unchanged");
  fa_loader_free(l);
}

/* Records `count` batches' first example and a checksum of the pixels. */
static void record(fa_loader *l, int count, float *x, int *y, double *out) {
  for (int k = 0; k < count; k++) {
    int n = fa_loader_next(l, x, y);
    if (n == 0) {
      fa_loader_begin_epoch(l);
      n = fa_loader_next(l, x, y);
    }
    double sum = 0;
    for (size_t p = 0; p < (size_t)n * IMG; p++) sum += x[p] * (double)((p % 97) + 1);
    for (int i = 0; i < n; i++) sum += y[i] * 1e6 * (i + 1);
    out[k] = sum;
  }
}

static void test_resume_and_prefetch(const fa_dataset *ds, float *x, int *y) {
  enum { K = 25 };
  double with[K], without[K], resumed[K];
  fa_loader *a = make_loader(ds, FA_LOADER_TRAIN, 0, FA_AUGMENT_CROP_FLIP, 1, 11);
  fa_loader *b = make_loader(ds, FA_LOADER_TRAIN, 0, FA_AUGMENT_CROP_FLIP, 0, 11);
  /* epoch 0 of the trainer: one batch, then the epochs proper */
  fa_loader_begin_epoch(a);
  fa_loader_begin_epoch(b);
  record(a, 1, x, y, with);
  record(b, 1, x, y, without);
  fa_loader_begin_epoch(a);
  fa_loader_begin_epoch(b);
  record(a, 3, x, y, with);
  fa_loader_state saved = fa_loader_get_state(a);
  record(a, K, x, y, with);
  record(b, 3, x, y, without);
  record(b, K, x, y, without);
  FA_CHECK(memcmp(with, without, sizeof with) == 0, "prefetch gives the same batches");
  FA_CHECK(saved.epoch == 2 && saved.position == 3, "state: epoch %lld position %d", (long long)saved.epoch,
           saved.position);

  fa_loader *c = make_loader(ds, FA_LOADER_TRAIN, 0, FA_AUGMENT_CROP_FLIP, 1, 99);
  FA_CHECK(fa_loader_set_state(c, &saved) == FA_OK, "set_state: %s", fa_error_message());
  record(c, K, x, y, resumed);
  FA_CHECK(memcmp(with, resumed, sizeof with) == 0, "a resumed loader continues with the same batches");
  fa_loader_state bad = saved;
  bad.position = 11;
  FA_CHECK(fa_loader_set_state(c, &bad) == FA_ERR_INVALID && strstr(fa_error_message(), "batch 11"),
           "a foreign state is refused: %s", fa_error_message());
  fa_loader_free(a);
  fa_loader_free(b);
  fa_loader_free(c);
}

static void test_bad_config(const fa_dataset *ds) {
  fa_loader_config cfg = {FA_LOADER_TRAIN, N + 1, 0, FA_AUGMENT_NONE, 0};
  fa_rng r = fa_rng_stream(0, FA_STREAM_SHUFFLE);
  FA_CHECK(fa_loader_create(ds, &cfg, r, r) == NULL && strstr(fa_error_message(), "larger than the 103"),
           "batch larger than the data: %s", fa_error_message());
  cfg.batch_size = 0;
  FA_CHECK(fa_loader_create(ds, &cfg, r, r) == NULL && strstr(fa_error_message(), "at least 1"),
           "batch size 0: %s", fa_error_message());
  cfg.mode = FA_LOADER_EVAL;
  cfg.batch_size = N + 1;
  fa_loader *l = fa_loader_create(ds, &cfg, r, r);
  FA_CHECK(l && fa_loader_batches_per_epoch(l) == 1, "eval keeps a batch larger than the data");
  fa_loader_free(l);
}

int main(void) {
  fa_dataset ds = make_dataset();
  float *x = malloc(sizeof(float) * (N + 1) * IMG);
  int *y = malloc(sizeof(int) * (N + 1));
  test_eval(&ds, x, y);
  test_train(&ds, x, y, FA_AUGMENT_CROP_FLIP);
  test_train(&ds, x, y, FA_AUGMENT_CROP);
  test_unaugmented_train(&ds, x, y);
  test_resume_and_prefetch(&ds, x, y);
  test_bad_config(&ds);
  free(x);
  free(y);
  fa_dataset_free(&ds);
  return fa_test_exit();
}
