#include "core/tensor.h"
#include "core/tensor_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/device.h"
#include "core/error.h"
#include "core/grad_pool.h"

bool fa_valid_shape(int ndim, const int *shape, size_t *numel) {
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

static void set_shape(fa_tensor *t, fa_context *ctx, int ndim, const int *shape, size_t numel) {
  memset(t, 0, sizeof *t);
  t->ctx = ctx;
  t->ndim = ndim;
  for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
  t->numel = numel;
}

static bool has_context(const fa_context *ctx) {
  if (ctx) return true;
  fa_error_set(FA_ERR_INVALID, "no current context: create one (fa_context_create) and make it current");
  return false;
}

fa_tensor *fa_tensor_new_as_on(fa_context *ctx, fa_dtype dtype, int ndim, const int *shape) {
  if (dtype == FA_F32) return fa_tensor_new_on(ctx, ndim, shape);
  size_t numel;
  if (dtype != FA_BF16)
    return fa_error_set(FA_ERR_INVALID, "a step tensor of %s: only f32 and bf16 are made", fa_dtype_name(dtype)), NULL;
  if (!has_context(ctx) || !fa_valid_shape(ndim, shape, &numel)) return NULL;
  fa_tensor *t = fa_arena_alloc(ctx->arena, sizeof *t);
  void *data = t ? fa_arena_alloc_data(ctx->arena, numel * fa_dtype_size(dtype)) : NULL;
  if (!data) return NULL;
  set_shape(t, ctx, ndim, shape, numel);
  t->dtype = dtype;
  t->data = data;
  return t;
}

fa_tensor *fa_tensor_new_on(fa_context *ctx, int ndim, const int *shape) {
  size_t numel;
  if (!has_context(ctx) || !fa_valid_shape(ndim, shape, &numel)) return NULL;
  fa_tensor *pooled;
  if (fa_grad_pool_capture_new(ctx, ndim, shape, numel, &pooled)) return pooled; /* inside a no-graph backward rule */
  fa_tensor *t = fa_arena_alloc(ctx->arena, sizeof *t);
  float *data = t ? fa_arena_alloc_data(ctx->arena, numel * sizeof(float)) : NULL;
  if (!data) return NULL;
  set_shape(t, ctx, ndim, shape, numel);
  t->data = data;
  return t;
}

fa_tensor *fa_full_on(fa_context *ctx, int ndim, const int *shape, float value) {
  fa_tensor *t = fa_tensor_new_on(ctx, ndim, shape);
  if (t) fa_device_fill(ctx, t->data, value, t->numel);
  return t;
}

fa_tensor *fa_tensor_from_on(fa_context *ctx, int ndim, const int *shape, const float *host_data) {
  fa_tensor *t = fa_tensor_new_on(ctx, ndim, shape);
  if (t) fa_device_from_host(ctx, t->data, host_data, t->numel * sizeof(float));
  return t;
}

fa_tensor *fa_tensor_new(int ndim, const int *shape) { return fa_tensor_new_on(fa_context_current(), ndim, shape); }

fa_tensor *fa_full(int ndim, const int *shape, float value) {
  return fa_full_on(fa_context_current(), ndim, shape, value);
}

fa_tensor *fa_zeros(int ndim, const int *shape) { return fa_full(ndim, shape, 0.0f); }

fa_tensor *fa_zeros_like(const fa_tensor *x) { return x ? fa_full_on(x->ctx, x->ndim, x->shape, 0.0f) : NULL; }

fa_tensor *fa_tensor_from(int ndim, const int *shape, const float *data) {
  return fa_tensor_from_on(fa_context_current(), ndim, shape, data);
}

fa_tensor *fa_detach(const fa_tensor *x) {
  if (!x) return NULL;
  fa_tensor *t = fa_arena_alloc(x->ctx->arena, sizeof *t);
  if (!t) return NULL;
  set_shape(t, x->ctx, x->ndim, x->shape, x->numel);
  t->dtype = x->dtype;
  t->data = x->data;
  return t;
}

fa_tensor *fa_tensor_keep_only(fa_tensor *t, fa_arena_mark mark) {
  if (!t) return NULL;
  fa_tensor kept = *t;
  fa_arena *arena = t->ctx->arena;
  fa_arena_release(arena, mark);
  fa_tensor *moved = fa_arena_alloc(arena, sizeof *moved);
  const size_t bytes = kept.numel * fa_dtype_size(kept.dtype);
  float *data = moved ? fa_arena_alloc_data(arena, bytes) : NULL;
  if (!data) return NULL;
  /* data <= kept.data: the slab grows upwards (the copy may overlap) */
  fa_device_copy(kept.ctx, data, kept.data, bytes);
  *moved = kept;
  moved->data = data;
  return moved;
}

bool fa_one_device(const fa_tensor *const *t, int n, const char *op) { return fa_one_device_bf16(t, n, 0, op); }

unsigned fa_bf16_bit(const fa_tensor *t, unsigned bit) { return t && t->dtype == FA_BF16 ? bit : 0; }

bool fa_one_device_bf16(const fa_tensor *const *t, int n, unsigned may_be_bf16, const char *op) {
  const fa_context *ctx = NULL;
  for (int i = 0; i < n; i++) {
    if (!t[i]) continue;
    if (t[i]->dtype == FA_BF16 && !(may_be_bf16 >> i & 1u)) {
      fa_error_set(FA_ERR_INVALID, "%s takes no bfloat16 tensor there (keep this layer's activations in float32)",
                   op);
      return false;
    }
    if (!ctx) ctx = t[i]->ctx;
    if (t[i]->ctx != ctx) {
      fa_error_set(FA_ERR_INVALID, "%s: its inputs are in different contexts (%s and %s): compute on one device", op,
                   ctx->backend->name, t[i]->ctx->backend->name);
      return false;
    }
  }
  return true;
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
