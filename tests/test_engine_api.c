/* The engine's contract beyond the numbers: arenas and marks, grad mode,
 * accumulation, and a clear error (never a crash or a silent wrong answer)
 * for every misuse. */
#include <math.h>
#include <string.h>

#include "core/arena.h"
#include "core/autograd.h"
#include "core/ops.h"
#include "core/tensor_internal.h" /* the engine's own test: buffer addresses, autograd nodes */
#include "testlib.h"

static bool error_mentions(const char *needle) { return strstr(fa_error_message(), needle) != NULL; }

static void test_arena(void) {
  fa_arena *arena = fa_arena_create(1 << 20);
  fa_arena_set_current(arena);
  size_t outer_used = fa_arena_used(arena);
  fa_arena_mark outer = fa_arena_get_mark(arena);
  fa_tensor *a = fa_zeros(2, (int[]){16, 16});
  FA_CHECK(a && ((uintptr_t)a->data % 64) == 0, "aligned data");
  size_t inner_used = fa_arena_used(arena);
  fa_arena_mark inner = fa_arena_get_mark(arena);
  fa_tensor *b = fa_zeros(2, (int[]){64, 64});
  size_t peak = fa_arena_used(arena);
  FA_CHECK(b != NULL && peak >= inner_used + 64 * 64 * sizeof(float), "inner allocation");
  fa_arena_release(arena, inner);
  FA_CHECK(fa_arena_used(arena) == inner_used, "release to the inner mark");
  FA_CHECK(fa_arena_high_water(arena) == peak, "high-water mark %zu, peak %zu", fa_arena_high_water(arena), peak);
  fa_arena_release(arena, outer);
  FA_CHECK(fa_arena_used(arena) == outer_used, "release to the outer mark");

  /* overflow: a clear error, and NULL flows through a composition */
  fa_tensor *big = fa_zeros(2, (int[]){1024, 1024});
  FA_CHECK(big == NULL && fa_error_code() == FA_ERR_NOMEM && error_mentions("arena overflow"),
           "overflow error: %s", fa_error_message());
  fa_tensor *x = fa_full(1, (int[]){4}, 1.0f);
  FA_CHECK(fa_relu(fa_add(x, big)) == NULL && error_mentions("arena overflow"), "error flows: %s",
           fa_error_message());
  fa_arena_destroy(arena);
  FA_CHECK(fa_arena_current() == NULL, "destroyed arena is no longer current");
  FA_CHECK(fa_zeros(1, (int[]){4}) == NULL && error_mentions("no current arena"), "no arena: %s",
           fa_error_message());
}

static void test_shape_errors(void) {
  fa_tensor *a = fa_full(2, (int[]){2, 3}, 1.0f), *b = fa_full(2, (int[]){3, 2}, 1.0f);
  FA_CHECK(fa_add(a, b) == NULL && error_mentions("do not broadcast") && error_mentions("(2, 3)"),
           "broadcast: %s", fa_error_message());
  FA_CHECK(fa_matmul(a, a, false, false) == NULL && error_mentions("inner sizes"), "matmul: %s",
           fa_error_message());
  FA_CHECK(fa_matmul(a, a, false, true) != NULL, "matmul with a transpose fits");
  fa_tensor *x = fa_zeros(4, (int[]){1, 3, 8, 8}), *w = fa_zeros(4, (int[]){4, 2, 3, 3});
  FA_CHECK(fa_conv2d(x, w, NULL, 1, 1) == NULL && error_mentions("channels must agree"), "conv: %s",
           fa_error_message());
  FA_CHECK(fa_conv2d(a, w, NULL, 1, 1) == NULL && error_mentions("4-D"), "conv 2-D: %s", fa_error_message());
  FA_CHECK(fa_reshape(a, 2, (int[]){4, 2}) == NULL && error_mentions("elements"), "reshape: %s",
           fa_error_message());
  FA_CHECK(fa_avg_pool(fa_zeros(4, (int[]){1, 1, 5, 5}), 2) == NULL && error_mentions("divisible"), "pool: %s",
           fa_error_message());
  FA_CHECK(fa_labels_from(2, (int[]){1, 3}, 3) == NULL && error_mentions("label 3 of example 1 is outside [0, 3)"),
           "label: %s", fa_error_message());
  FA_CHECK(fa_one_hot(a, 3) == NULL && error_mentions("int32 labels"), "one_hot of floats: %s", fa_error_message());
  FA_CHECK(fa_select_rows(a, 1, (int[]){2}) == NULL && error_mentions("row index 2"), "rows: %s",
           fa_error_message());
  FA_CHECK(fa_tensor_new(5, (int[]){1, 1, 1, 1, 1}) == NULL && error_mentions("dimensions"), "5-D: %s",
           fa_error_message());
  FA_CHECK(fa_zeros(2, (int[]){2, -1}) == NULL && error_mentions("bad tensor dimension"), "negative: %s",
           fa_error_message());
  FA_CHECK(fa_sum_to(a, 2, (int[]){2, 2}) == NULL, "sum_to to a non-matching shape");
}

static void test_grad_errors_and_modes(void) {
  fa_tensor *x = fa_full(1, (int[]){3}, 2.0f), *c = fa_full(1, (int[]){3}, 5.0f);
  fa_tensor_set_requires_grad(x, true);
  fa_tensor *loss = fa_sum(fa_mul(x, x)), *g = NULL;
  /* an input that does not require a gradient */
  FA_CHECK(fa_grad(loss, &c, 1, false, &g) == FA_ERR_INVALID && error_mentions("does not require a gradient"),
           "input without grad: %s", fa_error_message());
  /* a non-scalar output */
  FA_CHECK(fa_grad(fa_mul(x, x), &x, 1, false, &g) == FA_ERR_INVALID && error_mentions("scalar"),
           "non-scalar: %s", fa_error_message());
  /* grad mode off records nothing */
  bool was = fa_set_grad_enabled(false);
  fa_tensor *quiet = fa_sum(fa_mul(x, x));
  fa_set_grad_enabled(was);
  FA_CHECK(!fa_tensor_requires_grad(quiet) && quiet->node == NULL, "no-grad records nothing");
  FA_CHECK(fa_grad(quiet, &x, 1, false, &g) == FA_ERR_INVALID && error_mentions("grad mode off"),
           "no-grad output: %s", fa_error_message());
  /* d sum(x^2)/dx = 2x; a second input the loss does not use gets zeros */
  fa_tensor *unused = fa_full(1, (int[]){2}, 1.0f);
  fa_tensor_set_requires_grad(unused, true);
  fa_tensor *ins[2] = {x, unused}, *gs[2];
  FA_CHECK(fa_grad(loss, ins, 2, false, gs) == FA_OK, "grad: %s", fa_error_message());
  FA_CHECK(fa_test_value(gs[0], 0) == 4.0f && fa_test_value(gs[1], 0) == 0.0f && fa_tensor_numel(gs[1]) == 2,
           "values %g %g", fa_test_value(gs[0], 0), fa_test_value(gs[1], 0));
  FA_CHECK(!fa_tensor_requires_grad(gs[0]), "without create_graph the gradient is a constant");
  /* with create_graph the gradient is differentiable: d/dx sum(2x * x) = 4x */
  FA_CHECK(fa_grad(loss, &x, 1, true, gs) == FA_OK && fa_tensor_requires_grad(gs[0]), "create_graph");
  fa_tensor *h;
  FA_CHECK(fa_grad(fa_sum(fa_mul(gs[0], x)), &x, 1, false, &h) == FA_OK && fa_test_value(h, 1) == 8.0f,
           "second order %g", h ? fa_test_value(h, 1) : -1.0);
  /* sign is a constant: differentiating through it is an error, not a zero by accident */
  FA_CHECK(!fa_tensor_requires_grad(fa_sign(x)), "sign does not require a gradient");
}

static void test_backward_accumulates(void) {
  fa_store *store = fa_store_create();
  fa_tensor *p = fa_store_param(store, "w", 1, (int[]){2});
  fa_tensor_write(p, 0, 2, (float[]){1.0f, -3.0f});
  FA_CHECK(fa_store_param(store, "w", 1, (int[]){2}) == NULL && error_mentions("already holds"), "duplicate: %s",
           fa_error_message());
  for (int rep = 0; rep < 2; rep++) FA_CHECK(fa_backward(fa_sum(fa_mul(p, p))) == FA_OK, "backward");
  const fa_tensor *grad = fa_tensor_grad(p);
  FA_CHECK(fa_test_value(grad, 0) == 4.0f && fa_test_value(grad, 1) == -12.0f, "accumulated %g %g",
           fa_test_value(grad, 0), fa_test_value(grad, 1));
  /* a parameter used twice in one graph gets the sum of both uses, once */
  fa_store_zero_grad(store);
  FA_CHECK(fa_backward(fa_sum(fa_add(p, fa_scale(p, 3.0f)))) == FA_OK, "backward");
  FA_CHECK(fa_test_value(grad, 0) == 4.0f, "two uses: %g", fa_test_value(grad, 0));
  fa_store_destroy(store);
}

/* A store's slabs: parameters, gradients and buffers each one block, the
 * views in order at 64-byte aligned offsets, the gradients at the
 * parameters' offsets, zero-filled; growth moves the views with their values;
 * zero_grad clears every gradient. */
static void test_store_slabs(void) {
  fa_store *store = fa_store_create();
  fa_tensor *w = fa_store_param(store, "w", 2, (int[]){3, 5});
  fa_tensor *mean = fa_store_new(store, "mean", 1, (int[]){7});
  fa_tensor *b = fa_store_param(store, "b", 1, (int[]){2});
  fa_tensor *params = fa_store_slab_tensor(store, FA_SLAB_PARAMS), *grads = fa_store_slab_tensor(store, FA_SLAB_GRADS);
  fa_tensor *buffers = fa_store_slab_tensor(store, FA_SLAB_BUFFERS);
  FA_CHECK(params && grads && buffers && w->data == params->data && b->data == params->data + 16 &&
               mean->data == buffers->data && params->numel == 32 && buffers->numel == 16,
           "views in order, 16 floats apart");
  FA_CHECK(w->grad->data == grads->data && b->grad->data == grads->data + 16 && grads->numel == 32,
           "gradients at the parameters' offsets");
  bool zero = true;
  for (size_t i = 0; i < params->numel; i++) zero &= params->data[i] == 0.0f && grads->data[i] == 0.0f;
  FA_CHECK(zero && !params->requires_grad && params->ctx == w->ctx, "zero-filled slabs; the slab is a constant");
  w->data[14] = 2.0f, b->data[1] = 3.0f, w->grad->data[0] = 5.0f, b->grad->data[1] = 7.0f;
  char name[32];
  for (int i = 0; i < 40; i++) /* 40 x 256 floats: the slabs grow and move */
    FA_CHECK(fa_store_param(store, (snprintf(name, sizeof name, "p%d", i), name), 2, (int[]){16, 16}) != NULL,
             "param %d: %s", i, fa_error_message());
  params = fa_store_slab_tensor(store, FA_SLAB_PARAMS), grads = fa_store_slab_tensor(store, FA_SLAB_GRADS);
  FA_CHECK(params->numel == 32 + 40 * 256 && w->data == params->data && fa_store_find(store, "p39")->data ==
               params->data + 32 + 39 * 256,
           "views moved with their slab");
  FA_CHECK(w->data[14] == 2.0f && b->data[1] == 3.0f && w->grad->data[0] == 5.0f && b->grad->data[1] == 7.0f,
           "values kept when the slab moved");
  fa_store_zero_grad(store);
  zero = true;
  for (size_t i = 0; i < grads->numel; i++) zero &= grads->data[i] == 0.0f;
  FA_CHECK(zero && w->data[14] == 2.0f, "zero_grad clears the gradient slab, not the parameters");
  FA_CHECK(fa_store_count(store) == 43 && !strcmp(fa_store_get(store, 1)->name, "mean"), "order and names kept");
  fa_store_destroy(store);
}

/* ---- the fused per-channel ops against their compositions, to second order ---- */

enum { N_FUSED_IN = 5 };
static fa_tensor *fused_in[N_FUSED_IN], *fused_mask; /* a, s, x, t, b (a, x full; s, t, b per channel) */
typedef fa_tensor *(*fused_fn)(fa_tensor *const *in);

static fa_tensor *wavy(int ndim, const int *shape, float phase, bool grad) {
  fa_tensor *t = fa_tensor_new(ndim, shape);
  for (size_t i = 0; t && i < fa_tensor_numel(t); i++) {
    float v = sinf(0.7f * (float)i + phase);
    fa_tensor_write(t, i, 1, &v);
  }
  if (t) fa_tensor_set_requires_grad(t, grad);
  return t;
}

/* value, gradients (create_graph) of sum(f * w), and second-order terms d/din of sum(g_i * v_i) */
static void fused_derivatives(fused_fn f, fa_tensor **out) {
  fa_tensor *y = f(fused_in), *g[N_FUSED_IN];
  out[0] = y;
  fa_tensor *l1 = fa_sum(fa_mul(y, wavy(fa_tensor_ndim(y), fa_tensor_shape(y), 0.3f, false)));
  if (fa_grad(l1, fused_in, N_FUSED_IN, true, g) != FA_OK) return;
  fa_tensor *l2 = NULL;
  for (int i = 0; i < N_FUSED_IN; i++) {
    out[1 + i] = g[i];
    fa_tensor *term =
        fa_sum(fa_mul(g[i], wavy(fa_tensor_ndim(g[i]), fa_tensor_shape(g[i]), 1.1f + (float)i, false)));
    l2 = l2 ? fa_add(l2, term) : term;
  }
  if (fa_grad(l2, fused_in, N_FUSED_IN, false, out + 1 + N_FUSED_IN) != FA_OK) out[1 + N_FUSED_IN] = NULL;
}

static fa_tensor *fma_full(fa_tensor *const *in) {
  return fa_channel_fma(in[0], in[1], in[2], in[3], in[4], fused_mask);
}
static fa_tensor *fma_full_ref(fa_tensor *const *in) {
  fa_tensor *masked = fa_mul(fa_mul(in[0], in[1]), fa_step(fused_mask));
  return fa_add(fa_add(masked, fa_mul(in[2], in[3])), in[4]);
}
/* the optional parts absent: no a, no b */
static fa_tensor *fma_sparse(fa_tensor *const *in) {
  fa_tensor *y = fa_channel_fma(NULL, in[1], in[2], in[3], NULL, fused_mask);
  return fa_add(y, fa_mul(fa_add(in[0], in[4]), fa_full(1, (int[]){1}, 0.0f))); /* keeps a and b in the graph */
}
static fa_tensor *fma_sparse_ref(fa_tensor *const *in) {
  fa_tensor *y = fa_add(fa_mul(in[1], fa_step(fused_mask)), fa_mul(in[2], in[3]));
  return fa_add(y, fa_mul(fa_add(in[0], in[4]), fa_full(1, (int[]){1}, 0.0f)));
}
static fa_tensor *dot(fa_tensor *const *in) {
  return fa_add(fa_mul(fa_channel_dot(in[0], in[2], fused_mask), in[1]),
                fa_mul(fa_channel_sum(fa_mul(in[0], in[2]), NULL), fa_add(in[3], in[4])));
}
static fa_tensor *dot_ref(fa_tensor *const *in) {
  const int c[4] = {1, 3, 1, 1};
  fa_tensor *masked = fa_sum_to(fa_mul(fa_mul(in[0], in[2]), fa_step(fused_mask)), 4, c);
  return fa_add(fa_mul(masked, in[1]), fa_mul(fa_sum_to(fa_mul(in[0], in[2]), 4, c), fa_add(in[3], in[4])));
}

static void test_channel_fused(void) {
  const int full[4] = {2, 3, 2, 2}, vec[4] = {1, 3, 1, 1};
  for (int i = 0; i < N_FUSED_IN; i++) fused_in[i] = wavy(4, i == 0 || i == 2 ? full : vec, 0.5f * (float)i, true);
  fused_mask = wavy(4, full, 2.0f, false);
  const struct { const char *name; fused_fn fused, ref; } cases[] = {
      {"channel_fma", fma_full, fma_full_ref}, {"channel_fma without a, b", fma_sparse, fma_sparse_ref},
      {"channel_dot", dot, dot_ref}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    fa_tensor *got[1 + 2 * N_FUSED_IN] = {0}, *want[1 + 2 * N_FUSED_IN] = {0};
    fused_derivatives(cases[k].fused, got);
    fused_derivatives(cases[k].ref, want);
    for (int i = 0; i < 1 + 2 * N_FUSED_IN; i++) {
      bool both = got[i] && want[i] && fa_tensor_numel(got[i]) == fa_tensor_numel(want[i]);
      FA_CHECK(both, "%s: result %d missing or misshapen: %s", cases[k].name, i, fa_error_message());
      if (both)
        FA_CHECK(fa_test_rel_err_ff(fa_test_values(got[i]), fa_test_values(want[i]), fa_tensor_numel(got[i])) <= 1e-6,
                 "%s: result %d differs", cases[k].name, i);
    }
  }
  FA_CHECK(fa_channel_fma(NULL, fused_in[1], NULL, NULL, NULL, NULL) == NULL && error_mentions("for the shape"),
           "fma without a shape: %s", fa_error_message());
  FA_CHECK(fa_channel_dot(fused_in[0], fused_in[1], NULL) == NULL && error_mentions("(1, C, 1, 1)"),
           "dot of mismatched shapes: %s", fa_error_message());
}

/* fa_add_into reuses a's buffer, refuses outputs a backward rule reads, and differentiates like add */
static void test_add_into(void) {
  fa_tensor *x = fa_full(1, (int[]){3}, 4.0f);
  fa_tensor_set_requires_grad(x, true);
  FA_CHECK(fa_add_into(fa_sqrt(x), x) == NULL && error_mentions("read by its backward"), "sqrt's output: %s",
           fa_error_message());
  fa_tensor *a = fa_mul(x, x), *y = fa_add_into(a, x), *g;
  FA_CHECK(y && y->data == a->data && fa_test_value(y, 0) == 20.0f, "a + b in a's buffer");
  FA_CHECK(y && fa_grad(fa_sum(fa_mul(y, y)), &x, 1, false, &g) == FA_OK && fa_test_value(g, 0) == 360.0f,
           "d/dx (x^2 + x)^2 = 2 (x^2 + x)(2x + 1): %g", g ? fa_test_value(g, 0) : -1.0);
}

int main(void) {
  test_arena();
  fa_arena *arena = fa_arena_create(64 << 20);
  fa_arena_set_current(arena);
  test_shape_errors();
  test_grad_errors_and_modes();
  test_backward_accumulates();
  test_store_slabs();
  test_channel_fused();
  test_add_into();
  fa_arena_destroy(arena);
  return fa_test_exit();
}
