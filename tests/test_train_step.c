/* One full training step of each attack type against PyTorch float64
 * (scripts/gen_step_fixtures.py): same weights, batch and attack noise (the
 * fixture script reproduces fastadv's Philox stream), then the optimiser
 * step. Per parameter tensor, the gradient and the updated weights must
 * match to relative error <= 1e-4 (1e-3 with GradAlign); the running
 * statistics too. For the cnn (Adam) and PreAct ResNet-18 (SGD), training mode.
 * Then the evaluation PGD with restarts (evaluation mode, the same starts):
 * the same delta is chosen for each example. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adv/attack.h"
#include "core/arena.h"
#include "io/safetensors.h"
#include "nn/model.h"
#include "optim/optim.h"
#include "testlib.h"
#include "train/step.h"

static fa_st_file *fixture;

typedef struct {
  const char *name;
  const char *attack;
  fa_attack_init init;
  int replay;
  float lambda;
  float elle_lambda;  /* ELLE's weight, 0: none */
  bool clip;          /* nfgsm: --nfgsm_clip */
} attack_case;

#define ELLE 1000.0f /* the fixture's ELLE_LAMBDA */
static const attack_case attacks[] = {
    {"fgsm", "fgsm", FA_INIT_ZERO, 1, 0.0f, 0, false},
    {"fgsm_rs", "fgsm", FA_INIT_RANDOM, 1, 0.0f, 0, false},
    {"pgd", "pgd", FA_INIT_RANDOM, 1, 0.0f, 0, false}, /* the fixture's "pgd_iters" steps (3 cnn, 1 ResNet-18) */
    {"free", "fgsm", FA_INIT_ZERO, 2, 0.0f, 0, false},
    {"gradalign", "fgsm", FA_INIT_ZERO, 1, 0.2f, 0, false},
    {"nfgsm", "nfgsm", FA_INIT_RANDOM, 1, 0.0f, 0, false}, /* k = 2, alpha = 1 */
    {"nfgsm_clip", "nfgsm", FA_INIT_RANDOM, 1, 0.0f, 0, true},
    {"fgsm_elle", "fgsm", FA_INIT_ZERO, 1, 0.0f, ELLE, false},
    {"gradalign_elle", "fgsm", FA_INIT_ZERO, 1, 0.2f, ELLE, false},
};

static double compare(const char *key, const float *got, size_t n, double tol) {
  const fa_st_tensor *ref = fa_st_find(fixture, key);
  FA_CHECK(ref && ref->nbytes == n * sizeof(float), "%s: missing or wrong size", key);
  if (!ref || ref->nbytes != n * sizeof(float)) return INFINITY;
  double err = fa_test_rel_err_ff(got, (const float *)ref->data, n);
  FA_CHECK(err <= tol, "%s: relative error %.3g", key, err);
  return err;
}

static void run_case(const char *kind, const fa_model_config *mc, const attack_case *a, float lr, int pgd_iters,
                     fa_tensor *x, const fa_tensor *y) {
  fa_model *model = fa_test_hashed_model(mc);
  fa_store *store = fa_model_store(model);
  fa_optimizer *opt = mc->arch == FA_ARCH_CNN ? fa_adam_create(store, 0.9f, 0.999f, 1e-8f, 5e-4f)
                                              : fa_sgd_create(store, 0.9f, 5e-4f);
  fa_train_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.attack = fa_train_attack_find(a->attack);
  cfg.attack_init = a->init;
  cfg.eps = fa_pixels_of(8);
  cfg.fgsm_alpha = strcmp(a->attack, "nfgsm") == 0 ? 1.0f : 1.25f;
  cfg.nfgsm_k = 2.0f;
  cfg.nfgsm_clip = a->clip;
  cfg.elle_lambda = a->elle_lambda;
  cfg.pgd_alpha_train = fa_pixels_of(2);
  cfg.pgd_train_n_iters = strcmp(a->attack, "pgd") == 0 ? pgd_iters : 0;
  cfg.minibatch_replay = a->replay;
  cfg.grad_align_cos_lambda = a->lambda;
  cfg.batch_size = fa_tensor_dim(x, 0);
  fa_trainer trainer;
  FA_CHECK(fa_trainer_init(&trainer, &cfg, model, NULL) == FA_OK, "trainer");
  fa_step_stats stats = {0};
  for (int r = 0; r < a->replay; r++) {
    fa_arena_mark mark = fa_arena_get_mark(fa_arena_current());
    FA_CHECK(fa_train_step(&trainer, x, y, 1.0f, &stats) == FA_OK, "%s %s step: %s", kind, a->name,
             fa_error_message());
    fa_arena_release(fa_arena_current(), mark);
    if (r + 1 < a->replay) FA_CHECK(fa_optimizer_step(opt, lr) == FA_OK, "optimizer step");
  }
  double tol = a->lambda > 0 || a->elle_lambda > 0 ? 1e-3 : 1e-4, worst_grad = 0;
  char key[256];
  if (a->elle_lambda > 0) {
    snprintf(key, sizeof key, "%s.penalty", a->name);
    float penalty = (float)(stats.elle / stats.n);
    compare(key, &penalty, 1, 1e-3);
  }
  for (int i = 0; i < fa_store_count(store); i++) {
    fa_tensor *t = fa_store_get(store, i);
    if (!fa_tensor_requires_grad(t)) continue;
    snprintf(key, sizeof key, "%s.grad.%s", a->name, fa_tensor_name(t));
    worst_grad = fmax(worst_grad, compare(key, fa_test_values(fa_tensor_grad(t)), fa_tensor_numel(t), tol));
  }
  FA_CHECK(fa_optimizer_step(opt, lr) == FA_OK, "optimizer step");
  double worst_param = 0;
  for (int i = 0; i < fa_store_count(store); i++) {
    fa_tensor *t = fa_store_get(store, i);
    snprintf(key, sizeof key, "%s.%s.%s", a->name, fa_tensor_requires_grad(t) ? "param" : "buffer", fa_tensor_name(t));
    worst_param = fmax(worst_param, compare(key, fa_test_values(t), fa_tensor_numel(t), tol));
  }
  printf("%-9s %-14s worst relative error: gradients %.2g, parameters and buffers %.2g\n", kind, a->name,
         worst_grad, worst_param);
  fa_trainer_free(&trainer);
  fa_optimizer_destroy(opt);
  fa_model_destroy(model);
}

/* PGD-5-3 in evaluation mode from FA_STREAM_EVAL of seed 0, per example (rows 0..N-1). A sign that
 * flips on a gradient within rounding of zero moves one entry by 2 alpha, so
 * entries may differ in a few places; the losses must agree. */
static void check_pgd_restarts(const char *kind, const fa_model_config *mc, fa_tensor *x, const fa_tensor *y) {
  fa_model *model = fa_test_hashed_model(mc);
  fa_rng rng = fa_rng_stream(0, FA_STREAM_EVAL);
  float eps = 8 / 255.0f;
  fa_tensor *loss = NULL, *delta = fa_pgd_restarts(model, x, y, eps, eps / 4.0f, 5, 3, &rng, 0, NULL, &loss);
  FA_CHECK(delta != NULL, "%s pgd_restarts: %s", kind, fa_error_message());
  const fa_st_tensor *ref = fa_st_find(fixture, "pgd_restarts.delta");
  if (delta && ref && ref->nbytes == fa_tensor_numel(delta) * sizeof(float)) {
    const float *r = ref->data, *d = fa_test_values(delta);
    size_t differ = 0;
    for (size_t i = 0; i < fa_tensor_numel(delta); i++) differ += fabsf(d[i] - r[i]) > 1e-6f;
    FA_CHECK(differ * 1000 <= fa_tensor_numel(delta), "%s: %zu of %zu delta entries differ", kind, differ,
             fa_tensor_numel(delta));
    double err = compare("pgd_restarts.loss", fa_test_values(loss), fa_tensor_numel(loss), 1e-4);
    printf("%-9s pgd-5-3    %zu of %zu delta entries differ; loss relative error %.2g\n", kind, differ,
           fa_tensor_numel(delta), err);
  }
  fa_model_destroy(model);
}

static void run_model(const char *kind, const fa_model_config *mc) {
  char path[256];
  snprintf(path, sizeof path, "tests/fixtures/step_%s.safetensors", kind);
  fixture = fa_st_open(fa_test_source_path(path));
  FA_CHECK(fixture != NULL, "%s", fa_error_message());
  if (!fixture) return;
  const fa_st_tensor *xs = fa_st_find(fixture, "x");
  int shape[4] = {(int)xs->shape[0], (int)xs->shape[1], (int)xs->shape[2], (int)xs->shape[3]};
  float *pixels = malloc((size_t)shape[0] * shape[1] * shape[2] * shape[3] * sizeof *pixels);
  FA_CHECK(pixels && fa_st_copy(fixture, "x", FA_DTYPE_F32, 4, xs->shape, pixels) == FA_OK, "x: %s",
           fa_error_message());
  fa_tensor *x = pixels ? fa_tensor_from(4, shape, pixels) : NULL;
  free(pixels);
  int64_t labels64[64];
  fa_st_copy(fixture, "labels", FA_DTYPE_I64, 1, (int64_t[]){shape[0]}, labels64);
  int labels[64];
  for (int i = 0; i < shape[0]; i++) labels[i] = (int)labels64[i];
  fa_tensor *y = fa_labels_from(shape[0], labels, mc->n_classes);
  const char *lr_text = fa_st_meta(fixture, "lr"), *iters_text = fa_st_meta(fixture, "pgd_iters");
  FA_CHECK(lr_text && iters_text, "%s fixture: no \"lr\" or \"pgd_iters\" metadata", kind);
  if (!lr_text || !iters_text) return;
  float lr = (float)atof(lr_text);
  for (size_t a = 0; a < sizeof attacks / sizeof attacks[0]; a++)
    run_case(kind, mc, &attacks[a], lr, atoi(iters_text), x, y);
  check_pgd_restarts(kind, mc, x, y);
  fa_st_close(fixture);
}

int main(void) {
  fa_arena *arena = fa_arena_create((size_t)4 << 30);
  fa_arena_set_current(arena);
  fa_model_config cnn = {.arch = FA_ARCH_CNN, .in_channels = 1, .height = 28, .width = 28, .n_classes = 10,
                         .n_layers = 1, .n_filters = 4};
  fa_model_config resnet = {.arch = FA_ARCH_RESNET18, .in_channels = 3, .height = 32, .width = 32,
                            .n_classes = 10, .resnet_width = 4};
  run_model("cnn", &cnn);
  run_model("resnet18", &resnet);
  fa_arena_destroy(arena);
  return fa_test_exit();
}
