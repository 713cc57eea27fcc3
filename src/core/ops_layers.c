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

fa_tensor *fa_batch_norm(fa_tensor *x, fa_tensor *gamma, fa_tensor *beta, fa_tensor *running_mean,
                         fa_tensor *running_var, bool training, float momentum, float eps) {
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
    fa_tensor *centered = fa_sub(x, mean);
    var = fa_mean_to(fa_mul(centered, centered), 4, stat_shape);
    if (!var) return NULL;
    if (running_mean && running_var) {
      update_running(running_mean, mean, momentum, 1.0f);
      update_running(running_var, var, momentum, (float)n / (float)(n - 1));
    }
    x = centered;
  } else {
    if (!running_mean || !running_var)
      return fa_error_set(FA_ERR_INVALID, "batch_norm in evaluation needs running statistics"), NULL;
    mean = fa_reshape(running_mean, 4, stat_shape);
    var = fa_reshape(running_var, 4, stat_shape);
    x = fa_sub(x, mean);
  }
  /* y = (x - mean) * gamma / sqrt(var + eps) + beta */
  fa_tensor *scale = fa_sqrt(fa_affine(var, 1.0f, eps));
  scale = gamma ? fa_div(fa_reshape(gamma, 4, stat_shape), scale) : fa_div(fa_full(4, stat_shape, 1.0f), scale);
  fa_tensor *y = fa_mul(x, scale);
  return beta ? fa_add(y, fa_reshape(beta, 4, stat_shape)) : y;
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
