/* Batches of a data set as float (B, C, H, W) in [0, 1] and int labels
 * (docs/METHOD.md section 1).
 *
 * Train mode: each epoch draws a fresh permutation of the examples from the
 * shuffle stream (Fisher-Yates with fa_rng_below, from the identity), takes
 * batches in that order, drops the last incomplete batch, and augments each
 * image with the draw of its own block of the augment stream: batch k of an
 * epoch uses blocks augment.counter + [0, B) (see data/augment.h), and the
 * stream advances by B blocks per batch. Eval mode: file order, the last
 * batch kept, no augmentation, no random numbers. Both use only the first
 * n_examples examples in file order when that is set.
 *
 * A batch is a pure function of the loader's state, so the state (epoch,
 * position, streams) resumes a run exactly, and a second thread can prepare
 * the next batch while the caller trains on this one (prefetch). Batches
 * are the same with and without prefetch. */
#ifndef FA_DATA_LOADER_H
#define FA_DATA_LOADER_H

#include <stdint.h>

#include "core/error.h"
#include "core/rng.h"
#include "data/dataset.h"

typedef enum { FA_LOADER_TRAIN, FA_LOADER_EVAL } fa_loader_mode;

typedef struct {
  fa_loader_mode mode;
  int batch_size;
  int n_examples;      /* use the first n examples in file order; <= 0 or > n: all */
  fa_augment augment;  /* train mode only; usually the data set's train_augment */
  int prefetch;        /* 1: a second thread prepares the next batch */
} fa_loader_config;

/* Everything a resumed run needs to continue with the same batches. */
typedef struct {
  int64_t epoch;    /* epochs begun, 0 before the first */
  int position;     /* batches taken in the current epoch */
  fa_rng shuffle;   /* the shuffle stream as it was when the current epoch began */
  fa_rng augment;   /* the augment stream at the next batch */
} fa_loader_state;

typedef struct fa_loader fa_loader;

/* The data set must outlive the loader. Streams: usually
 * fa_rng_stream(seed, FA_STREAM_SHUFFLE) and (seed, FA_STREAM_AUGMENT).
 * Returns NULL with a message on a bad configuration. */
fa_loader *fa_loader_create(const fa_dataset *ds, const fa_loader_config *cfg, fa_rng shuffle, fa_rng augment);
void fa_loader_free(fa_loader *l);

/* Train: floor(n / B); eval: ceil(n / B), n the examples used. */
int fa_loader_batches_per_epoch(const fa_loader *l);
/* Examples used (the first n_examples, or all). */
int fa_loader_n_examples(const fa_loader *l);

/* Starts the next epoch (train: a new permutation). The batches left of the
 * current epoch, if any, are skipped. */
void fa_loader_begin_epoch(fa_loader *l);

/* Writes the next batch of the current epoch: x (B, C, H, W), y (B); returns
 * the number of examples written, 0 when the epoch has no batch left (or has
 * not begun). Eval's last batch may be shorter than B. */
int fa_loader_next(fa_loader *l, float *x, int *y);

fa_loader_state fa_loader_get_state(const fa_loader *l);
/* Restores a state from fa_loader_get_state of a loader with the same data
 * set and configuration. */
fa_status fa_loader_set_state(fa_loader *l, const fa_loader_state *state);

#endif
