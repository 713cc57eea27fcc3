/* Reductions, broadcasting and shape ops: sum_to and expand are each
 * other's derivatives, reshape is its own, select and scatter of rows are
 * adjoint, and the per-example row_dot and row_combine are each other's. */
#include <string.h>

#include "core/arena.h"
#include "core/device.h"
#include "core/error.h"
#include "core/op_def.h"
#include "core/ops.h"

/* `small` (right-aligned) fits into `big`: each dim equal or 1 */
static bool fits_into(const fa_tensor *small_t, int ndim, const int *shape, const fa_tensor *big_t, int big_ndim,
                      const int *big_shape, const char *op) {
  bool ok = ndim <= big_ndim;
  for (int i = 0; ok && i < ndim; i++) {
    int s = shape[ndim - 1 - i], b = big_shape[big_ndim - 1 - i];
    ok = s == b || s == 1;
  }
  if (!ok) {
    char buf[64];
    const fa_tensor *t = small_t ? small_t : big_t;
    fa_error_set(FA_ERR_INVALID, "%s: shape %s and a target of %d dims do not match (each dim equal or 1)", op,
                 fa_shape_str(t, buf, sizeof buf), small_t ? big_ndim : ndim);
  }
  return ok;
}

static void shape4_of(int ndim, const int *shape, int out[4]) {
  for (int i = 0; i < 4; i++) out[i] = i < 4 - ndim ? 1 : shape[i - (4 - ndim)];
}

static void sum_to_backward(const fa_node *node, fa_tensor *g, const bool *want, fa_tensor **grad_in) {
  (void)want; /* one input: always wanted when asked */
  grad_in[0] = fa_expand(g, node->inputs[0]->ndim, node->inputs[0]->shape);
}
static const fa_op_def sum_to_def = {"sum_to", sum_to_backward, true};

fa_tensor *fa_sum_to(fa_tensor *x, int ndim, const int *shape) {
  if (!x) return NULL;
  if (!fits_into(NULL, ndim, shape, x, x->ndim, x->shape, "sum_to")) return NULL;
  if (!fa_one_device((const fa_tensor *[]){x}, 1, "sum_to")) return NULL;
  fa_tensor *out = fa_tensor_new_on(x->ctx, ndim, shape);
  if (!out) return NULL;
  int xs[4], ys[4];
  fa_shape4(x, xs);
  shape4_of(ndim, shape, ys);
  x->ctx->k->sum_to(xs, x->data, ys, out->data);
  return fa_record(out, &sum_to_def, 1, &x, NULL);
}

fa_tensor *fa_mean_to(fa_tensor *x, int ndim, const int *shape) {
  fa_tensor *s = fa_sum_to(x, ndim, shape);
  return s ? fa_scale(s, (float)s->numel / (float)x->numel) : NULL;
}

static void expand_backward(const fa_node *node, fa_tensor *g, const bool *want, fa_tensor **grad_in) {
  (void)want; /* one input: always wanted when asked */
  grad_in[0] = fa_sum_to(g, node->inputs[0]->ndim, node->inputs[0]->shape);
}
static const fa_op_def expand_def = {"expand", expand_backward, true};

fa_tensor *fa_expand(fa_tensor *x, int ndim, const int *shape) {
  if (!x) return NULL;
  if (!fits_into(x, x->ndim, x->shape, NULL, ndim, shape, "expand") ||
      !fa_one_device((const fa_tensor *[]){x}, 1, "expand"))
    return NULL;
  fa_tensor *out = fa_tensor_new_on(x->ctx, ndim, shape);
  if (!out) return NULL;
  int xs[4], ys[4];
  fa_shape4(x, xs);
  shape4_of(ndim, shape, ys);
  x->ctx->k->expand(xs, x->data, ys, out->data);
  return fa_record(out, &expand_def, 1, &x, NULL);
}

fa_tensor *fa_sum(fa_tensor *x) { return fa_sum_to(x, 0, NULL); }
fa_tensor *fa_mean(fa_tensor *x) { return fa_mean_to(x, 0, NULL); }

/* ---- reshape: a view sharing x's data ---- */

static void reshape_backward(const fa_node *node, fa_tensor *g, const bool *want, fa_tensor **grad_in) {
  (void)want; /* one input: always wanted when asked */
  grad_in[0] = fa_reshape(g, node->inputs[0]->ndim, node->inputs[0]->shape);
}
static const fa_op_def reshape_def = {"reshape", reshape_backward, false};

fa_tensor *fa_reshape(fa_tensor *x, int ndim, const int *shape) {
  if (!x) return NULL;
  size_t n = 1;
  for (int i = 0; i < ndim; i++) n *= shape[i] > 0 ? (size_t)shape[i] : 0;
  if (ndim < 0 || ndim > FA_MAX_DIMS || n != x->numel) {
    char buf[64];
    fa_error_set(FA_ERR_INVALID, "reshape: %s has %zu elements, the new shape %zu", fa_shape_str(x, buf, sizeof buf),
                 x->numel, n);
    return NULL;
  }
  fa_tensor *out = fa_detach(x);
  if (!out) return NULL;
  out->ndim = ndim;
  for (int i = 0; i < FA_MAX_DIMS; i++) out->shape[i] = i < ndim ? shape[i] : 0;
  return fa_record(out, &reshape_def, 1, &x, NULL);
}

fa_tensor *fa_flatten(fa_tensor *x) {
  if (!x) return NULL;
  int shape[2] = {x->shape[0], (int)(x->numel / (size_t)x->shape[0])};
  return fa_reshape(x, 2, shape);
}

/* ---- rows ---- */

static int *copy_index(fa_arena *arena, int n_idx, const int *idx, int n_rows, const char *op) {
  for (int r = 0; r < n_idx; r++)
    if (idx[r] < 0 || idx[r] >= n_rows) {
      fa_error_set(FA_ERR_INVALID, "%s: row index %d outside [0, %d)", op, idx[r], n_rows);
      return NULL;
    }
  int *copy = fa_arena_alloc(arena, (size_t)(n_idx ? n_idx : 1) * sizeof *copy);
  if (copy) memcpy(copy, idx, (size_t)n_idx * sizeof *copy);
  return copy;
}

static void select_rows_backward(const fa_node *node, fa_tensor *g, const bool *want, fa_tensor **grad_in) {
  (void)want; /* one input: always wanted when asked */
  grad_in[0] = fa_scatter_rows(g, node->inputs[0]->shape[0], node->attrs.ints[0], node->attrs.index);
}
static const fa_op_def select_rows_def = {"select_rows", select_rows_backward, true};

fa_tensor *fa_select_rows(fa_tensor *x, int n_idx, const int *idx) {
  if (!x) return NULL;
  if (x->ndim < 1 || n_idx < 1)
    return fa_error_set(FA_ERR_INVALID, "select_rows: needs a tensor with rows and at least one index"), NULL;
  if (!fa_one_device((const fa_tensor *[]){x}, 1, "select_rows")) return NULL;
  int *index = copy_index(x->ctx->arena, n_idx, idx, x->shape[0], "select_rows");
  if (!index) return NULL;
  int shape[FA_MAX_DIMS];
  memcpy(shape, x->shape, sizeof shape);
  shape[0] = n_idx;
  fa_tensor *out = fa_tensor_new_on(x->ctx, x->ndim, shape);
  if (!out) return NULL;
  size_t row = x->numel / (size_t)x->shape[0];
  x->ctx->k->gather_rows(row, n_idx, index, x->data, out->data);
  fa_op_attrs attrs = {.ints = {n_idx}, .index = index};
  return fa_record(out, &select_rows_def, 1, &x, &attrs);
}

static void scatter_rows_backward(const fa_node *node, fa_tensor *g, const bool *want, fa_tensor **grad_in) {
  (void)want; /* one input: always wanted when asked */
  grad_in[0] = fa_select_rows(g, node->attrs.ints[0], node->attrs.index);
}
static const fa_op_def scatter_rows_def = {"scatter_rows", scatter_rows_backward, true};

fa_tensor *fa_scatter_rows(fa_tensor *x, int n_rows, int n_idx, const int *idx) {
  if (!x) return NULL;
  if (x->ndim < 1 || x->shape[0] != n_idx || n_rows < 1)
    return fa_error_set(FA_ERR_INVALID, "scatter_rows: %d indices for %d rows", n_idx, x->ndim ? x->shape[0] : 0),
           NULL;
  if (!fa_one_device((const fa_tensor *[]){x}, 1, "scatter_rows")) return NULL;
  int *index = copy_index(x->ctx->arena, n_idx, idx, n_rows, "scatter_rows");
  if (!index) return NULL;
  int shape[FA_MAX_DIMS];
  memcpy(shape, x->shape, sizeof shape);
  shape[0] = n_rows;
  fa_tensor *out = fa_full_on(x->ctx, x->ndim, shape, 0.0f);
  if (!out) return NULL;
  size_t row = x->numel / (size_t)n_idx;
  x->ctx->k->scatter_add_rows(row, n_idx, index, x->data, out->data);
  fa_op_attrs attrs = {.ints = {n_idx}, .index = index};
  return fa_record(out, &scatter_rows_def, 1, &x, &attrs);
}

/* ---- per example: rows of the flattened tensors ---- */

/* a and b (N, ...) of one shape; alpha and beta (N): the rows and their length */
static bool rows_of(const fa_tensor *a, const fa_tensor *b, const char *op, size_t *cols) {
  if (a->ndim < 1 || a->shape[0] < 1 || (b && !fa_same_shape(a, b))) {
    char sa[64], sb[64];
    fa_error_set(FA_ERR_INVALID, "%s: needs tensors (N, ...) of one shape, not %s and %s", op,
                 fa_shape_str(a, sa, sizeof sa), b ? fa_shape_str(b, sb, sizeof sb) : "none");
    return false;
  }
  *cols = a->numel / (size_t)a->shape[0];
  return true;
}

static bool per_row(const fa_tensor *s, int n, const char *op) {
  if (!s || (s->ndim == 1 && s->shape[0] == n)) return true;
  fa_error_set(FA_ERR_INVALID, "%s: a per-example scale must have shape (%d)", op, n);
  return false;
}

/* d<a_r, b_r> = g_r b_r (and g_r a_r); when a and b are one tensor, 2 g_r a_r once */
static void row_dot_backward(const fa_node *node, fa_tensor *g, const bool *want, fa_tensor **grad_in) {
  fa_tensor *a = node->inputs[0], *b = node->inputs[1];
  if (a == b) {
    grad_in[0] = fa_row_combine(a, fa_scale(g, 2.0f), NULL, NULL);
    return;
  }
  if (want[0]) grad_in[0] = fa_row_combine(b, g, NULL, NULL);
  if (want[1]) grad_in[1] = fa_row_combine(a, g, NULL, NULL);
}
static const fa_op_def row_dot_def = {"row_dot", row_dot_backward, true};

fa_tensor *fa_row_dot(fa_tensor *a, fa_tensor *b) {
  size_t cols;
  if (FA_ANY_NULL2(a, b) || !rows_of(a, b, "row_dot", &cols)) return NULL;
  if (!fa_one_device((const fa_tensor *[]){a, b}, 2, "row_dot")) return NULL;
  fa_tensor *out = fa_tensor_new_on(a->ctx, 1, a->shape);
  if (!out) return NULL;
  a->ctx->k->row_dot(a->shape[0], cols, a->data, b->data, out->data);
  fa_tensor *inputs[2] = {a, b};
  return fa_record(out, &row_dot_def, 2, inputs, NULL);
}

/* d(a_r alpha_r + b_r beta_r): g_r alpha_r, <g_r, a_r>, g_r beta_r, <g_r, b_r> */
static void row_combine_backward(const fa_node *node, fa_tensor *g, const bool *want, fa_tensor **grad_in) {
  for (int i = 0; i + 1 < node->n_inputs; i += 2) {
    fa_tensor *x = node->inputs[i], *s = node->inputs[i + 1];
    if (want[i]) grad_in[i] = fa_row_combine(g, s, NULL, NULL);
    if (want[i + 1]) grad_in[i + 1] = fa_row_dot(g, x);
  }
}
static const fa_op_def row_combine_def = {"row_combine", row_combine_backward, true};

fa_tensor *fa_row_combine(fa_tensor *a, fa_tensor *alpha, fa_tensor *b, fa_tensor *beta) {
  size_t cols;
  if (FA_ANY_NULL2(a, alpha) || (b && !beta) || !rows_of(a, b, "row_combine", &cols) ||
      !per_row(alpha, a->shape[0], "row_combine") || !per_row(beta, a->shape[0], "row_combine"))
    return NULL;
  if (!fa_one_device((const fa_tensor *[]){a, alpha, b, beta}, 4, "row_combine")) return NULL;
  fa_tensor *out = fa_tensor_new_on(a->ctx, a->ndim, a->shape);
  if (!out) return NULL;
  a->ctx->k->row_combine(a->shape[0], cols, a->data, alpha->data, b ? b->data : NULL, b ? beta->data : NULL,
                            out->data);
  fa_tensor *inputs[4] = {a, alpha, b, beta};
  return fa_record(out, &row_combine_def, b ? 4 : 2, inputs, NULL);
}
