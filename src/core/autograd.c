#include "core/autograd.h"

#include <stdlib.h>
#include <string.h>

#include "core/device.h"
#include "core/op_def.h"
#include "core/ops.h"

/* Grad mode, the node and pass counters and the gradient pool are ctx's:
 * a pass runs in its output's context. */

static bool set_grad_enabled(fa_context *ctx, bool enabled) {
  bool was = ctx->grad_enabled;
  ctx->grad_enabled = enabled;
  return was;
}

bool fa_set_grad_enabled(bool enabled) {
  fa_context *ctx = fa_context_current();
  return ctx ? set_grad_enabled(ctx, enabled) : true;
}

bool fa_grad_enabled(void) {
  const fa_context *ctx = fa_context_current();
  return !ctx || ctx->grad_enabled;
}

fa_tensor *fa_record(fa_tensor *out, const fa_op_def *op, int n_inputs, fa_tensor *const *inputs,
                     const fa_op_attrs *attrs) {
  if (!out || !out->ctx->grad_enabled) return out;
  bool needed = false;
  for (int i = 0; i < n_inputs; i++) needed |= inputs[i] && inputs[i]->requires_grad;
  if (!needed) return out;
  fa_node *node = fa_arena_alloc(out->ctx->arena, sizeof *node);
  if (!node) return NULL;
  memset(node, 0, sizeof *node);
  node->op = op;
  node->seq = out->ctx->next_seq++;
  node->n_inputs = n_inputs;
  for (int i = 0; i < n_inputs; i++) node->inputs[i] = inputs[i];
  node->output = out;
  if (attrs) node->attrs = *attrs;
  out->node = node;
  out->requires_grad = true;
  return out;
}

static int by_seq_descending(const void *a, const void *b) {
  uint64_t sa = (*(fa_node *const *)a)->seq, sb = (*(fa_node *const *)b)->seq;
  return sa < sb ? 1 : sa > sb ? -1 : 0;
}

/* The nodes `output` depends on, newest first; NULL on arena overflow. */
static fa_node **collect_nodes(fa_tensor *output, int *count) {
  uint64_t visit = output->ctx->next_pass++;
  fa_arena *arena = output->ctx->arena;
  int cap = 1024, n = 0, top = 0;
  fa_node **found = fa_arena_alloc(arena, (size_t)cap * sizeof *found);
  fa_node **stack = fa_arena_alloc(arena, (size_t)cap * sizeof *stack);
  if (!found || !stack) return NULL;
  stack[top++] = output->node;
  output->node->visit_id = visit;
  while (top) {
    fa_node *node = stack[--top];
    if (n == cap || top + FA_MAX_OP_INPUTS > cap) {
      /* grow both: the arena keeps the old copies until the step ends */
      fa_node **f2 = fa_arena_alloc(arena, (size_t)cap * 2 * sizeof *f2);
      fa_node **s2 = fa_arena_alloc(arena, (size_t)cap * 2 * sizeof *s2);
      if (!f2 || !s2) return NULL;
      memcpy(f2, found, (size_t)n * sizeof *f2);
      memcpy(s2, stack, (size_t)top * sizeof *s2);
      found = f2;
      stack = s2;
      cap *= 2;
    }
    found[n++] = node;
    for (int i = 0; i < node->n_inputs; i++) {
      fa_node *in = node->inputs[i] ? node->inputs[i]->node : NULL;
      if (in && in->visit_id != visit) {
        in->visit_id = visit;
        stack[top++] = in;
      }
    }
  }
  qsort(found, (size_t)n, sizeof *found, by_seq_descending);
  *count = n;
  return found;
}

/* With a graph: the sum is a new tensor, or g's own buffer when g is
 * overwritable (see fresh_result). */
static fa_status accumulate(fa_tensor *t, fa_tensor *g, bool overwritable, uint64_t pass) {
  if (t->pass_id != pass) {
    t->pass_id = pass;
    t->pass_grad = g;
    return FA_OK;
  }
  t->pass_grad = overwritable ? fa_add_into(g, t->pass_grad) : fa_add(t->pass_grad, g);
  return t->pass_grad ? FA_OK : fa_error_code();
}

/* Whether result i of a rule may be added into: the output of the last node
 * the rule recorded (nodes first_seq..last_seq; so no node uses it), of an
 * op that writes a buffer of its own and never reads it, and no other result
 * shares that buffer. */
static bool fresh_result(fa_tensor *const *grad_in, int n, int i, uint64_t first_seq, uint64_t last_seq) {
  const fa_tensor *g = grad_in[i];
  if (!g || !g->node || g->node->seq < first_seq || g->node->seq != last_seq || !g->node->op->output_overwritable)
    return false;
  for (int j = 0; j < n; j++)
    if (j != i && grad_in[j] && grad_in[j]->data == g->data) return false;
  return true;
}

/* Without a graph: t's gradient accumulates in a pooled buffer (added in
 * place), or straight into t->grad for a parameter of fa_backward. g is
 * taken over where it lies when it is the consumed output gradient's own
 * buffer (*reusable: a view of it, as add and reshape return, costs no copy)
 * or a large tensor the rule made (captured by the pool); else copied. */
static fa_status accumulate_pooled(fa_tensor *t, fa_tensor *g, fa_tensor *consumed, bool *reusable, bool into_param,
                                   uint64_t pass) {
  fa_context *ctx = g->ctx;
  if (into_param) {
    ctx->k->axpy(g->numel, 1.0f, g->data, t->grad->data);
    t->pass_id = pass;
    t->pass_grad = t->grad;
    return FA_OK;
  }
  if (t->pass_id == pass) {
    ctx->k->axpy(g->numel, 1.0f, g->data, t->pass_grad->data);
    return FA_OK;
  }
  fa_tensor *own;
  if (*reusable && g->data == consumed->data && g->numel == consumed->numel) {
    own = consumed;
    own->ndim = g->ndim;
    memcpy(own->shape, g->shape, sizeof g->shape);
    *reusable = false;
  } else if (!(own = fa_grad_pool_adopt(ctx, g))) {
    if (!(own = fa_grad_pool_take(ctx, g))) return fa_error_code();
    fa_device_copy(ctx, own->data, g->data, g->numel * sizeof(float));
  }
  t->pass_id = pass;
  t->pass_grad = own;
  return FA_OK;
}

/* A tensor whose gradient the pass delivers: a requested input of fa_grad,
 * or, for fa_backward, a persistent parameter. */
static bool is_target(const fa_tensor *t, uint64_t pass, bool to_params) {
  return to_params ? (t->node == NULL && t->grad != NULL && t->requires_grad) : t->target_id == pass;
}

static bool on_path(const fa_tensor *t, uint64_t pass, bool to_params) {
  return t && t->requires_grad && (is_target(t, pass, to_params) || (t->node && t->node->needed_id == pass));
}

/* Runs the backward pass from scalar `output` through the nodes on a path
 * to a target only (like PyTorch's autograd.grad, nothing else is
 * computed). Afterwards every target reached holds its gradient in
 * pass_grad (valid while pass_id == pass). */
static fa_status run_backward(fa_tensor *output, bool create_graph, bool to_params, uint64_t pass) {
  char buf[64];
  if (!output) return fa_error_code() ? fa_error_code() : fa_error_set(FA_ERR_INVALID, "gradient of a NULL tensor");
  if (output->numel != 1)
    return fa_error_set(FA_ERR_INVALID, "gradients are taken of a scalar, not of a tensor of shape %s",
                        fa_shape_str(output, buf, sizeof buf));
  if (!output->requires_grad)
    return fa_error_set(FA_ERR_INVALID,
                        "the output does not require a gradient: no input of it requires one, "
                        "or it was computed with grad mode off");
  fa_context *ctx = output->ctx;
  output->pass_id = pass;
  output->pass_grad = fa_full_on(ctx, output->ndim, output->shape, 1.0f);
  if (!output->pass_grad) return fa_error_code();
  if (!output->node) return FA_OK;  /* the output is itself a leaf */
  int count = 0;
  fa_node **nodes = collect_nodes(output, &count);
  if (!nodes) return fa_error_code();
  /* oldest first: a node is needed when one of its inputs is a target or
   * the output of a needed node */
  for (int k = count - 1; k >= 0; k--)
    for (int i = 0; i < nodes[k]->n_inputs; i++)
      if (on_path(nodes[k]->inputs[i], pass, to_params)) nodes[k]->needed_id = pass;
  bool was = set_grad_enabled(ctx, create_graph);
  fa_arena *arena = ctx->arena;
  fa_status status = FA_OK;
  for (int k = 0; k < count && status == FA_OK; k++) {
    fa_node *node = nodes[k];
    if (node->needed_id != pass || node->output->pass_id != pass) continue;
    bool want[FA_MAX_OP_INPUTS] = {false};
    for (int i = 0; i < node->n_inputs; i++) want[i] = on_path(node->inputs[i], pass, to_params);
    fa_tensor *grad_in[FA_MAX_OP_INPUTS] = {0}, *consumed = node->output->pass_grad;
    fa_arena_mark mark = fa_arena_get_mark(arena);
    uint64_t first_seq = ctx->next_seq;
    if (!create_graph) fa_grad_pool_capture(ctx, true);
    node->op->backward(node, consumed, want, grad_in);
    uint64_t last_seq = ctx->next_seq - 1;
    /* without a graph, the consumed gradient is dead now unless it is a target's */
    bool reusable = !create_graph && fa_grad_pool_owns(ctx, consumed) && !is_target(node->output, pass, to_params);
    for (int i = 0; i < node->n_inputs && status == FA_OK; i++) {
      if (!want[i]) continue;
      if (!grad_in[i]) {
        if (fa_error_code() != FA_OK) status = fa_error_code();
        continue;
      }
      status = create_graph ? accumulate(node->inputs[i], grad_in[i],
                                         fresh_result(grad_in, node->n_inputs, i, first_seq, last_seq), pass)
                            : accumulate_pooled(node->inputs[i], grad_in[i], consumed, &reusable,
                                                to_params && is_target(node->inputs[i], pass, true), pass);
    }
    if (!create_graph) {
      fa_grad_pool_capture(ctx, false); /* what the rule made and the pass did not adopt */
      if (reusable) fa_grad_pool_give(ctx, consumed);
      fa_arena_release(arena, mark); /* the rule's intermediates and results, copied or taken over */
    }
  }
  set_grad_enabled(ctx, was);
  return status;
}

/* A copy of pooled gradient g in the arena, with like's shape. */
static fa_tensor *copy_out(const fa_tensor *g, const fa_tensor *like) {
  fa_tensor *t = fa_tensor_new_on(g->ctx, like->ndim, like->shape);
  if (t) fa_device_copy(g->ctx, t->data, g->data, g->numel * sizeof(float));
  return t;
}

fa_status fa_grad(fa_tensor *output, fa_tensor *const *inputs, int n_inputs, bool create_graph,
                  fa_tensor **grads) {
  for (int i = 0; i < n_inputs; i++) {
    if (!inputs[i] || !inputs[i]->requires_grad)
      return fa_error_set(FA_ERR_INVALID,
                          "input %d of fa_grad does not require a gradient: mark it with "
                          "requires_grad (or make it a parameter) before computing with it",
                          i);
  }
  fa_error_clear();
  if (!output) return run_backward(NULL, create_graph, false, 0); /* its message */
  fa_context *ctx = output->ctx;
  uint64_t pass = ctx->next_pass++;
  for (int i = 0; i < n_inputs; i++) inputs[i]->target_id = pass;
  fa_status status = run_backward(output, create_graph, false, pass);
  for (int i = 0; i < n_inputs && status == FA_OK; i++) {
    fa_tensor *g = inputs[i]->pass_id == pass ? inputs[i]->pass_grad : NULL;
    if (!g)
      grads[i] = fa_zeros_like(inputs[i]);
    else if (fa_grad_pool_owns(ctx, g)) /* out of the pool into the arena, with the input's shape */
      grads[i] = copy_out(g, inputs[i]);
    else
      grads[i] = g;
    if (!grads[i]) status = fa_error_code();
  }
  fa_grad_pool_reset(ctx);
  return status;
}

fa_status fa_backward(fa_tensor *loss) {
  fa_error_clear();
  if (!loss) return run_backward(NULL, false, true, 0); /* its message */
  fa_context *ctx = loss->ctx;
  /* the parameters' gradients added as they come */
  fa_status status = run_backward(loss, false, true, ctx->next_pass++);
  fa_grad_pool_reset(ctx);
  return status;
}
