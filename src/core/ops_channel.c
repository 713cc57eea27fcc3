/* Per-channel ops of batch norm, fused so that the forward pass keeps only
 * its input and output (N, C, H, W) tensors:
 *   channel_affine(x, s, b)       y = x * s + b,           s, b (1, C, 1, 1)
 *   channel_affine_relu(x, s, b)  y = max(x * s + b, 0)
 *   channel_variance(x, m)        v = mean over N, H, W of (x - m)^2, (1, C, 1, 1)
 * Their backward rules are written with the public ops, so they are
 * differentiable again (double backpropagation through batch norm). */
#include "backend/backend.h"
#include "core/error.h"
#include "core/op_def.h"
#include "core/ops.h"

static bool is_channel_vector(const fa_tensor *t, int c) {
  return t->ndim == 4 && t->shape[0] == 1 && t->shape[1] == c && t->shape[2] == 1 && t->shape[3] == 1;
}

static bool check(const fa_tensor *x, const fa_tensor *a, const fa_tensor *b, const char *op) {
  if (x->ndim == 4 && is_channel_vector(a, x->shape[1]) && (!b || is_channel_vector(b, x->shape[1]))) return true;
  char sx[64], sa[64];
  fa_error_set(FA_ERR_INVALID, "%s needs x (N, C, H, W) and per-channel (1, C, 1, 1) tensors, not %s and %s", op,
               fa_shape_str(x, sx, sizeof sx), fa_shape_str(a, sa, sizeof sa));
  return false;
}

/* gm = g, masked by the ReLU (out > 0) when fused:
 *   dx = gm * s    ds = sum over N, H, W of gm * x    db = sum of gm */
static void channel_affine_backward(const fa_node *node, fa_tensor *g, const bool *want, fa_tensor **grad_in) {
  fa_tensor *x = node->inputs[0], *s = node->inputs[1], *b = node->inputs[2];
  fa_tensor *gm = node->attrs.ints[0] ? fa_mul(g, fa_step(node->output)) : g;
  if (want[0]) grad_in[0] = fa_mul(gm, s);
  if (want[1]) grad_in[1] = fa_sum_to(fa_mul(gm, x), 4, s->shape);
  if (want[2]) grad_in[2] = fa_sum_to(gm, 4, b->shape);
}
static const fa_op_def channel_affine_def = {"channel_affine", channel_affine_backward};

static fa_tensor *channel_affine(fa_tensor *x, fa_tensor *s, fa_tensor *b, bool relu) {
  if (FA_ANY_NULL2(x, s) || !b) return NULL;
  if (!check(x, s, b, relu ? "channel_affine_relu" : "channel_affine")) return NULL;
  fa_tensor *out = fa_tensor_new(4, x->shape);
  if (!out) return NULL;
  fa_kernels()->channel_affine(x->shape, x->data, s->data, b->data, relu, out->data);
  fa_tensor *inputs[3] = {x, s, b};
  fa_op_attrs attrs = {.ints = {relu}};
  return fa_record(out, &channel_affine_def, 3, inputs, &attrs);
}

fa_tensor *fa_channel_affine(fa_tensor *x, fa_tensor *s, fa_tensor *b) { return channel_affine(x, s, b, false); }
fa_tensor *fa_channel_affine_relu(fa_tensor *x, fa_tensor *s, fa_tensor *b) { return channel_affine(x, s, b, true); }

/* d = (x - m) * g:  dx = 2 d / count    dm = -2 sum(d) / count */
static void channel_variance_backward(const fa_node *node, fa_tensor *g, const bool *want, fa_tensor **grad_in) {
  fa_tensor *x = node->inputs[0], *m = node->inputs[1];
  float count = (float)(x->numel / (size_t)x->shape[1]);
  fa_tensor *d = fa_mul(fa_sub(x, m), g);
  if (want[0]) grad_in[0] = fa_scale(d, 2.0f / count);
  if (want[1]) grad_in[1] = fa_scale(fa_sum_to(d, 4, m->shape), -2.0f / count);
}
static const fa_op_def channel_variance_def = {"channel_variance", channel_variance_backward};

fa_tensor *fa_channel_variance(fa_tensor *x, fa_tensor *m) {
  if (FA_ANY_NULL2(x, m)) return NULL;
  if (!check(x, m, NULL, "channel_variance")) return NULL;
  fa_tensor *out = fa_tensor_new(4, m->shape);
  if (!out) return NULL;
  int xs[4];
  fa_shape4(x, xs);
  fa_kernels()->channel_sq_dev(xs, x->data, m->data, out->data);
  fa_kernels()->unary(FA_UNARY_AFFINE, out->numel, out->data, out->data,
                      1.0f / (float)(x->numel / (size_t)x->shape[1]), 0.0f);
  fa_tensor *inputs[2] = {x, m};
  return fa_record(out, &channel_variance_def, 2, inputs, NULL);
}
