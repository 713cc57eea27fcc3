#include "adv/elle.h"

#include <math.h>
#include <string.h>

#include "adv/attack.h"
#include "core/arena.h"
#include "core/ops.h"

/* The penalty of a history spike: the mean plus this many standard deviations. */
#define SENSITIVITY 2.0
#define DECAY 0.99
#define MIN_HISTORY 3

fa_tensor *fa_elle_penalty(fa_model *model, fa_tensor *x, const int *y, float eps, fa_rng *rng) {
  int n = x->shape[0];
  size_t per = x->numel / (size_t)n;
  fa_tensor *a = fa_uniform_delta(x, eps, rng), *b = fa_uniform_delta(x, eps, rng);
  float *t = fa_arena_alloc(fa_arena_current(), (size_t)n * sizeof *t);
  int *labels = fa_arena_alloc(fa_arena_current(), 3 * (size_t)n * sizeof *labels);
  int shape[4] = {3 * n, x->shape[1], x->shape[2], x->shape[3]};
  fa_tensor *points = fa_tensor_new(4, shape);
  if (!a || !b || !t || !labels || !points) return NULL;
  fa_rng_fill_uniform(rng, t, (size_t)n, 0.0f, 1.0f);
  fa_project_box(x, a);
  fa_project_box(x, b);
  /* points = [x_a; x_b; x_c] (3N, C, H, W) */
  float *xa = points->data, *xb = xa + x->numel, *xc = xb + x->numel;
  for (int i = 0; i < n; i++)
    for (size_t j = 0; j < per; j++) {
      size_t k = (size_t)i * per + j;
      xa[k] = x->data[k] + a->data[k];
      xb[k] = x->data[k] + b->data[k];
      xc[k] = (1.0f - t[i]) * xa[k] + t[i] * xb[k];
    }
  for (int i = 0; i < 3 * n; i++) labels[i] = y[i % n];
  fa_tensor *losses = fa_cross_entropy_per_example(fa_model_forward(model, points, true), labels);
  int *rows = fa_arena_alloc(fa_arena_current(), 3 * (size_t)n * sizeof *rows);
  fa_tensor *one_minus_t = fa_tensor_new(1, &n), *t_tensor = fa_tensor_from(1, &n, t);
  if (!losses || !rows || !one_minus_t || !t_tensor) return NULL;
  for (int i = 0; i < 3 * n; i++) rows[i] = i;
  for (int i = 0; i < n; i++) one_minus_t->data[i] = 1.0f - t[i];
  fa_tensor *la = fa_select_rows(losses, n, rows), *lb = fa_select_rows(losses, n, rows + n),
            *lc = fa_select_rows(losses, n, rows + 2 * n);
  fa_tensor *gap = fa_sub(fa_sub(lc, fa_mul(one_minus_t, la)), fa_mul(t_tensor, lb));
  return fa_mean(fa_mul(gap, gap));
}

fa_elle_adaptive fa_elle_adaptive_start(void) { return (fa_elle_adaptive){0}; }

double fa_elle_adaptive_step(fa_elle_adaptive *s, double penalty, double lambda_max, bool *spike) {
  bool jump = s->count >= MIN_HISTORY && penalty > s->mean + SENSITIVITY * sqrt(s->m2 / (double)s->count);
  s->lambda = jump ? lambda_max : s->lambda * DECAY;
  s->count++;
  double d = penalty - s->mean;
  s->mean += d / (double)s->count;
  s->m2 += d * (penalty - s->mean);
  if (spike) *spike = jump;
  return s->lambda;
}
