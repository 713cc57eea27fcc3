/* APGD (docs/AUTOATTACK.md). In the paper's notation, per example:
 *
 *   x^(1)   = P(x^(0) + eta sign grad f(x^(0)))                 (the first step: no momentum)
 *   z^(k+1) = P(x^(k) + eta sign grad f(x^(k)))
 *   x^(k+1) = P(x^(k) + alpha (z^(k+1) - x^(k)) + (1 - alpha)(x^(k) - x^(k-1))),  alpha = 0.75
 *
 * P projects onto the eps-ball, then onto the [0, 1] box; eta starts at 2 eps.
 * At checkpoint w_j (once x^(w_j) is computed), eta is halved and the run
 * goes on from the best point x_max (with the gradient there) when
 *   condition 1: fewer than rho (w_j - w_{j-1}) of the steps since w_{j-1}
 *                raised the loss, f(x^(i+1)) > f(x^(i)), rho = 0.75, or
 *   condition 2: eta was not halved at w_{j-1} and f_max has not risen since.
 * The iterates are kept as perturbations delta = x^(k) - x; the model sees
 * x + delta, as the evaluation that counts an example robust does. */
#include "adv/apgd.h"
#include "adv/registry.h"

#include "adv/attack.h"
#include "adv/dlr.h"
#include "core/arena.h"
#include "core/autograd.h"
#include "core/ops.h"

#define APGD_STEP_OF_EPS 2.0f  /* eta^(0) = 2 eps */
#define APGD_MOMENTUM 0.75f    /* alpha */
#define APGD_RHO 0.75          /* condition 1 */

const char *fa_apgd_name(fa_apgd_loss loss) {
  switch (loss) {
    case FA_APGD_CE: return "APGD-CE";
    case FA_APGD_DLR: return "APGD-DLR";
    case FA_APGD_DLR_TARGETED: return "APGD-T";
  }
  return "APGD";
}

int fa_apgd_min_classes(fa_apgd_loss loss) {
  switch (loss) {
    case FA_APGD_CE: return 2;
    case FA_APGD_DLR: return FA_DLR_MIN_CLASSES;
    case FA_APGD_DLR_TARGETED: return FA_DLR_TARGETED_MIN_CLASSES;
  }
  return 2;
}

int fa_apgd_checkpoints(int n_iter, int w[FA_APGD_MAX_CHECKPOINTS]) {
  /* p_j in hundredths, so that ceil(p_j n_iter) is exact */
  long long p_prev = 0, p = 22;
  int count = 0;
  for (;;) {
    long long wj = (p * n_iter + 99) / 100;
    if (n_iter < 1 || wj > n_iter) return count;
    if (count == 0 || wj > w[count - 1]) w[count++] = (int)wj;
    long long grow = p - p_prev - 3 > 6 ? p - p_prev - 3 : 6;
    p_prev = p;
    p += grow;
  }
}

bool fa_apgd_halves(int raised, int window, bool halved_last, float best, float best_at_last) {
  bool too_few_rises = raised < APGD_RHO * window;           /* condition 1 */
  bool stalled = !halved_last && !(best > best_at_last);      /* condition 2 */
  return too_few_rises || stalled;
}

/* What a run reads, fixed for its length. */
typedef struct {
  fa_model *model;
  fa_apgd_loss loss;
  fa_tensor *x;            /* (N, C, H, W) */
  const fa_tensor *y;      /* (N) labels */
  const int *target;       /* (N) target classes; NULL but for the targeted loss */
  float eps;
  int n;
  size_t row;              /* floats per example */
} run_inputs;

static fa_tensor *per_example_loss(const run_inputs *in, fa_tensor *logits) {
  switch (in->loss) {
    case FA_APGD_CE: return fa_cross_entropy_per_example(logits, in->y);
    case FA_APGD_DLR: return fa_dlr_loss(logits, in->y);
    case FA_APGD_DLR_TARGETED: return fa_dlr_targeted_loss(logits, in->y, in->target);
  }
  return NULL;
}

/* dst row i <- src row i, for each i with which[i] (every row when which is NULL) */
static void copy_rows(fa_tensor *dst, const fa_tensor *src, const bool *which) {
  if (!which) {
    fa_tensor_copy(dst, src);
    return;
  }
  for (int i = 0; i < fa_tensor_dim(src, 0); i++)
    if (which[i]) fa_tensor_copy_rows(dst, i, src, i, 1);
}

/* At x + delta: each example's loss into loss (N), whether it is
 * misclassified into wrong (N), and the gradient in delta of the losses'
 * sum (each example's own loss's gradient, unscaled by N) into grad. */
static fa_status evaluate_at(const run_inputs *in, fa_tensor *delta, fa_tensor *grad, float *loss, bool *wrong) {
  fa_arena *arena = fa_arena_current();
  fa_arena_mark mark = fa_arena_get_mark(arena);
  bool was = fa_set_grad_enabled(true);
  fa_tensor *d = fa_detach(delta), *g = NULL;
  if (d) fa_tensor_set_requires_grad(d, true);
  fa_tensor *logits = fa_model_forward(in->model, fa_add(in->x, d), false);
  fa_tensor *losses = per_example_loss(in, logits);
  fa_tensor *total = fa_sum(losses);
  fa_status st = total ? fa_grad(total, &d, 1, false, &g) : fa_error_code();
  fa_set_grad_enabled(was);
  if (st == FA_OK) {
    copy_rows(grad, g, NULL);
    if (fa_mark_correct(logits, in->y, wrong) < 0 || fa_tensor_read(losses, 0, (size_t)in->n, loss) != FA_OK)
      st = fa_error_code();
    for (int i = 0; i < in->n; i++) wrong[i] = !wrong[i];
  }
  fa_arena_release(arena, mark);
  return st;
}

/* P: into the eps-ball, then the box: clamp(x + clamp(d, -eps, eps), 0, 1) - x */
static fa_tensor *project(const run_inputs *in, fa_tensor *d) {
  return fa_sub(fa_add_clamp(in->x, fa_clamp(d, -in->eps, in->eps), 0.0f, 1.0f), in->x);
}

/* x^(k+1) from x^(k) = delta, x^(k-1) = prev, the gradient at delta and the
 * step sizes eta (N); the first step (first) takes z itself. */
static fa_tensor *next_iterate(const run_inputs *in, fa_tensor *delta, fa_tensor *prev, fa_tensor *grad,
                               fa_tensor *eta, bool first) {
  fa_tensor *z = project(in, fa_add(delta, fa_row_combine(fa_sign(grad), eta, NULL, NULL)));
  if (first) return z;
  fa_tensor *toward_z = fa_scale(fa_sub(z, delta), APGD_MOMENTUM);
  fa_tensor *momentum = fa_scale(fa_sub(delta, prev), 1.0f - APGD_MOMENTUM);
  return project(in, fa_add(fa_add(delta, toward_z), momentum));
}

/* A run's per-example state besides the iterates. */
typedef struct {
  float *step;             /* eta */
  float *loss;             /* f(x^(k)) */
  float *loss_prev;        /* f(x^(k-1)): condition 1 counts the steps that raised it */
  float *best_at_check;    /* f_max at the last checkpoint */
  int *raised;             /* steps since the last checkpoint that raised the loss */
  bool *halved;            /* eta was halved at the last checkpoint */
  bool *wrong;             /* x^(k) is misclassified */
  bool *rows;              /* scratch: the rows an update touches */
} run_state;

static bool alloc_state(int n, run_state *s, fa_apgd_result *out) {
  fa_arena *arena = fa_arena_current();
  size_t floats = (size_t)n * sizeof(float), flags = (size_t)n * sizeof(bool);
  s->step = fa_arena_alloc(arena, floats);
  s->loss = fa_arena_alloc(arena, floats);
  s->loss_prev = fa_arena_alloc(arena, floats);
  s->best_at_check = fa_arena_alloc(arena, floats);
  s->raised = fa_arena_alloc(arena, (size_t)n * sizeof(int));
  s->halved = fa_arena_alloc(arena, flags);
  s->wrong = fa_arena_alloc(arena, flags);
  s->rows = fa_arena_alloc(arena, flags);
  out->best_loss = fa_arena_alloc(arena, floats);
  out->broken = fa_arena_alloc(arena, flags);
  return s->step && s->loss && s->loss_prev && s->best_at_check && s->raised && s->halved && s->wrong && s->rows &&
         out->best_loss && out->broken;
}

/* After an iterate's evaluation: misclassified points and the best one. */
static void record(const run_inputs *in, run_state *s, fa_tensor *delta, fa_tensor *grad, fa_tensor *grad_best,
                   fa_apgd_result *out) {
  for (int i = 0; i < in->n; i++) {
    s->raised[i] += s->loss[i] > s->loss_prev[i];
    s->loss_prev[i] = s->loss[i];
    out->broken[i] |= s->wrong[i];
  }
  copy_rows(out->adv, delta, s->wrong);
  bool *better = s->rows;
  for (int i = 0; i < in->n; i++) {
    better[i] = s->loss[i] > out->best_loss[i];
    if (better[i]) out->best_loss[i] = s->loss[i];
  }
  copy_rows(out->best, delta, better);
  copy_rows(grad_best, grad, better);
}

/* At checkpoint j (window iterations since the last): halve and restart
 * where condition 1 or 2 holds. */
static void checkpoint(const run_inputs *in, run_state *s, int window, fa_tensor *delta, fa_tensor *grad,
                       fa_tensor *grad_best, fa_apgd_result *out) {
  bool *restart = s->rows;
  for (int i = 0; i < in->n; i++) {
    restart[i] = fa_apgd_halves(s->raised[i], window, s->halved[i], out->best_loss[i], s->best_at_check[i]);
    if (restart[i]) {
      s->step[i] *= 0.5f;
      s->loss_prev[i] = out->best_loss[i];  /* x^(w_j) is now x_max */
    }
    s->halved[i] = restart[i];
    s->best_at_check[i] = out->best_loss[i];
    s->raised[i] = 0;
  }
  copy_rows(delta, out->best, restart);
  copy_rows(grad, grad_best, restart);
}

fa_status fa_apgd_run(fa_model *model, const fa_apgd_config *c, fa_tensor *x, const fa_tensor *y, const int *target,
                      fa_tensor *start, const fa_apgd_trace *trace, fa_apgd_result *out) {
  int n = fa_tensor_dim(x, 0);
  run_inputs in = {model, c->loss, x, y, target, c->eps, n, fa_tensor_row_numel(x)};
  int w[FA_APGD_MAX_CHECKPOINTS], n_checks = fa_apgd_checkpoints(c->n_iter, w);
  if (c->n_iter < 1) return fa_error_set(FA_ERR_INVALID, "APGD needs at least one iteration, not %d", c->n_iter);
  if (c->loss == FA_APGD_DLR_TARGETED && !target)
    return fa_error_set(FA_ERR_INVALID, "the targeted APGD needs target classes");
  run_state s = {0};
  bool was = fa_set_grad_enabled(false);
  fa_tensor *delta = project(&in, start);
  fa_tensor *prev = fa_zeros_like(x), *grad = fa_zeros_like(x), *grad_best = fa_zeros_like(x);
  out->adv = fa_zeros_like(x);
  out->best = fa_zeros_like(x);
  fa_status st = delta && prev && grad && grad_best && out->adv && out->best && alloc_state(n, &s, out)
                     ? FA_OK : fa_error_code();
  if (st == FA_OK) st = evaluate_at(&in, delta, grad, s.loss, s.wrong);
  if (st == FA_OK) {
    copy_rows(out->adv, delta, NULL);
    copy_rows(out->best, delta, NULL);
    copy_rows(grad_best, grad, NULL);
    for (int i = 0; i < n; i++) {
      s.step[i] = APGD_STEP_OF_EPS * c->eps;
      out->best_loss[i] = s.best_at_check[i] = s.loss_prev[i] = s.loss[i];
      s.raised[i] = 0;
      s.halved[i] = false;
      out->broken[i] = s.wrong[i];
    }
  }
  fa_arena *arena = fa_arena_current();
  for (int it = 0, j = 0, last_check = 0; st == FA_OK && it < c->n_iter; it++) {
    fa_arena_mark mark = fa_arena_get_mark(arena);
    fa_tensor *next = next_iterate(&in, delta, prev, grad, fa_tensor_from(1, &n, s.step), it == 0);
    if (next) {
      copy_rows(prev, delta, NULL);
      copy_rows(delta, next, NULL);
    }
    fa_arena_release(arena, mark);
    st = next ? evaluate_at(&in, delta, grad, s.loss, s.wrong) : fa_error_code();
    if (st != FA_OK) break;
    if (trace) trace->iterate(trace->ctx, it, delta, s.loss, s.step);
    record(&in, &s, delta, grad, grad_best, out);
    if (j < n_checks && it + 1 == w[j]) {
      checkpoint(&in, &s, w[j] - last_check, delta, grad, grad_best, out);
      last_check = w[j++];
    }
  }
  fa_set_grad_enabled(was);
  return st;
}

static fa_status check_config(const fa_apgd_config *c, int n_classes) {
  if (n_classes < fa_apgd_min_classes(c->loss))
    return fa_error_set(FA_ERR_INVALID, "%s needs at least %d classes; the model has %d", fa_apgd_name(c->loss),
                        fa_apgd_min_classes(c->loss), n_classes);
  if (c->n_iter < 1 || c->n_restarts < 1)
    return fa_error_set(FA_ERR_INVALID, "%s needs at least one iteration and one restart, not %d and %d",
                        fa_apgd_name(c->loss), c->n_iter, c->n_restarts);
  if (c->loss == FA_APGD_DLR_TARGETED && (c->n_target_classes < 1 || c->n_target_classes > n_classes - 1))
    return fa_error_set(FA_ERR_INVALID, "%s takes 1 to %d target classes (the classes but the true one), not %d",
                        fa_apgd_name(c->loss), n_classes - 1, c->n_target_classes);
  return FA_OK;
}

typedef struct {
  fa_model *model;
  const fa_apgd_config *c;
  fa_tensor *x;
  const fa_rng *stream;
  const long *examples;
} apgd_batch;

/* fa_targeted_run: one APGD run from a start uniform in the ball, run
 * t * n_restarts + r of each example's stream */
static fa_status apgd_batch_run(void *ctx, fa_tensor *xs, const int *idx, int m, const fa_tensor *y_sub,
                                const int *t_sub, int t, int r, bool *broken, fa_tensor **adv) {
  apgd_batch *b = ctx;
  const fa_apgd_config *c = b->c;
  fa_tensor *start = fa_uniform_per_example(b->x, m, idx, b->stream, b->examples, t * c->n_restarts + r, -c->eps,
                                            c->eps);
  fa_apgd_result res;
  fa_status st = start ? fa_apgd_run(b->model, c, xs, y_sub, t_sub, start, NULL, &res) : fa_error_code();
  for (int j = 0; st == FA_OK && j < m; j++) broken[j] = res.broken[j];
  *adv = st == FA_OK ? res.adv : NULL;
  return st;
}

fa_tensor *fa_apgd(fa_model *model, const fa_apgd_config *c, fa_tensor *x, const fa_tensor *y, const fa_rng *stream,
                   const long *examples, bool *robust) {
  if (check_config(c, fa_model_get_config(model)->n_classes) != FA_OK) return NULL;
  int n_targets = c->loss == FA_APGD_DLR_TARGETED ? c->n_target_classes : 1;
  apgd_batch b = {model, c, x, stream, examples};
  return fa_attack_targets_restarts(model, x, y, n_targets, c->n_restarts, apgd_batch_run, &b, robust);
}
