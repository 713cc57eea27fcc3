/* Convolutions on oneDNN primitives, cached per geometry (all but unpadded 1x1).
 *
 * Our tensors stay NCHW / OIHW. oneDNN's fast convolutions want blocked
 * layouts (nChw16c, OIhw16i16o, ...), so each call reorders its inputs into
 * the primitive's layout, runs the primitive, and reorders its output back;
 * the blocked copies and the primitive's scratchpad live in the state's one
 * growing workspace, shared by every call. Measured choices (docs/PERFORMANCE.md):
 *   - layouts: chosen by oneDNN ("any"), except grad-input with fewer than
 *     16 input channels (the first layer), where the blocked kernel is slow
 *     and the plain NCHW (GEMM-based) primitive is 2.5-6x faster;
 *   - algorithm: Winograd for the 3x3 stride-1 layers, direct otherwise
 *     (see algorithm());
 *   - bfloat16 (the geometry's bf16, backend/bf16.h): the same, with the
 *     two factors' inner copies in bfloat16 (the reorders round them) and
 *     the output float32, or bfloat16 when our output tensor is (y_bf16);
 *     an input tensor in bfloat16 (x_bf16) is reordered as it is;
 *     direct, oneDNN's bfloat16 kernels accumulate in float32; but where float32 Winograd measured faster than them (see
 *     bf16_on_winograd()), Winograd on float32 inner copies rounded to
 *     bfloat16 after the reorders;
 *   - both gradients of one convolution (fa_cpu_conv_dnnl_backward): gy's
 *     inner copy made once when grad-input and grad-weight want the same
 *     layout (they do on ResNet-18's layers), each role's copy at the same
 *     workspace offset with gy's first, so that the two calls share it. */
#include "backend/cpu/conv_impl.h"
#include "backend/cpu/elementwise.h"

#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* oneDNN failing on a valid geometry is a bug or a broken install, not a user error. */
static void dnnl_ok(dnnl_status_t s, const char *what) {
  if (s == dnnl_success) return;
  fprintf(stderr, "fastadv: oneDNN %s failed (status %d)\n", what, (int)s);
  abort();
}

/* ---- one cached convolution: a primitive and the reorders around it ---- */

enum { ROLE_X, ROLE_W, ROLE_Y, ROLES }; /* x or gx (n,c_in,h_in,w_in); w or gw (OIHW); y or gy */

/* The execute argument of each role, and which role is the output, per direction. */
static const int role_arg[3][ROLES] = {
    [FA_CONV_FORWARD] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST},
    [FA_CONV_GRAD_INPUT] = {DNNL_ARG_DIFF_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_DST},
    [FA_CONV_GRAD_WEIGHT] = {DNNL_ARG_SRC, DNNL_ARG_DIFF_WEIGHTS, DNNL_ARG_DIFF_DST},
};
static const int out_role[3] = {
    [FA_CONV_FORWARD] = ROLE_Y, [FA_CONV_GRAD_INPUT] = ROLE_X, [FA_CONV_GRAD_WEIGHT] = ROLE_W};

typedef struct {
  fa_conv_geom g;
  fa_conv_dir dir;
  int threads; /* primitives partition their work for a thread count */
  bool round_factors; /* bf16 on float32 kernels: the two factors' inner copies rounded to bfloat16 */
  dnnl_primitive_t conv;
  dnnl_memory_desc_t user[ROLES], inner[ROLES]; /* NCHW/OIHW, and the primitive's layout */
  dnnl_primitive_t reorder[ROLES];              /* user <-> inner; NULL when the layouts agree */
  size_t offset[ROLES], scratch_offset;         /* workspace byte offsets of inner copies, scratchpad */
  size_t bytes;                                 /* workspace bytes this entry needs */
} conv_entry;

/* A state's oneDNN objects: the engine, its stream and the cached convolutions. */
struct fa_cpu_dnnl {
  dnnl_engine_t engine;
  dnnl_stream_t stream;
  conv_entry *cache;
  int cache_len, cache_cap;
};

static fa_cpu_dnnl *dnnl_of(fa_cpu_state *s) {
  if (s->dnnl) return s->dnnl;
  fa_cpu_dnnl *d = calloc(1, sizeof *d);
  if (!d) {
    fprintf(stderr, "fastadv: out of memory for the convolution cache\n");
    abort();
  }
  dnnl_ok(dnnl_engine_create(&d->engine, dnnl_cpu, 0), "engine_create");
  dnnl_ok(dnnl_stream_create(&d->stream, d->engine, dnnl_stream_default_flags), "stream_create");
  return s->dnnl = d;
}

static dnnl_primitive_t make_primitive(const_dnnl_primitive_desc_t pd, const char *what) {
  dnnl_primitive_t p;
  dnnl_ok(dnnl_primitive_create(&p, pd), what);
  return p;
}

static dnnl_primitive_t make_reorder(dnnl_engine_t engine, const dnnl_memory_desc_t *from,
                                     const dnnl_memory_desc_t *to) {
  dnnl_primitive_desc_t pd;
  dnnl_ok(dnnl_reorder_primitive_desc_create(&pd, from, engine, to, engine, NULL), "reorder_desc");
  dnnl_primitive_t p = make_primitive(pd, "reorder_create");
  dnnl_primitive_desc_destroy(pd);
  return p;
}

static size_t align_up(size_t b) { return (b + 4095) / 4096 * 4096; }

/* Winograd F(4x4, 3x3) for 3x3 stride-1 convolutions with 16+ channels in and
 * out and at least 32 output tiles of 4x4: 2-2.7x faster than direct at batch
 * 128 on ResNet-18's layers, relative error ~1e-6 (direct ~2e-7). Elsewhere
 * (first layer, few tiles) direct is faster. */
static bool winograd_fits(const fa_conv_geom *g) {
  long tiles = (long)g->n * ((g->h_out + 3) / 4) * ((g->w_out + 3) / 4);
  return g->k == 3 && g->stride == 1 && g->c_in >= 16 && g->c_out >= 16 && tiles >= 32;
}

/* bfloat16 products on float32 Winograd (factors rounded to bfloat16 first): where it was faster than
 * oneDNN's bfloat16 direct kernels on ResNet-18 at batch 128 (docs/PERFORMANCE.md, "bfloat16"): the 8x8
 * layers' three passes (forward and grad-input 1.2-1.5x, grad-weight 1.2x) and the 4x4 layers'
 * grad-weight (1.6x); the 16x16 and 32x32 layers, and the 4x4 forward and grad-input, are faster in
 * bfloat16. Winograd's grad-weight scratchpads (134 MB for the 4x4 layer at batch 128) keep the step's
 * peak memory below PyTorch's autocast now that the activations are bfloat16. */
static bool bf16_on_winograd(const fa_conv_geom *g, fa_conv_dir dir) {
  const bool small_image = g->h_out == 8 || (g->h_out == 4 && dir == FA_CONV_GRAD_WEIGHT);
  return g->bf16 && small_image && g->w_out == g->h_out && winograd_fits(g);
}

static dnnl_alg_kind_t algorithm(const fa_conv_geom *g, bool round_factors) {
  if (g->bf16 && !round_factors) return dnnl_convolution_direct; /* oneDNN's Winograd is float32 only */
  return winograd_fits(g) ? dnnl_convolution_winograd : dnnl_convolution_direct;
}

/* The memory descriptors of e's three roles with layouts tag[ROLES] (dnnl_format_tag_any: the
 * primitive's choice): float32, or with bf16 the two factors of e's direction in bfloat16 (the reorders
 * into the primitive's layout round them) and its output float32, or bfloat16 when the user's output is
 * (a forward's y_bf16). A forward hint (hint: true) has all three in bfloat16 then, as oneDNN's forward
 * kernels take no float32 source with bfloat16 weights. */
static void role_mds(const conv_entry *e, const dnnl_format_tag_t tag[ROLES], bool hint, dnnl_memory_desc_t md[ROLES]) {
  for (int r = 0; r < ROLES; r++) {
    const bool out_half = r == out_role[e->dir] && e->user[r].data_type == dnnl_bf16;
    dnnl_data_type_t type =
        e->g.bf16 && !e->round_factors && (hint || r != out_role[e->dir] || out_half) ? dnnl_bf16 : dnnl_f32;
    dnnl_ok(dnnl_memory_desc_init_by_tag(&md[r], 4, e->user[r].dims, type, tag[r]), "md");
  }
}

/* The primitive descriptor for e's direction, algorithm and layouts tag[ROLES]
 * (its forward counterpart is the hint oneDNN's backward passes need). */
static dnnl_status_t make_pd(dnnl_engine_t engine, const conv_entry *e, dnnl_alg_kind_t alg,
                             const dnnl_format_tag_t tag[ROLES], dnnl_primitive_desc_t *pd) {
  const fa_conv_geom *g = &e->g;
  dnnl_memory_desc_t md[ROLES], fmd[ROLES];
  role_mds(e, tag, false, md);
  role_mds(e, tag, e->dir != FA_CONV_FORWARD, fmd);
  dnnl_dims_t strides = {g->stride, g->stride}, pad_l = {g->pad, g->pad},
              pad_r = {(g->h_out - 1) * g->stride + g->k - g->h_in - g->pad,
                       (g->w_out - 1) * g->stride + g->k - g->w_in - g->pad};
  dnnl_primitive_attr_t attr;
  dnnl_ok(dnnl_primitive_attr_create(&attr), "attr_create");
  dnnl_ok(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad_mode");
  dnnl_convolution_desc_t fd, cd;
  dnnl_primitive_desc_t fwd_pd = NULL;
  dnnl_status_t s = dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, alg, &fmd[ROLE_X],
                                                       &fmd[ROLE_W], NULL, &fmd[ROLE_Y], strides, pad_l, pad_r);
  if (s == dnnl_success) s = dnnl_primitive_desc_create(&fwd_pd, &fd, attr, engine, NULL);
  if (s == dnnl_success && e->dir == FA_CONV_FORWARD) {
    *pd = fwd_pd;
    fwd_pd = NULL;
  } else if (s == dnnl_success) {
    s = e->dir == FA_CONV_GRAD_INPUT
            ? dnnl_convolution_backward_data_desc_init(&cd, alg, &md[ROLE_X], &md[ROLE_W], &md[ROLE_Y],
                                                       strides, pad_l, pad_r)
            : dnnl_convolution_backward_weights_desc_init(&cd, alg, &md[ROLE_X], &md[ROLE_W], NULL,
                                                          &md[ROLE_Y], strides, pad_l, pad_r);
    if (s == dnnl_success) s = dnnl_primitive_desc_create(pd, &cd, attr, engine, fwd_pd);
  }
  if (fwd_pd) dnnl_primitive_desc_destroy(fwd_pd);
  dnnl_primitive_attr_destroy(attr);
  return s;
}

static void build_entry(dnnl_engine_t engine, conv_entry *e) {
  const fa_conv_geom *g = &e->g;
  dnnl_dims_t xd = {g->n, g->c_in, g->h_in, g->w_in}, wd = {g->c_out, g->c_in, g->k, g->k},
              yd = {g->n, g->c_out, g->h_out, g->w_out};
  /* the user's storage: x bfloat16 when the geometry says so (not gx: grad-input's output is float32),
   * y when it is a forward's output in bfloat16 (the reorders between layouts convert) */
  const bool x_half = g->x_bf16 && e->dir != FA_CONV_GRAD_INPUT, y_half = g->y_bf16 && e->dir == FA_CONV_FORWARD;
  dnnl_ok(dnnl_memory_desc_init_by_tag(&e->user[ROLE_X], 4, xd, x_half ? dnnl_bf16 : dnnl_f32, dnnl_nchw), "md");
  dnnl_ok(dnnl_memory_desc_init_by_tag(&e->user[ROLE_W], 4, wd, dnnl_f32, dnnl_oihw), "md");
  dnnl_ok(dnnl_memory_desc_init_by_tag(&e->user[ROLE_Y], 4, yd, y_half ? dnnl_bf16 : dnnl_f32, dnnl_nchw), "md");
  const bool plain = e->dir == FA_CONV_GRAD_INPUT && g->c_in < 16;
  const dnnl_format_tag_t tag[ROLES] = {plain ? dnnl_nchw : dnnl_format_tag_any,
                                        plain ? dnnl_oihw : dnnl_format_tag_any,
                                        plain ? dnnl_nchw : dnnl_format_tag_any};
  dnnl_primitive_desc_t pd;
  e->round_factors = bf16_on_winograd(g, e->dir);
  dnnl_alg_kind_t alg = algorithm(g, e->round_factors);
  dnnl_status_t s = make_pd(engine, e, alg, tag, &pd);
  if (s == dnnl_unimplemented && alg != dnnl_convolution_direct) /* no Winograd kernel for this shape */
    s = make_pd(engine, e, dnnl_convolution_direct, tag, &pd);
  dnnl_ok(s, "convolution primitive descriptor");

  e->bytes = 0;
  for (int i = 0; i < ROLES; i++) {
    const int r = (ROLE_Y + i) % ROLES; /* y (gy in the backward passes) first: offset 0 */
    e->inner[r] = *dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, role_arg[e->dir][r]);
    e->reorder[r] = NULL;
    const bool same = dnnl_memory_desc_equal(&e->inner[r], &e->user[r]);
    if (e->round_factors && r != out_role[e->dir] && (same || e->inner[r].format_kind != dnnl_blocked))
      dnnl_ok(dnnl_unimplemented, "rounding a factor's plain inner copy"); /* never a user's, nor transformed */
    if (same) continue;
    e->reorder[r] = r == out_role[e->dir] ? make_reorder(engine, &e->inner[r], &e->user[r])
                                          : make_reorder(engine, &e->user[r], &e->inner[r]);
    e->offset[r] = e->bytes;
    e->bytes += align_up(dnnl_memory_desc_get_size(&e->inner[r]));
  }
  e->scratch_offset = e->bytes;
  e->bytes +=
      align_up(dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0)));
  e->conv = make_primitive(pd, "convolution_create");
  dnnl_primitive_desc_destroy(pd);
}

static const conv_entry *lookup(fa_cpu_dnnl *d, const fa_conv_geom *g, fa_conv_dir dir) {
  const int threads = omp_get_max_threads();
  for (int i = 0; i < d->cache_len; i++)
    if (d->cache[i].dir == dir && d->cache[i].threads == threads && !memcmp(&d->cache[i].g, g, sizeof *g))
      return &d->cache[i];
  if (d->cache_len == d->cache_cap) {
    int cap = d->cache_cap ? 2 * d->cache_cap : 16;
    conv_entry *c = realloc(d->cache, (size_t)cap * sizeof *c);
    if (!c) {
      fprintf(stderr, "fastadv: out of memory for the convolution cache\n");
      abort();
    }
    d->cache = c, d->cache_cap = cap;
  }
  conv_entry *e = &d->cache[d->cache_len++];
  memset(e, 0, sizeof *e);
  e->g = *g, e->dir = dir, e->threads = threads;
  build_entry(d->engine, e);
  return e;
}

static dnnl_memory_t wrap(dnnl_engine_t engine, const dnnl_memory_desc_t *md, void *data) {
  dnnl_memory_t m;
  dnnl_ok(dnnl_memory_create(&m, md, engine, data), "memory_create");
  return m;
}

static void exec(dnnl_stream_t stream, dnnl_primitive_t p, int nargs, const dnnl_exec_arg_t *args) {
  dnnl_ok(dnnl_primitive_execute(p, stream, nargs, args), "execute");
}

/* Runs e on data[ROLES] (x, w, y) with its inner copies in ws; y_ready: y's inner copy is in ws already. */
static void run(fa_cpu_dnnl *d, const conv_entry *e, void *const data[ROLES], char *ws, bool y_ready) {
  const fa_conv_dir dir = e->dir;
  dnnl_memory_t user[ROLES], inner[ROLES];
  for (int r = 0; r < ROLES; r++) {
    user[r] = wrap(d->engine, &e->user[r], data[r]);
    inner[r] = e->reorder[r] ? wrap(d->engine, &e->inner[r], ws + e->offset[r]) : user[r];
    if (!e->reorder[r] || r == out_role[dir] || (r == ROLE_Y && y_ready)) continue;
    exec(d->stream, e->reorder[r], 2, (dnnl_exec_arg_t[]){{DNNL_ARG_FROM, user[r]}, {DNNL_ARG_TO, inner[r]}});
    if (e->round_factors) {
      dnnl_ok(dnnl_stream_wait(d->stream), "stream_wait");
      float *copy = (float *)(ws + e->offset[r]);
      fa_cpu_round_bf16(dnnl_memory_desc_get_size(&e->inner[r]) / sizeof(float), copy, copy);
    }
  }
  dnnl_memory_desc_t scratch_md;
  dnnl_dims_t scratch_dims = {(dnnl_dim_t)(e->bytes - e->scratch_offset)};
  dnnl_ok(dnnl_memory_desc_init_by_tag(&scratch_md, 1, scratch_dims, dnnl_u8, dnnl_a), "md");
  dnnl_memory_t scratch = wrap(d->engine, &scratch_md, ws + e->scratch_offset);
  dnnl_exec_arg_t args[ROLES + 1];
  for (int r = 0; r < ROLES; r++) args[r] = (dnnl_exec_arg_t){role_arg[dir][r], inner[r]};
  args[ROLES] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, scratch};
  exec(d->stream, e->conv, ROLES + 1, args);
  const int o = out_role[dir];
  if (e->reorder[o])
    exec(d->stream, e->reorder[o], 2, (dnnl_exec_arg_t[]){{DNNL_ARG_FROM, inner[o]}, {DNNL_ARG_TO, user[o]}});
  dnnl_ok(dnnl_stream_wait(d->stream), "stream_wait");
  dnnl_memory_destroy(scratch);
  for (int r = 0; r < ROLES; r++) {
    if (e->reorder[r]) dnnl_memory_destroy(inner[r]);
    dnnl_memory_destroy(user[r]);
  }
}

void fa_cpu_conv_dnnl(fa_cpu_state *s, const fa_conv_geom *g, fa_conv_dir dir, void *x, float *w, void *y) {
  fa_cpu_dnnl *d = dnnl_of(s);
  const conv_entry *e = lookup(d, g, dir);
  run(d, e, (void *[]){x, w, y}, fa_cpu_conv_workspace(s, e->bytes), false);
}

void fa_cpu_conv_dnnl_backward(fa_cpu_state *s, const fa_conv_geom *g, float *gy, void *x, float *w, float *gx,
                               float *gw) {
  fa_cpu_dnnl *d = dnnl_of(s);
  lookup(d, g, FA_CONV_GRAD_INPUT); /* both built before taking pointers: a lookup may move the cache */
  const conv_entry *gw_e = lookup(d, g, FA_CONV_GRAD_WEIGHT), *gx_e = lookup(d, g, FA_CONV_GRAD_INPUT);
  const bool share = gx_e->reorder[ROLE_Y] && gw_e->reorder[ROLE_Y] &&
                     dnnl_memory_desc_equal(&gx_e->inner[ROLE_Y], &gw_e->inner[ROLE_Y]);
  char *ws = fa_cpu_conv_workspace(s, gx_e->bytes > gw_e->bytes ? gx_e->bytes : gw_e->bytes);
  run(d, gx_e, (void *[]){gx, w, gy}, ws, false);
  run(d, gw_e, (void *[]){x, gw, gy}, ws, share); /* gy's copy at offset 0 of both */
}

void fa_cpu_conv_dnnl_release(fa_cpu_state *s) {
  fa_cpu_dnnl *d = s->dnnl;
  if (!d) return;
  for (int i = 0; i < d->cache_len; i++) {
    dnnl_primitive_destroy(d->cache[i].conv);
    for (int r = 0; r < ROLES; r++)
      if (d->cache[i].reorder[r]) dnnl_primitive_destroy(d->cache[i].reorder[r]);
  }
  free(d->cache);
  dnnl_stream_destroy(d->stream);
  dnnl_engine_destroy(d->engine);
  free(d);
  s->dnnl = NULL;
}
