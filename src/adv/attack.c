#include "adv/attack.h"

#include "core/arena.h"
#include "core/autograd.h"
#include "core/ops.h"

fa_tensor *fa_input_grad(fa_model *model, bool training, fa_tensor *x, fa_tensor *delta, const fa_tensor *y, bool clip,
                         bool create_graph, fa_tensor **logits_out) {
  bool was = fa_set_grad_enabled(true);
  fa_tensor *d = fa_detach(delta), *g = NULL;
  if (d) fa_tensor_set_requires_grad(d, true);
  fa_tensor *input = clip ? fa_add_clamp(x, d, 0.0f, 1.0f) : fa_add(x, d);
  fa_tensor *logits = fa_model_forward(model, input, training);
  fa_tensor *loss = fa_cross_entropy(logits, y);
  if (loss && fa_grad(loss, &d, 1, create_graph, &g) != FA_OK) g = NULL;
  fa_set_grad_enabled(was);
  if (logits_out) *logits_out = logits;
  return g;
}

fa_tensor *fa_uniform_delta(const fa_tensor *x, float eps, fa_rng *rng) {
  return fa_uniform(fa_tensor_ndim(x), fa_tensor_shape(x), rng, -eps, eps);
}

fa_tensor *fa_fgsm(fa_model *model, bool training, fa_tensor *x, const fa_tensor *y, fa_tensor *delta, float eps,
                   float step, bool create_graph, fa_tensor **grad_out) {
  fa_tensor *g = fa_input_grad(model, training, x, delta, y, true, create_graph, NULL);
  if (grad_out) *grad_out = g;
  if (!g) return NULL;
  /* delta + step sign(g), into the eps-ball, then into the image box */
  fa_attack_step(x, g, delta, step, eps, false);
  return delta;
}

fa_tensor *fa_pgd(fa_model *model, bool training, fa_tensor *x, const fa_tensor *y, fa_tensor *delta, float eps,
                  float alpha, int n_iter) {
  fa_arena *arena = fa_arena_current();
  for (int it = 0; it < n_iter; it++) {
    fa_arena_mark mark = fa_arena_get_mark(arena);
    fa_tensor *g = fa_input_grad(model, training, x, delta, y, false, false, NULL);
    if (!g) return NULL;
    /* delta + alpha sign(g), into the image box, then into the eps-ball */
    fa_attack_step(x, g, delta, alpha, eps, true);
    fa_arena_release(arena, mark);
  }
  return delta;
}

int *fa_example_rows(int n, long first_example, const long *examples) {
  int *idx = fa_arena_alloc(fa_arena_current(), (size_t)(n > 0 ? n : 1) * sizeof *idx);
  for (int i = 0; idx && i < n; i++) idx[i] = examples ? i : (int)(first_example + i);
  return idx;
}

fa_tensor *fa_pgd_restarts(fa_model *model, fa_tensor *x, const fa_tensor *y, float eps, float alpha, int n_iter,
                           int n_restarts, const fa_rng *stream, long first_example, const long *examples,
                           fa_tensor **loss_out) {
  int n = fa_tensor_dim(x, 0);
  fa_tensor *best = fa_zeros_like(x), *best_loss = fa_full(1, &n, -1.0f);
  int *rows = fa_example_rows(n, first_example, examples);
  if (!best || !best_loss || !rows) return NULL;
  fa_arena *arena = fa_arena_current();
  bool was = fa_set_grad_enabled(false);
  for (int r = 0; r < n_restarts; r++) {
    fa_arena_mark mark = fa_arena_get_mark(arena);
    fa_tensor *start = fa_uniform_per_example(x, n, rows, stream, examples, r, -eps, eps);
    if (start) fa_project_box(x, start);
    fa_tensor *delta = start ? fa_pgd(model, false, x, y, start, eps, alpha, n_iter) : NULL;
    fa_tensor *loss = delta ? fa_cross_entropy_per_example(fa_model_forward(model, fa_add(x, delta), false), y) : NULL;
    if (!loss) {
      fa_set_grad_enabled(was);
      return NULL;
    }
    fa_keep_best_rows(loss, best_loss, delta, best);
    fa_arena_release(arena, mark);
  }
  fa_set_grad_enabled(was);
  if (loss_out) *loss_out = best_loss;
  return best;
}

fa_tensor *fa_uniform_per_example(const fa_tensor *x, int m, const int *idx, const fa_rng *stream,
                                  const long *examples, int run, float lo, float hi) {
  size_t row = fa_tensor_row_numel(x), blocks = (row + 3) / 4;
  int shape[FA_MAX_DIMS];
  for (int d = 0; d < fa_tensor_ndim(x); d++) shape[d] = fa_tensor_dim(x, d);
  shape[0] = m;
  fa_tensor *out = fa_tensor_new(fa_tensor_ndim(x), shape);
  for (int j = 0; out && j < m; j++) {
    fa_rng example = fa_rng_item_stream(stream, (uint64_t)fa_example_index(examples, idx[j]));
    example.counter = (uint64_t)run * blocks;
    if (fa_fill_uniform(out, (size_t)j * row, row, &example, lo, hi) != FA_OK) return NULL;
  }
  return out;
}

/* logits (N, K) into host memory (the current arena), NULL and a message on failure */
static float *logits_on_host(const fa_tensor *logits) {
  size_t n = fa_tensor_numel(logits);
  float *host = fa_arena_alloc(fa_arena_current(), n * sizeof *host);
  return host && fa_tensor_read(logits, 0, n, host) == FA_OK ? host : NULL;
}

fa_status fa_rank_targets(const fa_tensor *logits, int n_targets, int *targets, bool *taken) {
  int n = fa_tensor_dim(logits, 0), k = fa_tensor_dim(logits, 1);
  fa_arena_mark mark = fa_arena_get_mark(fa_arena_current());
  const float *z = logits_on_host(logits);
  if (!z) return fa_error_code();
  for (int i = 0; i < n; i++) {
    const float *row = z + (size_t)i * k;
    for (int j = 0; j < k; j++) taken[j] = false;
    for (int r = 0; r <= n_targets; r++) {
      int arg = -1;
      for (int j = 0; j < k; j++)
        if (!taken[j] && (arg < 0 || row[j] > row[arg])) arg = j;
      taken[arg] = true;
      if (r > 0) targets[(size_t)i * n_targets + r - 1] = arg;
    }
  }
  fa_arena_release(fa_arena_current(), mark);
  return FA_OK;
}

int fa_mark_correct(const fa_tensor *logits, const fa_tensor *y, bool *correct) {
  fa_arena *arena = fa_arena_current();
  fa_arena_mark mark = fa_arena_get_mark(arena);
  fa_tensor *pred = fa_argmax_rows(logits);
  int n = pred ? fa_tensor_dim(pred, 0) : 0, count = 0;
  int *host = pred ? fa_arena_alloc(arena, 2 * (size_t)n * sizeof *host) : NULL;
  if (!host || fa_tensor_read_i32(pred, 0, (size_t)n, host) != FA_OK ||
      fa_tensor_read_i32(y, 0, (size_t)n, host + n) != FA_OK)
    count = -1;
  for (int i = 0; count >= 0 && i < n; i++) {
    bool right = host[i] == host[n + i];
    if (correct) correct[i] = right;
    count += right;
  }
  fa_arena_release(arena, mark);
  return count;
}

fa_tensor *fa_attack_targets_restarts(fa_model *model, fa_tensor *x, const fa_tensor *y, int n_targets, int n_restarts,
                                      fa_targeted_run run, void *ctx, bool *robust) {
  int n = fa_tensor_dim(x, 0), k = fa_model_get_config(model)->n_classes;
  fa_arena *arena = fa_arena_current();
  bool *alive = fa_arena_alloc(arena, (size_t)n * sizeof(bool)), *broken = fa_arena_alloc(arena, (size_t)n);
  bool *taken = fa_arena_alloc(arena, (size_t)k * sizeof(bool));
  int *idx = fa_arena_alloc(arena, (size_t)n * sizeof(int));
  int *ranked = fa_arena_alloc(arena, (size_t)n * n_targets * sizeof(int));
  int *t_sub = fa_arena_alloc(arena, (size_t)n * sizeof(int));
  fa_tensor *delta = fa_zeros_like(x);
  if (!alive || !broken || !taken || !idx || !ranked || !t_sub || !delta) return NULL;
  bool was = fa_set_grad_enabled(false);
  fa_arena_mark mark = fa_arena_get_mark(arena);
  fa_tensor *clean = fa_model_forward(model, x, false);
  fa_status st = clean && fa_mark_correct(clean, y, alive) >= 0 ? fa_rank_targets(clean, n_targets, ranked, taken)
                                                                 : fa_error_code();
  fa_arena_release(arena, mark);
  for (int t = 0; st == FA_OK && t < n_targets; t++)
    for (int r = 0; st == FA_OK && r < n_restarts; r++) {
      int m = 0;
      for (int i = 0; i < n; i++)
        if (alive[i]) {
          idx[m] = i;
          t_sub[m++] = ranked[(size_t)i * n_targets + t];
        }
      if (m == 0) break;
      mark = fa_arena_get_mark(arena);
      fa_tensor *xs = fa_select_rows(x, m, idx), *y_sub = fa_labels_select(y, m, idx), *adv = NULL;
      st = xs && y_sub ? run(ctx, xs, idx, m, y_sub, t_sub, t, r, broken, &adv) : fa_error_code();
      for (int j = 0; st == FA_OK && j < m; j++)
        if (broken[j]) {
          alive[idx[j]] = false;
          st = fa_tensor_copy_rows(delta, idx[j], adv, j, 1);
        }
      fa_arena_release(arena, mark);
    }
  fa_set_grad_enabled(was);
  if (st != FA_OK) return NULL;
  if (robust)
    for (int i = 0; i < n; i++) robust[i] = alive[i];
  return delta;
}
