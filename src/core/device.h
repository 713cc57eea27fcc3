/* Inside core: the context's fields, device memory and tensors made on a
 * given device. For src/core's .c files only; above core, tensors are made
 * with the constructors of core/tensor.h and ops.
 *
 * Tensor data is device memory (its backend's alloc): host code reads and
 * writes it only through the copies below, never by dereferencing. */
#ifndef FA_CORE_DEVICE_H
#define FA_CORE_DEVICE_H

#include <stdint.h>

#include "backend/backend.h"
#include "core/arena.h"
#include "core/context.h"
#include "core/grad_pool.h"
#include "core/tensor_internal.h"

struct fa_context {
  const fa_backend *backend;
  const fa_kernel_table *k; /* backend->kernels */
  void *state;              /* the backend's, from its create */
  fa_arena *arena;          /* the current step arena; NULL: none */
  bool grad_enabled;        /* grad mode (core/autograd.h) */
  bool bf16;                /* convolutions and matrix products in bfloat16 (core/context.h) */
  uint64_t next_seq;        /* the next autograd node's creation number */
  uint64_t next_pass;       /* the next backward pass's (and traversal's) number */
  fa_grad_pool pool;
};

/* ---- device memory of ctx: its backend's functions ---- */
/* NULL and FA_ERR_NOMEM (naming `what`) when the device has not `bytes` left. */
void *fa_device_alloc(fa_context *ctx, size_t bytes, const char *what);
static inline void fa_device_free(fa_context *ctx, void *ptr, size_t bytes) {
  ctx->backend->free(ctx->state, ptr, bytes);
}
static inline void fa_device_from_host(fa_context *ctx, void *dst, const void *host_src, size_t bytes) {
  ctx->backend->to_device(ctx->state, dst, host_src, bytes);
}
static inline void fa_device_to_host(fa_context *ctx, void *host_dst, const void *src, size_t bytes) {
  ctx->backend->to_host(ctx->state, host_dst, src, bytes);
}
static inline void fa_device_copy(fa_context *ctx, void *dst, const void *src, size_t bytes) {
  ctx->backend->copy(ctx->state, dst, src, bytes);
}
static inline void fa_device_fill(fa_context *ctx, float *dst, float value, size_t n) {
  ctx->backend->fill(ctx->state, dst, value, n);
}

/* ---- tensors on ctx's device, in its current arena (core/tensor.h's
 *      constructors with an explicit context: an op makes its result on its
 *      inputs' device) ---- */
fa_tensor *fa_tensor_new_on(fa_context *ctx, int ndim, const int *shape); /* uninitialised */
/* The same with elements of dtype FA_F32 or FA_BF16 (a model's activations under --half_prec,
 * backend/bf16.h); a bfloat16 tensor lives in the arena, never in a gradient pool. */
fa_tensor *fa_tensor_new_as_on(fa_context *ctx, fa_dtype dtype, int ndim, const int *shape);
fa_tensor *fa_full_on(fa_context *ctx, int ndim, const int *shape, float value);
fa_tensor *fa_tensor_from_on(fa_context *ctx, int ndim, const int *shape, const float *host_data);

/* True when the non-NULL tensors of t[0..n) share one context and none is
 * bfloat16; else false with FA_ERR_INVALID naming `op` (an op computes on
 * one device, and only the ops that say so read bfloat16 tensors). */
bool fa_one_device(const fa_tensor *const *t, int n, const char *op);
/* The same, but t[i] may be bfloat16 where bit i of may_be_bf16 is set: the ops that read bfloat16
 * operands (docs/ARCHITECTURE.md, "Element types"). */
bool fa_one_device_bf16(const fa_tensor *const *t, int n, unsigned may_be_bf16, const char *op);
/* `bit` (a backend/backend.h fa_bf16_operand) when t is a bfloat16 tensor, else 0 (NULL too). */
unsigned fa_bf16_bit(const fa_tensor *t, unsigned bit);

/* True with *numel = the product when ndim and shape make a tensor (each dim
 * positive, at most 2^40 elements); false with FA_ERR_INVALID otherwise. */
bool fa_valid_shape(int ndim, const int *shape, size_t *numel);

#endif
