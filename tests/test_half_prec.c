/* --half_prec's precision (core/context.h: every convolution and matrix
 * product with bfloat16 factors and float32 sums, forward and backward, so
 * GradAlign's double backpropagation too) against float64 references, within
 * twice the error of PyTorch's own bfloat16 autocast (torch 1.13,
 * torch.autocast("cpu", dtype=torch.bfloat16)) on the same fixtures, which
 * scripts/gen_half_prec_fixture.py measured; both numbers are below.
 *  - The training step (scripts/gen_step_fixtures.py; cnn with 4 filters and
 *    PreAct ResNet-18 width 4, batch 8, training mode): the parameter
 *    gradients of the fgsm case, CE(f(clip(x + delta))), and of the gradalign
 *    case, + 0.2 (1 - mean cos(g1, g2)), with the attack's delta and
 *    GradAlign's eta taken from the float64 reference
 *    (half_prec_step_<kind>.safetensors): a bfloat16 input gradient within
 *    rounding of zero flips a sign of the FGSM step, which moves delta by
 *    2 alpha in that pixel whatever the precision's error.
 *  - GradAlign on ResNet-18 width 8, batch 4 (scripts/gen_gradalign_fixture.py):
 *    g1, g2, cos, CE, the regulariser, its parameter gradients and the total.
 * Relative error as the other reference tests: sqrt(sum (a - r)^2 / sum r^2),
 * the worst over parameter tensors. Each must also exceed 1e-4, above what
 * float32 gives on these fixtures (test_train_step, test_gradalign): the
 * bfloat16 products are in use. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adv/gradalign.h"
#include "core/arena.h"
#include "core/autograd.h"
#include "core/context.h"
#include "core/ops.h"
#include "core/rng.h"
#include "io/safetensors.h"
#include "nn/model.h"
#include "testlib.h"

#define FLOAT32_BELOW 1e-4 /* float32's errors on these fixtures are below this */

typedef struct {
  const char *what;
  double autocast; /* PyTorch 1.13 autocast's error (scripts/gen_half_prec_fixture.py) */
} bound;

/* the step fixtures: the worst parameter-gradient error */
static const bound step_bounds[2][2] = {
    {{"cnn fgsm", 0.0641}, {"cnn gradalign", 0.0641}},
    {{"resnet18 fgsm", 0.285}, {"resnet18 gradalign", 0.284}},
};
/* the GradAlign fixture */
enum { G1, G2, COS, LOSS_CE, REG, GRAD_REG, GRAD_TOTAL, N_GA };
static const bound ga_bounds[N_GA] = {{"g1", 0.26},       {"g2", 0.252},       {"cos", 0.0189},
                                      {"loss_ce", 0.0022}, {"reg", 0.0351},     {"grad_reg", 0.705},
                                      {"grad_total", 0.285}};

static void check_bound(const bound *b, double err) {
  FA_CHECK(err <= 2 * b->autocast && err > FLOAT32_BELOW,
           "%s: relative error %.3g, not in (%g, %.3g] (twice PyTorch autocast's %.3g)", b->what, err, FLOAT32_BELOW,
           2 * b->autocast, b->autocast);
  printf("%-20s bfloat16 error %.3g   PyTorch autocast %.3g   bound %.3g\n", b->what, err, b->autocast,
         2 * b->autocast);
}

static fa_tensor *load(fa_st_file *f, const char *name, int ndim, const int *shape) {
  int64_t s64[4];
  size_t numel = 1;
  for (int i = 0; i < ndim; i++) s64[i] = shape[i], numel *= (size_t)shape[i];
  float *values = malloc(numel * sizeof *values);
  if (!values || fa_st_copy(f, name, FA_DTYPE_F32, ndim, s64, values) != FA_OK) {
    fprintf(stderr, "%s: %s\n", name, fa_error_message());
    exit(1);
  }
  fa_tensor *t = fa_tensor_from(ndim, shape, values);
  free(values);
  return t;
}

static fa_tensor *load_labels(fa_st_file *f, int n, int n_classes) {
  int64_t l64[64];
  int labels[64];
  if (n > 64 || fa_st_copy(f, "labels", FA_DTYPE_I64, 1, (int64_t[]){n}, l64) != FA_OK) {
    fprintf(stderr, "labels: %s\n", fa_error_message());
    exit(1);
  }
  for (int i = 0; i < n; i++) labels[i] = (int)l64[i];
  return fa_labels_from(n, labels, n_classes);
}

/* the relative error of got against the fixture's key (its float64 values) */
static double error_of(fa_st_file *f, const char *key, const float *got, size_t n) {
  return fa_test_fixture_err(f, 1, (const char *[]){key}, got, n);
}

/* d CE(f(x + d)) / d d at d = 0 (through the clip to [0, 1] when clip), recorded for double backprop */
static fa_tensor *input_grad(fa_model *model, fa_tensor *x, const fa_tensor *y, bool clip) {
  fa_tensor *d = fa_zeros_like(x), *g = NULL;
  fa_tensor_set_requires_grad(d, true);
  fa_tensor *in = clip ? fa_add_clamp(x, d, 0.0f, 1.0f) : fa_add(x, d);
  FA_CHECK(fa_grad(fa_cross_entropy(fa_model_forward(model, in, true), y), &d, 1, true, &g) == FA_OK,
           "input gradient: %s", fa_error_message());
  return g;
}

/* The worst relative error over the parameter gradients, against "<prefix><name>". */
static double worst_param_error(fa_st_file *f, fa_store *store, const char *prefix) {
  double worst = 0;
  for (int i = 0; i < fa_store_count(store); i++) {
    fa_tensor *t = fa_store_get(store, i);
    if (!fa_tensor_requires_grad(t)) continue;
    char key[256];
    snprintf(key, sizeof key, "%s%s", prefix, fa_tensor_name(t));
    worst = fmax(worst, error_of(f, key, fa_test_values(fa_tensor_grad(t)), fa_tensor_numel(t)));
  }
  return worst;
}

/* The step's loss at the reference's delta, its parameter gradients against the step fixture's. */
static void check_step(const char *kind, const fa_model_config *mc, const bound bounds[2]) {
  char path[256];
  snprintf(path, sizeof path, "tests/fixtures/step_%s.safetensors", kind);
  fa_st_file *ref = fa_st_open(fa_test_source_path(path));
  snprintf(path, sizeof path, "tests/fixtures/half_prec_step_%s.safetensors", kind);
  fa_st_file *noise = fa_st_open(fa_test_source_path(path));
  FA_CHECK(ref && noise, "%s", fa_error_message());
  if (!ref || !noise) return;
  const fa_st_tensor *xs = fa_st_find(ref, "x");
  const int shape[4] = {(int)xs->shape[0], (int)xs->shape[1], (int)xs->shape[2], (int)xs->shape[3]};
  fa_tensor *x = load(ref, "x", 4, shape), *delta = load(noise, "delta", 4, shape), *eta = load(noise, "eta", 4, shape);
  fa_tensor *y = load_labels(ref, shape[0], mc->n_classes);
  for (int c = 0; c < 2; c++) {
    const bool grad_align = c == 1;
    fa_model *model = fa_test_hashed_model(mc);
    fa_arena_mark mark = fa_arena_get_mark(fa_arena_current());
    fa_tensor *loss = fa_cross_entropy(fa_model_forward(model, fa_add_clamp(x, delta, 0.0f, 1.0f), true), y);
    if (grad_align) {
      fa_tensor *g1 = input_grad(model, x, y, true), *g2 = input_grad(model, fa_add(x, eta), y, false);
      loss = fa_add(loss, fa_grad_align_reg(g1, g2, 0.2f));
    }
    FA_CHECK(fa_backward(loss) == FA_OK, "%s: backward: %s", bounds[c].what, fa_error_message());
    check_bound(&bounds[c], worst_param_error(ref, fa_model_store(model), grad_align ? "gradalign.grad." : "fgsm.grad."));
    fa_arena_release(fa_arena_current(), mark);
    fa_model_destroy(model);
  }
  fa_st_close(ref);
  fa_st_close(noise);
}

/* test_gradalign's computation in bfloat16 */
static void check_gradalign(void) {
  fa_st_file *f = fa_st_open(fa_test_source_path("tests/fixtures/gradalign_resnet18.safetensors"));
  FA_CHECK(f != NULL, "%s", fa_error_message());
  if (!f) return;
  fa_model_config mc = {.arch = FA_ARCH_RESNET18, .in_channels = 3, .height = 32, .width = 32, .n_classes = 10,
                        .resnet_width = atoi(fa_st_meta(f, "width"))};
  float lam = (float)atof(fa_st_meta(f, "lambda"));
  fa_model *model = fa_test_hashed_model(&mc);
  const int xs[4] = {4, 3, 32, 32};
  fa_tensor *x = load(f, "x", 4, xs), *delta = load(f, "delta", 4, xs), *eta = load(f, "eta", 4, xs);
  fa_tensor *y = load_labels(f, 4, mc.n_classes);
  fa_tensor *g1 = input_grad(model, x, y, false);
  fa_tensor *loss_ce = fa_cross_entropy(fa_model_forward(model, fa_add(x, delta), true), y);
  fa_tensor *g2 = input_grad(model, fa_add(x, eta), y, false);
  fa_tensor *cos = fa_cosine_per_example(g1, g2);
  fa_tensor *reg = fa_scale(fa_affine(fa_mean(cos), -1.0f, 1.0f), lam);
  FA_CHECK(reg != NULL, "reg: %s", fa_error_message());
  if (!reg) return;
  double err[N_GA];
  err[G1] = error_of(f, "g1", fa_test_values(g1), fa_tensor_numel(g1));
  err[G2] = error_of(f, "g2", fa_test_values(g2), fa_tensor_numel(g2));
  err[COS] = error_of(f, "cos", fa_test_values(cos), fa_tensor_numel(cos));
  err[LOSS_CE] = error_of(f, "loss_ce", fa_test_values(loss_ce), 1);
  err[REG] = error_of(f, "reg", fa_test_values(reg), 1);
  fa_store *store = fa_model_store(model);
  FA_CHECK(fa_backward(reg) == FA_OK, "reg backward: %s", fa_error_message());
  err[GRAD_REG] = worst_param_error(f, store, "grad_reg.");
  fa_store_zero_grad(store);
  FA_CHECK(fa_backward(fa_add(loss_ce, reg)) == FA_OK, "backward: %s", fa_error_message());
  /* the total: CE's and the regulariser's reference gradients added */
  err[GRAD_TOTAL] = 0;
  for (int i = 0; i < fa_store_count(store); i++) {
    fa_tensor *t = fa_store_get(store, i);
    if (!fa_tensor_requires_grad(t)) continue;
    char ce[256], part[256];
    snprintf(ce, sizeof ce, "grad_ce.%s", fa_tensor_name(t));
    snprintf(part, sizeof part, "grad_reg.%s", fa_tensor_name(t));
    err[GRAD_TOTAL] = fmax(err[GRAD_TOTAL], fa_test_fixture_err(f, 2, (const char *[]){ce, part},
                                                                fa_test_values(fa_tensor_grad(t)), fa_tensor_numel(t)));
  }
  for (int k = 0; k < N_GA; k++) check_bound(&ga_bounds[k], err[k]);
  fa_model_destroy(model);
  fa_st_close(f);
}

/* The activations ResNet-18 keeps in bfloat16 (docs/PERFORMANCE.md, "bfloat16"): the evaluation-mode
 * forward pass without a graph (each block's output moved down the arena, fa_tensor_keep_only) gives
 * the float32 pass's logits within bfloat16's error, and an op that takes no bfloat16 refuses such a
 * tensor with a message instead of reading its bits as float32. */
static void check_bf16_activations(const fa_model_config *mc) {
  fa_context *ctx = fa_context_current();
  fa_model *model = fa_test_hashed_model(mc);
  const int shape[4] = {8, mc->in_channels, mc->height, mc->width};
  const size_t n = (size_t)8 * mc->in_channels * mc->height * mc->width;
  float *host = malloc(n * sizeof *host), logits[2][80];
  fa_rng rng = fa_rng_stream(17, FA_STREAM_INIT);
  fa_rng_fill_uniform(&rng, host, n, 0.0f, 1.0f);
  fa_arena_mark mark = fa_arena_get_mark(fa_arena_current());
  fa_tensor *x = fa_tensor_from(4, shape, host);
  const bool was = fa_set_grad_enabled(false);
  for (int half = 0; half < 2; half++) {
    fa_context_set_bf16(ctx, half);
    fa_tensor *out = fa_model_forward(model, x, false);
    FA_CHECK(out && fa_tensor_read(out, 0, 80, logits[half]) == FA_OK, "eval forward (bf16 %d): %s", half,
             fa_error_message());
  }
  fa_set_grad_enabled(was);
  const double err = fa_test_rel_err_ff(logits[1], logits[0], 80);
  FA_CHECK(err > FLOAT32_BELOW && err < 0.05, "eval forward in bfloat16 against float32: rel err %.3g", err);
  printf("resnet18 eval forward, bfloat16 activations against float32: rel err %.3g\n", err);

  const int w_shape[4] = {4, mc->in_channels, 3, 3}, b_shape[1] = {4};
  fa_tensor *w = fa_full(4, w_shape, 0.1f), *bias = fa_full(1, b_shape, 0.5f);
  fa_tensor *y = fa_conv2d_as(x, w, NULL, 1, 1, FA_BF16);
  FA_CHECK(y && fa_tensor_dtype(y) == FA_BF16, "conv2d_as bf16: %s", fa_error_message());
  fa_tensor *r = fa_relu(y);
  FA_CHECK(!r && strstr(fa_error_message(), "bfloat16"), "relu of a bfloat16 tensor: %s", fa_error_message());
  fa_error_clear();
  float v;
  FA_CHECK(fa_tensor_read(y, 0, 1, &v) != FA_OK && strstr(fa_error_message(), "bf16"),
           "reading a bfloat16 tensor as float32: %s", fa_error_message());
  fa_error_clear();
  FA_CHECK(!fa_conv2d_as(x, w, bias, 1, 1, FA_BF16) && strstr(fa_error_message(), "bias"),
           "a bfloat16 convolution output with a bias: %s", fa_error_message());
  fa_error_clear();
  fa_context_set_bf16(ctx, true);
  fa_arena_release(fa_arena_current(), mark);
  free(host);
  fa_model_destroy(model);
}

int main(void) {
  fa_arena *arena = fa_arena_create((size_t)4 << 30);
  fa_arena_set_current(arena);
  fa_context_set_bf16(fa_context_current(), true);
  fa_model_config cnn = {.arch = FA_ARCH_CNN, .in_channels = 1, .height = 28, .width = 28, .n_classes = 10,
                         .n_layers = 1, .n_filters = 4};
  fa_model_config resnet = {.arch = FA_ARCH_RESNET18, .in_channels = 3, .height = 32, .width = 32,
                            .n_classes = 10, .resnet_width = 4};
  check_step("cnn", &cnn, step_bounds[0]);
  check_step("resnet18", &resnet, step_bounds[1]);
  check_gradalign();
  check_bf16_activations(&resnet);
  fa_arena_destroy(arena);
  return fa_test_exit();
}
