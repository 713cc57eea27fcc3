/* For op implementers only: how an op records itself for autograd.
 *
 * An op file defines, side by side, its shape check, its forward (a backend
 * kernel call) and its backward rule (written with public ops only). */
#ifndef FA_CORE_OP_DEF_H
#define FA_CORE_OP_DEF_H

#include "core/tensor_internal.h"

#define FA_MAX_OP_INPUTS 5

typedef struct fa_op_def fa_op_def;

/* Attributes an op keeps for its backward. */
typedef struct {
  int ints[8];
  float floats[4];
  fa_tensor *saved;   /* a non-differentiable tensor (e.g. a mask) */
  const int *index;   /* row indices (arena copy) */
} fa_op_attrs;

struct fa_node {
  const fa_op_def *op;
  uint64_t seq;                        /* creation order: backward runs it descending */
  int n_inputs;
  fa_tensor *inputs[FA_MAX_OP_INPUTS];
  fa_tensor *output;
  fa_op_attrs attrs;
  uint64_t visit_id;                   /* traversal bookkeeping */
  uint64_t needed_id;                  /* on a path to a target in this pass */
};

struct fa_op_def {
  const char *name;
  /* Sets grad_in[i] (NULL: no contribution) for each input i with want[i]
   * (the inputs on a path to what is differentiated), given grad_out (the
   * output's shape). Public ops only. A node is only asked when at least
   * one of its inputs is wanted, so a one-input op need not look. */
  void (*backward)(const fa_node *node, fa_tensor *grad_out, const bool *want, fa_tensor **grad_in);
  /* The output is a new buffer (not a view) that the backward rule never
   * reads: once nothing else uses it, fa_add_into may add into it. */
  bool output_overwritable;
};

/* After an op computed `out` from inputs: if grad mode is on and an input
 * requires a gradient, records a node (out->requires_grad becomes true).
 * Returns out, or NULL when the node cannot be allocated. */
fa_tensor *fa_record(fa_tensor *out, const fa_op_def *op, int n_inputs, fa_tensor *const *inputs,
                     const fa_op_attrs *attrs);

/* True when any of the (non-NULL) tensors is NULL: an earlier op failed and
 * its message stands; ops return NULL so errors flow through compositions. */
#define FA_ANY_NULL2(a, b) (!(a) || !(b))

#endif
