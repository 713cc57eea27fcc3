/* Reverse-mode automatic differentiation, define-by-run.
 *
 * Ops compute eagerly; when grad mode is on and an input requires a
 * gradient, they record a node. fa_grad() walks the recorded nodes in
 * reverse. Every backward rule is written with the public ops, so with
 * create_graph the backward pass is itself recorded and can be
 * differentiated again (double backpropagation, as GradAlign needs). */
#ifndef FA_CORE_AUTOGRAD_H
#define FA_CORE_AUTOGRAD_H

#include <stdbool.h>

#include "core/error.h"
#include "core/tensor.h"

/* Grad mode (per thread, on by default). Returns the previous mode, so
 * `bool was = fa_set_grad_enabled(false); ...; fa_set_grad_enabled(was);` */
bool fa_set_grad_enabled(bool enabled);
bool fa_grad_enabled(void);

/* grads[i] = d output / d inputs[i], for a scalar `output` (numel 1).
 * Each input must require a gradient; an input the output does not depend
 * on gets zeros. With create_graph the gradients are themselves recorded
 * (differentiable); without, they are plain tensors. Gradients live in the
 * current arena. */
fa_status fa_grad(fa_tensor *output, fa_tensor *const *inputs, int n_inputs, bool create_graph,
                  fa_tensor **grads);

/* Accumulates d loss / d p into p->grad for every persistent parameter p
 * (a leaf with ->grad) that the scalar `loss` depends on, contribution by
 * contribution as the pass reaches them (on an error, p->grad may hold a
 * part of the sum). */
fa_status fa_backward(fa_tensor *loss);

#endif
