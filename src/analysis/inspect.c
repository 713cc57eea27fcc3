#include "analysis/inspect.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/image.h"
#include "analysis/png.h"
#include "core/arena.h"
#include "core/autograd.h"
#include "core/ops.h"
#include "core/update.h"
#include "data/dataset.h"
#include "train/checkpoint.h"

enum { MARGIN = 10, GAP = 10, CHANNEL_GAP = 2 };
#define FA_INSPECT_ARENA_BYTES ((size_t)256 << 20)

/* a tensor drawn: NaN or Inf has no colour and no norm, so the checkpoint is refused, naming the tensor */
static fa_status check_finite(const char *name, const fa_tensor *t) {
  float *v = fa_tensor_to_host(t);
  if (!v) return fa_error_code();
  fa_status st = FA_OK;
  for (size_t i = 0; st == FA_OK && i < fa_tensor_numel(t); i++)
    if (!isfinite(v[i]))
      st = fa_error_set(FA_ERR_FORMAT, "the checkpoint's %s holds %s at index %zu: the model is corrupt (a run "
                        "that diverged, or a damaged file); inspect draws finite weights only",
                        name, isnan(v[i]) ? "NaN" : "an infinite value", i);
  free(v);
  return st;
}

/* the first convolution: "_model.0" (cnn, lenet) or "conv1" (resnet18, no bias), finite */
static fa_status first_conv(const fa_model *model, fa_tensor **w, fa_tensor **b) {
  fa_store *s = fa_model_store(model);
  const char *w_name = "_model.0.weight", *b_name = "_model.0.bias";
  *w = fa_store_find(s, w_name);
  *b = *w ? fa_store_find(s, b_name) : NULL;
  if (!*w) *w = fa_store_find(s, w_name = "conv1.weight");
  if (!*w || fa_tensor_ndim(*w) != 4)
    return fa_error_set(FA_ERR_INVALID, "the checkpoint has no first convolution (_model.0.weight or conv1.weight)");
  fa_status st = check_finite(w_name, *w);
  return st == FA_OK && *b ? check_finite(b_name, *b) : st;
}

static float max_abs(const float *v, size_t n) {
  float m = 0;
  for (size_t i = 0; i < n; i++) m = fabsf(v[i]) > m ? fabsf(v[i]) : m;
  return m;
}

static double l2(const float *v, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += (double)v[i] * v[i];
  return sqrt(s);
}

/* filters as blocks of their channels, blocks_per_row blocks to a row */
static fa_status draw_filters(const fa_tensor *weights, bool per_filter, const char *out) {
  int f = fa_tensor_dim(weights, 0), ch = fa_tensor_dim(weights, 1), k = fa_tensor_dim(weights, 2);
  int px = k <= 3 ? 24 : 12, tile = k * px, block = ch * tile + (ch - 1) * CHANNEL_GAP;
  int per_row = (int)lround(sqrt((double)f / ch));
  per_row = per_row < 1 ? 1 : per_row > f ? f : per_row;
  int rows = (f + per_row - 1) / per_row;
  fa_image img;
  float *w = fa_tensor_to_host(weights);
  if (!w) return fa_error_code();
  fa_status st = fa_image_create(&img, 2 * MARGIN + per_row * block + (per_row - 1) * GAP,
                                 2 * MARGIN + rows * tile + (rows - 1) * GAP);
  if (st != FA_OK) {
    free(w);
    return st;
  }
  size_t len = (size_t)ch * k * k;
  float layer_max = max_abs(w, fa_tensor_numel(weights));
  printf("first layer: %d filters of %d x %d x %d; colour scale %s\n", f, ch, k, k,
         per_filter ? "per filter (+-max |w_f|)" : "shared by all filters");
  if (!per_filter) printf("  +-%.4g (max |w| of the layer)\n", layer_max);
  for (int i = 0; i < f; i++) {
    const float *wf = w + i * len;
    float vmax = per_filter ? max_abs(wf, len) : layer_max;
    int x0 = MARGIN + (i % per_row) * (block + GAP), y0 = MARGIN + (i / per_row) * (tile + GAP);
    for (int c = 0; c < ch; c++)
      fa_image_draw_diverging(&img, x0 + c * (tile + CHANNEL_GAP), y0, wf + (size_t)c * k * k, k, k, px, vmax);
    printf("  filter %d: L2 norm %.4f, max |w| %.4f\n", i + 1, l2(wf, len), max_abs(wf, len));
  }
  st = fa_png_write(out, img.width, img.height, img.rgb);
  if (st == FA_OK) printf("wrote %s (%d x %d pixels; rows: filters, columns: input channels)\n", out, img.width, img.height);
  fa_image_free(&img);
  free(w);
  return st;
}

typedef struct {
  fa_tensor *x, *eta, *map_x, *map_eta;  /* (1, C, H, W), (1, C, H, W), (1, F, H, W) x 2 */
} maps;

static fa_status compute_maps(const fa_dataset *ds, int index, fa_tensor *w, fa_tensor *b, float eps, int seed,
                              maps *m) {
  size_t n = (size_t)ds->c * ds->h * ds->w;
  int shape[4] = {1, ds->c, ds->h, ds->w};
  float *pixels = fa_arena_alloc(fa_arena_current(), n * sizeof *pixels);
  if (!pixels) return fa_error_code();
  for (size_t i = 0; i < n; i++) pixels[i] = ds->images[(size_t)index * n + i] / 255.0f;
  if (!(m->x = fa_tensor_from(4, shape, pixels))) return fa_error_code();
  fa_rng rng = fa_rng_stream((uint64_t)seed, FA_STREAM_ATTACK);
  if (!(m->eta = fa_uniform(4, shape, &rng, -eps, eps))) return fa_error_code();
  bool was = fa_set_grad_enabled(false);
  int pad = fa_tensor_dim(w, 2) / 2;
  m->map_x = fa_conv2d(m->x, w, b, 1, pad);
  m->map_eta = fa_conv2d(fa_add(m->x, m->eta), w, b, 1, pad);
  fa_set_grad_enabled(was);
  return m->map_x && m->map_eta ? FA_OK : fa_error_code();
}

/* The maps' values on the host (the current arena): x, eta, x + eta, the two feature maps. */
typedef struct {
  float *x, *eta, *shown, *map_x, *map_eta;
} host_maps;

static fa_status maps_on_host(const maps *m, host_maps *h) {
  size_t n_in = fa_tensor_numel(m->x), n_out = fa_tensor_numel(m->map_x);
  fa_arena *arena = fa_arena_current();
  float *all = fa_arena_alloc(arena, (3 * n_in + 2 * n_out) * sizeof *all);
  if (!all) return fa_error_code();
  *h = (host_maps){all, all + n_in, all + 2 * n_in, all + 3 * n_in, all + 3 * n_in + n_out};
  fa_status st = fa_tensor_read(m->x, 0, n_in, h->x);
  if (st == FA_OK) st = fa_tensor_read(m->eta, 0, n_in, h->eta);
  if (st == FA_OK) st = fa_tensor_read(m->map_x, 0, n_out, h->map_x);
  if (st == FA_OK) st = fa_tensor_read(m->map_eta, 0, n_out, h->map_eta);
  for (size_t i = 0; i < n_in; i++) h->shown[i] = h->x[i] + h->eta[i];  /* drawing clamps to [0, 1] */
  return st;
}

static fa_status draw_maps(const maps *m, int n_shown, const char *out) {
  int ch = fa_tensor_dim(m->x, 1), h = fa_tensor_dim(m->x, 2), wd = fa_tensor_dim(m->x, 3);
  int f = fa_tensor_dim(m->map_x, 1), ho = fa_tensor_dim(m->map_x, 2), wo = fa_tensor_dim(m->map_x, 3), px = 4;
  int tile_w = (wd > wo ? wd : wo) * px, tile_h = (h > ho ? h : ho) * px;
  host_maps v = {0};
  fa_status st = maps_on_host(m, &v);
  if (st != FA_OK) return st;
  fa_image img;
  st = fa_image_create(&img, 2 * MARGIN + (1 + n_shown) * tile_w + n_shown * GAP, 2 * MARGIN + 2 * tile_h + GAP);
  if (st != FA_OK) return st;
  size_t n_in = (size_t)ch * h * wd, plane = (size_t)ho * wo;
  fa_image_draw_picture(&img, MARGIN, MARGIN, v.x, ch, h, wd, px);
  fa_image_draw_picture(&img, MARGIN, MARGIN + tile_h + GAP, v.shown, ch, h, wd, px);
  double eta_norm = l2(v.eta, n_in);
  printf("columns: x (top) and x + eta (bottom), then x * w_f + b_f and (x + eta) * w_f + b_f for each filter,\n"
         "each filter's pair on one colour scale\n");
  for (int i = 0; i < n_shown; i++) {
    const float *a = v.map_x + i * plane, *b = v.map_eta + i * plane;
    float ma = max_abs(a, plane), mb = max_abs(b, plane), vmax = ma > mb ? ma : mb;
    int x0 = MARGIN + (1 + i) * (tile_w + GAP);
    fa_image_draw_diverging(&img, x0, MARGIN, a, ho, wo, px, vmax);
    fa_image_draw_diverging(&img, x0, MARGIN + tile_h + GAP, b, ho, wo, px, vmax);
    double diff = 0;
    for (size_t j = 0; j < plane; j++) diff += ((double)b[j] - a[j]) * ((double)b[j] - a[j]);
    printf("  filter %d: max |x * w + b| %.4f, max |(x + eta) * w + b| %.4f, noise gain ||w * eta|| / ||eta|| %.4f\n",
           i + 1, ma, mb, sqrt(diff) / (eta_norm > 0 ? eta_norm : 1));
  }
  if (n_shown < f) printf("  (the first %d of %d filters; --max_filters shows more)\n", n_shown, f);
  st = fa_png_write(out, img.width, img.height, img.rgb);
  if (st == FA_OK) printf("wrote %s (%d x %d pixels)\n", out, img.width, img.height);
  fa_image_free(&img);
  return st;
}

static fa_status feature_maps(const fa_inspect_config *c, const fa_checkpoint *ckpt, fa_tensor *w, fa_tensor *b) {
  const char *dataset = fa_ckpt_meta(ckpt, "dataset"), *meta_eps = fa_ckpt_meta(ckpt, "eps");
  if (!dataset) return fa_error_set(FA_ERR_INVALID, "the checkpoint does not name its data set");
  if (c->eps.pixels < 0 && !meta_eps)
    return fa_error_set(FA_ERR_INVALID, "the checkpoint does not give its eps: pass --eps");
  fa_pixels eps = c->eps.pixels >= 0 ? c->eps : fa_pixels_of(strtof(meta_eps, NULL));
  fa_dataset ds = {0};
  fa_arena *arena = NULL;
  fa_status st = fa_dataset_load(dataset, "test", c->data_dir[0] ? c->data_dir : NULL, &ds);
  if (st == FA_OK && c->index >= ds.n)
    st = fa_error_set(FA_ERR_INVALID, "--index=%d: the %s test set has %d examples", c->index, dataset, ds.n);
  if (st == FA_OK && ds.c != fa_tensor_dim(w, 1))
    st = fa_error_set(FA_ERR_INVALID, "the first layer takes %d channels but %s images have %d", fa_tensor_dim(w, 1),
                      dataset, ds.c);
  if (st == FA_OK && !(arena = fa_arena_create(FA_INSPECT_ARENA_BYTES))) st = fa_error_code();
  maps m = {0};
  if (st == FA_OK) {
    fa_arena_set_current(arena);
    st = compute_maps(&ds, c->index, w, b, eps.value, c->seed, &m);
  }
  if (st == FA_OK) {
    printf("%s test example %d (label %d), eta uniform in [-%g, %g]/255 (seed %d)\n", dataset, c->index,
           ds.labels[c->index], eps.pixels, eps.pixels, c->seed);
    st = draw_maps(&m, fa_tensor_dim(w, 0) < c->max_filters ? fa_tensor_dim(w, 0) : c->max_filters, c->out);
  }
  fa_arena_destroy(arena);
  fa_dataset_free(&ds);
  return st;
}

int fa_run_inspect(const fa_inspect_config *c) {
  if (!c->model_path[0] || !c->out[0]) {
    fprintf(stderr, "fastadv inspect: give the checkpoint and the image: --model_path=FILE --out=FILE.png\n");
    return 2;
  }
  fa_checkpoint *ckpt = fa_ckpt_open(c->model_path);
  fa_model *model = ckpt ? fa_ckpt_load_model(ckpt) : NULL;
  fa_tensor *w = NULL, *b = NULL;
  fa_status st = model ? first_conv(model, &w, &b) : fa_error_code();
  if (st == FA_OK)
    st = strcmp(c->what, "filters") == 0 ? draw_filters(w, strcmp(c->scale, "filter") == 0, c->out)
                                         : feature_maps(c, ckpt, w, b);
  if (st != FA_OK) fprintf(stderr, "fastadv inspect: %s\n", fa_error_message());
  fa_model_destroy(model);
  fa_ckpt_close(ckpt);
  return st == FA_OK ? 0 : 1;
}
