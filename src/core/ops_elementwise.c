/* Elementwise ops: broadcasting arithmetic, affine maps, activations, masks. */
#include <string.h>

#include "core/device.h"
#include "core/error.h"
#include "core/op_def.h"
#include "core/ops.h"

/* ---- broadcasting binary ops ---- */

/* out's shape from a's and b's (right-aligned; each dim equal or 1) */
static bool broadcast_shape(const fa_tensor *a, const fa_tensor *b, int *ndim, int shape[4], const char *op) {
  int as[4], bs[4];
  fa_shape4(a, as);
  fa_shape4(b, bs);
  *ndim = a->ndim > b->ndim ? a->ndim : b->ndim;
  for (int d = 0; d < 4; d++) {
    if (as[d] != bs[d] && as[d] != 1 && bs[d] != 1) {
      char sa[64], sb[64];
      fa_error_set(FA_ERR_INVALID, "%s: shapes %s and %s do not broadcast", op, fa_shape_str(a, sa, sizeof sa),
                   fa_shape_str(b, sb, sizeof sb));
      return false;
    }
    shape[d] = as[d] > bs[d] ? as[d] : bs[d];
  }
  /* keep only the trailing ndim dims */
  memmove(shape, shape + 4 - *ndim, (size_t)*ndim * sizeof *shape);
  return true;
}

static fa_tensor *binary(fa_binary_kind kind, const fa_op_def *def, fa_tensor *a, fa_tensor *b) {
  if (FA_ANY_NULL2(a, b)) return NULL;
  int ndim, shape[4];
  if (!broadcast_shape(a, b, &ndim, shape, def->name)) return NULL;
  if (!fa_one_device((const fa_tensor *[]){a, b}, 2, def->name)) return NULL;
  fa_tensor *out = fa_tensor_new_on(a->ctx, ndim, shape);
  if (!out) return NULL;
  int os[4], as[4], bs[4];
  fa_shape4(out, os);
  fa_shape4(a, as);
  fa_shape4(b, bs);
  a->ctx->k->binary(kind, os, a->data, as, b->data, bs, out->data);
  fa_tensor *inputs[2] = {a, b};
  return fa_record(out, def, 2, inputs, NULL);
}

/* the gradient of a broadcast operand: g summed back to its shape */
static fa_tensor *unbroadcast(fa_tensor *g, const fa_tensor *like) {
  return fa_same_shape(g, like) ? g : fa_sum_to(g, like->ndim, like->shape);
}

static void add_backward(const fa_node *node, fa_tensor *g, const bool *want, fa_tensor **grad_in) {
  if (want[0]) grad_in[0] = unbroadcast(g, node->inputs[0]);
  if (want[1]) grad_in[1] = unbroadcast(g, node->inputs[1]);
}
static const fa_op_def add_def = {"add", add_backward, true};
fa_tensor *fa_add(fa_tensor *a, fa_tensor *b) { return binary(FA_BINARY_ADD, &add_def, a, b); }

/* For the ops that take two tensors of one shape: false, with the error set, when they differ. */
static bool same_shapes(const fa_tensor *a, const fa_tensor *b, const char *op) {
  if (fa_same_shape(a, b)) return true;
  char sa[64], sb[64];
  fa_error_set(FA_ERR_INVALID, "%s: shapes %s and %s differ", op, fa_shape_str(a, sa, sizeof sa),
               fa_shape_str(b, sb, sizeof sb));
  return false;
}

fa_tensor *fa_add_into(fa_tensor *a, fa_tensor *b) {
  if (FA_ANY_NULL2(a, b) || !same_shapes(a, b, "add_into")) return NULL;
  if (a->node && !a->node->op->output_overwritable)
    return fa_error_set(FA_ERR_INVALID, "add_into: the output of %s is read by its backward rule", a->node->op->name),
           NULL;
  /* a bfloat16 a (a model's activations, backend/bf16.h) takes b in either storage, a float32 a float32 b */
  const bool half = a->dtype == FA_BF16;
  if (!fa_one_device_bf16((const fa_tensor *[]){a, b}, 2, half ? 3u : 0u, "add_into")) return NULL;
  fa_tensor *out = fa_detach(a); /* a's buffer, now a + b; a's own value is gone */
  if (!out) return NULL;
  if (half)
    out->ctx->k->add_to_bf16(b->numel, b->data, out->data, fa_bf16_bit(b, FA_BF16_X));
  else
    out->ctx->k->axpy(b->numel, 1.0f, b->data, out->data);
  fa_tensor *inputs[2] = {a, b};
  return fa_record(out, &add_def, 2, inputs, NULL);
}

static void sub_backward(const fa_node *node, fa_tensor *g, const bool *want, fa_tensor **grad_in) {
  if (want[0]) grad_in[0] = unbroadcast(g, node->inputs[0]);
  if (want[1]) grad_in[1] = fa_scale(unbroadcast(g, node->inputs[1]), -1.0f);
}
static const fa_op_def sub_def = {"sub", sub_backward, true};
fa_tensor *fa_sub(fa_tensor *a, fa_tensor *b) { return binary(FA_BINARY_SUB, &sub_def, a, b); }

static void mul_backward(const fa_node *node, fa_tensor *g, const bool *want, fa_tensor **grad_in) {
  fa_tensor *a = node->inputs[0], *b = node->inputs[1];
  if (want[0]) grad_in[0] = unbroadcast(fa_mul(g, b), a);
  if (want[1]) grad_in[1] = unbroadcast(fa_mul(g, a), b);
}
static const fa_op_def mul_def = {"mul", mul_backward, true};
fa_tensor *fa_mul(fa_tensor *a, fa_tensor *b) { return binary(FA_BINARY_MUL, &mul_def, a, b); }

/* y = a / b: dy/da = 1/b, dy/db = -a/b^2 */
static void div_backward(const fa_node *node, fa_tensor *g, const bool *want, fa_tensor **grad_in) {
  fa_tensor *a = node->inputs[0], *b = node->inputs[1];
  if (want[0]) grad_in[0] = unbroadcast(fa_div(g, b), a);
  if (want[1]) grad_in[1] = unbroadcast(fa_scale(fa_div(fa_mul(g, a), fa_mul(b, b)), -1.0f), b);
}
static const fa_op_def div_def = {"div", div_backward, true};
fa_tensor *fa_div(fa_tensor *a, fa_tensor *b) { return binary(FA_BINARY_DIV, &div_def, a, b); }

/* ---- unary maps ---- */

static fa_tensor *unary(fa_unary_kind kind, const fa_op_def *def, fa_tensor *x, float p0, float p1) {
  if (!x || !fa_one_device((const fa_tensor *[]){x}, 1, def ? def->name : "sign or step")) return NULL;
  fa_tensor *out = fa_tensor_new_on(x->ctx, x->ndim, x->shape);
  if (!out) return NULL;
  x->ctx->k->unary(kind, x->numel, x->data, out->data, p0, p1);
  if (!def) return out;  /* not differentiable: a constant */
  fa_op_attrs attrs = {.floats = {p0, p1}};
  return fa_record(out, def, 1, &x, &attrs);
}

static void affine_backward(const fa_node *node, fa_tensor *g, const bool *want, fa_tensor **grad_in) {
  (void)want; /* one input: always wanted when asked */
  grad_in[0] = fa_scale(g, node->attrs.floats[0]);
}
static const fa_op_def affine_def = {"affine", affine_backward, true};
fa_tensor *fa_affine(fa_tensor *x, float scale, float shift) {
  return unary(FA_UNARY_AFFINE, &affine_def, x, scale, shift);
}
fa_tensor *fa_scale(fa_tensor *x, float scale) { return fa_affine(x, scale, 0.0f); }

/* relu's backward, g * [x > 0] in one pass (as g * step(x)). x is saved, not
 * an input: the derivative in x is zero almost everywhere; in g it is this
 * op again, so relu stays differentiable to any order. */
static fa_tensor *relu_grad(fa_tensor *g, fa_tensor *x);
static void relu_grad_backward(const fa_node *node, fa_tensor *g, const bool *want, fa_tensor **grad_in) {
  (void)want; /* one input: always wanted when asked */
  grad_in[0] = relu_grad(g, node->attrs.saved);
}
static const fa_op_def relu_grad_def = {"relu_grad", relu_grad_backward, true};
static fa_tensor *relu_grad(fa_tensor *g, fa_tensor *x) {
  if (FA_ANY_NULL2(g, x)) return NULL;
  if (!fa_one_device((const fa_tensor *[]){g, x}, 2, "relu_grad")) return NULL;
  fa_tensor *out = fa_tensor_new_on(g->ctx, g->ndim, g->shape);
  if (!out) return NULL;
  int s[4];
  fa_shape4(g, s);
  g->ctx->k->binary(FA_BINARY_MUL_POSITIVE, s, g->data, s, x->data, s, out->data);
  const fa_op_attrs attrs = {.saved = x};
  return fa_record(out, &relu_grad_def, 1, &g, &attrs);
}

static void relu_backward(const fa_node *node, fa_tensor *g, const bool *want, fa_tensor **grad_in) {
  (void)want; /* one input: always wanted when asked */
  grad_in[0] = relu_grad(g, node->inputs[0]);
}
static const fa_op_def relu_def = {"relu", relu_backward, true};
fa_tensor *fa_relu(fa_tensor *x) { return unary(FA_UNARY_RELU, &relu_def, x, 0, 0); }

/* d sqrt(x) = 1 / (2 sqrt(x)), written with the output so it stays differentiable */
static void sqrt_backward(const fa_node *node, fa_tensor *g, const bool *want, fa_tensor **grad_in) {
  (void)want; /* one input: always wanted when asked */
  grad_in[0] = fa_div(fa_scale(g, 0.5f), node->output);
}
static const fa_op_def sqrt_def = {"sqrt", sqrt_backward, false};
fa_tensor *fa_sqrt(fa_tensor *x) { return unary(FA_UNARY_SQRT, &sqrt_def, x, 0, 0); }

static void exp_backward(const fa_node *node, fa_tensor *g, const bool *want, fa_tensor **grad_in) {
  (void)want; /* one input: always wanted when asked */
  grad_in[0] = fa_mul(g, node->output);
}
static const fa_op_def exp_def = {"exp", exp_backward, false};
fa_tensor *fa_exp(fa_tensor *x) { return unary(FA_UNARY_EXP, &exp_def, x, 0, 0); }

/* The backward of clamp(a + b, lo, hi) (b NULL: of clamp(a, lo, hi)),
 * g * [lo <= a + b <= hi] in one pass. a and b are inputs for their values
 * only: the derivative in them is zero almost everywhere (no contribution);
 * in g it is this op again, so clamp stays differentiable to any order. */
static fa_tensor *in_range_grad(fa_tensor *g, fa_tensor *a, fa_tensor *b, float lo, float hi);
static void in_range_grad_backward(const fa_node *node, fa_tensor *g, const bool *want, fa_tensor **grad_in) {
  if (want[0])
    grad_in[0] = in_range_grad(g, node->inputs[1], node->n_inputs == 3 ? node->inputs[2] : NULL,
                               node->attrs.floats[0], node->attrs.floats[1]);
}
static const fa_op_def in_range_grad_def = {"in_range_grad", in_range_grad_backward, true};
static fa_tensor *in_range_grad(fa_tensor *g, fa_tensor *a, fa_tensor *b, float lo, float hi) {
  if (FA_ANY_NULL2(g, a)) return NULL;
  if (!fa_one_device((const fa_tensor *[]){g, a, b}, 3, "in_range_grad")) return NULL;
  fa_tensor *out = fa_tensor_new_on(g->ctx, g->ndim, g->shape);
  if (!out) return NULL;
  g->ctx->k->mul_in_range(g->numel, g->data, a->data, b ? b->data : NULL, lo, hi, out->data);
  fa_tensor *inputs[3] = {g, a, b};
  const fa_op_attrs attrs = {.floats = {lo, hi}};
  return fa_record(out, &in_range_grad_def, b ? 3 : 2, inputs, &attrs);
}

static void clamp_backward(const fa_node *node, fa_tensor *g, const bool *want, fa_tensor **grad_in) {
  (void)want; /* one input: always wanted when asked */
  grad_in[0] = in_range_grad(g, node->inputs[0], NULL, node->attrs.floats[0], node->attrs.floats[1]);
}
static const fa_op_def clamp_def = {"clamp", clamp_backward, true};
fa_tensor *fa_clamp(fa_tensor *x, float lo, float hi) { return unary(FA_UNARY_CLAMP, &clamp_def, x, lo, hi); }

static void add_clamp_backward(const fa_node *node, fa_tensor *g, const bool *want, fa_tensor **grad_in) {
  fa_tensor *a = node->inputs[0], *b = node->inputs[1];
  fa_tensor *ga = in_range_grad(g, a, b, node->attrs.floats[0], node->attrs.floats[1]);
  if (want[0]) grad_in[0] = ga;
  if (want[1]) grad_in[1] = ga;
}
static const fa_op_def add_clamp_def = {"add_clamp", add_clamp_backward, true};
fa_tensor *fa_add_clamp(fa_tensor *a, fa_tensor *b, float lo, float hi) {
  if (FA_ANY_NULL2(a, b) || !same_shapes(a, b, "add_clamp")) return NULL;
  if (!fa_one_device((const fa_tensor *[]){a, b}, 2, "add_clamp")) return NULL;
  fa_tensor *out = fa_tensor_new_on(a->ctx, a->ndim, a->shape);
  if (!out) return NULL;
  a->ctx->k->add_clamp(a->numel, a->data, b->data, lo, hi, out->data);
  fa_tensor *inputs[2] = {a, b};
  const fa_op_attrs attrs = {.floats = {lo, hi}};
  return fa_record(out, &add_clamp_def, 2, inputs, &attrs);
}

fa_tensor *fa_sign(fa_tensor *x) { return unary(FA_UNARY_SIGN, NULL, x, 0, 0); }
fa_tensor *fa_step(fa_tensor *x) { return unary(FA_UNARY_STEP, NULL, x, 0, 0); }
