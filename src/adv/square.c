/* Square attack, L-infinity (docs/AUTOATTACK.md; square.h). */
#include "adv/square.h"

#include <math.h>

#include "adv/attack.h"
#include "adv/registry.h"
#include "core/arena.h"
#include "core/autograd.h"
#include "core/ops.h"

double fa_square_p(double p_init, int it, int length) {
  /* the paper's halvings for 10,000 iterations, rescaled to length */
  static const int halvings[] = {10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000};
  int rescaled = (int)((double)it / length * 10000.0);
  double p = p_init;
  for (size_t j = 0; j < sizeof halvings / sizeof *halvings && rescaled > halvings[j]; j++) p /= 2;
  return p;
}

int fa_square_side(double p_init, int it, int length, int h, int w) {
  int s = (int)nearbyint(sqrt(fa_square_p(p_init, it, length) * h * w));
  if (s < 1) s = 1;
  if (s > h) s = h;
  if (s > w) s = w;
  return s;
}

fa_status fa_square_margins(const fa_tensor *logits, const int *y, float *margin) {
  int n = fa_tensor_dim(logits, 0), k = fa_tensor_dim(logits, 1);
  fa_arena *arena = fa_arena_current();
  fa_arena_mark mark = fa_arena_get_mark(arena);
  float *z = fa_arena_alloc(arena, (size_t)n * k * sizeof *z);
  fa_status st = z ? fa_tensor_read(logits, 0, (size_t)n * k, z) : fa_error_code();
  for (int i = 0; st == FA_OK && i < n; i++) {
    const float *zi = z + (size_t)i * k;
    float other = -INFINITY;
    for (int j = 0; j < k; j++)
      if (j != y[i] && zi[j] > other) other = zi[j];
    margin[i] = zi[y[i]] - other;
  }
  fa_arena_release(arena, mark);
  return st;
}

fa_status fa_square_stripes(const fa_tensor *x, float eps, const float *signs, fa_tensor *delta) {
  int n = fa_tensor_dim(x, 0), c = fa_tensor_dim(x, 1), h = fa_tensor_dim(x, 2), w = fa_tensor_dim(x, 3);
  fa_arena *arena = fa_arena_current();
  fa_arena_mark mark = fa_arena_get_mark(arena);
  float *d = fa_arena_alloc(arena, fa_tensor_numel(x) * sizeof *d);
  if (!d) return fa_error_code();
  for (int i = 0; i < n; i++)
    for (int ch = 0; ch < c; ch++)
      for (int r = 0; r < h; r++) {
        size_t at = (((size_t)i * c + ch) * h + r) * w;
        for (int col = 0; col < w; col++) d[at + col] = eps * signs[((size_t)i * c + ch) * w + col];
      }
  fa_status st = fa_tensor_write(delta, 0, fa_tensor_numel(x), d);
  fa_arena_release(arena, mark);
  if (st == FA_OK) fa_project_box(x, delta);
  return st;
}

fa_status fa_square_step(fa_model *model, fa_tensor *x, const int *y, float eps, int s,
                         const fa_square_window *windows, fa_tensor *delta, float *margin) {
  int n = fa_tensor_dim(x, 0), c = fa_tensor_dim(x, 1), h = fa_tensor_dim(x, 2), w = fa_tensor_dim(x, 3);
  size_t numel = fa_tensor_numel(x);
  fa_arena *arena = fa_arena_current();
  fa_arena_mark mark = fa_arena_get_mark(arena);
  /* the candidates are made on the host from delta and x read back (an evaluation's attack) */
  float *cand = fa_arena_alloc(arena, 2 * numel * sizeof(float)), *xh = cand ? cand + numel : NULL;
  float *new_margin = fa_arena_alloc(arena, (size_t)n * sizeof(float));
  fa_status st = cand && new_margin ? fa_tensor_read(delta, 0, numel, cand) : fa_error_code();
  if (st == FA_OK) st = fa_tensor_read(x, 0, numel, xh);
  for (int i = 0; st == FA_OK && i < n; i++)
    for (int ch = 0; ch < c; ch++)
      for (int r = windows[i].row; r < windows[i].row + s; r++) {
        size_t at = (((size_t)i * c + ch) * h + r) * w + windows[i].col;
        for (int col = 0; col < s; col++) {
          float d = fminf(fmaxf(cand[at + col] + 2 * eps * windows[i].signs[ch], -eps), eps);
          cand[at + col] = fminf(fmaxf(xh[at + col] + d, 0.0f), 1.0f) - xh[at + col];
        }
      }
  fa_tensor *candidate = st == FA_OK ? fa_tensor_from(fa_tensor_ndim(x), fa_tensor_shape(x), cand) : NULL;
  bool was = fa_set_grad_enabled(false);
  fa_tensor *logits = candidate ? fa_model_forward(model, fa_add(x, candidate), false) : NULL;
  fa_set_grad_enabled(was);
  st = logits ? fa_square_margins(logits, y, new_margin) : fa_error_code();
  for (int i = 0; st == FA_OK && i < n; i++)
    if (new_margin[i] < margin[i] || new_margin[i] <= 0) {
      margin[i] = new_margin[i];
      st = fa_tensor_copy_rows(delta, i, candidate, i, 1);
    }
  fa_arena_release(arena, mark);
  return st;
}

/* Where restart r of an example's stream begins: far past any run's draws. */
#define RESTART_BLOCKS ((uint64_t)1 << 40)

/* A sign +-1 from one draw. */
static float draw_sign(fa_rng *r) { return (fa_rng_u32(r) & 1u) ? 1.0f : -1.0f; }

/* One run (restart `run`) on the m examples idx of x still robust: updates
 * alive, delta and queries. */
static fa_status square_run(fa_model *model, const fa_square_config *c, fa_tensor *x, const int *y, fa_rng *rngs,
                            int m, const int *idx, bool *alive, fa_tensor *delta, int *queries) {
  int ch = fa_tensor_dim(x, 1), h = fa_tensor_dim(x, 2), w = fa_tensor_dim(x, 3);
  fa_arena *arena = fa_arena_current();
  int *sub = fa_arena_alloc(arena, (size_t)m * sizeof(int)), *y_sub = fa_arena_alloc(arena, (size_t)m * sizeof(int));
  int *of = fa_arena_alloc(arena, (size_t)m * sizeof(int));
  float *margin = fa_arena_alloc(arena, (size_t)m * sizeof(float));
  float *signs = fa_arena_alloc(arena, (size_t)m * ch * w * sizeof(float));
  fa_square_window *windows = fa_arena_alloc(arena, (size_t)m * sizeof *windows);
  fa_tensor *xs = fa_select_rows(x, m, idx), *ds = xs ? fa_zeros_like(xs) : NULL;
  if (!sub || !y_sub || !of || !margin || !signs || !windows || !ds) return fa_error_code();
  for (int j = 0; j < m; j++) {
    y_sub[j] = y[idx[j]];
    for (int v = 0; v < ch * w; v++) signs[(size_t)j * ch * w + v] = draw_sign(&rngs[j]);
  }
  fa_status st = fa_square_stripes(xs, c->eps, signs, ds);
  bool was = fa_set_grad_enabled(false);
  fa_tensor *logits = st == FA_OK ? fa_model_forward(model, fa_add(xs, ds), false) : NULL;
  fa_set_grad_enabled(was);
  if (!logits || fa_square_margins(logits, y_sub, margin) != FA_OK) return fa_error_code();
  for (int j = 0; j < m; j++) queries[idx[j]]++;
  for (int it = 0; st == FA_OK && it < c->n_queries; it++) {
    int k = 0; /* the examples of this run still robust: rows of[] of xs */
    for (int j = 0; j < m; j++)
      if (margin[j] > 0) of[k++] = j;
    if (k == 0) break;
    int s = fa_square_side(c->p_init, it, c->rescale ? c->n_queries : 10000, h, w);
    int rows = c->official_windows && h > s ? h - s : h - s + 1, cols = c->official_windows && w > s ? w - s : w - s + 1;
    for (int j = 0; j < k; j++) {
      fa_rng *r = &rngs[of[j]];
      windows[j].row = (int)fa_rng_below(r, (uint32_t)rows);
      windows[j].col = (int)fa_rng_below(r, (uint32_t)cols);
      for (int v = 0; v < ch; v++) windows[j].signs[v] = draw_sign(r);
      sub[j] = of[j];
    }
    fa_arena_mark mark = fa_arena_get_mark(arena);
    fa_tensor *xk = fa_select_rows(xs, k, sub), *dk = fa_select_rows(ds, k, sub);
    float *mk = fa_arena_alloc(arena, (size_t)k * sizeof(float));
    int *yk = fa_arena_alloc(arena, (size_t)k * sizeof(int));
    if (!xk || !dk || !mk || !yk) st = fa_error_code();
    for (int j = 0; st == FA_OK && j < k; j++) {
      mk[j] = margin[sub[j]];
      yk[j] = y_sub[sub[j]];
    }
    if (st == FA_OK) st = fa_square_step(model, xk, yk, c->eps, s, windows, dk, mk);
    for (int j = 0; st == FA_OK && j < k; j++) {
      margin[sub[j]] = mk[j];
      st = fa_tensor_copy_rows(ds, sub[j], dk, j, 1);
      queries[idx[sub[j]]]++;
    }
    fa_arena_release(arena, mark);
  }
  for (int j = 0; st == FA_OK && j < m; j++)
    if (margin[j] <= 0) {
      alive[idx[j]] = false;
      st = fa_tensor_copy_rows(delta, idx[j], ds, j, 1);
    }
  return st;
}

fa_tensor *fa_square(fa_model *model, const fa_square_config *c, fa_tensor *x, const fa_tensor *labels,
                     const fa_rng *stream, const long *examples, bool *robust, int *queries) {
  int n = fa_tensor_dim(x, 0);
  if (fa_tensor_ndim(x) != 4 || fa_tensor_dim(x, 1) > FA_SQUARE_MAX_CHANNELS || c->n_queries < 0 || c->n_restarts < 1 ||
      !(c->p_init > 0 && c->p_init <= 1)) {
    fa_error_set(FA_ERR_INVALID, "Square takes images of 1 to %d channels, n_queries >= 0, n_restarts >= 1 and "
                 "p_init in (0, 1], not %d channels, %d, %d and %g", FA_SQUARE_MAX_CHANNELS,
                 fa_tensor_ndim(x) == 4 ? fa_tensor_dim(x, 1) : -1, c->n_queries, c->n_restarts, c->p_init);
    return NULL;
  }
  fa_arena *arena = fa_arena_current();
  bool *alive = fa_arena_alloc(arena, (size_t)n * sizeof(bool));
  int *idx = fa_arena_alloc(arena, (size_t)n * sizeof(int)), *count = fa_arena_alloc(arena, (size_t)n * sizeof(int));
  fa_rng *rngs = fa_arena_alloc(arena, (size_t)n * sizeof(fa_rng));
  int *y = fa_arena_alloc(arena, (size_t)n * sizeof(int));  /* the labels on the host */
  fa_tensor *delta = fa_zeros_like(x);
  if (!alive || !idx || !count || !rngs || !y || !delta || fa_tensor_read_i32(labels, 0, (size_t)n, y) != FA_OK)
    return NULL;
  bool was = fa_set_grad_enabled(false);
  fa_arena_mark mark = fa_arena_get_mark(arena);
  fa_tensor *clean = fa_model_forward(model, x, false);
  fa_status st = clean && fa_mark_correct(clean, labels, alive) >= 0 ? FA_OK : fa_error_code();
  fa_arena_release(arena, mark);
  fa_set_grad_enabled(was);
  for (int i = 0; i < n; i++) count[i] = 0;
  for (int r = 0; st == FA_OK && r < c->n_restarts; r++) {
    int m = 0;
    for (int i = 0; i < n; i++)
      if (alive[i]) {
        rngs[m] = fa_rng_item_stream(stream, (uint64_t)fa_example_index(examples, i));
        rngs[m].counter = (uint64_t)r * RESTART_BLOCKS;
        idx[m++] = i;
      }
    if (m == 0) break;
    mark = fa_arena_get_mark(arena);
    st = square_run(model, c, x, y, rngs, m, idx, alive, delta, count);
    fa_arena_release(arena, mark);
  }
  if (st != FA_OK) return NULL;
  for (int i = 0; i < n; i++) {
    if (robust) robust[i] = alive[i];
    if (queries) queries[i] = count[i];
  }
  return delta;
}
