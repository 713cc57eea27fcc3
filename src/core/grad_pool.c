#include "core/grad_pool.h"
#include "core/tensor_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

typedef struct {
  fa_tensor tensor;  /* first: a tensor's address is its entry's */
  size_t capacity;   /* floats */
  bool busy;
  bool captured;     /* taken by fa_tensor_new during the current capture, not adopted */
} pool_entry;

/* per thread, like the current arena */
static _Thread_local pool_entry **entries;
static _Thread_local int n_entries, cap_entries;
static _Thread_local bool capturing;

static pool_entry *entry_of(const fa_tensor *t) {
  for (int i = 0; i < n_entries; i++)
    if (&entries[i]->tensor == t) return entries[i];
  return NULL;
}

static pool_entry *new_entry(size_t numel) {
  if (n_entries == cap_entries) {
    int cap = cap_entries ? 2 * cap_entries : 32;
    pool_entry **grown = realloc(entries, (size_t)cap * sizeof *grown);
    if (!grown) return NULL;
    entries = grown, cap_entries = cap;
  }
  pool_entry *e = calloc(1, sizeof *e);
  float *data = e ? aligned_alloc(64, (numel * sizeof(float) + 63) / 64 * 64) : NULL;
  if (!data) {
    free(e);
    return NULL;
  }
  e->tensor.data = data;
  e->capacity = numel;
  entries[n_entries++] = e;
  return e;
}

static fa_tensor *take(int ndim, const int *shape, size_t numel, bool captured) {
  pool_entry *best = NULL;  /* the smallest free buffer that fits, and not far larger */
  const size_t most = 4 * numel + 16384;
  for (int i = 0; i < n_entries; i++) {
    pool_entry *e = entries[i];
    if (!e->busy && e->capacity >= numel && e->capacity <= most && (!best || e->capacity < best->capacity))
      best = e;
  }
  if (!best && !(best = new_entry(numel))) {
    fa_error_set(FA_ERR_NOMEM, "out of memory for a gradient of %zu values", numel);
    return NULL;
  }
  best->busy = true;
  best->captured = captured;
  float *data = best->tensor.data;
  memset(&best->tensor, 0, sizeof best->tensor);
  best->tensor.data = data;
  best->tensor.ndim = ndim;
  memcpy(best->tensor.shape, shape, (size_t)ndim * sizeof *shape);
  best->tensor.numel = numel;
  return &best->tensor;
}

fa_tensor *fa_grad_pool_take(const fa_tensor *like) { return take(like->ndim, like->shape, like->numel, false); }

void fa_grad_pool_capture(bool on) {
  capturing = on;
  if (on) return;
  for (int i = 0; i < n_entries; i++)
    if (entries[i]->captured) entries[i]->captured = entries[i]->busy = false;
}

bool fa_grad_pool_capture_new(int ndim, const int *shape, size_t numel, fa_tensor **out) {
  if (!capturing || numel < FA_GRAD_POOL_CAPTURE_MIN) return false;
  *out = take(ndim, shape, numel, true);
  return true;
}

fa_tensor *fa_grad_pool_adopt(const fa_tensor *g) {
  for (int i = 0; i < n_entries; i++) {
    pool_entry *e = entries[i];
    if (e->captured && e->tensor.data == g->data && e->tensor.numel == g->numel) {
      e->captured = false;
      e->tensor.ndim = g->ndim;
      memcpy(e->tensor.shape, g->shape, sizeof g->shape);
      return &e->tensor;
    }
  }
  return NULL;
}

void fa_grad_pool_give(fa_tensor *t) {
  pool_entry *e = entry_of(t);
  if (e) e->busy = false;
}

bool fa_grad_pool_owns(const fa_tensor *t) {
  const pool_entry *e = entry_of(t);
  return e && e->busy;
}

void fa_grad_pool_reset(void) {
  for (int i = 0; i < n_entries; i++) entries[i]->busy = entries[i]->captured = false;
  capturing = false;
}

void fa_grad_pool_release(void) {
  for (int i = 0; i < n_entries; i++) {
    free(entries[i]->tensor.data);
    free(entries[i]);
  }
  free(entries);
  entries = NULL, n_entries = cap_entries = 0;
}
