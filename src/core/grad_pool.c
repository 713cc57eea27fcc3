#include "core/grad_pool.h"
#include "core/tensor_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/device.h"
#include "core/error.h"

struct fa_grad_pool_entry {
  fa_tensor tensor;  /* first: a tensor's address is its entry's */
  size_t capacity;   /* floats */
  bool busy;
  bool captured;     /* taken by fa_tensor_new during the current capture, not adopted */
};
typedef fa_grad_pool_entry pool_entry;

static pool_entry *entry_of(const fa_grad_pool *pool, const fa_tensor *t) {
  for (int i = 0; i < pool->n_entries; i++)
    if (&pool->entries[i]->tensor == t) return pool->entries[i];
  return NULL;
}

static pool_entry *new_entry(fa_context *ctx, size_t numel) {
  fa_grad_pool *pool = &ctx->pool;
  if (pool->n_entries == pool->cap_entries) {
    int cap = pool->cap_entries ? 2 * pool->cap_entries : 32;
    pool_entry **grown = realloc(pool->entries, (size_t)cap * sizeof *grown);
    if (!grown) return NULL;
    pool->entries = grown, pool->cap_entries = cap;
  }
  pool_entry *e = calloc(1, sizeof *e);
  float *data = e ? fa_device_alloc(ctx, numel * sizeof(float), "a gradient") : NULL;
  if (!data) {
    free(e);
    return NULL;
  }
  e->tensor.data = data;
  e->capacity = numel;
  pool->entries[pool->n_entries++] = e;
  return e;
}

static fa_tensor *take(fa_context *ctx, int ndim, const int *shape, size_t numel, bool captured) {
  fa_grad_pool *pool = &ctx->pool;
  pool_entry *best = NULL;  /* the smallest free buffer that fits, and not far larger */
  const size_t most = 4 * numel + 16384;
  for (int i = 0; i < pool->n_entries; i++) {
    pool_entry *e = pool->entries[i];
    if (!e->busy && e->capacity >= numel && e->capacity <= most && (!best || e->capacity < best->capacity))
      best = e;
  }
  if (!best && !(best = new_entry(ctx, numel))) {
    fa_error_set(FA_ERR_NOMEM, "out of memory for a gradient of %zu values", numel);
    return NULL;
  }
  best->busy = true;
  best->captured = captured;
  float *data = best->tensor.data;
  memset(&best->tensor, 0, sizeof best->tensor);
  best->tensor.data = data;
  best->tensor.ctx = ctx;
  best->tensor.ndim = ndim;
  memcpy(best->tensor.shape, shape, (size_t)ndim * sizeof *shape);
  best->tensor.numel = numel;
  return &best->tensor;
}

fa_tensor *fa_grad_pool_take(fa_context *ctx, const fa_tensor *like) {
  return take(ctx, like->ndim, like->shape, like->numel, false);
}

void fa_grad_pool_capture(fa_context *ctx, bool on) {
  fa_grad_pool *pool = &ctx->pool;
  pool->capturing = on;
  if (on) return;
  for (int i = 0; i < pool->n_entries; i++)
    if (pool->entries[i]->captured) pool->entries[i]->captured = pool->entries[i]->busy = false;
}

bool fa_grad_pool_capture_new(fa_context *ctx, int ndim, const int *shape, size_t numel, fa_tensor **out) {
  if (!ctx->pool.capturing || numel < FA_GRAD_POOL_CAPTURE_MIN) return false;
  *out = take(ctx, ndim, shape, numel, true);
  return true;
}

fa_tensor *fa_grad_pool_adopt(fa_context *ctx, const fa_tensor *g) {
  fa_grad_pool *pool = &ctx->pool;
  for (int i = 0; i < pool->n_entries; i++) {
    pool_entry *e = pool->entries[i];
    if (e->captured && e->tensor.data == g->data && e->tensor.numel == g->numel) {
      e->captured = false;
      e->tensor.ndim = g->ndim;
      memcpy(e->tensor.shape, g->shape, sizeof g->shape);
      return &e->tensor;
    }
  }
  return NULL;
}

void fa_grad_pool_give(fa_context *ctx, fa_tensor *t) {
  pool_entry *e = entry_of(&ctx->pool, t);
  if (e) e->busy = false;
}

bool fa_grad_pool_owns(const fa_context *ctx, const fa_tensor *t) {
  const pool_entry *e = entry_of(&ctx->pool, t);
  return e && e->busy;
}

void fa_grad_pool_reset(fa_context *ctx) {
  fa_grad_pool *pool = &ctx->pool;
  for (int i = 0; i < pool->n_entries; i++) pool->entries[i]->busy = pool->entries[i]->captured = false;
  pool->capturing = false;
}

void fa_grad_pool_release(fa_context *ctx) {
  fa_grad_pool *pool = &ctx->pool;
  for (int i = 0; i < pool->n_entries; i++) {
    fa_device_free(ctx, pool->entries[i]->tensor.data, pool->entries[i]->capacity * sizeof(float));
    free(pool->entries[i]);
  }
  free(pool->entries);
  *pool = (fa_grad_pool){0};
}
