/* Optimisers with PyTorch's semantics (torch 1.13, float32 arithmetic):
 *
 *   SGD  (torch.optim.SGD, dampening 0, no Nesterov):
 *     d = g + weight_decay * p
 *     buf = d on the first step, else buf = momentum * buf + d
 *     p = p - lr * buf
 *   Adam (torch.optim.Adam, L2 weight decay added to the gradient):
 *     d = g + weight_decay * p
 *     m = beta1 * m + (1 - beta1) * d
 *     v = beta2 * v + (1 - beta2) * d * d
 *     p = p - (lr / (1 - beta1^step)) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)
 *
 * An optimiser updates the tensors of a store that require a gradient and
 * have one (->grad), in the store's order at creation; buffers (running
 * statistics) are left alone. Its state lives in its own store, so that a
 * checkpoint can save and restore it by name for a bit-exact resume:
 *
 *   "<param>.momentum_buffer"                 SGD, the shape of <param>
 *   "<param>.exp_avg", "<param>.exp_avg_sq"   Adam, the shape of <param>
 *   "step"                                    both, shape (1): the steps taken,
 *                                             a whole number in float32 as
 *                                             PyTorch keeps it (exact below 2^24)
 *
 * To resume, create the optimiser on the restored parameters and copy the
 * saved values into the tensors of fa_optimizer_state(). */
#ifndef FA_OPTIM_OPTIM_H
#define FA_OPTIM_OPTIM_H

#include "core/error.h"
#include "core/tensor.h"

typedef struct fa_optimizer fa_optimizer;

/* momentum in [0, 1), weight_decay >= 0. NULL and a message on a bad
 * argument or when memory runs out. */
fa_optimizer *fa_sgd_create(fa_store *params, float momentum, float weight_decay);
/* beta1, beta2 in [0, 1), eps > 0, weight_decay >= 0 (the paper: 0.9, 0.999, 1e-8). */
fa_optimizer *fa_adam_create(fa_store *params, float beta1, float beta2, float eps,
                             float weight_decay);
void fa_optimizer_destroy(fa_optimizer *opt);

/* One update of every parameter from its ->grad with learning rate lr >= 0.
 * Fails, changing nothing, on a bad lr or a step count that is not a whole
 * number in [0, 2^24) (a corrupt restored state). */
fa_status fa_optimizer_step(fa_optimizer *opt, float lr);

/* The state tensors, named as above; owned by the optimiser. */
fa_store *fa_optimizer_state(const fa_optimizer *opt);
/* The number of steps taken: the value of the "step" tensor. */
long fa_optimizer_steps(const fa_optimizer *opt);

#endif
