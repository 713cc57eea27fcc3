#include "train/statistics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adv/attack.h"
#include "core/arena.h"
#include "core/autograd.h"
#include "core/ops.h"

/* One batch's sums; a batch of the training examples fills robust_train only. */
typedef struct {
  double clean, fgsm, pgd, fgsm_loss, pgd_loss, cos_deltas, align, robust_train;
} batch_sums;
enum { N_SUMS = sizeof(batch_sums) / sizeof(double) };

/* The streams of one report within the run's statistics stream: the
 * attack's starts on the test and the training examples, and eta, each
 * drawn per example (its index in its set), so that no draw depends on the
 * batch size or on which rank takes the batch. */
typedef struct {
  fa_rng test, train, eta;
} report_streams;

static fa_status test_batch(fa_model *model, fa_tensor *x, const fa_tensor *y, const fa_stats_attack *a,
                            const report_streams *streams, int first, batch_sums *s) {
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
  fa_eval_attack_input in = {.model = model, .x = x, .y = y, .eps = eps, .options = &a->options,
                             .rng = (fa_rng *)&streams->test, .first_example = first};
  fa_tensor *delta_pgd = a->attack->perturb(&in);
  int *rows = fa_example_rows(n, first, NULL);
  fa_tensor *eta = rows ? fa_uniform_per_example(x, n, rows, &streams->eta, NULL, 0, -eps, eps) : NULL;
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

/* Batch b (of batch_size) of the test examples, or of the training ones
 * after the test's n_test batches, into its sums. */
static fa_status one_batch(fa_model *model, const fa_example_set *test, const fa_example_set *train,
                           const fa_stats_attack *attack, int batch_size, int n_test, int b,
                           const report_streams *streams, batch_sums *s) {
  const fa_model_config *m = fa_model_get_config(model);
  bool on_test = b < n_test;
  const fa_example_set *set = on_test ? test : train;
  int start = (on_test ? b : b - n_test) * batch_size;
  int count = set->n - start < batch_size ? set->n - start : batch_size;
  fa_tensor *x, *y;
  fa_status st = slice(set, m, start, count, &x, &y);
  if (st != FA_OK || on_test) return st == FA_OK ? test_batch(model, x, y, attack, streams, start, s) : st;
  fa_eval_attack_input in = {.model = model, .x = x, .y = y, .eps = attack->eps, .options = &attack->options,
                             .rng = (fa_rng *)&streams->train, .first_example = start};
  int correct = fa_eval_attack_robust(attack->attack, &in, NULL);
  if (correct < 0) return fa_error_code();
  s->robust_train = correct;
  return FA_OK;
}

fa_status fa_periodic_stats_compute(fa_model *model, const fa_example_set *test, const fa_example_set *train,
                                    const fa_stats_attack *attack, int batch_size, fa_rng *rng, fa_comm *comm,
                                    fa_periodic_stats *out) {
  fa_rng report = fa_rng_item_stream(rng, rng->counter++);
  report_streams streams = {fa_rng_item_stream(&report, 0), fa_rng_item_stream(&report, 1),
                            fa_rng_item_stream(&report, 2)};
  int n_test = (test->n + batch_size - 1) / batch_size, n_train = (train->n + batch_size - 1) / batch_size;
  int n_batches = n_test + n_train;
  /* each batch's sums, at its place: a rank fills those of its batches, b = rank, rank + size, ...; the sum
   * over the ranks (x + 0 = x) gives every rank every batch's, added up in batch order as one process does */
  batch_sums *sums = calloc((size_t)n_batches, sizeof *sums);
  fa_status st = sums ? FA_OK : fa_error_set(FA_ERR_NOMEM, "out of memory for the statistics' sums");
  fa_arena *arena = fa_arena_current();
  for (int b = comm->rank; st == FA_OK && b < n_batches; b += comm->size) {
    fa_arena_mark mark = fa_arena_get_mark(arena);
    st = one_batch(model, test, train, attack, batch_size, n_test, b, &streams, &sums[b]);
    fa_arena_release(arena, mark);
  }
  if ((st = fa_comm_agree(comm, st)) != FA_OK) {
    free(sums);
    return st;
  }
  fa_comm_sum_doubles(comm, (double *)sums, (size_t)n_batches * N_SUMS);
  batch_sums s = {0};
  double train_correct = 0;
  for (int b = 0; b < n_batches; b++) {
    s.clean += sums[b].clean;
    s.fgsm += sums[b].fgsm;
    s.pgd += sums[b].pgd;
    s.fgsm_loss += sums[b].fgsm_loss;
    s.pgd_loss += sums[b].pgd_loss;
    s.cos_deltas += sums[b].cos_deltas;
    s.align += sums[b].align;
    train_correct += sums[b].robust_train;
  }
  free(sums);
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
