/* FAB-T (docs/AUTOATTACK.md). In the paper's notation, per example, with
 * f = z_t - z_y linearised at x^(k) into the hyperplane
 * pi = {z : f(x^(k)) + <grad f(x^(k)), z - x^(k)> = 0}:
 *
 *   delta^(k) = P(x^(k), pi) - x^(k),   delta_orig = P(x_orig, pi) - x_orig
 *   alpha     = min(|delta^(k)| / (|delta^(k)| + |delta_orig|), alpha_max)
 *   x^(k+1)   = clip((1 - alpha)(x^(k) + eta delta^(k)) + alpha (x_orig + eta delta_orig), 0, 1)
 *
 * P is the L-infinity projection onto pi within the [0, 1] box
 * (fa_fab_project_linf). When x^(k+1) is misclassified it is kept if
 * smaller than the best so far, and x^(k+1) <- x_orig + beta (x^(k+1) -
 * x_orig). Points are kept as perturbations of x; the model sees x + delta,
 * as the evaluation that counts an example robust does. */
#include "adv/fab.h"

#include <math.h>
#include <stdlib.h>

#include "adv/attack.h"
#include "backend/backend.h"
#include "core/arena.h"
#include "core/autograd.h"
#include "core/ops.h"

#define FAB_TINY_NORM 1e-8   /* the norms in alpha's ratio are at least this */
#define FAB_SEARCH_TINY 1e-10 /* added to the final search's denominator */

typedef struct {
  double room;  /* how far the coordinate can move toward the hyperplane inside the box */
  double w;     /* |w_i| */
} room_entry;

static int by_room(const void *a, const void *b) {
  double ra = ((const room_entry *)a)->room, rb = ((const room_entry *)b)->room;
  return (ra > rb) - (ra < rb);
}

/* Moving every coordinate toward the hyperplane by at most r changes
 * <w, z> by g(r) = sum_i |w_i| min(r, room_i), piecewise linear, increasing
 * and concave in r: the projection's radius is the r with g(r) = need, the
 * distance of <w, t> from b. On the coordinates sorted by room, g is
 * linear between consecutive rooms (the paper's algorithm). Sorting all of
 * them is most of the attack's time, so a few Newton steps from r = 0 come
 * first: on a concave g they stay at or below the root, each passing at
 * least one room, and they end exactly on it when no room lies between
 * two of them; only the rooms still above the last step are sorted. */
#define PROJECT_NEWTON_STEPS 8

static double radius(room_entry *e, size_t m, double need) {
  double r = 0, below = 0;  /* sum |w| room of the coordinates with room <= r (they are at their bound) */
  for (int step = 0; step < PROJECT_NEWTON_STEPS; step++) {
    double weight = 0;      /* the slope of g above r: sum |w| of the coordinates still free */
    for (size_t j = 0; j < m; j++) weight += e[j].w;
    double next = (need - below) / weight;
    size_t kept = 0;
    for (size_t j = 0; j < m; j++)
      if (e[j].room > next) e[kept++] = e[j];
      else below += e[j].w * e[j].room;
    /* no room in (r, next]: g is linear there and g(next) = need; or (by rounding, as need < g's
     * reach) none left free: every coordinate at its bound */
    if (kept == m || kept == 0) return next;
    m = kept;
    r = next;
  }
  qsort(e, m, sizeof *e, by_room);
  double weight = 0;
  for (size_t j = 0; j < m; j++) weight += e[j].w;
  for (size_t j = 0; j < m; j++) {
    if (below + weight * e[j].room >= need) return (need - below) / weight;
    below += e[j].w * e[j].room;
    weight -= e[j].w;
  }
  return m ? e[m - 1].room : r;  /* only by rounding (need < g's reach): every coordinate at its bound */
}

fa_status fa_fab_project_linf(size_t n, const float *t, const float *w, double b, float lo, float hi, float *d) {
  double gap = b;
  for (size_t i = 0; i < n; i++) gap -= (double)w[i] * t[i];
  double side = gap > 0 ? 1.0 : -1.0, need = fabs(gap), reach = 0;
  fa_arena *arena = fa_arena_current();
  fa_arena_mark mark = fa_arena_get_mark(arena);
  room_entry *e = fa_arena_alloc(arena, n * sizeof *e);
  if (!e) return fa_error_set(FA_ERR_NOMEM, "no memory for FAB's projection of %zu coordinates", n);
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    double up = side * w[i] > 0 ? (double)hi - t[i] : (double)t[i] - lo;
    if (w[i] == 0.0f || up <= 0) continue;  /* a coordinate that cannot move adds nothing to g */
    e[m].room = up;
    e[m].w = fabs((double)w[i]);
    reach += e[m].w * e[m].room;
    m++;
  }
  /* the hyperplane beyond the box's reach: every coordinate to its bound */
  double r = need == 0 ? 0 : reach > need ? radius(e, m, need) : INFINITY;
  fa_arena_release(arena, mark);
  for (size_t i = 0; i < n; i++) {
    double dir = side * (w[i] > 0 ? 1.0 : -1.0);
    double up = dir > 0 ? (double)hi - t[i] : (double)t[i] - lo;
    if (up < 0) up = 0;
    d[i] = w[i] == 0.0f ? 0.0f : (float)(dir * (r < up ? r : up));
  }
  return FA_OK;
}

/* What a run reads. */
typedef struct {
  fa_model *model;
  fa_tensor *x;            /* (N, C, H, W) */
  const int *y, *target;   /* (N) */
  fa_tensor *select;       /* (N, K): +1 at the target, -1 at the label: f = <logits, select> per row */
  int n;
  size_t row;
} run_inputs;

/* At x + delta: f = z_t - z_y per example into f (N), its gradient in delta into grad. */
static fa_status gap_and_grad(const run_inputs *in, fa_tensor *delta, float *f, fa_tensor *grad) {
  fa_arena *arena = fa_arena_current();
  fa_arena_mark mark = fa_arena_get_mark(arena);
  bool was = fa_set_grad_enabled(true);
  fa_tensor *d = fa_detach(delta), *g = NULL;
  if (d) d->requires_grad = true;
  fa_tensor *gaps = fa_row_dot(fa_model_forward(in->model, fa_add(in->x, d), false), in->select);
  fa_tensor *total = fa_sum(gaps);
  fa_status st = total ? fa_grad(total, &d, 1, false, &g) : fa_error_code();
  fa_set_grad_enabled(was);
  if (st == FA_OK) {
    for (int i = 0; i < in->n; i++) f[i] = gaps->data[i];
    for (size_t j = 0; j < grad->numel; j++) grad->data[j] = g->data[j];
  }
  fa_arena_release(arena, mark);
  return st;
}

/* The logits at x + delta, and the predicted class of each example into pred (N). */
static fa_tensor *logits_at(const run_inputs *in, fa_tensor *delta, int *pred) {
  bool was = fa_set_grad_enabled(false);
  fa_tensor *logits = fa_model_forward(in->model, fa_add(in->x, delta), false);
  fa_set_grad_enabled(was);
  int k = logits ? logits->shape[1] : 0;
  for (int i = 0; logits && i < in->n; i++) {
    const float *z = logits->data + (size_t)i * k;
    pred[i] = 0;
    for (int j = 1; j < k; j++)
      if (z[j] > z[pred[i]]) pred[i] = j;
  }
  return logits;
}

static float max_abs(const float *v, size_t n) {
  float m = 0;
  for (size_t i = 0; i < n; i++) m = fmaxf(m, fabsf(v[i]));
  return m;
}

/* One step of example i from delta (its row, in place): the two projections
 * onto the hyperplane of f_i and w (its gradient row), their mix. p and d1,
 * d2 are rows of scratch. */
static fa_status step_example(const run_inputs *in, int i, float f, const float *w, float *delta, float *p,
                              float *d1, float *d2) {
  const float *x = in->x->data + (size_t)i * in->row;
  double b = -(double)f;  /* <w, z> = <w, x^(k)> - f */
  for (size_t j = 0; j < in->row; j++) {
    p[j] = x[j] + delta[j];
    b += (double)w[j] * p[j];
  }
  fa_status st = fa_fab_project_linf(in->row, p, w, b, 0.0f, 1.0f, d1);
  if (st == FA_OK) st = fa_fab_project_linf(in->row, x, w, b, 0.0f, 1.0f, d2);
  if (st != FA_OK) return st;
  double a1 = fmax(max_abs(d1, in->row), FAB_TINY_NORM), a2 = fmax(max_abs(d2, in->row), FAB_TINY_NORM);
  float alpha = (float)fmin(a1 / (a1 + a2), FA_FAB_ALPHA_MAX);
  for (size_t j = 0; j < in->row; j++) {
    float next = (p[j] + FA_FAB_ETA * d1[j]) * (1.0f - alpha) + (x[j] + FA_FAB_ETA * d2[j]) * alpha;
    delta[j] = fminf(fmaxf(next, 0.0f), 1.0f) - x[j];
  }
  return FA_OK;
}

/* The final search on the examples found (the official code's
 * linear-approximation search): on the segment from a correctly classified
 * point (x at first) to an adversarial one, FA_FAB_FINAL_STEPS times, the
 * point where the linear interpolation of z_y - z_l (l the adversarial
 * point's class) vanishes replaces the end of its kind. */
static fa_status final_search(const run_inputs *in, fa_fab_result *out) {
  fa_arena *arena = fa_arena_current();
  fa_arena_mark mark = fa_arena_get_mark(arena);
  int n = in->n, *pred_in = fa_arena_alloc(arena, (size_t)n * sizeof(int));
  int *pred_adv = fa_arena_alloc(arena, (size_t)n * sizeof(int)), *pred = fa_arena_alloc(arena, (size_t)n * sizeof(int));
  fa_tensor *inner = fa_zeros_like(in->x), *mid = fa_zeros_like(in->x);
  fa_tensor *z_in = pred_in && pred_adv && pred && inner && mid ? logits_at(in, inner, pred_in) : NULL;
  fa_tensor *z_adv = z_in ? logits_at(in, out->adv, pred_adv) : NULL;
  fa_status st = z_adv ? FA_OK : fa_error_code();
  int k = z_adv ? z_adv->shape[1] : 0;
  for (int s = 0; st == FA_OK && s < FA_FAB_FINAL_STEPS; s++) {
    for (int i = 0; i < n; i++) {
      if (!out->found[i]) continue;
      const float *zi = z_in->data + (size_t)i * k, *za = z_adv->data + (size_t)i * k;
      int y = in->y[i], l = pred_adv[i];
      double t1 = (double)zi[y] - zi[l], t2 = -((double)za[y] - za[l]);
      double u = t1 / (t1 + t2 + FAB_SEARCH_TINY);
      if (!(u >= 0.0 && u <= 1.0)) u = 1.0;
      float *dm = mid->data + (size_t)i * in->row;
      const float *di = inner->data + (size_t)i * in->row, *da = out->adv->data + (size_t)i * in->row;
      for (size_t j = 0; j < in->row; j++) dm[j] = (float)(di[j] * (1.0 - u) + da[j] * u);
    }
    fa_arena_mark step_mark = fa_arena_get_mark(arena);
    fa_tensor *z_mid = logits_at(in, mid, pred);
    if (!z_mid) {
      st = fa_error_code();
      break;
    }
    for (int i = 0; i < n; i++) {
      if (!out->found[i]) continue;
      bool correct = pred[i] == in->y[i];
      fa_tensor *end = correct ? inner : out->adv, *z_end = correct ? z_in : z_adv;
      fa_context_kernels(mid->ctx)->gather_rows(in->row, 1, &i, mid->data, end->data + (size_t)i * in->row);
      fa_context_kernels(z_mid->ctx)->gather_rows((size_t)k, 1, &i, z_mid->data, z_end->data + (size_t)i * k);
      if (!correct) pred_adv[i] = pred[i];
    }
    fa_arena_release(arena, step_mark);
  }
  for (int i = 0; st == FA_OK && i < n; i++)
    if (out->found[i]) out->norm[i] = max_abs(out->adv->data + (size_t)i * in->row, in->row);
  fa_arena_release(arena, mark);
  return st;
}

fa_status fa_fab_run(fa_model *model, const fa_fab_config *c, fa_tensor *x, const int *y, const int *target,
                     fa_tensor *start, const fa_fab_trace *trace, fa_fab_result *out) {
  int n = x->shape[0], k = fa_model_get_config(model)->n_classes;
  if (c->n_iter < 1) return fa_error_set(FA_ERR_INVALID, "FAB-T needs at least one iteration, not %d", c->n_iter);
  fa_arena *arena = fa_arena_current();
  run_inputs in = {model, x, y, target, fa_zeros(2, (int[]){n, k}), n, x->numel / (size_t)n};
  fa_tensor *delta = start ? fa_sub(fa_add_clamp(x, start, 0.0f, 1.0f), x) : fa_zeros_like(x);
  fa_tensor *grad = fa_zeros_like(x);
  float *f = fa_arena_alloc(arena, (size_t)n * sizeof(float));
  float *scratch = fa_arena_alloc(arena, 3 * in.row * sizeof(float));
  int *pred = fa_arena_alloc(arena, (size_t)n * sizeof(int));
  out->found = fa_arena_alloc(arena, (size_t)n * sizeof(bool));
  out->norm = fa_arena_alloc(arena, (size_t)n * sizeof(float));
  out->adv = fa_zeros_like(x);
  if (!in.select || !delta || !grad || !f || !scratch || !pred || !out->found || !out->norm || !out->adv)
    return fa_error_code() != FA_OK ? fa_error_code() : fa_error_set(FA_ERR_NOMEM, "no memory for FAB-T");
  for (int i = 0; i < n; i++) {
    in.select->data[(size_t)i * k + target[i]] += 1.0f;
    in.select->data[(size_t)i * k + y[i]] -= 1.0f;
    out->found[i] = false;
    out->norm[i] = INFINITY;
  }
  fa_status st = FA_OK;
  for (int it = 0; st == FA_OK && it < c->n_iter; it++) {
    st = gap_and_grad(&in, delta, f, grad);
    for (int i = 0; st == FA_OK && i < n; i++)
      st = step_example(&in, i, f[i], grad->data + (size_t)i * in.row, delta->data + (size_t)i * in.row, scratch,
                        scratch + in.row, scratch + 2 * in.row);
    fa_arena_mark mark = fa_arena_get_mark(arena);
    if (st == FA_OK && !logits_at(&in, delta, pred)) st = fa_error_code();
    fa_arena_release(arena, mark);
    for (int i = 0; st == FA_OK && i < n; i++) {
      float norm = pred[i] == y[i] ? INFINITY : max_abs(delta->data + (size_t)i * in.row, in.row);
      if (norm < out->norm[i]) {
        out->found[i] = true;
        out->norm[i] = norm;
        fa_context_kernels(delta->ctx)->gather_rows(in.row, 1, &i, delta->data, out->adv->data + (size_t)i * in.row);
      }
    }
    if (st == FA_OK && trace) trace->iterate(trace->ctx, it, delta, out->norm);
    for (int i = 0; st == FA_OK && i < n; i++)
      if (pred[i] != y[i])
        for (size_t j = 0; j < in.row; j++) delta->data[(size_t)i * in.row + j] *= FA_FAB_BETA;
  }
  return st == FA_OK ? final_search(&in, out) : st;
}

static fa_status check_config(const fa_fab_config *c, int n_classes) {
  if (c->n_iter < 1 || c->n_restarts < 1)
    return fa_error_set(FA_ERR_INVALID, "FAB-T needs at least one iteration and one restart, not %d and %d",
                        c->n_iter, c->n_restarts);
  if (c->n_target_classes < 1 || c->n_target_classes > n_classes - 1)
    return fa_error_set(FA_ERR_INVALID, "FAB-T takes 1 to %d target classes (the classes but the true one), not %d",
                        n_classes - 1, c->n_target_classes);
  return FA_OK;
}

/* Restart `run` (> 0) of the examples idx: x + t, t uniform in [-1, 1]
 * scaled so that its largest |t_i| is eps / 2 (the official code's start;
 * the paper's min(eps, best norm) / 2 is eps here, as an example still
 * robust has no adversarial point within eps). */
static fa_tensor *random_start(const fa_tensor *x, float eps, int m, const int *idx, const fa_rng *stream,
                               const long *examples, int run) {
  fa_tensor *t = fa_uniform_per_example(x, m, idx, stream, examples, run, -1.0f, 1.0f);
  size_t row = x->numel / (size_t)x->shape[0];
  for (int j = 0; t && j < m; j++) {
    float *r = t->data + (size_t)j * row, top = max_abs(r, row);
    for (size_t i = 0; i < row; i++) r[i] = top > 0 ? r[i] * (0.5f * eps / top) : 0.0f;
  }
  return t;
}

typedef struct {
  fa_model *model;
  const fa_fab_config *c;
  fa_tensor *x;
  const fa_rng *stream;
  const long *examples;
} fab_batch;

/* fa_targeted_run: one FAB run, the first restart from x itself, the
 * others from a random start; broken when its point is within eps */
static fa_status fab_batch_run(void *ctx, fa_tensor *xs, const int *idx, int m, const int *y_sub, const int *t_sub,
                               int t, int r, bool *broken, fa_tensor **adv) {
  fab_batch *b = ctx;
  const fa_fab_config *c = b->c;
  fa_tensor *start = r > 0 ? random_start(b->x, c->eps, m, idx, b->stream, b->examples, t * c->n_restarts + r) : NULL;
  if (r > 0 && !start) return fa_error_code();
  fa_fab_result res;
  fa_status st = fa_fab_run(b->model, c, xs, y_sub, t_sub, start, NULL, &res);
  for (int j = 0; st == FA_OK && j < m; j++) broken[j] = res.found[j] && res.norm[j] <= c->eps;
  *adv = st == FA_OK ? res.adv : NULL;
  return st;
}

fa_tensor *fa_fab(fa_model *model, const fa_fab_config *c, fa_tensor *x, const int *y, const fa_rng *stream,
                  const long *examples, bool *robust) {
  if (check_config(c, fa_model_get_config(model)->n_classes) != FA_OK) return NULL;
  fab_batch b = {model, c, x, stream, examples};
  return fa_attack_targets_restarts(model, x, y, c->n_target_classes, c->n_restarts, fab_batch_run, &b, robust);
}
