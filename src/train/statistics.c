#include "train/statistics.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "adv/attack.h"
#include "adv/gradalign.h"
#include "core/arena.h"
#include "core/autograd.h"
#include "core/ops.h"

typedef struct {
  double clean, fgsm, pgd, fgsm_loss, pgd_loss, cos_deltas, align;
} batch_sums;

static fa_status test_batch(fa_model *model, fa_tensor *x, const int *y, const fa_stats_attack *a, fa_rng *rng,
                            batch_sums *s) {
  int n = x->shape[0];
  float eps = a->eps;
  bool was = fa_set_grad_enabled(false);
  fa_tensor *clean = fa_model_forward(model, x, false);
  fa_set_grad_enabled(was);
  if (!clean) return fa_error_code();
  s->clean += fa_count_correct(clean, y);

  fa_tensor *zero = fa_zeros(x->ndim, x->shape);
  fa_tensor *g_x = NULL, *delta_fgsm = zero ? fa_fgsm(model, false, x, y, zero, eps, eps, false, &g_x) : NULL;
  fa_eval_attack_input in = {.model = model, .x = x, .y = y, .eps = eps, .options = &a->options, .rng = rng};
  fa_tensor *delta_pgd = a->attack->perturb(&in);
  fa_tensor *eta = fa_uniform_delta(x, eps, rng);
  fa_tensor *g_eta = eta ? fa_input_grad(model, false, x, eta, y, true, false, NULL) : NULL;
  if (!delta_fgsm || !delta_pgd || !g_eta) return fa_error_code();
  was = fa_set_grad_enabled(false);
  fa_tensor *fgsm = fa_model_forward(model, fa_add(x, delta_fgsm), false);
  fa_tensor *pgd = fa_model_forward(model, fa_add(x, delta_pgd), false);
  fa_tensor *fgsm_loss = fa_cross_entropy(fgsm, y);
  fa_tensor *pgd_loss = fa_cross_entropy(pgd, y);
  fa_set_grad_enabled(was);
  if (!fgsm_loss || !pgd_loss) return fa_error_code();
  s->fgsm += fa_count_correct(fgsm, y);
  s->pgd += fa_count_correct(pgd, y);
  s->fgsm_loss += (double)fgsm_loss->data[0] * n;
  s->pgd_loss += (double)pgd_loss->data[0] * n;
  s->cos_deltas += fa_mean_cosine(delta_fgsm, delta_pgd) * n;
  s->align += fa_mean_cosine(g_x, g_eta) * n;
  return FA_OK;
}

/* examples [start, start + count) of `set` as a batch */
static fa_tensor *slice(const fa_example_set *set, const fa_model_config *m, int start, int count) {
  return fa_tensor_from(4, (int[]){count, m->in_channels, m->height, m->width},
                        set->x + (size_t)start * m->in_channels * m->height * m->width);
}

fa_status fa_periodic_stats_compute(fa_model *model, const fa_example_set *test, const fa_example_set *train,
                                    const fa_stats_attack *attack, int batch_size, fa_rng *rng,
                                    fa_periodic_stats *out) {
  const fa_model_config *m = fa_model_get_config(model);
  fa_arena *arena = fa_arena_current();
  batch_sums s = {0};
  for (int start = 0; start < test->n; start += batch_size) {
    int count = test->n - start < batch_size ? test->n - start : batch_size;
    fa_arena_mark mark = fa_arena_get_mark(arena);
    fa_tensor *x = slice(test, m, start, count);
    fa_status st = x ? test_batch(model, x, test->y + start, attack, rng, &s) : fa_error_code();
    fa_arena_release(arena, mark);
    if (st != FA_OK) return st;
  }
  double train_correct = 0;
  for (int start = 0; start < train->n; start += batch_size) {
    int count = train->n - start < batch_size ? train->n - start : batch_size;
    fa_arena_mark mark = fa_arena_get_mark(arena);
    fa_tensor *x = slice(train, m, start, count);
    fa_eval_attack_input in = {.model = model, .x = x, .y = train->y + start, .eps = attack->eps,
                               .options = &attack->options, .rng = rng};
    int correct = x ? fa_eval_attack_robust(attack->attack, &in, NULL) : -1;
    fa_arena_release(arena, mark);
    if (correct < 0) return fa_error_code();
    train_correct += correct;
  }
  double n = test->n;
  *out = (fa_periodic_stats){.clean_acc = s.clean / n, .fgsm_acc = s.fgsm / n, .pgd_acc = s.pgd / n,
                             .fgsm_loss = s.fgsm_loss / n, .pgd_loss = s.pgd_loss / n, .cos_fgsm_pgd = s.cos_deltas / n,
                             .grad_align = s.align / n, .train_pgd_acc = train_correct / train->n};
  return FA_OK;
}

static double norm_of(const float *v, size_t n, size_t stride, size_t len) {
  /* n blocks of len contiguous floats, stride apart */
  double s = 0;
  for (size_t b = 0; b < n; b++)
    for (size_t j = 0; j < len; j++) s += (double)v[b * stride + j] * v[b * stride + j];
  return sqrt(s);
}

fa_status fa_cnn_filter_norms(const fa_model *model, double *filter_norms, double *outgoing_norms) {
  const fa_model_config *m = fa_model_get_config(model);
  if (m->arch != FA_ARCH_CNN) return fa_error_set(FA_ERR_INVALID, "filter norms are for the cnn model");
  fa_store *store = fa_model_store(model);
  char next_name[32];
  if (m->n_layers > 1)
    strcpy(next_name, "_model.2.weight");
  else
    snprintf(next_name, sizeof next_name, "_model.%d.weight", 2 * m->n_layers + 1);
  const fa_tensor *first = fa_store_find(store, "_model.0.weight"), *next = fa_store_find(store, next_name);
  int f = m->n_filters;
  size_t filter_len = first->numel / (size_t)f;
  /* outgoing weights of filter i: next conv (O, F, k, k) -> [:, i]; linear (K, F*H*W) -> [:, i*H*W:(i+1)*H*W] */
  size_t out_len = next->ndim == 4 ? (size_t)next->shape[2] * next->shape[3] : (size_t)m->height * m->width;
  size_t out_rows = (size_t)next->shape[0], out_stride = next->numel / out_rows;
  for (int i = 0; i < f; i++) {
    filter_norms[i] = norm_of(first->data + i * filter_len, 1, 0, filter_len);
    outgoing_norms[i] = norm_of(next->data + i * out_len, out_rows, out_stride, out_len);
  }
  return FA_OK;
}
