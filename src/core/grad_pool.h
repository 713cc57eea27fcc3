/* Gradient buffers of a backward pass that builds no graph.
 *
 * Without create_graph, a gradient is dead once the node that consumes it
 * has run, and everything a backward rule allocates besides its result is
 * dead at once. The backward pass therefore keeps the running gradients
 * here, in reusable heap buffers, and releases the step arena back to a
 * mark after every node: its memory is the frontier of live gradients, not
 * the whole backward graph. For core/autograd.c only. */
#ifndef FA_CORE_GRAD_POOL_H
#define FA_CORE_GRAD_POOL_H

#include "core/tensor.h"

/* A tensor of `like`'s shape with room from the pool (contents undefined);
 * NULL and FA_ERR_NOMEM when it cannot be allocated. */
fa_tensor *fa_grad_pool_take(const fa_tensor *like);
/* Gives t (from fa_grad_pool_take) back for reuse. */
void fa_grad_pool_give(fa_tensor *t);
/* True when t came from fa_grad_pool_take and has not been given back. */
bool fa_grad_pool_owns(const fa_tensor *t);
/* Gives every buffer back (end of a pass); they stay allocated for the next. */
void fa_grad_pool_reset(void);
/* Frees the buffers (for leak checks and a clean exit). */
void fa_grad_pool_release(void);

#endif
