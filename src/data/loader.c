#include "data/loader.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "data/augment.h"

/* The prefetch slot: one batch prepared by the worker thread. */
typedef enum { SLOT_EMPTY, SLOT_PENDING, SLOT_BUILDING, SLOT_READY } slot_status;

struct fa_loader {
  const fa_dataset *ds;
  fa_loader_config cfg;
  int n_used, batches;
  size_t image_floats;    /* c * h * w */
  int *order;             /* (n_used): the current epoch's example order */
  fa_loader_state state;
  fa_rng shuffle_next;    /* the shuffle stream after the current epoch's permutation */

  int has_thread;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t changed;
  slot_status slot;
  int slot_position;      /* the batch the slot holds or will hold */
  uint64_t slot_counter;  /* its augment counter */
  int slot_n;
  float *slot_x;          /* (B, C, H, W) */
  int *slot_y;            /* (B) */
  int quit;
};

static int augments(const fa_loader *l) {
  return l->cfg.mode == FA_LOADER_TRAIN && l->cfg.augment != FA_AUGMENT_NONE;
}

/* Batch `position` of the current order, augmented from block `counter` on. */
static int build_batch(const fa_loader *l, int position, uint64_t counter, float *x, int *y) {
  const fa_dataset *ds = l->ds;
  int first = position * l->cfg.batch_size, n = l->n_used - first;
  if (n > l->cfg.batch_size) n = l->cfg.batch_size;
  fa_augment kind = augments(l) ? l->cfg.augment : FA_AUGMENT_NONE;
  for (int i = 0; i < n; i++) {
    int example = l->order[first + i];
    fa_augment_draw draw = fa_augment_draw_at(l->state.augment.key, counter + (uint64_t)i, kind);
    fa_augment_image(ds->images + (size_t)example * l->image_floats, ds->c, ds->h, ds->w, kind, draw,
                     x + (size_t)i * l->image_floats);
    y[i] = ds->labels[example];
  }
  return n;
}

static void *prefetch_worker(void *arg) {
  fa_loader *l = arg;
  pthread_mutex_lock(&l->lock);
  while (!l->quit) {
    if (l->slot != SLOT_PENDING) {
      pthread_cond_wait(&l->changed, &l->lock);
      continue;
    }
    l->slot = SLOT_BUILDING;
    int position = l->slot_position;
    uint64_t counter = l->slot_counter;
    pthread_mutex_unlock(&l->lock);
    int n = build_batch(l, position, counter, l->slot_x, l->slot_y);
    pthread_mutex_lock(&l->lock);
    l->slot_n = n;
    l->slot = SLOT_READY;
    pthread_cond_broadcast(&l->changed);
  }
  pthread_mutex_unlock(&l->lock);
  return NULL;
}

/* Waits for a batch in the making and empties the slot, so that the order
 * and the streams may change. */
static void cancel_prefetch(fa_loader *l) {
  if (!l->has_thread) return;
  pthread_mutex_lock(&l->lock);
  while (l->slot == SLOT_BUILDING) pthread_cond_wait(&l->changed, &l->lock);
  l->slot = SLOT_EMPTY;
  pthread_mutex_unlock(&l->lock);
}

/* Asks the worker for the batch at the current state, if there is one. */
static void request_prefetch(fa_loader *l) {
  if (!l->has_thread || l->state.epoch == 0 || l->state.position >= l->batches) return;
  pthread_mutex_lock(&l->lock);
  l->slot = SLOT_PENDING;
  l->slot_position = l->state.position;
  l->slot_counter = l->state.augment.counter;
  pthread_cond_broadcast(&l->changed);
  pthread_mutex_unlock(&l->lock);
}

/* Takes the prefetched batch for the current state; 0 when the slot holds
 * no batch for it, or the worker has not started it yet (then it is
 * withdrawn and the caller builds it: never wait for a thread that the
 * machine has not scheduled). */
static int take_prefetched(fa_loader *l, float *x, int *y, int *n) {
  if (!l->has_thread) return 0;
  int taken = 0;
  pthread_mutex_lock(&l->lock);
  if (l->slot == SLOT_PENDING) {
    l->slot = SLOT_EMPTY;
  } else if (l->slot != SLOT_EMPTY && l->slot_position == l->state.position &&
             l->slot_counter == l->state.augment.counter) {
    while (l->slot != SLOT_READY) pthread_cond_wait(&l->changed, &l->lock);
    *n = l->slot_n;
    memcpy(x, l->slot_x, (size_t)*n * l->image_floats * sizeof *x);
    memcpy(y, l->slot_y, (size_t)*n * sizeof *y);
    l->slot = SLOT_EMPTY;
    taken = 1;
  }
  pthread_mutex_unlock(&l->lock);
  return taken;
}

/* The order of the current epoch, from the shuffle stream as it began. */
static void make_order(fa_loader *l) {
  for (int i = 0; i < l->n_used; i++) l->order[i] = i;
  l->shuffle_next = l->state.shuffle;
  if (l->cfg.mode != FA_LOADER_TRAIN) return;
  for (int i = l->n_used - 1; i > 0; i--) {
    int j = (int)fa_rng_below(&l->shuffle_next, (uint32_t)i + 1);
    int t = l->order[i];
    l->order[i] = l->order[j];
    l->order[j] = t;
  }
}

static fa_status start_thread(fa_loader *l) {
  size_t batch_floats = (size_t)l->cfg.batch_size * l->image_floats;
  l->slot_x = malloc(batch_floats * sizeof *l->slot_x);
  l->slot_y = malloc((size_t)l->cfg.batch_size * sizeof *l->slot_y);
  if (!l->slot_x || !l->slot_y)
    return fa_error_set(FA_ERR_NOMEM, "loader: cannot allocate the prefetch batch (%zu floats)", batch_floats);
  if (pthread_mutex_init(&l->lock, NULL) != 0) return fa_error_set(FA_ERR_NOMEM, "loader: no mutex");
  if (pthread_cond_init(&l->changed, NULL) != 0) {
    pthread_mutex_destroy(&l->lock);
    return fa_error_set(FA_ERR_NOMEM, "loader: no condition variable");
  }
  if (pthread_create(&l->thread, NULL, prefetch_worker, l) != 0) {
    pthread_cond_destroy(&l->changed);
    pthread_mutex_destroy(&l->lock);
    return fa_error_set(FA_ERR_NOMEM, "loader: cannot start the prefetch thread");
  }
  l->has_thread = 1;
  return FA_OK;
}

fa_loader *fa_loader_create(const fa_dataset *ds, const fa_loader_config *cfg, fa_rng shuffle, fa_rng augment) {
  if (!ds || ds->n <= 0 || !ds->images || !ds->labels) {
    fa_error_set(FA_ERR_INVALID, "loader: the data set is empty");
    return NULL;
  }
  if (cfg->batch_size <= 0) {
    fa_error_set(FA_ERR_INVALID, "loader: batch size %d; it must be at least 1", cfg->batch_size);
    return NULL;
  }
  int n_used = cfg->n_examples > 0 && cfg->n_examples < ds->n ? cfg->n_examples : ds->n;
  int batches = cfg->mode == FA_LOADER_TRAIN ? n_used / cfg->batch_size
                                             : (n_used + cfg->batch_size - 1) / cfg->batch_size;
  if (batches == 0) {
    fa_error_set(FA_ERR_INVALID, "loader: batch size %d is larger than the %d training examples, and "
                 "training drops incomplete batches: use a smaller --batch_size", cfg->batch_size, n_used);
    return NULL;
  }
  fa_loader *l = calloc(1, sizeof *l);
  if (!l || !(l->order = malloc((size_t)n_used * sizeof *l->order))) {
    free(l);
    fa_error_set(FA_ERR_NOMEM, "loader: cannot allocate the order of %d examples", n_used);
    return NULL;
  }
  l->ds = ds;
  l->cfg = *cfg;
  l->n_used = n_used;
  l->batches = batches;
  l->image_floats = (size_t)ds->c * ds->h * ds->w;
  l->state = (fa_loader_state){.epoch = 0, .position = 0, .shuffle = shuffle, .augment = augment};
  l->shuffle_next = shuffle;
  if (cfg->prefetch && start_thread(l) != FA_OK) {
    fa_loader_free(l);
    return NULL;
  }
  return l;
}

void fa_loader_free(fa_loader *l) {
  if (!l) return;
  if (l->has_thread) {
    pthread_mutex_lock(&l->lock);
    l->quit = 1;
    pthread_cond_broadcast(&l->changed);
    pthread_mutex_unlock(&l->lock);
    pthread_join(l->thread, NULL);
    pthread_cond_destroy(&l->changed);
    pthread_mutex_destroy(&l->lock);
  }
  free(l->slot_x);
  free(l->slot_y);
  free(l->order);
  free(l);
}

int fa_loader_batches_per_epoch(const fa_loader *l) { return l->batches; }
int fa_loader_n_examples(const fa_loader *l) { return l->n_used; }

void fa_loader_begin_epoch(fa_loader *l) {
  cancel_prefetch(l);
  l->state.epoch++;
  l->state.position = 0;
  l->state.shuffle = l->shuffle_next;
  make_order(l);
  request_prefetch(l);
}

int fa_loader_next(fa_loader *l, float *x, int *y) {
  if (l->state.epoch == 0 || l->state.position >= l->batches) return 0;
  int n;
  if (!take_prefetched(l, x, y, &n)) n = build_batch(l, l->state.position, l->state.augment.counter, x, y);
  l->state.position++;
  if (augments(l)) l->state.augment.counter += (uint64_t)l->cfg.batch_size;
  request_prefetch(l);
  return n;
}

fa_loader_state fa_loader_get_state(const fa_loader *l) { return l->state; }

fa_status fa_loader_set_state(fa_loader *l, const fa_loader_state *state) {
  if (state->epoch < 0 || state->position < 0 || state->position > l->batches ||
      (state->epoch == 0 && state->position != 0))
    return fa_error_set(FA_ERR_INVALID, "loader: cannot resume at epoch %lld, batch %d of %d: the saved "
                        "state does not belong to this data set and batch size",
                        (long long)state->epoch, state->position, l->batches);
  cancel_prefetch(l);
  l->state = *state;
  if (state->epoch == 0) l->shuffle_next = state->shuffle;  /* the first epoch's stream */
  else make_order(l);
  request_prefetch(l);
  return FA_OK;
}
