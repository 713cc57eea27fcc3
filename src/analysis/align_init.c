#include "analysis/align_init.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adv/attack.h"
#include "core/arena.h"
#include "core/measure.h"
#include "core/units.h"
#include "data/dataset.h"
#include "nn/model.h"

#define FA_ALIGN_ARENA_BYTES ((size_t)4 << 30)
enum { MAX_LIST = 64, MAX_FILTERS = 4096 };

double fa_lemma2_bound(int p, double eps, int n, int seed) {
  fa_rng rng = fa_rng_stream((uint64_t)seed, FA_STREAM_EVAL);
  float *w = malloc(2 * (size_t)p * sizeof *w);
  if (!w) return NAN;
  float *z = w + p;
  double sum = 0;
  for (int i = 0; i < n; i++) {
    fa_rng_fill_normal(&rng, w, p, 0, 1);
    fa_rng_fill_uniform(&rng, z, p, 0, 1);
    double dot = 0, norm = 0;
    for (int j = 0; j < p; j++) {
      dot += (double)w[j] * z[j];
      norm += (double)w[j] * w[j];
    }
    double t = dot / sqrt(norm);
    sum += exp(-t * t / (eps * eps));
  }
  free(w);
  double bound = 1 - sqrt(2.0) * sqrt(sum / n);
  return bound > 0.5 ? bound : 0.5;
}

/* a comma-separated list of positive numbers; `unit` (when not NULL) gets
 * each in [0, 1] units, the list being radii in 1/255 */
static fa_status parse_list(const char *flag, const char *text, double *out, double *unit, int *n) {
  *n = 0;
  for (const char *p = text; *p;) {
    char *end;
    double v = strtod(p, &end);
    if (end == p || !(v > 0) || !isfinite(v) || (*end && *end != ',') || *n == MAX_LIST)
      return fa_error_set(FA_ERR_INVALID, "--%s=%s: expected up to %d positive numbers separated by commas", flag, text,
                          MAX_LIST);
    if (unit) unit[*n] = fa_pixels_to_unit(v);
    out[(*n)++] = v;
    p = *end ? end + 1 : end;
  }
  return *n ? FA_OK : fa_error_set(FA_ERR_INVALID, "--%s is empty", flag);
}

/* the grid measured: radii (/255 as given, and in [0, 1] units) and numbers of filters */
typedef struct {
  double eps[MAX_LIST], eps_unit[MAX_LIST], filters[MAX_LIST];
  int n_eps, n_filters;
} grid;

/* the flags' lists: positive radii, and numbers of filters that are whole and at most MAX_FILTERS */
static fa_status parse_grid(const fa_align_init_config *c, grid *g) {
  fa_status st = parse_list("eps_list", c->eps_list, g->eps, g->eps_unit, &g->n_eps);
  if (st == FA_OK) st = parse_list("filters_list", c->filters_list, g->filters, NULL, &g->n_filters);
  for (int i = 0; st == FA_OK && i < g->n_filters; i++)
    if (g->filters[i] != floor(g->filters[i]) || g->filters[i] > MAX_FILTERS)
      st = fa_error_set(FA_ERR_INVALID, "--filters_list=%s: a number of filters is a whole number from 1 to %d",
                        c->filters_list, MAX_FILTERS);
  return st;
}

/* mean cos(grad at x, grad at x + eta) over the batch, at the model's initialisation */
static fa_status alignment(fa_model *model, fa_tensor *x, const fa_tensor *y, float eps, fa_rng *rng, double *cos) {
  fa_arena *arena = fa_arena_current();
  fa_arena_mark mark = fa_arena_get_mark(arena);
  fa_tensor *zero = fa_zeros_like(x), *eta = fa_uniform_delta(x, eps, rng);
  fa_tensor *g_x = zero ? fa_input_grad(model, false, x, zero, y, false, false, NULL) : NULL;
  fa_tensor *g_eta = eta ? fa_input_grad(model, false, x, eta, y, false, false, NULL) : NULL;
  fa_status st = g_x && g_eta ? FA_OK : fa_error_code();
  if (st == FA_OK) *cos = fa_mean_cosine(g_x, g_eta);
  fa_arena_release(arena, mark);
  return st;
}

static fa_status measure(const fa_align_init_config *c, const grid *g, const fa_dataset *ds, FILE *out) {
  const double *eps = g->eps, *eps_unit = g->eps_unit, *filters = g->filters;
  int n_eps = g->n_eps, n_filters = g->n_filters;
  fa_status st = FA_OK;
  int n = c->n_examples < ds->n ? c->n_examples : ds->n;
  size_t d = (size_t)ds->c * ds->h * ds->w;
  float *pixels = malloc((size_t)n * d * sizeof *pixels);
  int *labels = malloc(n * sizeof *labels);
  if (!pixels || !labels) {
    free(pixels);
    free(labels);
    return fa_error_set(FA_ERR_NOMEM, "out of memory");
  }
  for (size_t i = 0; i < (size_t)n * d; i++) pixels[i] = ds->images[i] / 255.0f;
  for (int i = 0; i < n; i++) labels[i] = ds->labels[i];
  fa_tensor *x = fa_tensor_from(4, (int[]){n, ds->c, ds->h, ds->w}, pixels);
  fa_tensor *y = fa_labels_from(n, labels, ds->n_classes);
  free(pixels);
  free(labels);
  if (!x || !y) return fa_error_code();
  double bound[MAX_LIST];
  for (int e = 0; e < n_eps; e++) bound[e] = fa_lemma2_bound(ds->c * 9, eps_unit[e], c->n_mc, 0);
  fprintf(out, "# n_filters eps seed cos bound  (%s, first %d test examples, bound: p = %d, %d draws)\n", c->dataset,
          n, ds->c * 9, c->n_mc);
  for (int f = 0; f < n_filters && st == FA_OK; f++)
    for (int seed = 0; seed < c->n_seeds && st == FA_OK; seed++) {
      fa_model_config mc = {.arch = FA_ARCH_CNN, .in_channels = ds->c, .height = ds->h, .width = ds->w,
                            .n_classes = ds->n_classes, .n_layers = 1, .n_filters = (int)filters[f]};
      fa_model *model = fa_model_create(&mc);
      if (!model) return fa_error_code();
      fa_rng init = fa_rng_stream((uint64_t)seed, FA_STREAM_INIT), noise = fa_rng_stream((uint64_t)seed, FA_STREAM_ATTACK);
      st = fa_model_init(model, &init);
      for (int e = 0; e < n_eps && st == FA_OK; e++) {
        double cos;
        st = alignment(model, x, y, (float)eps_unit[e], &noise, &cos);
        if (st == FA_OK) {
          fprintf(out, "%d %g %d %.5f %.5f\n", (int)filters[f], eps[e], seed, cos, bound[e]);
          printf("filters %3d  eps %5g/255  seed %d  cos %.4f  bound %.4f\n", (int)filters[f], eps[e], seed, cos,
                 bound[e]);
        }
      }
      fa_model_destroy(model);
    }
  return st;
}

int fa_run_align_init(const fa_align_init_config *c) {
  if (!c->out[0]) {
    fprintf(stderr, "fastadv align_init: give the table to write: --out=FILE.tsv\n");
    return 2;
  }
  grid g;
  if (parse_grid(c, &g) != FA_OK) {
    fprintf(stderr, "fastadv align_init: %s\n", fa_error_message());
    return 2;
  }
  fa_dataset ds = {0};
  fa_arena *arena = NULL;
  FILE *out = NULL;
  fa_status st = fa_dataset_load(c->dataset, "test", c->data_dir[0] ? c->data_dir : NULL, &ds);
  if (st == FA_OK && !(arena = fa_arena_create(FA_ALIGN_ARENA_BYTES))) st = fa_error_code();
  if (st == FA_OK && !(out = fopen(c->out, "w"))) st = fa_error_set(FA_ERR_IO, "cannot write %s", c->out);
  if (st == FA_OK) {
    fa_arena_set_current(arena);
    st = measure(c, &g, &ds, out);
  }
  if (out && fclose(out) != 0 && st == FA_OK) st = fa_error_set(FA_ERR_IO, "cannot write %s", c->out);
  if (st != FA_OK) fprintf(stderr, "fastadv align_init: %s\n", fa_error_message());
  fa_arena_destroy(arena);
  fa_dataset_free(&ds);
  return st == FA_OK ? 0 : 1;
}
