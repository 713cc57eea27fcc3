#include "core/tensor.h"
#include "core/tensor_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/error.h"
#include "core/grad_pool.h"

static bool valid_shape(int ndim, const int *shape, size_t *numel) {
  if (ndim < 0 || ndim > FA_MAX_DIMS) {
    fa_error_set(FA_ERR_INVALID, "a tensor has 0 to %d dimensions, not %d", FA_MAX_DIMS, ndim);
    return false;
  }
  size_t n = 1;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] <= 0 || n > ((size_t)1 << 40) / (size_t)shape[i]) {
      fa_error_set(FA_ERR_INVALID, "bad tensor dimension %d: %d", i, shape[i]);
      return false;
    }
    n *= (size_t)shape[i];
  }
  *numel = n;
  return true;
}

static void set_shape(fa_tensor *t, int ndim, const int *shape, size_t numel) {
  memset(t, 0, sizeof *t);
  t->ndim = ndim;
  for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
  t->numel = numel;
}

fa_tensor *fa_tensor_new(int ndim, const int *shape) {
  size_t numel;
  if (!valid_shape(ndim, shape, &numel)) return NULL;
  fa_tensor *pooled;
  if (fa_grad_pool_capture_new(ndim, shape, numel, &pooled)) return pooled; /* inside a no-graph backward rule */
  fa_arena *arena = fa_arena_current();
  fa_tensor *t = fa_arena_alloc(arena, sizeof *t);
  float *data = t ? fa_arena_alloc(arena, numel * sizeof(float)) : NULL;
  if (!data) return NULL;
  set_shape(t, ndim, shape, numel);
  t->data = data;
  return t;
}

fa_tensor *fa_full(int ndim, const int *shape, float value) {
  fa_tensor *t = fa_tensor_new(ndim, shape);
  if (t)
    for (size_t i = 0; i < t->numel; i++) t->data[i] = value;
  return t;
}

fa_tensor *fa_zeros(int ndim, const int *shape) { return fa_full(ndim, shape, 0.0f); }

fa_tensor *fa_zeros_like(const fa_tensor *x) { return x ? fa_zeros(x->ndim, x->shape) : NULL; }

fa_tensor *fa_tensor_from(int ndim, const int *shape, const float *data) {
  fa_tensor *t = fa_tensor_new(ndim, shape);
  if (t) memcpy(t->data, data, t->numel * sizeof(float));
  return t;
}

fa_tensor *fa_detach(const fa_tensor *x) {
  if (!x) return NULL;
  fa_tensor *t = fa_arena_alloc(fa_arena_current(), sizeof *t);
  if (!t) return NULL;
  set_shape(t, x->ndim, x->shape, x->numel);
  t->data = x->data;
  return t;
}

fa_tensor *fa_tensor_keep_only(fa_tensor *t, size_t mark) {
  if (!t) return NULL;
  fa_tensor kept = *t;
  fa_arena *arena = fa_arena_current();
  fa_arena_release(arena, mark);
  fa_tensor *moved = fa_arena_alloc(arena, sizeof *moved);
  float *data = moved ? fa_arena_alloc(arena, kept.numel * sizeof(float)) : NULL;
  if (!data) return NULL;
  memmove(data, kept.data, kept.numel * sizeof(float)); /* data <= kept.data: the arena grows upwards */
  *moved = kept;
  moved->data = data;
  return moved;
}

bool fa_same_shape(const fa_tensor *a, const fa_tensor *b) {
  if (a->ndim != b->ndim) return false;
  for (int i = 0; i < a->ndim; i++)
    if (a->shape[i] != b->shape[i]) return false;
  return true;
}

const char *fa_shape_str(const fa_tensor *x, char *buf, size_t len) {
  size_t at = (size_t)snprintf(buf, len, "(");
  for (int i = 0; i < x->ndim && at < len; i++)
    at += (size_t)snprintf(buf + at, len - at, i ? ", %d" : "%d", x->shape[i]);
  if (at < len) snprintf(buf + at, len - at, ")");
  return buf;
}

void fa_shape4(const fa_tensor *x, int out[4]) {
  int pad = 4 - x->ndim;
  for (int i = 0; i < 4; i++) out[i] = i < pad ? 1 : x->shape[i - pad];
}

/* ---- persistent store ---- */

struct fa_store {
  fa_tensor **tensors;
  int count, cap;
};

fa_store *fa_store_create(void) {
  fa_store *s = calloc(1, sizeof *s);
  if (!s) fa_error_set(FA_ERR_NOMEM, "out of memory creating a parameter store");
  return s;
}

static void free_persistent(fa_tensor *t) {
  if (!t) return;
  free(t->data);
  free((char *)t->name);
  free(t);
}

void fa_store_destroy(fa_store *store) {
  if (!store) return;
  for (int i = 0; i < store->count; i++) {
    free_persistent(store->tensors[i]->grad);
    free_persistent(store->tensors[i]);
  }
  free(store->tensors);
  free(store);
}

static fa_tensor *persistent_new(const char *name, int ndim, const int *shape) {
  size_t numel;
  if (!valid_shape(ndim, shape, &numel)) return NULL;
  fa_tensor *t = malloc(sizeof *t);
  float *data = calloc(numel, sizeof(float));
  char *copy = strdup(name);
  if (!t || !data || !copy) {
    free(t);
    free(data);
    free(copy);
    fa_error_set(FA_ERR_NOMEM, "out of memory allocating %s", name);
    return NULL;
  }
  set_shape(t, ndim, shape, numel);
  t->data = data;
  t->name = copy;
  return t;
}

fa_tensor *fa_store_new(fa_store *store, const char *name, int ndim, const int *shape) {
  if (fa_store_find(store, name)) {
    fa_error_set(FA_ERR_INVALID, "the store already holds a tensor named %s", name);
    return NULL;
  }
  if (store->count == store->cap) {
    int cap = store->cap ? 2 * store->cap : 32;
    fa_tensor **grown = realloc(store->tensors, (size_t)cap * sizeof *grown);
    if (!grown) {
      fa_error_set(FA_ERR_NOMEM, "out of memory growing the parameter store");
      return NULL;
    }
    store->tensors = grown;
    store->cap = cap;
  }
  fa_tensor *t = persistent_new(name, ndim, shape);
  if (t) store->tensors[store->count++] = t;
  return t;
}

fa_tensor *fa_store_param(fa_store *store, const char *name, int ndim, const int *shape) {
  fa_tensor *t = fa_store_new(store, name, ndim, shape);
  if (!t) return NULL;
  t->grad = persistent_new(name, ndim, shape);
  if (!t->grad) return NULL;
  t->requires_grad = true;
  return t;
}

int fa_store_count(const fa_store *store) { return store->count; }
fa_tensor *fa_store_get(const fa_store *store, int i) { return store->tensors[i]; }

fa_tensor *fa_store_find(const fa_store *store, const char *name) {
  for (int i = 0; i < store->count; i++)
    if (strcmp(store->tensors[i]->name, name) == 0) return store->tensors[i];
  return NULL;
}

void fa_store_zero_grad(fa_store *store) {
  for (int i = 0; i < store->count; i++)
    if (store->tensors[i]->grad) memset(store->tensors[i]->grad->data, 0, store->tensors[i]->numel * sizeof(float));
}
