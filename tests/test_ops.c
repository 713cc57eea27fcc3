/* Every op against PyTorch float64 references (tests/fixtures/ops.safetensors,
 * made by scripts/gen_fixtures.py): the forward value y, the gradient g_i of
 * L1 = sum(y * u), and the second-order quantity h_i = d/dx_i of
 * L2 = sum_i sum(g_i * v_i), computed with fa_grad(create_graph). Errors are
 * L2-norm relative errors, each <= 1e-4. */
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/autograd.h"
#include "core/ops.h"
#include "io/safetensors.h"
#include "testlib.h"

#define TOL 1e-4

static fa_st_file *fixtures;
static const char *current_case;

/* The fixture tensor "<case>.<name>" as a float32 step tensor; NULL if absent. */
static fa_tensor *fx(const char *name) {
  char key[256];
  snprintf(key, sizeof key, "%s.%s", current_case, name);
  const fa_st_tensor *st = fa_st_find(fixtures, key);
  if (!st) return NULL;
  int shape[FA_MAX_DIMS];
  size_t numel = 1;
  for (int i = 0; i < st->ndim; i++) numel *= (size_t)(shape[i] = (int)st->shape[i]);
  float *values = malloc(numel * sizeof *values);
  if (!values || fa_st_copy(fixtures, key, FA_DTYPE_F32, st->ndim, st->shape, values) != FA_OK) {
    fprintf(stderr, "%s\n", fa_error_message());
    exit(1);
  }
  fa_tensor *t = fa_tensor_from(st->ndim, shape, values);
  free(values);
  return t;
}

/* Compares a result with the float64 reference "<case>.<name>". */
static void expect(const char *name, const fa_tensor *got) {
  char key[256];
  snprintf(key, sizeof key, "%s.%s", current_case, name);
  const fa_st_tensor *st = fa_st_find(fixtures, key);
  FA_CHECK(st != NULL, "fixture %s missing", key);
  FA_CHECK(got != NULL, "%s: no result: %s", key, fa_error_message());
  if (!st || !got) return;
  size_t n = st->nbytes / sizeof(double);
  FA_CHECK(n == fa_tensor_numel(got), "%s: %zu values, reference %zu", key, fa_tensor_numel(got), n);
  if (n != fa_tensor_numel(got)) return;
  double err = fa_test_rel_err(fa_test_values(got), (const double *)st->data, n);
  FA_CHECK(err <= TOL, "%s: relative error %.3g", key, err);
}

/* The fixture's labels (floats) as an int32 tensor for the logits (N, K). */
static fa_tensor *labels(const fa_tensor *logits) {
  const float *values = fa_test_values(fx("labels"));
  int n = fa_tensor_dim(logits, 0), *l = malloc((size_t)n * sizeof *l);
  for (int i = 0; i < n; i++) l[i] = (int)values[i];
  fa_tensor *t = fa_labels_from(n, l, fa_tensor_dim(logits, 1));
  free(l);
  return t;
}

/* ---- the cases: y from the inputs x[] ---- */
typedef fa_tensor *(*op_case_fn)(fa_tensor **x);

static fa_tensor *add(fa_tensor **x) { return fa_add(x[0], x[1]); }
static fa_tensor *sub(fa_tensor **x) { return fa_sub(x[0], x[1]); }
static fa_tensor *mul(fa_tensor **x) { return fa_mul(x[0], x[1]); }
static fa_tensor *div_(fa_tensor **x) { return fa_div(x[0], x[1]); }
static fa_tensor *affine(fa_tensor **x) { return fa_affine(x[0], 2.5f, -0.3f); }
static fa_tensor *relu(fa_tensor **x) { return fa_relu(x[0]); }
static fa_tensor *sqrt_(fa_tensor **x) { return fa_sqrt(x[0]); }
static fa_tensor *exp_(fa_tensor **x) { return fa_exp(x[0]); }
static fa_tensor *clamp(fa_tensor **x) { return fa_clamp(x[0], -0.5f, 0.5f); }
static fa_tensor *sign(fa_tensor **x) { return fa_sign(x[0]); }
static fa_tensor *sum_channel(fa_tensor **x) { return fa_sum_to(x[0], 4, (int[]){1, 3, 1, 1}); }
static fa_tensor *sum_example(fa_tensor **x) { return fa_sum_to(x[0], 4, (int[]){2, 1, 1, 1}); }
static fa_tensor *sum_rows(fa_tensor **x) { return fa_sum_to(x[0], 2, (int[]){1, 7}); }
static fa_tensor *mean_all(fa_tensor **x) { return fa_mean(x[0]); }
static fa_tensor *expand_channel(fa_tensor **x) { return fa_expand(x[0], 4, (int[]){2, 3, 4, 5}); }
static fa_tensor *reshape(fa_tensor **x) { return fa_reshape(x[0], 2, (int[]){6, 20}); }
static fa_tensor *select_rows(fa_tensor **x) { return fa_select_rows(x[0], 4, (int[]){4, 1, 1, 3}); }
static fa_tensor *square(fa_tensor **x) { return fa_mul(x[0], x[0]); }
static fa_tensor *matmul_nn(fa_tensor **x) { return fa_matmul(x[0], x[1], false, false); }
static fa_tensor *matmul_tn(fa_tensor **x) { return fa_matmul(x[0], x[1], true, false); }
static fa_tensor *matmul_nt(fa_tensor **x) { return fa_matmul(x[0], x[1], false, true); }
static fa_tensor *matmul_tt(fa_tensor **x) { return fa_matmul(x[0], x[1], true, true); }
static fa_tensor *linear(fa_tensor **x) { return fa_linear(x[0], x[1], x[2]); }
static fa_tensor *conv_s1p1(fa_tensor **x) { return fa_conv2d(x[0], x[1], NULL, 1, 1); }
static fa_tensor *conv_s2p1(fa_tensor **x) { return fa_conv2d(x[0], x[1], NULL, 2, 1); }
static fa_tensor *conv_k1s2(fa_tensor **x) { return fa_conv2d(x[0], x[1], NULL, 2, 0); }
static fa_tensor *conv_k5p2(fa_tensor **x) { return fa_conv2d(x[0], x[1], NULL, 1, 2); }
static fa_tensor *conv_k3p0(fa_tensor **x) { return fa_conv2d(x[0], x[1], NULL, 1, 0); }
static fa_tensor *conv_bias(fa_tensor **x) { return fa_conv2d(x[0], x[1], x[2], 1, 1); }
static fa_tensor *conv_grad_input(fa_tensor **x) { return fa_conv2d_grad_input(x[0], x[1], 7, 7, 2, 1); }
static fa_tensor *conv_grad_weight(fa_tensor **x) { return fa_conv2d_grad_weight(x[0], x[1], 3, 2, 1); }
static fa_tensor *avg_pool2(fa_tensor **x) { return fa_avg_pool(x[0], 2); }
static fa_tensor *avg_pool4(fa_tensor **x) { return fa_avg_pool(x[0], 4); }
static fa_tensor *avg_pool_adjoint(fa_tensor **x) { return fa_avg_pool_adjoint(x[0], 2); }
static fa_tensor *max_pool2(fa_tensor **x) { return fa_max_pool(x[0], 2); }
static fa_tensor *log_softmax(fa_tensor **x) { return fa_log_softmax(x[0]); }
static fa_tensor *softmax(fa_tensor **x) { return fa_softmax(x[0]); }
static fa_tensor *cross_entropy(fa_tensor **x) { return fa_cross_entropy(x[0], labels(x[0])); }
static fa_tensor *cross_entropy_per_example(fa_tensor **x) {
  return fa_cross_entropy_per_example(x[0], labels(x[0]));
}
static fa_tensor *running_mean, *running_var;
static fa_tensor *batch_norm_train(fa_tensor **x) {
  running_mean = fa_zeros(1, (int[]){3});
  running_var = fa_full(1, (int[]){3}, 1.0f);
  return fa_batch_norm(x[0], x[1], x[2], running_mean, running_var, true, 0.1f, 1e-5f);
}
static fa_tensor *batch_norm_eval(fa_tensor **x) {
  return fa_batch_norm(x[0], x[1], x[2], fx("running_mean"), fx("running_var"), false, 0.1f, 1e-5f);
}
static fa_tensor *batch_norm_relu_train(fa_tensor **x) {
  running_mean = fa_zeros(1, (int[]){3});
  running_var = fa_full(1, (int[]){3}, 1.0f);
  return fa_batch_norm_relu(x[0], x[1], x[2], running_mean, running_var, true, 0.1f, 1e-5f);
}
static fa_tensor *channel_affine(fa_tensor **x) { return fa_channel_affine(x[0], x[1], x[2]); }
static fa_tensor *channel_affine_relu(fa_tensor **x) { return fa_channel_affine_relu(x[0], x[1], x[2]); }
static fa_tensor *channel_variance(fa_tensor **x) { return fa_channel_variance(x[0], x[1]); }
static fa_tensor *cosine(fa_tensor **x) { return fa_cosine_per_example(x[0], x[1]); }
static fa_tensor *add_clamp(fa_tensor **x) { return fa_add_clamp(x[0], x[1], 0.0f, 1.0f); }
static fa_tensor *row_dot(fa_tensor **x) { return fa_row_dot(x[0], x[1]); }
static fa_tensor *row_combine(fa_tensor **x) { return fa_row_combine(x[0], x[1], x[2], x[3]); }

static const struct {
  const char *name;
  op_case_fn fn;
} cases[] = {
    {"add_same", add}, {"add_channel", add}, {"add_row", add}, {"sub_example", sub},
    {"mul_same", mul}, {"mul_channel", mul}, {"mul_scalar", mul}, {"div_channel", div_},
    {"div_same", div_}, {"affine", affine}, {"relu", relu}, {"sqrt", sqrt_},
    {"exp", exp_}, {"clamp", clamp}, {"sign", sign}, {"sum_channel", sum_channel},
    {"sum_example", sum_example}, {"sum_rows", sum_rows}, {"mean_all", mean_all},
    {"expand_channel", expand_channel}, {"reshape", reshape}, {"select_rows", select_rows},
    {"square", square}, {"matmul_nn", matmul_nn}, {"matmul_tn", matmul_tn}, {"matmul_nt", matmul_nt},
    {"matmul_tt", matmul_tt}, {"linear", linear}, {"conv_s1p1", conv_s1p1}, {"conv_s2p1", conv_s2p1},
    {"conv_k1s2", conv_k1s2}, {"conv_k5p2", conv_k5p2}, {"conv_k3p0", conv_k3p0}, {"conv_bias", conv_bias},
    {"conv_grad_input", conv_grad_input}, {"conv_grad_weight", conv_grad_weight}, {"avg_pool2", avg_pool2},
    {"avg_pool4", avg_pool4}, {"avg_pool_adjoint", avg_pool_adjoint}, {"max_pool2", max_pool2},
    {"log_softmax", log_softmax}, {"softmax", softmax}, {"cross_entropy", cross_entropy},
    {"cross_entropy_per_example", cross_entropy_per_example}, {"batch_norm_train", batch_norm_train},
    {"batch_norm_eval", batch_norm_eval}, {"batch_norm_relu_train", batch_norm_relu_train},
    {"channel_affine", channel_affine}, {"channel_affine_relu", channel_affine_relu},
    {"channel_variance", channel_variance}, {"cosine", cosine}, {"add_clamp", add_clamp},
    {"row_dot", row_dot}, {"row_combine", row_combine},
};

static void run_case(const char *name, op_case_fn fn) {
  current_case = name;
  fa_tensor *x[4] = {0};
  int n = 0;
  for (; n < 4; n++) {
    char key[8];
    snprintf(key, sizeof key, "x%d", n);
    if (!(x[n] = fx(key))) break;
    fa_tensor_set_requires_grad(x[n], true);
  }
  fa_tensor *y = fn(x);
  expect("y", y);
  if (!y) return;
  if (strcmp(name, "batch_norm_train") == 0 || strcmp(name, "batch_norm_relu_train") == 0) {
    expect("running_mean", running_mean);
    expect("running_var", running_var);
  }
  char key[256];
  snprintf(key, sizeof key, "%s.g0", name);
  bool has_grad = fa_st_find(fixtures, key) != NULL;
  FA_CHECK(fa_tensor_requires_grad(y) == has_grad, "%s: requires_grad %d, reference %d", name,
           fa_tensor_requires_grad(y), has_grad);
  if (!has_grad || !fa_tensor_requires_grad(y)) return;
  fa_tensor *l1 = fa_sum(fa_mul(y, fa_reshape(fx("u"), fa_tensor_ndim(y), fa_tensor_shape(y))));
  fa_tensor *g[4], *h[4];
  FA_CHECK(fa_grad(l1, x, n, true, g) == FA_OK, "%s: grad: %s", name, fa_error_message());
  fa_tensor *l2 = NULL;
  for (int i = 0; i < n; i++) {
    char gname[8], vname[8];
    snprintf(gname, sizeof gname, "g%d", i);
    snprintf(vname, sizeof vname, "v%d", i);
    expect(gname, g[i]);
    fa_tensor *term = fa_sum(fa_mul(g[i], fx(vname)));
    l2 = l2 ? fa_add(l2, term) : term;
  }
  if (fa_tensor_requires_grad(l2)) {
    FA_CHECK(fa_grad(l2, x, n, false, h) == FA_OK, "%s: second grad: %s", name, fa_error_message());
  } else {
    for (int i = 0; i < n; i++) h[i] = fa_zeros_like(x[i]);
  }
  for (int i = 0; i < n; i++) {
    char hname[8];
    snprintf(hname, sizeof hname, "h%d", i);
    expect(hname, h[i]);
  }
}

int main(void) {
  fixtures = fa_st_open(fa_test_source_path("tests/fixtures/ops.safetensors"));
  if (!fixtures) {
    fprintf(stderr, "%s\n", fa_error_message());
    return 1;
  }
  fa_arena *arena = fa_arena_create((size_t)1 << 30);
  fa_arena_set_current(arena);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fa_arena_mark mark = fa_arena_get_mark(arena);
    int before = fa_test_failures;
    run_case(cases[i].name, cases[i].fn);
    printf("%-28s %s\n", cases[i].name, fa_test_failures == before ? "ok" : "FAILED");
    fa_arena_release(arena, mark);
  }
  /* every case in the fixture file has a C counterpart */
  int fixture_cases = 0;
  for (int i = 0; i < fa_st_count(fixtures); i++) {
    const char *key = fa_st_get(fixtures, i)->name;
    fixture_cases += strlen(key) > 3 && strcmp(strrchr(key, '.'), ".y") == 0;
  }
  FA_CHECK(fixture_cases == (int)(sizeof cases / sizeof cases[0]), "%d fixture cases, %zu in the test",
           fixture_cases, sizeof cases / sizeof cases[0]);
  fa_arena_destroy(arena);
  fa_st_close(fixtures);
  return fa_test_exit();
}
