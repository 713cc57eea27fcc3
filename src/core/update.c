/* In-place updates and kernel-made constants (core/update.h): shape checks
 * are the callers' (these run inside attacks and the optimiser on tensors
 * they made); each forwards to the kernel table. */
#include "core/update.h"

#include "core/device.h"
#include "core/ops.h"
#include "core/tensor_internal.h"

void fa_project_box(const fa_tensor *x, fa_tensor *delta) {
  if (!x || !delta) return;
  const fa_kernel_table *k = delta->ctx->k;
  int s[4];
  fa_shape4(x, s);
  k->binary(FA_BINARY_ADD, s, x->data, s, delta->data, s, delta->data);
  k->unary(FA_UNARY_CLAMP, delta->numel, delta->data, delta->data, 0.0f, 1.0f);
  k->binary(FA_BINARY_SUB, s, delta->data, s, x->data, s, delta->data);
}

void fa_attack_step(const fa_tensor *x, const fa_tensor *g, fa_tensor *delta, float step, float eps, bool box_first) {
  if (x && g && delta) delta->ctx->k->attack_step(delta->numel, x->data, g->data, delta->data, step, eps, box_first);
}

void fa_sign_scale(fa_tensor *t, float scale) {
  if (!t) return;
  const fa_kernel_table *k = t->ctx->k;
  k->unary(FA_UNARY_SIGN, t->numel, t->data, t->data, 0.0f, 0.0f);
  k->unary(FA_UNARY_AFFINE, t->numel, t->data, t->data, scale, 0.0f);
}

void fa_keep_best_rows(const fa_tensor *loss, fa_tensor *best_loss, const fa_tensor *src, fa_tensor *best) {
  if (loss && best_loss && src && best)
    best->ctx->k->keep_best_rows(loss->shape[0], fa_tensor_row_numel(src), loss->data, best_loss->data, src->data,
                                 best->data);
}

fa_status fa_fill_uniform(fa_tensor *t, size_t offset, size_t n, fa_rng *rng, float lo, float hi) {
  if (!t) return fa_error_code();
  if (t->dtype != FA_F32 || offset > t->numel || n > t->numel - offset)
    return fa_error_set(FA_ERR_INVALID, "uniform fill of elements [%zu, %zu) of a tensor of %zu", offset,
                        offset + n, t->numel);
  t->ctx->k->fill_uniform(n, rng->key, rng->counter, lo, hi, t->data + offset);
  rng->counter += (n + 3) / 4;
  return FA_OK;
}

fa_tensor *fa_uniform(int ndim, const int *shape, fa_rng *rng, float lo, float hi) {
  fa_tensor *t = fa_tensor_new(ndim, shape);
  if (!t || rng->total_rows <= 0) return t && fa_fill_uniform(t, 0, t->numel, rng, lo, hi) == FA_OK ? t : NULL;
  /* rows [first, first + R) of a fill of total rows: elements [first * row, ...) of it, which start `skip`
   * words into block counter + first * row / 4 */
  size_t row = t->numel / (size_t)shape[0], start = (size_t)rng->first_row * row, skip = start % 4;
  if (rng->first_row < 0 || rng->first_row + shape[0] > rng->total_rows)
    return fa_error_set(FA_ERR_INVALID, "uniform rows [%d, %d) of a fill of %d rows", rng->first_row,
                        rng->first_row + shape[0], rng->total_rows), NULL;
  fa_rng at = {rng->key, rng->counter + start / 4, 0, 0};
  fa_tensor *words = skip ? fa_tensor_new(1, (int[]){(int)(t->numel + skip)}) : t;
  if (!words || fa_fill_uniform(words, 0, t->numel + skip, &at, lo, hi) != FA_OK) return NULL;
  if (skip) fa_device_copy(t->ctx, t->data, words->data + skip, t->numel * sizeof(float));
  rng->counter += ((size_t)rng->total_rows * row + 3) / 4;
  return t;
}

fa_tensor *fa_lerp_points(const fa_tensor *x, const fa_tensor *a, const fa_tensor *b, const fa_tensor *wa,
                          const fa_tensor *wb) {
  if (!x || !a || !b || !wa || !wb) return NULL;
  int n = x->ndim == 4 ? x->shape[0] : -1;
  if (n < 0 || !fa_same_shape(x, a) || !fa_same_shape(x, b) || wa->ndim != 1 || wa->shape[0] != n ||
      !fa_same_shape(wa, wb))
    return fa_error_set(FA_ERR_INVALID, "interpolation points need x, a, b (N, C, H, W) and weights (N)"), NULL;
  if (!fa_one_device((const fa_tensor *[]){x, a, b, wa, wb}, 5, "lerp_points")) return NULL;
  fa_tensor *points = fa_tensor_new_on(x->ctx, 4, (int[]){3 * n, x->shape[1], x->shape[2], x->shape[3]});
  if (!points) return NULL;
  const fa_kernel_table *k = x->ctx->k;
  float *xa = points->data, *xb = xa + x->numel, *xc = xb + x->numel;
  int s[4];
  fa_shape4(x, s);
  k->binary(FA_BINARY_ADD, s, x->data, s, a->data, s, xa);
  k->binary(FA_BINARY_ADD, s, x->data, s, b->data, s, xb);
  k->row_combine(n, fa_tensor_row_numel(x), xa, wa->data, xb, wb->data, xc);
  return points;
}

void fa_sgd_update(fa_tensor *p, const fa_tensor *g, fa_tensor *buf, float lr, float momentum, float wd) {
  if (p && g && buf) p->ctx->k->sgd_update(p->numel, p->data, g->data, buf->data, lr, momentum, wd);
}

void fa_adam_update(fa_tensor *p, const fa_tensor *g, fa_tensor *m, fa_tensor *v, float beta1, float beta2, float eps,
                    float wd, float step_size, float bc2_sqrt) {
  if (p && g && m && v)
    p->ctx->k->adam_update(p->numel, p->data, g->data, m->data, v->data, beta1, beta2, eps, wd, step_size, bc2_sqrt);
}
