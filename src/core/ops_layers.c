/* Layers composed of ops: linear, batch norm, per-example cosine. Their
 * gradients of every order come from the ops they are made of, except batch
 * norm in training: one node whose backward rule is written in ops. */
#include "core/autograd.h"
#include "core/device.h"
#include "core/error.h"
#include "core/op_def.h"
#include "core/ops.h"

fa_tensor *fa_linear(fa_tensor *x, fa_tensor *w, fa_tensor *b) {
  fa_tensor *y = fa_matmul(x, w, false, true);
  return b ? fa_add(y, b) : y;
}

static bool per_channel(const fa_tensor *t, int c) { return !t || (t->ndim == 1 && t->shape[0] == c); }

/* running = (1 - momentum) * running + momentum * factor * batch_stat */
static void update_running(fa_tensor *running, const fa_tensor *batch_stat, float momentum, float factor) {
  running->ctx->k->unary(FA_UNARY_AFFINE, running->numel, running->data, running->data, 1.0f - momentum, 0.0f);
  running->ctx->k->axpy(running->numel, momentum * factor, batch_stat->data, running->data);
}

/* x's per-channel means (1, C, 1, 1), x (N, C, H, W) in float32 or bfloat16: a channel sum (each plane
 * in float, the planes in double) over the count */
static fa_tensor *channel_mean(fa_tensor *x) {
  return fa_scale(fa_channel_sum(x, NULL), (float)x->shape[1] / (float)x->numel);
}

/* The per-channel affine map of batch norm: y = x * scale + shift with
 * scale = gamma / sqrt(var + eps), shift = beta - mean * scale (gamma, beta
 * (1, C, 1, 1) or NULL), fused with the ReLU when asked. */
static fa_tensor *normalize(fa_tensor *x, fa_tensor *mean, fa_tensor *var, fa_tensor *gamma, fa_tensor *beta,
                            float eps, bool relu) {
  const int stat_shape[4] = {1, x->shape[1], 1, 1};
  fa_tensor *inv_std = fa_div(fa_full_on(x->ctx, 4, stat_shape, 1.0f), fa_sqrt(fa_affine(var, 1.0f, eps)));
  fa_tensor *scale = gamma ? fa_mul(gamma, inv_std) : inv_std;
  fa_tensor *shift = fa_scale(fa_mul(mean, scale), -1.0f);
  if (beta) shift = fa_add(shift, beta);
  return relu ? fa_channel_affine_relu(x, scale, shift) : fa_channel_affine(x, scale, shift);
}

/* Batch norm in training as one node, so that its backward makes one full
 * tensor. With mu, var the batch statistics of x (M values per channel),
 * r = 1 / sqrt(var + eps), gz = g * [y > 0] (the ReLU, when fused):
 *   dbeta = sum(gz)    dgamma = sum(gz * (x - mu) * r) = r (sum(gz x) - mu sum(gz))
 *   dx = gamma r (gz - dbeta / M - (x - mu) r dgamma / M)
 *      = channel_fma(g, gamma r, x, -gamma r^2 dgamma / M, gamma r (r mu dgamma - dbeta) / M, mask)
 * When the backward pass builds a graph (double backpropagation), the
 * statistics are recomputed from x with ops, so that dx is differentiable in
 * x again; otherwise the forward's (the same values: the same ops on the same
 * x) are used, saving two passes over x. dbeta and sum(g x m) come from one
 * pass over g and the mask. inputs {x, gamma, beta, mean, var}: (N, C, H, W),
 * (1, C, 1, 1) each or NULL, and the forward's statistics (constants). */
static void batch_norm_train_backward(const fa_node *node, fa_tensor *g, const bool *want, fa_tensor **grad_in) {
  fa_tensor *x = node->inputs[0], *gamma = node->inputs[1];
  fa_tensor *mask = node->attrs.ints[0] ? node->output : NULL;
  const int stat_shape[4] = {1, x->shape[1], 1, 1};
  float inv_count = (float)x->shape[1] / (float)x->numel;
  const bool graph = fa_grad_enabled();
  fa_tensor *mean = graph ? channel_mean(x) : node->inputs[3];
  fa_tensor *var = graph ? fa_channel_variance(x, mean) : node->inputs[4];
  fa_tensor *r = fa_div(fa_full_on(x->ctx, 4, stat_shape, 1.0f), fa_sqrt(fa_affine(var, 1.0f, node->attrs.floats[0])));
  fa_tensor *dbeta;
  fa_tensor *dot = fa_channel_sum_dot(g, x, mask, &dbeta);
  fa_tensor *dgamma = fa_mul(r, fa_sub(dot, fa_mul(mean, dbeta)));
  if (want[1]) grad_in[1] = dgamma;
  if (want[2]) grad_in[2] = dbeta;
  if (!want[0]) return;
  fa_tensor *gr = gamma ? fa_mul(gamma, r) : r;
  fa_tensor *t = fa_scale(fa_mul(fa_mul(gr, r), dgamma), -inv_count);
  fa_tensor *b = fa_scale(fa_mul(gr, fa_sub(fa_mul(fa_mul(r, mean), dgamma), dbeta)), inv_count);
  if (!gr || !t || !b) return; /* an op failed: its message stands (fa_channel_fma takes NULL for "absent") */
  grad_in[0] = fa_channel_fma(g, gr, x, t, b, mask);
}
static const fa_op_def batch_norm_train_def = {"batch_norm_train", batch_norm_train_backward, false};

/* The forward value is the composite's, computed without a graph; the node records x, gamma, beta and
 * the batch statistics. */
static fa_tensor *batch_norm_train(fa_tensor *x, fa_tensor *gamma, fa_tensor *beta, fa_tensor *running_mean,
                                   fa_tensor *running_var, float momentum, float eps, bool relu) {
  int c = x->shape[1];
  size_t n = x->numel / (size_t)c;
  if (n < 2) return fa_error_set(FA_ERR_INVALID, "batch_norm in training needs more than 1 value per channel"), NULL;
  bool was = fa_set_grad_enabled(false);
  fa_tensor *mean = channel_mean(x);
  fa_tensor *var = fa_channel_variance(x, mean);
  fa_tensor *out = var ? normalize(x, mean, var, gamma, beta, eps, relu) : NULL;
  fa_set_grad_enabled(was);
  if (!out) return NULL;
  if (running_mean && running_var) {
    update_running(running_mean, mean, momentum, 1.0f);
    update_running(running_var, var, momentum, (float)n / (float)(n - 1));
  }
  fa_tensor *inputs[5] = {x, gamma, beta, mean, var}; /* mean, var: constants (made without a graph) */
  fa_op_attrs attrs = {.ints = {relu}, .floats = {eps}};
  return fa_record(out, &batch_norm_train_def, 5, inputs, &attrs);
}

static fa_tensor *batch_norm(fa_tensor *x, fa_tensor *gamma, fa_tensor *beta, fa_tensor *running_mean,
                             fa_tensor *running_var, bool training, float momentum, float eps, bool relu) {
  if (!x) return NULL;
  char buf[64];
  if (x->ndim != 4)
    return fa_error_set(FA_ERR_INVALID, "batch_norm needs (N, C, H, W), not %s", fa_shape_str(x, buf, sizeof buf)),
           NULL;
  int c = x->shape[1];
  const int stat_shape[4] = {1, c, 1, 1};
  if (!per_channel(gamma, c) || !per_channel(beta, c) || !per_channel(running_mean, c) ||
      !per_channel(running_var, c))
    return fa_error_set(FA_ERR_INVALID, "batch_norm: scale, shift and running statistics need %d values", c), NULL;
  fa_tensor *gamma4 = gamma ? fa_reshape(gamma, 4, stat_shape) : NULL;
  fa_tensor *beta4 = beta ? fa_reshape(beta, 4, stat_shape) : NULL;
  if ((gamma && !gamma4) || (beta && !beta4)) return NULL;
  if (training) return batch_norm_train(x, gamma4, beta4, running_mean, running_var, momentum, eps, relu);
  if (!running_mean || !running_var)
    return fa_error_set(FA_ERR_INVALID, "batch_norm in evaluation needs running statistics"), NULL;
  return normalize(x, fa_reshape(running_mean, 4, stat_shape), fa_reshape(running_var, 4, stat_shape), gamma4,
                   beta4, eps, relu);
}

fa_tensor *fa_batch_norm(fa_tensor *x, fa_tensor *gamma, fa_tensor *beta, fa_tensor *running_mean,
                         fa_tensor *running_var, bool training, float momentum, float eps) {
  return batch_norm(x, gamma, beta, running_mean, running_var, training, momentum, eps, false);
}

fa_tensor *fa_batch_norm_relu(fa_tensor *x, fa_tensor *gamma, fa_tensor *beta, fa_tensor *running_mean,
                              fa_tensor *running_var, bool training, float momentum, float eps) {
  return batch_norm(x, gamma, beta, running_mean, running_var, training, momentum, eps, true);
}

fa_tensor *fa_cosine_per_example(fa_tensor *a, fa_tensor *b) {
  if (!a || !b) return NULL;
  if (!fa_same_shape(a, b) || a->ndim < 1)
    return fa_error_set(FA_ERR_INVALID, "cosine_per_example needs two tensors of the same shape"), NULL;
  return fa_cosine_of_rows(a, b, fa_row_dot(a, a), fa_row_dot(b, b));
}

/* a_r / sqrt(aa_r), row by row */
static fa_tensor *normalised_rows(fa_tensor *a, fa_tensor *aa) {
  if (!a || !aa) return NULL;
  const int one_shape[1] = {1};
  return fa_row_combine(a, fa_div(fa_full_on(aa->ctx, 1, one_shape, 1.0f), fa_sqrt(aa)), NULL, NULL);
}

fa_tensor *fa_cosine_of_rows(fa_tensor *a, fa_tensor *b, fa_tensor *aa, fa_tensor *bb) {
  return fa_row_dot(normalised_rows(a, aa), normalised_rows(b, bb));
}
