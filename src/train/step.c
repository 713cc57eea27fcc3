#include "train/step.h"

#include <stdlib.h>
#include <string.h>

#include "adv/attack.h"
#include "adv/gradalign.h"
#include "core/measure.h"
#include "core/arena.h"
#include "core/autograd.h"
#include "core/ops.h"

fa_status fa_trainer_init(fa_trainer *t, const fa_train_config *config, fa_model *model, fa_comm *comm) {
  memset(t, 0, sizeof *t);
  t->config = config;
  t->model = model;
  t->comm = comm;
  t->attack_options = fa_train_attack_options(config);
  t->attack_rng = fa_rng_stream((uint64_t)config->seed, FA_STREAM_ATTACK);
  t->elle = fa_elle_adaptive_start();
  if (config->minibatch_replay > 1) {
    const fa_model_config *m = fa_model_get_config(model);
    int shape[4] = {config->batch_size, m->in_channels, m->height, m->width};
    if (!(t->replay = fa_store_create()) || !fa_store_new(t->replay, "delta", 4, shape))
      return fa_error_set(FA_ERR_NOMEM, "out of memory for the AT-for-Free perturbation");
  }
  return FA_OK;
}

void fa_trainer_free(fa_trainer *t) {
  fa_store_destroy(t->replay);
  t->replay = NULL;
}

/* The attack, in place on delta (its start); g1 gets the input gradient
 * (the attack's, else at x), with a graph when create_graph. */
static fa_status attack(fa_trainer *t, const fa_train_attack_input *in, fa_tensor *delta, fa_tensor **g1) {
  const fa_train_attack *a = t->config->attack;
  *g1 = NULL;
  fa_status status = a->perturb ? a->perturb(in, delta, g1) : FA_OK;
  if (status != FA_OK || a->gives_input_grad) return status;
  fa_tensor *zero = fa_zeros_like(in->x);
  *g1 = zero ? fa_input_grad(t->model, true, in->x, zero, in->y, true, in->create_graph, NULL) : NULL;
  return *g1 ? FA_OK : fa_error_code();
}

/* GradAlign's rows that count, summed over the ranks (fa_grad_align_reg_part) */
static long rows_over_ranks(void *ctx, long kept) {
  int64_t sum = kept;
  if (ctx) fa_comm_sum_int64(ctx, &sum, 1);
  return (long)sum;
}

/* sum over the ranks of one value (this rank's alone in a plain run) */
static double over_ranks(fa_comm *comm, double value) {
  if (comm) fa_comm_sum_doubles(comm, &value, 1);
  return value;
}

/* loss (a mean over this slice's n rows) as its part of the mean over the global batch */
static fa_tensor *share_of_mean(fa_tensor *loss, int n, int total) {
  return n == total ? loss : fa_scale(loss, (float)((double)n / total));
}

fa_status fa_train_step(fa_trainer *t, fa_tensor *x, const fa_tensor *y, float ramp, fa_step_stats *stats) {
  const fa_train_config *c = t->config;
  fa_model *model = t->model;
  bool grad_align = c->grad_align_cos_lambda > 0;
  float eps = c->eps.value * (c->attack->ramps_radius ? ramp : 1.0f);
  int n = fa_tensor_dim(x, 0), total = t->total_rows > 0 ? t->total_rows : n;
  /* the draws of this slice's rows of the global batch's (core/rng.h) */
  t->attack_rng.first_row = t->total_rows > 0 ? t->first_row : 0;
  t->attack_rng.total_rows = total;
  fa_train_attack_input in = {.model = model, .x = x, .y = y, .eps = eps, .ramp = ramp,
                              .options = &t->attack_options, .rng = &t->attack_rng,
                              .carried = t->replay ? fa_store_get(t->replay, 0) : NULL, .create_graph = grad_align};

  /* delta is made before the attack's mark: without GradAlign nothing of the
   * attack's graphs outlives it, and they are released once g1's statistic
   * is taken. */
  fa_arena *arena = fa_arena_current();
  fa_tensor *delta = c->attack->start(&in), *g1 = NULL;
  if (!delta) return fa_error_code();
  fa_arena_mark attack_mark = fa_arena_get_mark(arena);
  fa_status status = attack(t, &in, delta, &g1);
  if (status != FA_OK) return status;
  double g1_norm = fa_mean_row_norm(g1);
  if (!grad_align) fa_arena_release(arena, attack_mark);

  /* loss = CE(model(clip(x + delta)), y) + lambda (1 - mean cos(g1, g2)), g2 at x + eta. The terms are
   * backpropagated one after the other, so that the clean pass's graph is released before g2's is made. */
  fa_arena_mark clean_mark = fa_arena_get_mark(arena);
  fa_tensor *logits = fa_model_forward(model, fa_add_clamp(x, delta, 0.0f, 1.0f), true);
  fa_tensor *loss = fa_cross_entropy(logits, y);
  if (!loss) return fa_error_code();
  fa_store_zero_grad(fa_model_store(model));
  status = fa_backward(share_of_mean(loss, n, total));
  if (status != FA_OK) return status;
  int correct = fa_count_correct(logits, y);
  if (correct < 0) return fa_error_code();
  stats->loss += (double)fa_tensor_item(loss) * n;
  stats->correct += correct;
  if (grad_align) {
    fa_arena_release(arena, clean_mark);
    fa_tensor *eta = fa_uniform_delta(x, eps, &t->attack_rng);
    fa_tensor *g2 = eta ? fa_input_grad(model, true, fa_add(x, eta), fa_zeros_like(x), y, false, true, NULL) : NULL;
    fa_tensor *reg = fa_grad_align_reg_part(g1, g2, c->grad_align_cos_lambda, rows_over_ranks, t->comm);
    if (!reg) return fa_error_code();
    /* constant when no row counts */
    if (fa_tensor_requires_grad(reg) && (status = fa_backward(reg)) != FA_OK) return status;
    stats->reg += (double)fa_tensor_item(reg) * total;
  }
  if (fa_train_config_elle(c)) {
    fa_arena_release(arena, clean_mark); /* the terms above are backpropagated */
    fa_tensor *penalty = fa_elle_penalty(model, x, y, eps, &t->attack_rng);
    if (!penalty) return fa_error_code();
    double value = fa_tensor_item(penalty);
    /* ELLE-A weighs the global batch's mean penalty */
    double mean = n == total ? value : over_ranks(t->comm, value * n / total);
    double lambda = c->elle_adaptive ? fa_elle_adaptive_step(&t->elle, mean, c->elle_lambda_max, NULL)
                                     : c->elle_lambda;
    if (lambda > 0 && (status = fa_backward(fa_scale(share_of_mean(penalty, n, total), (float)lambda))) != FA_OK)
      return status;
    stats->elle += value * n;
  }
  /* g1 is the gradient of this slice's mean: its rows scaled to the global batch's */
  stats->grad_norm += g1_norm * n * ((double)n / total);
  stats->delta_norm += fa_mean_row_norm(delta) * n;
  stats->n += n;
  return FA_OK;
}
