/* Matrix products and convolutions. conv2d, conv2d_grad_input and
 * conv2d_grad_weight are bilinear and each other's derivatives:
 *   y  = conv(x, w):     dx = grad_input(gy, w),    dw = grad_weight(gy, x)
 *   gx = grad_input(gy, w):  d gy = conv(G, w),     dw = grad_weight(gy, G)
 *   gw = grad_weight(gy, x): d gy = conv(x, G),     dx = grad_input(gy, G)
 * where G is the gradient arriving at the op's output. */
#include "core/device.h"
#include "core/error.h"
#include "core/op_def.h"
#include "core/ops.h"

/* ---- matmul ---- */

/* C = op(A) op(B):
 *   dA = dC op(B)^T          (A stored as is)    or  op(B) dC^T  (A stored transposed)
 *   dB = op(A)^T dC          (B stored as is)    or  dC^T op(A)  (B stored transposed) */
static void matmul_backward(const fa_node *node, fa_tensor *g, const bool *want, fa_tensor **grad_in) {
  fa_tensor *a = node->inputs[0], *b = node->inputs[1];
  bool ta = node->attrs.ints[0], tb = node->attrs.ints[1];
  if (want[0]) grad_in[0] = ta ? fa_matmul(b, g, tb, true) : fa_matmul(g, b, false, !tb);
  if (want[1]) grad_in[1] = tb ? fa_matmul(g, a, true, ta) : fa_matmul(a, g, !ta, false);
}
static const fa_op_def matmul_def = {"matmul", matmul_backward, true};

fa_tensor *fa_matmul(fa_tensor *a, fa_tensor *b, bool trans_a, bool trans_b) {
  if (FA_ANY_NULL2(a, b)) return NULL;
  char sa[64], sb[64];
  if (a->ndim != 2 || b->ndim != 2)
    return fa_error_set(FA_ERR_INVALID, "matmul needs 2-D tensors, not %s and %s", fa_shape_str(a, sa, sizeof sa),
                        fa_shape_str(b, sb, sizeof sb)), NULL;
  int m = trans_a ? a->shape[1] : a->shape[0], k = trans_a ? a->shape[0] : a->shape[1];
  int kb = trans_b ? b->shape[1] : b->shape[0], n = trans_b ? b->shape[0] : b->shape[1];
  if (k != kb)
    return fa_error_set(FA_ERR_INVALID, "matmul: inner sizes differ: %s%s times %s%s",
                        fa_shape_str(a, sa, sizeof sa), trans_a ? "^T" : "", fa_shape_str(b, sb, sizeof sb),
                        trans_b ? "^T" : ""), NULL;
  if (!fa_one_device((const fa_tensor *[]){a, b}, 2, "matmul")) return NULL;
  fa_tensor *out = fa_tensor_new_on(a->ctx, 2, (int[]){m, n});
  if (!out) return NULL;
  a->ctx->k->sgemm(a->ctx->state, a->ctx->bf16, trans_a, trans_b, m, n, k, 1.0f, a->data, b->data, 0.0f, out->data);
  fa_tensor *inputs[2] = {a, b};
  fa_op_attrs attrs = {.ints = {trans_a, trans_b}};
  return fa_record(out, &matmul_def, 2, inputs, &attrs);
}

/* ---- convolution ---- */

/* geometry from x's and w's shapes and ctx's precision; attrs.ints = {stride, pad} */
static bool conv_geometry(const fa_context *ctx, const int xs[4], const int ws[4], int stride, int pad,
                          fa_conv_geom *g, const char *op) {
  *g = (fa_conv_geom){.n = xs[0], .c_in = xs[1], .h_in = xs[2], .w_in = xs[3], .c_out = ws[0], .k = ws[2],
                      .stride = stride, .pad = pad, .bf16 = ctx->bf16};
  if (ws[1] != xs[1] || ws[2] != ws[3] || stride < 1 || pad < 0 || xs[2] + 2 * pad < ws[2] ||
      xs[3] + 2 * pad < ws[3]) {
    fa_error_set(FA_ERR_INVALID,
                 "%s: input (%d, %d, %d, %d) and filters (%d, %d, %d, %d) with stride %d, padding %d do not fit "
                 "(channels must agree, filters be square and no larger than the padded input)",
                 op, xs[0], xs[1], xs[2], xs[3], ws[0], ws[1], ws[2], ws[3], stride, pad);
    return false;
  }
  fa_conv_geom_finish(g);
  return true;
}

static bool is4d(const fa_tensor *t, const char *op, const char *what) {
  if (t->ndim == 4) return true;
  char buf[64];
  fa_error_set(FA_ERR_INVALID, "%s: %s must be 4-D, not %s", op, what, fa_shape_str(t, buf, sizeof buf));
  return false;
}

static fa_tensor *grad_input_out(fa_tensor *gy, fa_tensor *w, int h_in, int w_in, int stride, int pad,
                                  fa_conv_geom *geom);
static fa_tensor *grad_weight_out(fa_tensor *gy, fa_tensor *x, int k, int stride, int pad, fa_conv_geom *geom);
static fa_tensor *record_grad_input(fa_tensor *out, fa_tensor *gy, fa_tensor *w, int stride, int pad);
static fa_tensor *record_grad_weight(fa_tensor *out, fa_tensor *gy, fa_tensor *x, int stride, int pad);

/* Both gradients of conv(x, w) for the output gradient gy: the ops conv2d_grad_input and
 * conv2d_grad_weight (each recorded as itself), computed by one backend call that may prepare gy once */
static void conv2d_grads(fa_tensor *gy, fa_tensor *x, fa_tensor *w, int stride, int pad, fa_tensor **gx,
                         fa_tensor **gw) {
  fa_conv_geom geom;
  fa_tensor *gx_out = grad_input_out(gy, w, x->shape[2], x->shape[3], stride, pad, &geom);
  fa_tensor *gw_out = gx_out ? grad_weight_out(gy, x, w->shape[2], stride, pad, &geom) : NULL; /* geom again */
  if (!gw_out) return; /* the message is set */
  /* geom is grad-weight's, with x's storage; the backend's grad-input ignores x_bf16 (its x is gx) */
  gy->ctx->k->conv2d_backward(gy->ctx->state, &geom, gy->data, x->data, w->data, gx_out->data, gw_out->data);
  *gx = record_grad_input(gx_out, gy, w, stride, pad);
  *gw = record_grad_weight(gw_out, gy, x, stride, pad);
}

/* inputs x, w and, when there is one, the bias b: db sums g over images and pixels */
static void conv2d_backward(const fa_node *node, fa_tensor *g, const bool *want, fa_tensor **grad_in) {
  fa_tensor *x = node->inputs[0], *w = node->inputs[1];
  int stride = node->attrs.ints[0], pad = node->attrs.ints[1];
  if (want[0] && want[1])
    conv2d_grads(g, x, w, stride, pad, &grad_in[0], &grad_in[1]);
  else if (want[0])
    grad_in[0] = fa_conv2d_grad_input(g, w, x->shape[2], x->shape[3], stride, pad);
  else if (want[1])
    grad_in[1] = fa_conv2d_grad_weight(g, x, w->shape[2], stride, pad);
  if (node->n_inputs == 3 && want[2])
    grad_in[2] = fa_reshape(fa_sum_to(g, 4, (int[]){1, g->shape[1], 1, 1}), 1, &g->shape[1]);
}
static const fa_op_def conv2d_def = {"conv2d", conv2d_backward, true};

/* conv(x, w) + b per output channel, b NULL for none: one pass, the kernel
 * adding b to each finished sum (the floats of conv then add) */
fa_tensor *fa_conv2d(fa_tensor *x, fa_tensor *w, fa_tensor *b, int stride, int pad) {
  return fa_conv2d_as(x, w, b, stride, pad, FA_F32);
}

fa_tensor *fa_conv2d_as(fa_tensor *x, fa_tensor *w, fa_tensor *b, int stride, int pad, fa_dtype out_dtype) {
  if (FA_ANY_NULL2(x, w)) return NULL;
  if (!is4d(x, "conv2d", "the input") || !is4d(w, "conv2d", "the filters")) return NULL;
  if (b && (b->ndim != 1 || b->shape[0] != w->shape[0]))
    return fa_error_set(FA_ERR_INVALID, "conv2d: the bias must have one value per filter (%d)", w->shape[0]), NULL;
  if ((out_dtype != FA_F32 && out_dtype != FA_BF16) || (out_dtype == FA_BF16 && b))
    return fa_error_set(FA_ERR_INVALID, "conv2d: outputs are f32, or bf16 without a bias, not %s%s",
                        fa_dtype_name(out_dtype), b ? " with a bias" : ""), NULL;
  fa_conv_geom geom;
  if (!conv_geometry(x->ctx, x->shape, w->shape, stride, pad, &geom, "conv2d")) return NULL;
  if (!fa_one_device_bf16((const fa_tensor *[]){x, w, b}, 3, 1u, "conv2d")) return NULL; /* x may be */
  geom.x_bf16 = x->dtype == FA_BF16, geom.y_bf16 = out_dtype == FA_BF16;
  fa_tensor *out = fa_tensor_new_as_on(x->ctx, out_dtype, 4, (int[]){geom.n, geom.c_out, geom.h_out, geom.w_out});
  if (!out) return NULL;
  x->ctx->k->conv2d_forward(x->ctx->state, &geom, x->data, w->data, b ? b->data : NULL, out->data);
  fa_tensor *inputs[3] = {x, w, b};
  fa_op_attrs attrs = {.ints = {stride, pad}};
  return fa_record(out, &conv2d_def, b ? 3 : 2, inputs, &attrs);
}

static void grad_input_backward(const fa_node *node, fa_tensor *g, const bool *want, fa_tensor **grad_in) {
  fa_tensor *gy = node->inputs[0], *w = node->inputs[1];
  int stride = node->attrs.ints[0], pad = node->attrs.ints[1];
  if (want[0]) grad_in[0] = fa_conv2d(g, w, NULL, stride, pad);
  if (want[1]) grad_in[1] = fa_conv2d_grad_weight(gy, g, w->shape[2], stride, pad);
}
static const fa_op_def grad_input_def = {"conv2d_grad_input", grad_input_backward, true};

/* The checked geometry and the output tensor of conv2d_grad_input; NULL and a message when they do not fit. */
static fa_tensor *grad_input_out(fa_tensor *gy, fa_tensor *w, int h_in, int w_in, int stride, int pad,
                                  fa_conv_geom *geom) {
  if (FA_ANY_NULL2(gy, w)) return NULL;
  if (!is4d(gy, "conv2d_grad_input", "the output gradient") || !is4d(w, "conv2d_grad_input", "the filters"))
    return NULL;
  int xs[4] = {gy->shape[0], w->shape[1], h_in, w_in};
  if (!conv_geometry(gy->ctx, xs, w->shape, stride, pad, geom, "conv2d_grad_input")) return NULL;
  if (geom->c_out != gy->shape[1] || geom->h_out != gy->shape[2] || geom->w_out != gy->shape[3])
    return fa_error_set(FA_ERR_INVALID, "conv2d_grad_input: the output gradient does not match the geometry"), NULL;
  if (!fa_one_device((const fa_tensor *[]){gy, w}, 2, "conv2d_grad_input")) return NULL;
  return fa_tensor_new_on(gy->ctx, 4, xs);
}

static fa_tensor *record_grad_input(fa_tensor *out, fa_tensor *gy, fa_tensor *w, int stride, int pad) {
  fa_tensor *inputs[2] = {gy, w};
  fa_op_attrs attrs = {.ints = {stride, pad}};
  return fa_record(out, &grad_input_def, 2, inputs, &attrs);
}

fa_tensor *fa_conv2d_grad_input(fa_tensor *gy, fa_tensor *w, int h_in, int w_in, int stride, int pad) {
  fa_conv_geom geom;
  fa_tensor *out = grad_input_out(gy, w, h_in, w_in, stride, pad, &geom);
  if (!out) return NULL;
  gy->ctx->k->conv2d_grad_input(gy->ctx->state, &geom, gy->data, w->data, out->data);
  return record_grad_input(out, gy, w, stride, pad);
}

static void grad_weight_backward(const fa_node *node, fa_tensor *g, const bool *want, fa_tensor **grad_in) {
  fa_tensor *gy = node->inputs[0], *x = node->inputs[1];
  int stride = node->attrs.ints[0], pad = node->attrs.ints[1];
  if (want[0]) grad_in[0] = fa_conv2d(x, g, NULL, stride, pad);
  if (want[1]) grad_in[1] = fa_conv2d_grad_input(gy, g, x->shape[2], x->shape[3], stride, pad);
}
static const fa_op_def grad_weight_def = {"conv2d_grad_weight", grad_weight_backward, true};

/* The checked geometry and the output tensor of conv2d_grad_weight; NULL and a message when they do not fit. */
static fa_tensor *grad_weight_out(fa_tensor *gy, fa_tensor *x, int k, int stride, int pad, fa_conv_geom *geom) {
  if (FA_ANY_NULL2(gy, x)) return NULL;
  if (!is4d(gy, "conv2d_grad_weight", "the output gradient") || !is4d(x, "conv2d_grad_weight", "the input"))
    return NULL;
  int ws[4] = {gy->shape[1], x->shape[1], k, k};
  if (!conv_geometry(gy->ctx, x->shape, ws, stride, pad, geom, "conv2d_grad_weight")) return NULL;
  if (geom->n != gy->shape[0] || geom->h_out != gy->shape[2] || geom->w_out != gy->shape[3])
    return fa_error_set(FA_ERR_INVALID, "conv2d_grad_weight: the output gradient does not match the geometry"),
           NULL;
  if (!fa_one_device_bf16((const fa_tensor *[]){gy, x}, 2, 2u, "conv2d_grad_weight")) return NULL; /* x may be */
  geom->x_bf16 = x->dtype == FA_BF16;
  return fa_tensor_new_on(gy->ctx, 4, ws);
}

static fa_tensor *record_grad_weight(fa_tensor *out, fa_tensor *gy, fa_tensor *x, int stride, int pad) {
  fa_tensor *inputs[2] = {gy, x};
  fa_op_attrs attrs = {.ints = {stride, pad}};
  return fa_record(out, &grad_weight_def, 2, inputs, &attrs);
}

fa_tensor *fa_conv2d_grad_weight(fa_tensor *gy, fa_tensor *x, int k, int stride, int pad) {
  fa_conv_geom geom;
  fa_tensor *out = grad_weight_out(gy, x, k, stride, pad, &geom);
  if (!out) return NULL;
  gy->ctx->k->conv2d_grad_weight(gy->ctx->state, &geom, gy->data, x->data, out->data);
  return record_grad_weight(out, gy, x, stride, pad);
}
