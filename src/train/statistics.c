#include "train/statistics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adv/attack.h"
#include "core/arena.h"
#include "core/autograd.h"
#include "core/ops.h"

typedef struct {
  double clean, fgsm, pgd, fgsm_loss, pgd_loss, cos_deltas, align;
} batch_sums;

static fa_status test_batch(fa_model *model, fa_tensor *x, const fa_tensor *y, const fa_stats_attack *a,
                            fa_rng *rng, batch_sums *s) {
  int n = fa_tensor_dim(x, 0);
  float eps = a->eps;
  bool was = fa_set_grad_enabled(false);
  fa_tensor *clean = fa_model_forward(model, x, false);
  fa_set_grad_enabled(was);
  int clean_correct = clean ? fa_count_correct(clean, y) : -1;
  if (clean_correct < 0) return fa_error_code();
  s->clean += clean_correct;

  fa_tensor *zero = fa_zeros_like(x);
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
  int fgsm_correct = fgsm_loss ? fa_count_correct(fgsm, y) : -1;
  int pgd_correct = pgd_loss ? fa_count_correct(pgd, y) : -1;
  if (!pgd_loss || fgsm_correct < 0 || pgd_correct < 0) return fa_error_code();
  s->fgsm += fgsm_correct;
  s->pgd += pgd_correct;
  s->fgsm_loss += (double)fa_tensor_item(fgsm_loss) * n;
  s->pgd_loss += (double)fa_tensor_item(pgd_loss) * n;
  s->cos_deltas += fa_mean_cosine(delta_fgsm, delta_pgd) * n;
  s->align += fa_mean_cosine(g_x, g_eta) * n;
  return FA_OK;
}

/* examples [start, start + count) of `set` as a batch: x and its labels y */
static fa_status slice(const fa_example_set *set, const fa_model_config *m, int start, int count, fa_tensor **x,
                       fa_tensor **y) {
  *x = fa_tensor_from(4, (int[]){count, m->in_channels, m->height, m->width},
                      set->x + (size_t)start * m->in_channels * m->height * m->width);
  *y = *x ? fa_labels_from(count, set->y + start, m->n_classes) : NULL;
  return *y ? FA_OK : fa_error_code();
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
    fa_tensor *x, *y;
    fa_status st = slice(test, m, start, count, &x, &y);
    if (st == FA_OK) st = test_batch(model, x, y, attack, rng, &s);
    fa_arena_release(arena, mark);
    if (st != FA_OK) return st;
  }
  double train_correct = 0;
  for (int start = 0; start < train->n; start += batch_size) {
    int count = train->n - start < batch_size ? train->n - start : batch_size;
    fa_arena_mark mark = fa_arena_get_mark(arena);
    fa_tensor *x, *y;
    fa_status st = slice(train, m, start, count, &x, &y);
    fa_eval_attack_input in = {.model = model, .x = x, .y = y, .eps = attack->eps, .options = &attack->options,
                               .rng = rng};
    int correct = st == FA_OK ? fa_eval_attack_robust(attack->attack, &in, NULL) : -1;
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
  size_t filter_len = fa_tensor_numel(first) / (size_t)f;
  /* outgoing weights of filter i: next conv (O, F, k, k) -> [:, i]; linear (K, F*H*W) -> [:, i*H*W:(i+1)*H*W] */
  size_t out_len = fa_tensor_ndim(next) == 4 ? (size_t)fa_tensor_dim(next, 2) * fa_tensor_dim(next, 3)
                                              : (size_t)m->height * m->width;
  size_t out_rows = (size_t)fa_tensor_dim(next, 0), out_stride = fa_tensor_row_numel(next);
  float *w_first = fa_tensor_to_host(first), *w_next = w_first ? fa_tensor_to_host(next) : NULL;  /* a report's */
  for (int i = 0; w_next && i < f; i++) {
    filter_norms[i] = norm_of(w_first + i * filter_len, 1, 0, filter_len);
    outgoing_norms[i] = norm_of(w_next + i * out_len, out_rows, out_stride, out_len);
  }
  free(w_first);
  free(w_next);
  return w_next ? FA_OK : fa_error_code();
}
