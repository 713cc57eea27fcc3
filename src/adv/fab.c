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
#include <string.h>

#include "adv/attack.h"
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

/* What a run reads. FAB is a host algorithm (per-example projections): the
 * run keeps its points on the host and sends them to the device for the
 * model's forward and backward passes (an evaluation's attack). */
typedef struct {
  fa_model *model;
  fa_tensor *x;            /* (N, C, H, W) */
  const float *x_host;     /* x's values */
  const int *y, *target;   /* (N) labels and target classes, on the host */
  fa_tensor *select;       /* (N, K): +1 at the target, -1 at the label: f = <logits, select> per row */
  int n, k;
  size_t row;
} run_inputs;

/* At x + delta: f = z_t - z_y per example into f (N), its gradient in delta into grad (N * row). */
static fa_status gap_and_grad(const run_inputs *in, fa_tensor *delta, float *f, float *grad) {
  fa_arena *arena = fa_arena_current();
  fa_arena_mark mark = fa_arena_get_mark(arena);
  bool was = fa_set_grad_enabled(true);
  fa_tensor *d = fa_detach(delta), *g = NULL;
  if (d) fa_tensor_set_requires_grad(d, true);
  fa_tensor *gaps = fa_row_dot(fa_model_forward(in->model, fa_add(in->x, d), false), in->select);
  fa_tensor *total = fa_sum(gaps);
  fa_status st = total ? fa_grad(total, &d, 1, false, &g) : fa_error_code();
  fa_set_grad_enabled(was);
  if (st == FA_OK) st = fa_tensor_read(gaps, 0, (size_t)in->n, f);
  if (st == FA_OK) st = fa_tensor_read(g, 0, (size_t)in->n * in->row, grad);
  fa_arena_release(arena, mark);
  return st;
}

/* The logits (N * K) at x + delta (delta_host written into delta first) into z, and the predicted class of
 * each example into pred (N). */
static fa_status logits_at(const run_inputs *in, fa_tensor *delta, const float *delta_host, float *z, int *pred) {
  fa_arena *arena = fa_arena_current();
  fa_arena_mark mark = fa_arena_get_mark(arena);
  fa_status st = fa_tensor_write(delta, 0, (size_t)in->n * in->row, delta_host);
  bool was = fa_set_grad_enabled(false);
  fa_tensor *logits = st == FA_OK ? fa_model_forward(in->model, fa_add(in->x, delta), false) : NULL;
  fa_set_grad_enabled(was);
  st = logits ? fa_tensor_read(logits, 0, (size_t)in->n * in->k, z) : fa_error_code();
  fa_arena_release(arena, mark);
  for (int i = 0; st == FA_OK && i < in->n; i++) {
    const float *zi = z + (size_t)i * in->k;
    pred[i] = 0;
    for (int j = 1; j < in->k; j++)
      if (zi[j] > zi[pred[i]]) pred[i] = j;
  }
  return st;
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
  const float *x = in->x_host + (size_t)i * in->row;
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
 * point's class) vanishes replaces the end of its kind. adv (N * row) holds
 * the adversarial points; the result goes to out->adv. */
static fa_status final_search(const run_inputs *in, float *adv, fa_fab_result *out) {
  fa_arena *arena = fa_arena_current();
  fa_arena_mark mark = fa_arena_get_mark(arena);
  int n = in->n, k = in->k;
  size_t points = (size_t)n * in->row, logits = (size_t)n * k;
  int *pred_in = fa_arena_alloc(arena, 3 * (size_t)n * sizeof(int)), *pred_adv = pred_in + n, *pred = pred_in + 2 * n;
  float *inner = fa_arena_alloc(arena, 2 * points * sizeof(float)), *mid = inner ? inner + points : NULL;
  float *z_in = fa_arena_alloc(arena, 3 * logits * sizeof(float)), *z_adv = z_in ? z_in + logits : NULL;
  float *z_mid = z_in ? z_in + 2 * logits : NULL;
  fa_tensor *d = fa_zeros_like(in->x);
  if (!pred_in || !inner || !z_in || !d) return fa_error_code();
  for (size_t j = 0; j < 2 * points; j++) inner[j] = 0.0f;  /* inner and mid */
  fa_status st = logits_at(in, d, inner, z_in, pred_in);
  if (st == FA_OK) st = logits_at(in, d, adv, z_adv, pred_adv);
  for (int s = 0; st == FA_OK && s < FA_FAB_FINAL_STEPS; s++) {
    for (int i = 0; i < n; i++) {
      if (!out->found[i]) continue;
      const float *zi = z_in + (size_t)i * k, *za = z_adv + (size_t)i * k;
      int y = in->y[i], l = pred_adv[i];
      double t1 = (double)zi[y] - zi[l], t2 = -((double)za[y] - za[l]);
      double u = t1 / (t1 + t2 + FAB_SEARCH_TINY);
      if (!(u >= 0.0 && u <= 1.0)) u = 1.0;
      float *dm = mid + (size_t)i * in->row;
      const float *di = inner + (size_t)i * in->row, *da = adv + (size_t)i * in->row;
      for (size_t j = 0; j < in->row; j++) dm[j] = (float)(di[j] * (1.0 - u) + da[j] * u);
    }
    if ((st = logits_at(in, d, mid, z_mid, pred)) != FA_OK) break;
    for (int i = 0; i < n; i++) {
      if (!out->found[i]) continue;
      bool correct = pred[i] == in->y[i];
      float *end = correct ? inner : adv, *z_end = correct ? z_in : z_adv;
      memcpy(end + (size_t)i * in->row, mid + (size_t)i * in->row, in->row * sizeof(float));
      memcpy(z_end + (size_t)i * k, z_mid + (size_t)i * k, (size_t)k * sizeof(float));
      if (!correct) pred_adv[i] = pred[i];
    }
  }
  for (int i = 0; st == FA_OK && i < n; i++)
    if (out->found[i]) out->norm[i] = max_abs(adv + (size_t)i * in->row, in->row);
  if (st == FA_OK) st = fa_tensor_write(out->adv, 0, points, adv);
  fa_arena_release(arena, mark);
  return st;
}

fa_status fa_fab_run(fa_model *model, const fa_fab_config *c, fa_tensor *x, const fa_tensor *y, const int *target,
                     fa_tensor *start, const fa_fab_trace *trace, fa_fab_result *out) {
  int n = fa_tensor_dim(x, 0), k = fa_model_get_config(model)->n_classes;
  if (c->n_iter < 1) return fa_error_set(FA_ERR_INVALID, "FAB-T needs at least one iteration, not %d", c->n_iter);
  fa_arena *arena = fa_arena_current();
  size_t row = fa_tensor_row_numel(x), points = (size_t)n * row;
  float *x_host = fa_arena_alloc(arena, points * sizeof(float));
  float *select = fa_arena_alloc(arena, (size_t)n * k * sizeof(float));
  int *labels = fa_arena_alloc(arena, (size_t)n * sizeof(int));
  run_inputs in = {model, x, x_host, labels, target, NULL, n, k, row};
  fa_tensor *delta = start ? fa_sub(fa_add_clamp(x, start, 0.0f, 1.0f), x) : fa_zeros_like(x);
  /* the iterates, their gradients and the best adversarial points (N * row each), on the host */
  float *delta_host = fa_arena_alloc(arena, 3 * points * sizeof(float));
  float *grad = delta_host ? delta_host + points : NULL, *adv = delta_host ? delta_host + 2 * points : NULL;
  float *f = fa_arena_alloc(arena, (size_t)n * sizeof(float));
  float *z = fa_arena_alloc(arena, (size_t)n * k * sizeof(float));
  float *scratch = fa_arena_alloc(arena, 3 * row * sizeof(float));
  int *pred = fa_arena_alloc(arena, (size_t)n * sizeof(int));
  out->found = fa_arena_alloc(arena, (size_t)n * sizeof(bool));
  out->norm = fa_arena_alloc(arena, (size_t)n * sizeof(float));
  out->adv = fa_zeros_like(x);
  if (!x_host || !select || !labels || !delta || !delta_host || !f || !z || !scratch || !pred || !out->found ||
      !out->norm || !out->adv)
    return fa_error_code() != FA_OK ? fa_error_code() : fa_error_set(FA_ERR_NOMEM, "no memory for FAB-T");
  fa_status st = fa_tensor_read(x, 0, points, x_host);
  if (st == FA_OK) st = fa_tensor_read(delta, 0, points, delta_host);
  if (st == FA_OK) st = fa_tensor_read_i32(y, 0, (size_t)n, labels);
  if (st != FA_OK) return st;
  for (size_t j = 0; j < (size_t)n * k; j++) select[j] = 0.0f;
  for (size_t j = 0; j < points; j++) adv[j] = 0.0f;
  for (int i = 0; i < n; i++) {
    select[(size_t)i * k + target[i]] += 1.0f;
    select[(size_t)i * k + labels[i]] -= 1.0f;
    out->found[i] = false;
    out->norm[i] = INFINITY;
  }
  if (!(in.select = fa_tensor_from(2, (int[]){n, k}, select))) return fa_error_code();
  for (int it = 0; st == FA_OK && it < c->n_iter; it++) {
    st = gap_and_grad(&in, delta, f, grad);
    for (int i = 0; st == FA_OK && i < n; i++)
      st = step_example(&in, i, f[i], grad + (size_t)i * row, delta_host + (size_t)i * row, scratch, scratch + row,
                        scratch + 2 * row);
    if (st == FA_OK) st = logits_at(&in, delta, delta_host, z, pred);
    for (int i = 0; st == FA_OK && i < n; i++) {
      float norm = pred[i] == labels[i] ? INFINITY : max_abs(delta_host + (size_t)i * row, row);
      if (norm < out->norm[i]) {
        out->found[i] = true;
        out->norm[i] = norm;
        memcpy(adv + (size_t)i * row, delta_host + (size_t)i * row, row * sizeof(float));
      }
    }
    if (st == FA_OK && trace) trace->iterate(trace->ctx, it, delta, out->norm);
    for (int i = 0; st == FA_OK && i < n; i++)
      if (pred[i] != labels[i])
        for (size_t j = 0; j < row; j++) delta_host[(size_t)i * row + j] *= FA_FAB_BETA;
    if (st == FA_OK) st = fa_tensor_write(delta, 0, points, delta_host);
  }
  return st == FA_OK ? final_search(&in, adv, out) : st;
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
  size_t row = fa_tensor_row_numel(x);
  fa_arena *arena = fa_arena_current();
  fa_arena_mark mark = fa_arena_get_mark(arena);
  float *r = t ? fa_arena_alloc(arena, row * sizeof *r) : NULL;
  for (int j = 0; r && j < m; j++) {
    if (fa_tensor_read(t, (size_t)j * row, row, r) != FA_OK) return NULL;
    float top = max_abs(r, row);
    for (size_t i = 0; i < row; i++) r[i] = top > 0 ? r[i] * (0.5f * eps / top) : 0.0f;
    if (fa_tensor_write(t, (size_t)j * row, row, r) != FA_OK) return NULL;
  }
  fa_arena_release(arena, mark);
  return r ? t : NULL;
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
static fa_status fab_batch_run(void *ctx, fa_tensor *xs, const int *idx, int m, const fa_tensor *y_sub,
                               const int *t_sub, int t, int r, bool *broken, fa_tensor **adv) {
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

fa_tensor *fa_fab(fa_model *model, const fa_fab_config *c, fa_tensor *x, const fa_tensor *y, const fa_rng *stream,
                  const long *examples, bool *robust) {
  if (check_config(c, fa_model_get_config(model)->n_classes) != FA_OK) return NULL;
  fab_batch b = {model, c, x, stream, examples};
  return fa_attack_targets_restarts(model, x, y, c->n_target_classes, c->n_restarts, fab_batch_run, &b, robust);
}
