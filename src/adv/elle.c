#include "adv/elle.h"

#include <math.h>

#include "adv/attack.h"
#include "core/arena.h"
#include "core/ops.h"

/* The penalty of a history spike: the mean plus this many standard deviations. */
#define SENSITIVITY 2.0
#define DECAY 0.99
#define MIN_HISTORY 3

fa_tensor *fa_elle_penalty(fa_model *model, fa_tensor *x, const fa_tensor *y, float eps, fa_rng *rng) {
  int n = fa_tensor_dim(x, 0);
  fa_tensor *a = fa_uniform_delta(x, eps, rng), *b = fa_uniform_delta(x, eps, rng);
  fa_tensor *t = fa_uniform(1, &n, rng, 0.0f, 1.0f);
  int *rows = fa_arena_alloc(fa_arena_current(), 3 * (size_t)n * sizeof *rows);
  if (!a || !b || !t || !rows) return NULL;
  fa_project_box(x, a);
  fa_project_box(x, b);
  fa_tensor *one_minus_t = fa_affine(t, -1.0f, 1.0f);  /* 1 - t, exactly */
  /* [x_a; x_b; x_c] (3N, C, H, W), labels y three times */
  fa_tensor *points = fa_lerp_points(x, a, b, one_minus_t, t);
  for (int i = 0; i < 3 * n; i++) rows[i] = i % n;
  fa_tensor *labels = fa_labels_select(y, 3 * n, rows);
  fa_tensor *losses = fa_cross_entropy_per_example(fa_model_forward(model, points, true), labels);
  if (!losses) return NULL;
  for (int i = 0; i < 3 * n; i++) rows[i] = i;
  fa_tensor *la = fa_select_rows(losses, n, rows), *lb = fa_select_rows(losses, n, rows + n),
            *lc = fa_select_rows(losses, n, rows + 2 * n);
  fa_tensor *gap = fa_sub(fa_sub(lc, fa_mul(one_minus_t, la)), fa_mul(t, lb));
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
