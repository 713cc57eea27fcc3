/* Softmax and cross-entropy. log_softmax is computed stably in one kernel;
 * its backward, g - softmax(x) * rowsum(g), is written in ops. */
#include "core/device.h"
#include "core/error.h"
#include "core/op_def.h"
#include "core/ops.h"

static void log_softmax_backward(const fa_node *node, fa_tensor *g, const bool *want, fa_tensor **grad_in) {
  (void)want; /* one input: always wanted when asked */
  int rows = g->shape[0];
  fa_tensor *row_sums = fa_sum_to(g, 2, (int[]){rows, 1});
  grad_in[0] = fa_sub(g, fa_mul(fa_exp(node->output), row_sums));
}
static const fa_op_def log_softmax_def = {"log_softmax", log_softmax_backward, false};

fa_tensor *fa_log_softmax(fa_tensor *x) {
  if (!x) return NULL;
  char buf[64];
  if (x->ndim != 2)
    return fa_error_set(FA_ERR_INVALID, "log_softmax works on rows of a 2-D tensor, not %s",
                        fa_shape_str(x, buf, sizeof buf)), NULL;
  fa_tensor *out = fa_tensor_new_on(x->ctx, 2, x->shape);
  if (!out) return NULL;
  x->ctx->k->log_softmax(x->shape[0], x->shape[1], x->data, out->data);
  return fa_record(out, &log_softmax_def, 1, &x, NULL);
}

fa_tensor *fa_softmax(fa_tensor *x) { return fa_exp(fa_log_softmax(x)); }

fa_tensor *fa_one_hot(int n, int k, const int *labels) {
  fa_tensor *t = fa_zeros(2, (int[]){n, k});
  if (!t) return NULL;
  for (int i = 0; i < n; i++) {
    if (labels[i] < 0 || labels[i] >= k)
      return fa_error_set(FA_ERR_INVALID, "label %d of example %d is outside [0, %d)", labels[i], i, k), NULL;
    t->data[(size_t)i * k + labels[i]] = 1.0f;
  }
  return t;
}

fa_tensor *fa_cross_entropy_per_example(fa_tensor *logits, const int *labels) {
  if (!logits) return NULL;
  if (logits->ndim != 2)
    return fa_error_set(FA_ERR_INVALID, "cross_entropy needs (N, classes) logits"), NULL;
  int n = logits->shape[0];
  fa_tensor *picked = fa_sum_to(fa_mul(fa_log_softmax(logits), fa_one_hot(n, logits->shape[1], labels)), 2,
                                (int[]){n, 1});
  return fa_reshape(fa_scale(picked, -1.0f), 1, &n);
}

fa_tensor *fa_cross_entropy(fa_tensor *logits, const int *labels) {
  return fa_mean(fa_cross_entropy_per_example(logits, labels));
}
