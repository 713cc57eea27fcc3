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
  if (!fa_one_device((const fa_tensor *[]){x}, 1, "log_softmax")) return NULL;
  fa_tensor *out = fa_tensor_new_on(x->ctx, 2, x->shape);
  if (!out) return NULL;
  x->ctx->k->log_softmax(x->shape[0], x->shape[1], x->data, out->data);
  return fa_record(out, &log_softmax_def, 1, &x, NULL);
}

fa_tensor *fa_softmax(fa_tensor *x) { return fa_exp(fa_log_softmax(x)); }

fa_tensor *fa_one_hot(const fa_tensor *labels, int k) {
  if (!labels) return NULL;
  if (labels->dtype != FA_I32 || labels->ndim != 1 || k < 1)
    return fa_error_set(FA_ERR_INVALID, "one_hot needs (N) int32 labels and classes >= 1"), NULL;
  int n = labels->shape[0];
  fa_tensor *t = fa_tensor_new_on(labels->ctx, 2, (int[]){n, k});
  if (t) labels->ctx->k->one_hot(n, k, (const int32_t *)(const void *)labels->data, t->data);
  return t;
}

fa_tensor *fa_cross_entropy_per_example(fa_tensor *logits, const fa_tensor *labels) {
  if (!logits || !labels) return NULL;
  if (logits->ndim != 2)
    return fa_error_set(FA_ERR_INVALID, "cross_entropy needs (N, classes) logits"), NULL;
  int n = logits->shape[0];
  if (labels->ndim != 1 || labels->shape[0] != n)
    return fa_error_set(FA_ERR_INVALID, "cross_entropy needs (%d) labels for (%d, %d) logits", n, n,
                        logits->shape[1]), NULL;
  fa_tensor *picked = fa_sum_to(fa_mul(fa_log_softmax(logits), fa_one_hot(labels, logits->shape[1])), 2,
                                (int[]){n, 1});
  return fa_reshape(fa_scale(picked, -1.0f), 1, &n);
}

fa_tensor *fa_cross_entropy(fa_tensor *logits, const fa_tensor *labels) {
  return fa_mean(fa_cross_entropy_per_example(logits, labels));
}
