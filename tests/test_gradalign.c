/* The GradAlign-shaped check on PreAct ResNet-18 (full architecture at width
 * 8, batch 4, training-mode batch norm) against PyTorch float64
 * (scripts/gen_gradalign_fixture.py):
 *   CE(model(x + delta)) + lam * (1 - mean cos(grad_x CE(model(x)), grad_x CE(model(x + eta))))
 * with both input gradients taken with create_graph, so the regulariser's
 * parameter gradient goes through double backpropagation. Each parameter
 * tensor's gradient must match to relative error <= 1e-3. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adv/gradalign.h"
#include "core/arena.h"
#include "core/autograd.h"
#include "core/ops.h"
#include "io/safetensors.h"
#include "nn/model.h"
#include "testlib.h"

#define TOL 1e-3

static fa_st_file *fixture;

static fa_tensor *load(const char *name, int ndim, const int *shape) {
  int64_t s64[4];
  for (int i = 0; i < ndim; i++) s64[i] = shape[i];
  size_t numel = 1;
  for (int i = 0; i < ndim; i++) numel *= (size_t)shape[i];
  float *values = malloc(numel * sizeof *values);
  if (!values || fa_st_copy(fixture, name, FA_DTYPE_F32, ndim, s64, values) != FA_OK) {
    fprintf(stderr, "%s\n", fa_error_message());
    exit(1);
  }
  fa_tensor *t = fa_tensor_from(ndim, shape, values);
  free(values);
  return t;
}

static double compare(const char *name, const float *got, size_t n) {
  double err = fa_test_fixture_err(fixture, 1, (const char *[]){name}, got, n);
  FA_CHECK(err <= TOL, "%s: relative error %.3g", name, err);
  return err;
}

/* g = d CE(model(x + d)) / d d at d = 0, recorded for double backprop */
static fa_tensor *input_grad(fa_model *model, fa_tensor *x, const fa_tensor *labels) {
  fa_tensor *d = fa_zeros_like(x);
  fa_tensor_set_requires_grad(d, true);
  fa_tensor *g = NULL;
  fa_tensor *loss = fa_cross_entropy(fa_model_forward(model, fa_add(x, d), true), labels);
  FA_CHECK(fa_grad(loss, &d, 1, true, &g) == FA_OK, "input grad: %s", fa_error_message());
  return g;
}

/* fa_grad_align_reg: the composition above; and with example 1 of g1 zero,
 * the mean over the other examples, with zero and finite gradients. */
static void check_reg_rows(const fa_tensor *g1, const fa_tensor *g2, float lam) {
  const fa_st_tensor *ref_cos = fa_st_find(fixture, "cos"), *ref_reg = fa_st_find(fixture, "reg");
  double cos[4], reg_ref;
  fa_st_copy(fixture, "cos", FA_DTYPE_F64, ref_cos->ndim, ref_cos->shape, cos);
  fa_st_copy(fixture, "reg", FA_DTYPE_F64, ref_reg->ndim, ref_reg->shape, &reg_ref);
  fa_tensor *a = fa_tensor_clone(g1), *b = fa_tensor_clone(g2);
  fa_tensor_set_requires_grad(a, true);
  fa_tensor_set_requires_grad(b, true);
  fa_tensor *reg = fa_grad_align_reg(a, b, lam);
  FA_CHECK(reg && fabs(fa_test_value(reg, 0) - reg_ref) <= 1e-5 * fabs(reg_ref), "grad_align_reg %g, reference %g",
           reg ? fa_test_value(reg, 0) : NAN, reg_ref);
  size_t row = fa_tensor_numel(a) / 4;
  float *zeros = calloc(row, sizeof *zeros);
  fa_tensor_write(a, row, row, zeros);
  free(zeros);
  fa_tensor *reg0 = fa_grad_align_reg(a, b, lam), *gb = NULL;
  double expect = lam * (1.0 - (cos[0] + cos[2] + cos[3]) / 3.0);
  FA_CHECK(reg0 && fabs(fa_test_value(reg0, 0) - expect) <= 1e-5 * fabs(expect), "a zero row: reg %g, expected %g",
           reg0 ? fa_test_value(reg0, 0) : NAN, expect);
  FA_CHECK(reg0 && fa_grad(reg0, &b, 1, false, &gb) == FA_OK, "a zero row: grad: %s", fa_error_message());
  bool zero = true, finite = true;
  const float *gv = fa_test_values(gb);
  for (size_t j = 0; gv && j < fa_tensor_numel(gb); j++) {
    finite &= isfinite(gv[j]);
    if (j >= row && j < 2 * row) zero &= gv[j] == 0.0f;
  }
  FA_CHECK(gb && zero && finite, "a zero row: the gradient is not zero on it (%d) or not finite (%d)", zero, finite);
}

/* Gradients with norms near 1e-17, as a collapsed network gives (its
 * squared norms near 1e-34 are not zero, so the rows count): the cosine does
 * not depend on the scale, so reg is the same and its gradient is 1/s times
 * the unscaled one, finite (dividing by (||g1|| ||g2||)^2, 1e-68, would give
 * inf and NaN in float32; docs/EXPERIMENTS.md, "Noticed"). */
static fa_tensor *scaled_leaf(const fa_tensor *g, float *scale) {
  size_t n = fa_tensor_numel(g), row = n / (size_t)fa_tensor_dim(g, 0);
  const float *v = fa_test_values(g);
  double sq = 0;
  for (size_t j = 0; j < row; j++) sq += (double)v[j] * v[j];
  *scale = (float)(1e-17 / sqrt(sq));
  float *scaled = malloc(n * sizeof *scaled);
  for (size_t j = 0; j < n; j++) scaled[j] = v[j] * *scale;
  fa_tensor *t = fa_tensor_from(fa_tensor_ndim(g), fa_tensor_shape(g), scaled);
  free(scaled);
  fa_tensor_set_requires_grad(t, true);
  return t;
}

static void check_tiny_norms(const fa_tensor *g1, const fa_tensor *g2, float lam) {
  fa_tensor *a = fa_tensor_clone(g1), *b = fa_tensor_clone(g2), *grads[2] = {NULL, NULL};
  fa_tensor_set_requires_grad(a, true);
  fa_tensor_set_requires_grad(b, true);
  fa_tensor *reg = fa_grad_align_reg(a, b, lam);
  FA_CHECK(reg && fa_grad(reg, (fa_tensor *[]){a, b}, 2, false, grads) == FA_OK, "unscaled: %s", fa_error_message());
  float scale[2];
  fa_tensor *tiny[2] = {scaled_leaf(g1, &scale[0]), scaled_leaf(g2, &scale[1])}, *tiny_grads[2] = {NULL, NULL};
  fa_tensor *reg_tiny = fa_grad_align_reg(tiny[0], tiny[1], lam);
  FA_CHECK(reg_tiny && fa_grad(reg_tiny, tiny, 2, false, tiny_grads) == FA_OK, "tiny: %s", fa_error_message());
  if (!reg || !reg_tiny || !grads[0] || !tiny_grads[0]) return;
  FA_CHECK(fabs(fa_test_value(reg_tiny, 0) - fa_test_value(reg, 0)) <= 1e-5 * fabs(fa_test_value(reg, 0)),
           "norms near 1e-17: reg %g, unscaled %g", fa_test_value(reg_tiny, 0), fa_test_value(reg, 0));
  for (int i = 0; i < 2; i++) {
    size_t n = fa_tensor_numel(grads[i]);
    const float *got = fa_test_values(tiny_grads[i]);
    float *rescaled = malloc(n * sizeof *rescaled);
    bool finite = true;
    for (size_t j = 0; j < n; j++) finite &= isfinite(got[j]), rescaled[j] = got[j] * scale[i];
    double err = finite ? fa_test_rel_err_ff(rescaled, fa_test_values(grads[i]), n) : INFINITY;
    FA_CHECK(finite && err <= 1e-4, "norms near 1e-17: gradient of g%d finite %d, relative error %.3g", i + 1,
             finite, err);
    free(rescaled);
  }
}

int main(void) {
  fixture = fa_st_open(fa_test_source_path("tests/fixtures/gradalign_resnet18.safetensors"));
  if (!fixture) {
    fprintf(stderr, "%s\n", fa_error_message());
    return 1;
  }
  float lam = (float)atof(fa_st_meta(fixture, "lambda"));
  fa_model_config cfg = {.arch = FA_ARCH_RESNET18, .in_channels = 3, .height = 32, .width = 32,
                         .n_classes = 10, .resnet_width = atoi(fa_st_meta(fixture, "width"))};
  fa_model *model = fa_model_create(&cfg);
  fa_store *store = fa_model_store(model);
  fa_rng init = fa_rng_stream(0, FA_STREAM_INIT);
  fa_model_init(model, &init); /* running statistics 0 and 1; the weights are replaced below */
  for (int i = 0; i < fa_store_count(store); i++) {
    fa_tensor *t = fa_store_get(store, i);
    if (fa_tensor_requires_grad(t)) fa_test_fill_hashed(t);
  }
  fa_arena *arena = fa_arena_create((size_t)4 << 30);
  fa_arena_set_current(arena);

  const int xs[4] = {4, 3, 32, 32};
  fa_tensor *x = load("x", 4, xs), *delta = load("delta", 4, xs), *eta = load("eta", 4, xs);
  const float *lab = fa_test_values(load("labels", 1, xs));
  int label_values[4];
  for (int i = 0; i < 4; i++) label_values[i] = (int)lab[i];
  fa_tensor *labels = fa_labels_from(4, label_values, cfg.n_classes);

  fa_tensor *g1 = input_grad(model, x, labels);
  fa_tensor *loss_ce = fa_cross_entropy(fa_model_forward(model, fa_add(x, delta), true), labels);
  fa_tensor *g2 = input_grad(model, fa_add(x, eta), labels);
  fa_tensor *cos = fa_cosine_per_example(g1, g2);
  fa_tensor *reg = fa_scale(fa_affine(fa_mean(cos), -1.0f, 1.0f), lam);
  FA_CHECK(reg != NULL, "reg: %s", fa_error_message());
  compare("g1", fa_test_values(g1), fa_tensor_numel(g1));
  compare("g2", fa_test_values(g2), fa_tensor_numel(g2));
  compare("cos", fa_test_values(cos), fa_tensor_numel(cos));
  compare("loss_ce", fa_test_values(loss_ce), 1);
  compare("reg", fa_test_values(reg), 1);
  check_reg_rows(g1, g2, lam);
  check_tiny_norms(g1, g2, lam);

  /* the regulariser alone through fa_grad, then CE + reg through fa_backward */
  int n_params = 0;
  fa_tensor *params[256], *grads[256];
  for (int i = 0; i < fa_store_count(store); i++)
    if (fa_tensor_requires_grad(fa_store_get(store, i))) params[n_params++] = fa_store_get(store, i);
  FA_CHECK(fa_grad(reg, params, n_params, false, grads) == FA_OK, "reg grad: %s", fa_error_message());
  fa_store_zero_grad(store);
  FA_CHECK(fa_backward(fa_add(loss_ce, reg)) == FA_OK, "backward: %s", fa_error_message());
  double worst_reg = 0, worst_total = 0;
  for (int i = 0; i < n_params; i++) {
    char name[256];
    const char *param = fa_tensor_name(params[i]);
    size_t numel = fa_tensor_numel(params[i]);
    snprintf(name, sizeof name, "grad_reg.%s", param);
    worst_reg = fmax(worst_reg, compare(name, fa_test_values(grads[i]), fa_tensor_numel(grads[i])));
    /* total = CE part + reg part, from the two reference gradients */
    char ce[256];
    snprintf(ce, sizeof ce, "grad_ce.%s", param);
    double err = fa_test_fixture_err(fixture, 2, (const char *[]){ce, name}, fa_test_values(fa_tensor_grad(params[i])),
                                     numel);
    FA_CHECK(err <= TOL, "total gradient of %s: relative error %.3g", param, err);
    worst_total = fmax(worst_total, err);
  }
  for (int i = 0; i < fa_store_count(store); i++) {
    fa_tensor *t = fa_store_get(store, i);
    if (fa_tensor_requires_grad(t)) continue;
    char name[256];
    snprintf(name, sizeof name, "buffer.%s", fa_tensor_name(t));
    compare(name, fa_test_values(t), fa_tensor_numel(t));
  }
  printf("%d parameter tensors; worst relative error: reg gradient %.3g, total gradient %.3g\n", n_params,
         worst_reg, worst_total);
  printf("arena high-water mark: %.1f MiB\n", fa_arena_high_water(arena) / 1048576.0);
  fa_arena_destroy(arena);
  fa_model_destroy(model);
  fa_st_close(fixture);
  return fa_test_exit();
}
