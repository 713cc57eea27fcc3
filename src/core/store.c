/* Persistent stores (core/tensor.h): three slabs of device memory, the
 * tensors views into them. A slab grows by doubling (a new allocation, the
 * old contents copied, every view moved); stores are filled once, when a
 * model or optimiser is made, so that is not on any step's path. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/device.h"
#include "core/error.h"

enum { VIEW_ALIGN = 16 }; /* floats: each view starts 64-byte aligned */

typedef struct {
  float *data;      /* device memory; NULL while empty */
  size_t used, cap; /* floats */
  fa_tensor whole;  /* the slab as one tensor (fa_store_slab_tensor) */
} slab;

enum { N_SLABS = FA_SLAB_BUFFERS + FA_STORE_BUFFER_SLABS };

struct fa_store {
  fa_context *ctx;
  fa_tensor **tensors; /* in the order made; a parameter's ->grad is its own header */
  int *slab_of;        /* tensors[i]'s slab (a parameter: FA_SLAB_PARAMS, its gradient in FA_SLAB_GRADS) */
  int count, cap;
  slab slabs[N_SLABS]; /* by fa_store_slab, then the further buffer slabs */
};

fa_store *fa_store_create(void) {
  fa_context *ctx = fa_context_current();
  if (!ctx) {
    fa_error_set(FA_ERR_INVALID, "no current context: create one (fa_context_create) before a store");
    return NULL;
  }
  fa_store *s = calloc(1, sizeof *s);
  if (!s) fa_error_set(FA_ERR_NOMEM, "out of memory creating a parameter store");
  if (s) s->ctx = ctx;
  return s;
}

static void free_header(fa_tensor *t) {
  if (!t) return;
  free((char *)t->name);
  free(t);
}

void fa_store_destroy(fa_store *store) {
  if (!store) return;
  for (int i = 0; i < store->count; i++) {
    free_header(store->tensors[i]->grad);
    free_header(store->tensors[i]);
  }
  for (int k = 0; k < N_SLABS; k++)
    fa_device_free(store->ctx, store->slabs[k].data, store->slabs[k].cap * sizeof(float));
  free(store->tensors);
  free(store->slab_of);
  free(store);
}

/* The header of slab k's view of tensor i, NULL when it has none there. */
static fa_tensor *view_in(const fa_store *store, int i, int k) {
  if (k == FA_SLAB_GRADS) return store->slab_of[i] == FA_SLAB_PARAMS ? store->tensors[i]->grad : NULL;
  return store->slab_of[i] == k ? store->tensors[i] : NULL;
}

/* Room for `floats` more in slab k: a larger slab, the views moved to it. */
static fa_status grow(fa_store *store, int k, size_t floats) {
  slab *sl = &store->slabs[k];
  if (sl->cap - sl->used >= floats) return FA_OK;
  size_t cap = sl->cap ? 2 * sl->cap : 4096;
  while (cap - sl->used < floats) cap *= 2;
  float *data = fa_device_alloc(store->ctx, cap * sizeof(float), "a parameter store");
  if (!data) return fa_error_code();
  if (sl->used) fa_device_copy(store->ctx, data, sl->data, sl->used * sizeof(float));
  for (int i = 0; i < store->count; i++) {
    fa_tensor *v = view_in(store, i, k);
    if (v) v->data = data + (v->data - sl->data);
  }
  fa_device_free(store->ctx, sl->data, sl->cap * sizeof(float));
  sl->data = data, sl->cap = cap;
  return FA_OK;
}

/* A zero-filled view of `numel` floats at the end of slab k, with its own
 * header and a copy of name; NULL and an error on failure. */
static fa_tensor *new_view(fa_store *store, int k, const char *name, int ndim, const int *shape,
                           size_t numel) {
  const size_t span = (numel + VIEW_ALIGN - 1) / VIEW_ALIGN * VIEW_ALIGN;
  fa_tensor *t = calloc(1, sizeof *t);
  char *copy = strdup(name);
  if (!t || !copy) fa_error_set(FA_ERR_NOMEM, "out of memory allocating %s", name);
  if (!t || !copy || grow(store, k, span) != FA_OK) {
    free(t);
    free(copy);
    return NULL;
  }
  slab *sl = &store->slabs[k];
  t->ctx = store->ctx;
  t->ndim = ndim;
  for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
  t->numel = numel;
  t->name = copy;
  t->data = sl->data + sl->used;
  fa_device_fill(store->ctx, t->data, 0.0f, span);
  sl->used += span;
  return t;
}

/* A tensor in slab k (FA_SLAB_PARAMS: a parameter, with its gradient). */
static fa_tensor *add(fa_store *store, int k, const char *name, int ndim, const int *shape) {
  if (k < 0 || k >= N_SLABS || k == FA_SLAB_GRADS) {
    fa_error_set(FA_ERR_INVALID, "a store has no slab %d for %s", k, name);
    return NULL;
  }
  if (fa_store_find(store, name)) {
    fa_error_set(FA_ERR_INVALID, "the store already holds a tensor named %s", name);
    return NULL;
  }
  size_t numel;
  if (!fa_valid_shape(ndim, shape, &numel)) return NULL;
  if (store->count == store->cap) {
    int cap = store->cap ? 2 * store->cap : 32;
    fa_tensor **grown = realloc(store->tensors, (size_t)cap * sizeof *grown);
    if (grown) store->tensors = grown;
    int *slabs = grown ? realloc(store->slab_of, (size_t)cap * sizeof *slabs) : NULL;
    if (!slabs) {
      fa_error_set(FA_ERR_NOMEM, "out of memory growing the parameter store");
      return NULL;
    }
    store->slab_of = slabs;
    store->cap = cap;
  }
  fa_tensor *t = new_view(store, k, name, ndim, shape, numel);
  if (!t) return NULL;
  if (k == FA_SLAB_PARAMS) {
    if (!(t->grad = new_view(store, FA_SLAB_GRADS, name, ndim, shape, numel))) {
      free_header(t);
      return NULL;
    }
    t->requires_grad = true;
  }
  store->slab_of[store->count] = k;
  store->tensors[store->count++] = t;
  return t;
}

fa_tensor *fa_store_new(fa_store *store, const char *name, int ndim, const int *shape) {
  return add(store, FA_SLAB_BUFFERS, name, ndim, shape);
}

fa_tensor *fa_store_new_in(fa_store *store, int slab, const char *name, int ndim, const int *shape) {
  return add(store, slab, name, ndim, shape);
}

fa_tensor *fa_store_param(fa_store *store, const char *name, int ndim, const int *shape) {
  return add(store, FA_SLAB_PARAMS, name, ndim, shape);
}

int fa_store_count(const fa_store *store) { return store->count; }
fa_tensor *fa_store_get(const fa_store *store, int i) { return store->tensors[i]; }

fa_tensor *fa_store_find(const fa_store *store, const char *name) {
  for (int i = 0; i < store->count; i++)
    if (strcmp(store->tensors[i]->name, name) == 0) return store->tensors[i];
  return NULL;
}

void fa_store_zero_grad(fa_store *store) {
  slab *g = &store->slabs[FA_SLAB_GRADS];
  if (g->used) fa_device_fill(store->ctx, g->data, 0.0f, g->used);
}

fa_tensor *fa_store_slab_tensor(fa_store *store, int which) {
  static const char *const names[N_SLABS] = {"params", "grads", "buffers", "buffers.1", "buffers.2", "buffers.3"};
  if (which < 0 || which >= N_SLABS) return NULL;
  slab *sl = &store->slabs[which];
  if (!sl->used || sl->used > INT_MAX) return NULL; /* a shape is ints: 8 GiB of one kind at most */
  fa_tensor *t = &sl->whole;
  memset(t, 0, sizeof *t);
  t->ctx = store->ctx;
  t->ndim = 1;
  t->shape[0] = (int)sl->used;
  t->numel = sl->used;
  t->data = sl->data;
  t->name = names[which];
  return t;
}
