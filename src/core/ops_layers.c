/* Layers composed of ops: linear, batch norm, per-example cosine. Their
 * gradients of every order come from the ops they are made of. */
#include "backend/backend.h"
#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"

fa_tensor *fa_linear(fa_tensor *x, fa_tensor *w, fa_tensor *b) {
  fa_tensor *y = fa_matmul(x, w, false, true);
  return b ? fa_add(y, b) : y;
}

static bool per_channel(const fa_tensor *t, int c) { return !t || (t->ndim == 1 && t->shape[0] == c); }

/* running = (1 - momentum) * running + momentum * factor * batch_stat */
static void update_running(fa_tensor *running, const fa_tensor *batch_stat, float momentum, float factor) {
  fa_kernels()->unary(FA_UNARY_AFFINE, running->numel, running->data, running->data, 1.0f - momentum, 0.0f);
  fa_kernels()->axpy(running->numel, momentum * factor, batch_stat->data, running->data);
}

/* y = x * scale + shift with scale = gamma / sqrt(var + eps), shift = beta - mean * scale:
 * a per-channel affine map (fused with the ReLU when asked), so that the
 * forward pass keeps only x and y; mean and var are per-channel ops of x in
 * training, so gradients of every order flow through the batch statistics. */
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
  fa_tensor *mean, *var;
  if (training) {
    size_t n = x->numel / (size_t)c;
    if (n < 2) return fa_error_set(FA_ERR_INVALID, "batch_norm in training needs more than 1 value per channel"), NULL;
    mean = fa_mean_to(x, 4, stat_shape);
    var = fa_channel_variance(x, mean);
    if (!var) return NULL;
    if (running_mean && running_var) {
      update_running(running_mean, mean, momentum, 1.0f);
      update_running(running_var, var, momentum, (float)n / (float)(n - 1));
    }
  } else {
    if (!running_mean || !running_var)
      return fa_error_set(FA_ERR_INVALID, "batch_norm in evaluation needs running statistics"), NULL;
    mean = fa_reshape(running_mean, 4, stat_shape);
    var = fa_reshape(running_var, 4, stat_shape);
  }
  fa_tensor *inv_std = fa_div(fa_full(4, stat_shape, 1.0f), fa_sqrt(fa_affine(var, 1.0f, eps)));
  fa_tensor *scale = gamma ? fa_mul(fa_reshape(gamma, 4, stat_shape), inv_std) : inv_std;
  fa_tensor *shift = fa_scale(fa_mul(mean, scale), -1.0f);
  if (beta) shift = fa_add(shift, fa_reshape(beta, 4, stat_shape));
  return relu ? fa_channel_affine_relu(x, scale, shift) : fa_channel_affine(x, scale, shift);
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
  int n = a->shape[0];
  const int row_shape[2] = {n, 1};
  a = fa_flatten(a);
  b = fa_flatten(b);
  fa_tensor *a_unit = fa_div(a, fa_sqrt(fa_sum_to(fa_mul(a, a), 2, row_shape)));
  fa_tensor *b_unit = fa_div(b, fa_sqrt(fa_sum_to(fa_mul(b, b), 2, row_shape)));
  return fa_reshape(fa_sum_to(fa_mul(a_unit, b_unit), 2, row_shape), 1, &n);
}
