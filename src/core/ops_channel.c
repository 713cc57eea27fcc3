/* Per-channel ops of batch norm, fused so that a pass keeps only its full
 * (N, C, H, W) inputs and output; s, t, b, m are per-channel (1, C, 1, 1):
 *   channel_affine(x, s, b)       y = x * s + b
 *   channel_affine_relu(x, s, b)  y = max(x * s + b, 0)
 *   channel_variance(x, m)        v = mean over N, H, W of (x - m)^2
 *   channel_fma(a, s, x, t, b, mask)   y = s * a * [mask > 0] + t * x + b
 *   channel_dot(a, b, mask)       d = sum over N, H, W of a * b * [mask > 0]
 * channel_fma and channel_dot are each other's derivatives, so backward rules
 * built from them keep one full tensor per pass (the mask, a non-differentiable
 * tensor, is one that exists anyway, e.g. a ReLU's output). All backward
 * rules are written with the public ops, so they are differentiable again
 * (double backpropagation through batch norm). Their full tensors may be
 * bfloat16 (a model's activations, backend/bf16.h): channel_affine keeps
 * x's storage, the others make float32; the per-channel vectors are float32. */
#include "core/device.h"
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

/* m = [out > 0] when fused with the ReLU, else 1:
 *   dx = g * s * m    ds = sum over N, H, W of g * x * m    db = sum of g * m */
static void channel_affine_backward(const fa_node *node, fa_tensor *g, const bool *want, fa_tensor **grad_in) {
  fa_tensor *x = node->inputs[0], *s = node->inputs[1];
  fa_tensor *mask = node->attrs.ints[0] ? node->output : NULL;
  if (want[0]) grad_in[0] = fa_channel_fma(g, s, NULL, NULL, NULL, mask);
  if (want[1]) grad_in[1] = fa_channel_dot(g, x, mask);
  if (want[2]) grad_in[2] = fa_channel_sum(g, mask);
}
static const fa_op_def channel_affine_def = {"channel_affine", channel_affine_backward, false};

static fa_tensor *channel_affine(fa_tensor *x, fa_tensor *s, fa_tensor *b, bool relu) {
  if (FA_ANY_NULL2(x, s) || !b) return NULL;
  if (!check(x, s, b, relu ? "channel_affine_relu" : "channel_affine")) return NULL;
  const char *op = relu ? "channel_affine_relu" : "channel_affine";
  if (!fa_one_device_bf16((const fa_tensor *[]){x, s, b}, 3, 1u, op)) return NULL; /* x may be */
  fa_tensor *out = fa_tensor_new_as_on(x->ctx, x->dtype, 4, x->shape); /* x's storage */
  if (!out) return NULL;
  x->ctx->k->channel_affine(x->shape, x->data, s->data, b->data, relu, out->data, fa_bf16_bit(x, FA_BF16_X));
  fa_tensor *inputs[3] = {x, s, b};
  fa_op_attrs attrs = {.ints = {relu}};
  return fa_record(out, &channel_affine_def, 3, inputs, &attrs);
}

fa_tensor *fa_channel_affine(fa_tensor *x, fa_tensor *s, fa_tensor *b) { return channel_affine(x, s, b, false); }
fa_tensor *fa_channel_affine_relu(fa_tensor *x, fa_tensor *s, fa_tensor *b) { return channel_affine(x, s, b, true); }

/* with u = 2 g / count (count = N H W):
 *   dx = u (x - m) = x * u - m * u            one full tensor, as channel_fma
 *   dm = -u * sum(x - m) = u (count m - sum(x)) */
static void channel_variance_backward(const fa_node *node, fa_tensor *g, const bool *want, fa_tensor **grad_in) {
  fa_tensor *x = node->inputs[0], *m = node->inputs[1];
  float count = (float)(x->numel / (size_t)x->shape[1]);
  fa_tensor *u = fa_scale(g, 2.0f / count);
  if (want[0]) {
    fa_tensor *shift = fa_scale(fa_mul(m, u), -1.0f);
    if (shift) grad_in[0] = fa_channel_fma(NULL, NULL, x, u, shift, NULL); /* NULL would mean "no shift" */
  }
  if (want[1]) grad_in[1] = fa_mul(u, fa_sub(fa_scale(m, count), fa_channel_sum(x, NULL)));
}
static const fa_op_def channel_variance_def = {"channel_variance", channel_variance_backward, true};

fa_tensor *fa_channel_variance(fa_tensor *x, fa_tensor *m) {
  if (FA_ANY_NULL2(x, m)) return NULL;
  if (!check(x, m, NULL, "channel_variance")) return NULL;
  if (!fa_one_device_bf16((const fa_tensor *[]){x, m}, 2, 1u, "channel_variance")) return NULL; /* x may be */
  fa_tensor *out = fa_tensor_new_on(x->ctx, 4, m->shape);
  if (!out) return NULL;
  int xs[4];
  fa_shape4(x, xs);
  x->ctx->k->channel_sq_dev(xs, x->data, m->data, out->data, fa_bf16_bit(x, FA_BF16_X));
  x->ctx->k->unary(FA_UNARY_AFFINE, out->numel, out->data, out->data,
                      1.0f / (float)(x->numel / (size_t)x->shape[1]), 0.0f);
  fa_tensor *inputs[2] = {x, m};
  return fa_record(out, &channel_variance_def, 2, inputs, NULL);
}

/* ---- channel_fma and channel_dot ---- */

/* inputs {a, s, x, t, b}; m = [mask > 0] (attrs.saved):
 *   da = G * s * m    ds = sum of G * a * m    dx = G * t    dt = sum of G * x    db = sum of G */
static void channel_fma_backward(const fa_node *node, fa_tensor *g, const bool *want, fa_tensor **grad_in) {
  fa_tensor *a = node->inputs[0], *s = node->inputs[1], *x = node->inputs[2], *t = node->inputs[3];
  fa_tensor *mask = node->attrs.saved;
  if (want[0]) grad_in[0] = fa_channel_fma(g, s, NULL, NULL, NULL, mask);
  if (want[1]) grad_in[1] = a ? fa_channel_dot(g, a, mask) : fa_channel_sum(g, mask);
  if (want[2]) grad_in[2] = fa_channel_fma(g, t, NULL, NULL, NULL, NULL);
  if (want[3]) grad_in[3] = fa_channel_dot(g, x, NULL);
  if (want[4]) grad_in[4] = fa_channel_sum(g, NULL);
}
static const fa_op_def channel_fma_def = {"channel_fma", channel_fma_backward, true};

/* like (N, C, H, W) and each non-NULL tensor: full ones like's shape, vectors (1, C, 1, 1) */
static bool check_fused(const fa_tensor *like, const fa_tensor *const *full, int n_full, const fa_tensor *const *vec,
                        int n_vec, const char *op) {
  bool ok = like->ndim == 4;
  for (int i = 0; ok && i < n_full; i++) ok = !full[i] || fa_same_shape(full[i], like);
  for (int i = 0; ok && i < n_vec; i++) ok = !vec[i] || is_channel_vector(vec[i], like->shape[1]);
  if (!ok) {
    char buf[64];
    fa_error_set(FA_ERR_INVALID, "%s needs full tensors of one (N, C, H, W) shape, here %s, and (1, C, 1, 1) vectors",
                 op, fa_shape_str(like, buf, sizeof buf));
  }
  return ok;
}

fa_tensor *fa_channel_fma(fa_tensor *a, fa_tensor *s, fa_tensor *x, fa_tensor *t, fa_tensor *b, fa_tensor *mask) {
  const fa_tensor *like = a ? a : x ? x : mask;
  if (!like || !x != !t)
    return fa_error_set(FA_ERR_INVALID, "channel_fma needs a, x or a mask (for the shape), and x with t"), NULL;
  const fa_tensor *full[3] = {a, x, mask}, *vec[3] = {s, t, b};
  if (!check_fused(like, full, 3, vec, 3, "channel_fma")) return NULL;
  /* a, x and the mask may be bfloat16 */
  if (!fa_one_device_bf16((const fa_tensor *[]){a, s, x, t, b, mask}, 6, 1u | 4u | 32u, "channel_fma")) return NULL;
  fa_tensor *out = fa_tensor_new_on(like->ctx, 4, like->shape);
  if (!out) return NULL;
  like->ctx->k->channel_fma(like->shape, a ? a->data : NULL, s ? s->data : NULL, x ? x->data : NULL,
                            t ? t->data : NULL, b ? b->data : NULL, mask ? mask->data : NULL, out->data,
                            fa_bf16_bit(a, FA_BF16_A) | fa_bf16_bit(x, FA_BF16_X) | fa_bf16_bit(mask, FA_BF16_MASK));
  fa_tensor *inputs[5] = {a, s, x, t, b};
  fa_op_attrs attrs = {.saved = mask};
  return fa_record(out, &channel_fma_def, 5, inputs, &attrs);
}

/* d = sum of a * b * m:  da = G * b * m    db = G * a * m  (b absent: 1) */
static void channel_dot_backward(const fa_node *node, fa_tensor *g, const bool *want, fa_tensor **grad_in) {
  fa_tensor *a = node->inputs[0], *b = node->inputs[1], *mask = node->attrs.saved;
  if (want[0])
    grad_in[0] = b || mask ? fa_channel_fma(b, g, NULL, NULL, NULL, mask) : fa_expand(g, 4, a->shape);
  if (want[1]) grad_in[1] = fa_channel_fma(a, g, NULL, NULL, NULL, mask);
}
static const fa_op_def channel_dot_def = {"channel_dot", channel_dot_backward, true};

/* channel_dot(a, b, mask) and, when sum is not NULL, channel_dot(a, NULL, mask) into *sum: one kernel
 * call, each result recorded as its own op */
static fa_tensor *channel_dots(fa_tensor *a, fa_tensor *b, fa_tensor *mask, fa_tensor **sum) {
  if (!a) return NULL;
  const fa_tensor *full[2] = {b, mask};
  if (!check_fused(a, full, 2, NULL, 0, "channel_dot")) return NULL;
  if (!fa_one_device_bf16((const fa_tensor *[]){a, b, mask}, 3, 7u, "channel_dot")) return NULL; /* all may be */
  fa_tensor *out = fa_tensor_new_on(a->ctx, 4, (int[]){1, a->shape[1], 1, 1});
  fa_tensor *out_sum = sum && out ? fa_tensor_new_on(a->ctx, 4, out->shape) : NULL;
  if (!out || (sum && !out_sum)) return NULL;
  a->ctx->k->channel_dot(a->shape, a->data, b ? b->data : NULL, mask ? mask->data : NULL, out->data,
                         out_sum ? out_sum->data : NULL,
                         fa_bf16_bit(a, FA_BF16_A) | fa_bf16_bit(b, FA_BF16_B) | fa_bf16_bit(mask, FA_BF16_MASK));
  fa_op_attrs attrs = {.saved = mask};
  if (sum) *sum = fa_record(out_sum, &channel_dot_def, 2, (fa_tensor *[]){a, NULL}, &attrs);
  return fa_record(out, &channel_dot_def, 2, (fa_tensor *[]){a, b}, &attrs);
}

fa_tensor *fa_channel_dot(fa_tensor *a, fa_tensor *b, fa_tensor *mask) { return channel_dots(a, b, mask, NULL); }

fa_tensor *fa_channel_sum(fa_tensor *a, fa_tensor *mask) { return fa_channel_dot(a, NULL, mask); }

fa_tensor *fa_channel_sum_dot(fa_tensor *a, fa_tensor *b, fa_tensor *mask, fa_tensor **sum) {
  *sum = NULL;
  fa_tensor *dot = channel_dots(a, b, mask, sum);
  return dot && *sum ? dot : NULL;
}
