/* Gradient buffers of a backward pass that builds no graph.
 *
 * Without create_graph, a gradient is dead once the node that consumes it
 * has run, and everything a backward rule allocates besides its result is
 * dead at once. The backward pass therefore keeps the running gradients
 * here, in reusable heap buffers, and releases the step arena back to a
 * mark after every node: its memory is the frontier of live gradients, not
 * the whole backward graph.
 *
 * While a rule runs, the pool captures the large tensors it makes
 * (fa_tensor_new asks fa_grad_pool_capture_new first): a result the pass
 * keeps is adopted where it lies instead of copied into a pooled buffer, and
 * the rest go back to the pool when the capture ends. Each context has its
 * pool (core/context.h); its buffers are device memory. For core/autograd.c
 * (and fa_tensor_new) only. */
#ifndef FA_CORE_GRAD_POOL_H
#define FA_CORE_GRAD_POOL_H

#include "core/context.h"
#include "core/tensor.h"

typedef struct fa_grad_pool_entry fa_grad_pool_entry;

/* A context's pool (held in the context). */
typedef struct {
  fa_grad_pool_entry **entries;
  int n_entries, cap_entries;
  bool capturing;
} fa_grad_pool;

/* A tensor of `like`'s shape with room from the pool (contents undefined);
 * NULL and FA_ERR_NOMEM when it cannot be allocated. */
fa_tensor *fa_grad_pool_take(fa_context *ctx, const fa_tensor *like);
/* Tensors of at least this many floats are captured. */
enum { FA_GRAD_POOL_CAPTURE_MIN = 4096 };

/* Starts (on) or ends (off) a capture; ending gives back every captured
 * tensor that was not adopted. */
void fa_grad_pool_capture(fa_context *ctx, bool on);
/* During a capture and for at least FA_GRAD_POOL_CAPTURE_MIN floats: true,
 * and *out gets a pooled tensor for fa_tensor_new (contents undefined; NULL
 * with FA_ERR_NOMEM when it cannot be allocated). Otherwise false. */
bool fa_grad_pool_capture_new(fa_context *ctx, int ndim, const int *shape, size_t numel, fa_tensor **out);
/* The captured tensor that holds g's data (g itself or a view of it, all of
 * it), taken over with g's shape and kept past the capture; NULL when there
 * is none (then g is copied). */
fa_tensor *fa_grad_pool_adopt(fa_context *ctx, const fa_tensor *g);
/* Gives t (from fa_grad_pool_take) back for reuse. */
void fa_grad_pool_give(fa_context *ctx, fa_tensor *t);
/* True when t came from fa_grad_pool_take and has not been given back. */
bool fa_grad_pool_owns(const fa_context *ctx, const fa_tensor *t);
/* Gives every buffer back (end of a pass); they stay allocated for the next. */
void fa_grad_pool_reset(fa_context *ctx);
/* Frees the buffers (when the context is destroyed). */
void fa_grad_pool_release(fa_context *ctx);

#endif
