/* Pooling with window k and stride k. avg_pool and avg_pool_adjoint are
 * each other's derivatives; max_pool's backward routes the gradient to the
 * first maximum of each window through a constant mask. */
#include "core/device.h"
#include "core/error.h"
#include "core/op_def.h"
#include "core/ops.h"

static bool pool_shape(const fa_tensor *x, int k, const char *op) {
  char buf[64];
  if (x->ndim != 4 || k < 1 || x->shape[2] % k || x->shape[3] % k) {
    fa_error_set(FA_ERR_INVALID, "%s: input %s is not 4-D with height and width divisible by %d", op,
                 fa_shape_str(x, buf, sizeof buf), k);
    return false;
  }
  return true;
}

static void avg_pool_backward(const fa_node *node, fa_tensor *g, const bool *want, fa_tensor **grad_in) {
  (void)want; /* one input: always wanted when asked */
  grad_in[0] = fa_avg_pool_adjoint(g, node->attrs.ints[0]);
}
static const fa_op_def avg_pool_def = {"avg_pool", avg_pool_backward, true};

fa_tensor *fa_avg_pool(fa_tensor *x, int k) {
  if (!x || !pool_shape(x, k, "avg_pool")) return NULL;
  /* x may be bfloat16 (a model's last activations, backend/bf16.h); the means are float32 */
  fa_tensor *out = fa_tensor_new_on(x->ctx, 4, (int[]){x->shape[0], x->shape[1], x->shape[2] / k, x->shape[3] / k});
  if (!out) return NULL;
  x->ctx->k->avg_pool(x->shape, k, x->data, out->data, fa_bf16_bit(x, FA_BF16_X));
  fa_op_attrs attrs = {.ints = {k}};
  return fa_record(out, &avg_pool_def, 1, &x, &attrs);
}

static void avg_pool_adjoint_backward(const fa_node *node, fa_tensor *g, const bool *want, fa_tensor **grad_in) {
  (void)want; /* one input: always wanted when asked */
  grad_in[0] = fa_avg_pool(g, node->attrs.ints[0]);
}
static const fa_op_def avg_pool_adjoint_def = {"avg_pool_adjoint", avg_pool_adjoint_backward, true};

fa_tensor *fa_avg_pool_adjoint(fa_tensor *g, int k) {
  if (!g) return NULL;
  if (g->ndim != 4 || k < 1)
    return fa_error_set(FA_ERR_INVALID, "avg_pool_adjoint: needs a 4-D tensor and k >= 1"), NULL;
  if (!fa_one_device((const fa_tensor *[]){g}, 1, "avg_pool_adjoint")) return NULL;
  int xs[4] = {g->shape[0], g->shape[1], g->shape[2] * k, g->shape[3] * k};
  fa_tensor *out = fa_tensor_new_on(g->ctx, 4, xs);
  if (!out) return NULL;
  g->ctx->k->avg_pool_adjoint(xs, k, g->data, out->data);
  fa_op_attrs attrs = {.ints = {k}};
  return fa_record(out, &avg_pool_adjoint_def, 1, &g, &attrs);
}

/* gx = mask * (k^2 * avg_pool_adjoint(g)): g copied to its window, kept at the maximum */
static void max_pool_backward(const fa_node *node, fa_tensor *g, const bool *want, fa_tensor **grad_in) {
  (void)want; /* one input: always wanted when asked */
  int k = node->attrs.ints[0];
  grad_in[0] = fa_mul(node->attrs.saved, fa_scale(fa_avg_pool_adjoint(g, k), (float)(k * k)));
}
static const fa_op_def max_pool_def = {"max_pool", max_pool_backward, true};

fa_tensor *fa_max_pool(fa_tensor *x, int k) {
  if (!x || !pool_shape(x, k, "max_pool") || !fa_one_device((const fa_tensor *[]){x}, 1, "max_pool")) return NULL;
  fa_tensor *out = fa_tensor_new_on(x->ctx, 4, (int[]){x->shape[0], x->shape[1], x->shape[2] / k, x->shape[3] / k});
  fa_tensor *mask = out ? fa_tensor_new_on(x->ctx, 4, x->shape) : NULL;
  if (!mask) return NULL;
  x->ctx->k->max_pool(x->shape, k, x->data, out->data, mask->data);
  fa_op_attrs attrs = {.ints = {k}, .saved = mask};
  return fa_record(out, &max_pool_def, 1, &x, &attrs);
}
