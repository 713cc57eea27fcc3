/* APGD (src/adv/apgd.c, src/adv/dlr.c; docs/AUTOATTACK.md) against PyTorch
 * float64 references written from the paper (scripts/gen_apgd_fixtures.py):
 *
 * - the DLR and targeted DLR losses and the gradients of their sums in the
 *   logits (relative error <= 1e-5), at 10 classes and at the fewest each
 *   takes (3, 4); fewer classes are refused with a message;
 * - the checkpoints w_j for 1 to 1,000 iterations, exactly; the two
 *   conditions that halve the step at a checkpoint, case by case;
 * - one 20-iteration run per loss (CE, DLR, targeted DLR) of a cnn from the
 *   same start: every iterate within 1e-5 of the reference's (absolute;
 *   eps = 2/255) but at most 2 pixels of the 4 x 784 (a gradient component
 *   whose sign float32 cannot resolve), its loss within 1e-4 (relative),
 *   the step sizes and the broken examples exactly, the best and
 *   adversarial points as the iterates;
 * - the attack on a batch: an example's result does not depend on its batch;
 *   too many target classes are refused;
 * - on the Fashion-MNIST cnn of tests/fixtures/plain_cnn4_fmnist.safetensors
 *   (256 test images): eps 0 gives the clean accuracy exactly for each loss;
 *   APGD-CE with 10 iterations leaves at most the accuracy PGD-10 leaves, and
 *   every APGD leaves less than the clean accuracy;
 * - `fastadv eval --attack=apgd-ce` prints those very numbers; --help lists
 *   the attacks with their defaults; too few classes (cifar10_binary for
 *   the DLR losses) and too many target classes are refused, exit 2. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adv/apgd.h"
#include "adv/attack.h"
#include "adv/dlr.h"
#include "core/arena.h"
#include "core/autograd.h"
#include "core/ops.h"
#include "train/checkpoint.h"
#include "io/safetensors.h"
#include "testlib.h"
#include "train/config.h"
#include "train/run.h"

#define FIXTURE "tests/fixtures/apgd.safetensors"
#define FMNIST "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
#define PLAIN "tests/fixtures/plain_cnn4_fmnist.safetensors"
#define N_FMNIST 256
#define N_ITER 20  /* of the reference runs */

static fa_st_file *fixture;

/* The fixture's tensor `name` as n floats (F32) or ints (I32, U8), or NULL. */
static const void *ref(const char *name, size_t n, size_t elem) {
  const fa_st_tensor *t = fa_st_find(fixture, name);
  FA_CHECK(t && t->nbytes == n * elem, "%s: missing or of the wrong size", name);
  return t && t->nbytes == n * elem ? t->data : NULL;
}

static void check_loss_case(const char *name, int n, int k, bool targeted) {
  char key[128];
  snprintf(key, sizeof key, "dlr.%s.logits", name);
  const float *z = ref(key, (size_t)n * k, 4);
  snprintf(key, sizeof key, "dlr.%s.labels", name);
  const int *y = ref(key, n, 4);
  snprintf(key, sizeof key, "dlr.%s.targets", name);
  const int *t = targeted ? ref(key, n, 4) : NULL;
  snprintf(key, sizeof key, "dlr.%s.loss", name);
  const float *loss_ref = ref(key, n, 4);
  snprintf(key, sizeof key, "dlr.%s.grad", name);
  const float *grad_ref = ref(key, (size_t)n * k, 4);
  if (!z || !y || !loss_ref || !grad_ref || (targeted && !t)) return;
  fa_tensor *logits = fa_tensor_from(2, (int[]){n, k}, z), *grad = NULL;
  fa_tensor_set_requires_grad(logits, true);
  fa_tensor *labels = fa_labels_from(n, y, k);
  fa_tensor *loss = targeted ? fa_dlr_targeted_loss(logits, labels, t) : fa_dlr_loss(logits, labels);
  FA_CHECK(loss && fa_tensor_numel(loss) == (size_t)n, "%s: %s", name, fa_error_message());
  if (!loss) return;
  FA_CHECK(fa_grad(fa_sum(loss), &logits, 1, false, &grad) == FA_OK, "%s: %s", name, fa_error_message());
  double e_loss = fa_test_rel_err_ff(fa_test_values(loss), loss_ref, n);
  double e_grad = fa_test_rel_err_ff(fa_test_values(grad), grad_ref, (size_t)n * k);
  FA_CHECK(e_loss <= 1e-5 && e_grad <= 1e-5, "%s: relative error of the loss %.3g, of its gradient %.3g", name,
           e_loss, e_grad);
}

static void check_losses(void) {
  check_loss_case("dlr10", 8, 10, false);
  check_loss_case("dlr3", 5, 3, false);
  check_loss_case("targeted10", 6, 10, true);
  check_loss_case("targeted4", 6, 4, true);
  /* fewer classes than each loss takes */
  fa_tensor *two = fa_zeros(2, (int[]){3, 2}), *three = fa_zeros(2, (int[]){3, 3});
  int t[3] = {1, 0, 2};
  fa_tensor *y = fa_labels_from(3, (int[]){0, 1, 0}, 2);
  FA_CHECK(!fa_dlr_loss(two, y) && strstr(fa_error_message(), "at least 3 classes"), "DLR of 2 classes: %s",
           fa_error_message());
  FA_CHECK(!fa_dlr_targeted_loss(three, y, t) && strstr(fa_error_message(), "at least 4 classes"),
           "targeted DLR of 3 classes: %s", fa_error_message());
  /* labels made for more classes than the logits have */
  FA_CHECK(!fa_dlr_loss(three, fa_labels_from(3, (int[]){0, 3, 0}, 4)) &&
               strstr(fa_error_message(), "label 3 of example 1"),
           "label outside: %s", fa_error_message());
}

static void check_schedule(void) {
  const int n_iters[] = {1, 2, 3, 5, 10, 22, 50, 100, 250, 1000};
  for (size_t c = 0; c < sizeof n_iters / sizeof *n_iters; c++) {
    int w[FA_APGD_MAX_CHECKPOINTS], count = fa_apgd_checkpoints(n_iters[c], w);
    char key[64];
    snprintf(key, sizeof key, "schedule.%d", n_iters[c]);
    const fa_st_tensor *t = fa_st_find(fixture, key);
    FA_CHECK(t && t->nbytes == (size_t)count * 4, "%s: %d checkpoints, the reference %zu", key, count,
             t ? t->nbytes / 4 : 0);
    if (t && t->nbytes == (size_t)count * 4)
      FA_CHECK(memcmp(w, t->data, t->nbytes) == 0, "%s: checkpoints differ from the reference", key);
  }
  /* the standard 100 iterations: the paper's and the official code's */
  int w[FA_APGD_MAX_CHECKPOINTS], expected[] = {22, 41, 57, 70, 80, 87, 93, 99};
  FA_CHECK(fa_apgd_checkpoints(100, w) == 8 && memcmp(w, expected, sizeof expected) == 0, "100 iterations");
  FA_CHECK(fa_apgd_checkpoints(0, w) == 0, "no iterations, no checkpoints");

  /* the two conditions, from the paper's definitions (rho = 0.75) */
  const struct {
    int raised, window;
    bool halved_last;
    float best, best_at_last;
    bool halves;
  } cases[] = {
      {16, 22, false, 2.0f, 1.0f, true},   /* condition 1: 16 < 16.5 */
      {17, 22, false, 2.0f, 1.0f, false},  /* neither: 17 rises, the best rose */
      {3, 4, false, 2.0f, 1.0f, false},    /* 3 of 4 is not fewer than 0.75 of 4 */
      {2, 4, true, 2.0f, 1.0f, true},      /* condition 1 after a halving */
      {3, 4, false, 1.0f, 1.0f, true},     /* condition 2: not halved last time, the best as it was */
      {3, 4, true, 1.0f, 1.0f, false},     /* not condition 2: halved last time */
      {1, 1, false, 1.5f, 1.0f, false},    /* a window of one step that rose, the best rose */
      {0, 1, true, 1.5f, 1.0f, true},      /* a window of one step that did not rise */
  };
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
    FA_CHECK(fa_apgd_halves(cases[c].raised, cases[c].window, cases[c].halved_last, cases[c].best,
                            cases[c].best_at_last) == cases[c].halves,
             "case %zu: %d of %d rises, halved last %d, best %g (was %g)", c, cases[c].raised, cases[c].window,
             cases[c].halved_last, cases[c].best, cases[c].best_at_last);
}

static fa_model *fixture_cnn(void) {
  fa_model_config mc = {FA_ARCH_CNN, 1, 28, 28, 10, 1, 4, 0};
  fa_model *model = fa_model_create(&mc);
  fa_store *store = fa_model_store(model);
  for (int i = 0; i < fa_store_count(store); i++)
    if (fa_tensor_requires_grad(fa_store_get(store, i))) fa_test_fill_hashed(fa_store_get(store, i));
  return model;
}

/* A pixel of an iterate may be off by more than this where the sign of its
 * gradient component is below float32's resolution (it was once, in the
 * DLR run, from iteration 12 on: a step of eps/16 the other way). */
#define PIXEL_TOL 1e-5
#define MAX_PIXELS_OFF 2

typedef struct {
  const char *loss;
  int n;
  size_t row;
  bool *off;              /* (n * row) the pixel was off by more than PIXEL_TOL in some iterate */
  double worst_delta, worst_loss, worst_step;
} trace_check;

/* Pixels off by more than PIXEL_TOL, marked in off; returns the largest difference. */
static double mark_off(const float *a, const float *b, size_t n, bool *off) {
  double worst = 0;
  for (size_t i = 0; i < n; i++) {
    double e = fabs((double)a[i] - b[i]);
    off[i] |= e > PIXEL_TOL;
    worst = fmax(worst, e);
  }
  return worst;
}

static int count_off(const bool *off, size_t n) {
  int count = 0;
  for (size_t i = 0; i < n; i++) count += off[i];
  return count;
}

static void on_iterate(void *ctx, int it, const fa_tensor *delta, const float *loss, const float *step) {
  trace_check *c = ctx;
  char key[64];
  snprintf(key, sizeof key, "run.%s.delta", c->loss);
  const float *d = ref(key, N_ITER * c->n * c->row, 4);
  snprintf(key, sizeof key, "run.%s.loss", c->loss);
  const float *l = ref(key, N_ITER * (size_t)c->n, 4);
  snprintf(key, sizeof key, "run.%s.step", c->loss);
  const float *s = ref(key, N_ITER * (size_t)c->n, 4);
  if (!d || !l || !s) return;
  size_t per = c->n * c->row;
  c->worst_delta = fmax(c->worst_delta, mark_off(fa_test_values(delta), d + it * per, per, c->off));
  c->worst_loss = fmax(c->worst_loss, fa_test_rel_err_ff(loss, l + (size_t)it * c->n, c->n));
  for (int i = 0; i < c->n; i++)
    c->worst_step = fmax(c->worst_step, fabs(step[i] - s[it * c->n + i]) / s[it * c->n + i]);
}

static void check_runs(void) {
  enum { N = 4, ROW = 784 };
  fa_model *model = fixture_cnn();
  const float *x = ref("run.x", N * ROW, 4), *start = ref("run.start", N * ROW, 4);
  const int *y = ref("run.labels", N, 4), *t = ref("run.targets", N, 4);
  float eps = 2.0f / 255.0f;
  FA_CHECK(fabsf(eps - strtof(fa_st_meta(fixture, "eps"), NULL)) < 1e-9f &&
               atoi(fa_st_meta(fixture, "n_iter")) == N_ITER, "the fixture's eps and iterations");
  const struct {
    const char *name;
    fa_apgd_loss loss;
  } cases[] = {{"ce", FA_APGD_CE}, {"dlr", FA_APGD_DLR}, {"targeted", FA_APGD_DLR_TARGETED}};
  for (size_t c = 0; x && start && y && t && c < 3; c++) {
    fa_arena_mark mark = fa_arena_get_mark(fa_arena_current());
    fa_apgd_config config = {.loss = cases[c].loss, .eps = eps, .n_iter = N_ITER, .n_restarts = 1};
    bool off[N * ROW] = {false};
    trace_check tc = {cases[c].name, N, ROW, off, 0, 0, 0};
    fa_apgd_trace trace = {on_iterate, &tc};
    fa_apgd_result res;
    fa_tensor *xt = fa_tensor_from(4, (int[]){N, 1, 28, 28}, x), *st = fa_tensor_from(4, (int[]){N, 1, 28, 28}, start);
    fa_status status = fa_apgd_run(model, &config, xt, fa_labels_from(N, y, 10),
                                   cases[c].loss == FA_APGD_DLR_TARGETED ? t : NULL, st, &trace, &res);
    FA_CHECK(status == FA_OK, "%s run: %s", cases[c].name, fa_error_message());
    if (status != FA_OK) continue;
    int pixels_off = count_off(off, N * ROW);
    FA_CHECK(pixels_off <= MAX_PIXELS_OFF && tc.worst_delta <= eps && tc.worst_loss <= 1e-4 && tc.worst_step <= 1e-6,
             "%s: %d pixels of the iterates off by more than %g (at most %g), losses by %.3g (relative), step "
             "sizes by %.3g", cases[c].name, pixels_off, PIXEL_TOL, tc.worst_delta, tc.worst_loss, tc.worst_step);
    char key[64];
    snprintf(key, sizeof key, "run.%s.broken", cases[c].name);
    const uint8_t *broken = ref(key, N, 1);
    for (int i = 0; broken && i < N; i++)
      FA_CHECK(res.broken[i] == (broken[i] != 0), "%s: example %d broken %d, the reference %d", cases[c].name, i,
               res.broken[i], broken[i]);
    snprintf(key, sizeof key, "run.%s.adv", cases[c].name);
    const float *adv = ref(key, N * ROW, 4);
    snprintf(key, sizeof key, "run.%s.best", cases[c].name);
    const float *best = ref(key, N * ROW, 4);
    snprintf(key, sizeof key, "run.%s.best_loss", cases[c].name);
    const float *best_loss = ref(key, N, 4);
    if (adv && best && best_loss) {
      memset(off, 0, sizeof off);
      mark_off(fa_test_values(res.adv), adv, N * ROW, off);
      mark_off(fa_test_values(res.best), best, N * ROW, off);
      FA_CHECK(count_off(off, N * ROW) <= MAX_PIXELS_OFF && fa_test_rel_err_ff(res.best_loss, best_loss, N) <= 1e-4,
               "%s: %d pixels of the adversarial and best points off, best losses by %.3g", cases[c].name,
               count_off(off, N * ROW), fa_test_rel_err_ff(res.best_loss, best_loss, N));
    }
    printf("%s run: %d pixels of the iterates off by more than %g (at most %.2g), losses within %.2g, step sizes "
           "%.2g of the reference\n", cases[c].name, pixels_off, PIXEL_TOL, tc.worst_delta, tc.worst_loss,
           tc.worst_step);
    fa_arena_release(fa_arena_current(), mark);
  }
  fa_model_destroy(model);
}

/* The attack on a batch: the same result for an example alone (at its
 * index) as in its batch; refusals. */
static void check_batch_independence(void) {
  enum { N = 4, ROW = 784 };
  fa_model *model = fixture_cnn();
  const float *x = ref("run.x", N * ROW, 4);
  const int *labels = ref("run.labels", N, 4);
  if (!x || !labels) return;
  fa_tensor *y = fa_labels_from(N, labels, 10);
  fa_rng stream = fa_rng_stream(3, FA_STREAM_EVAL);
  fa_apgd_config c = {.loss = FA_APGD_DLR_TARGETED, .eps = 4.0f / 255.0f, .n_iter = 5, .n_restarts = 2,
                      .n_target_classes = 3};
  bool robust[N], robust_one;
  fa_tensor *xt = fa_tensor_from(4, (int[]){N, 1, 28, 28}, x);
  const long index[N] = {100, 101, 102, 103};
  fa_tensor *all = fa_apgd(model, &c, xt, y, &stream, index, robust);
  FA_CHECK(all, "%s", fa_error_message());
  for (int i = 0; all && i < N; i++) {
    fa_tensor *one = fa_apgd(model, &c, fa_tensor_from(4, (int[]){1, 1, 28, 28}, x + i * ROW),
                             fa_labels_from(1, labels + i, 10), &stream, index + i, &robust_one);
    FA_CHECK(one && robust_one == robust[i] &&
                 memcmp(fa_test_values(one), fa_test_values(all) + i * ROW, ROW * sizeof(float)) == 0,
             "example %d alone: robust %d (in the batch %d), or another delta", i, one ? robust_one : -1, robust[i]);
  }
  c.n_target_classes = 10;
  FA_CHECK(!fa_apgd(model, &c, xt, y, &stream, NULL, NULL) && strstr(fa_error_message(), "1 to 9 target classes"),
           "10 targets of 10 classes: %s", fa_error_message());
  fa_model_destroy(model);
  fa_model_config two = {FA_ARCH_CNN, 1, 28, 28, 2, 1, 2, 0};
  model = fa_model_create(&two);
  fa_tensor *y2 = fa_labels_from(N, (int[N]){0}, 2);
  c = (fa_apgd_config){.loss = FA_APGD_DLR, .eps = 0.1f, .n_iter = 5, .n_restarts = 1};
  FA_CHECK(!fa_apgd(model, &c, xt, y2, &stream, NULL, NULL) && strstr(fa_error_message(), "at least 3 classes"),
           "APGD-DLR of 2 classes: %s", fa_error_message());
  fa_model_destroy(model);
}

/* Correctly classified examples of n after APGD (config c), -1 on failure. */
static int apgd_correct(fa_model *model, const fa_apgd_config *c, fa_tensor *x, const fa_tensor *y) {
  fa_rng stream = fa_rng_stream(0, FA_STREAM_EVAL);
  bool robust[N_FMNIST];
  fa_tensor *delta = fa_apgd(model, c, x, y, &stream, NULL, robust);
  FA_CHECK(delta, "%s: %s", fa_apgd_name(c->loss), fa_error_message());
  if (!delta) return -1;
  bool was = fa_set_grad_enabled(false);
  int correct = fa_count_correct(fa_model_forward(model, fa_add(x, delta), false), y), flagged = 0;
  fa_set_grad_enabled(was);
  for (int i = 0; i < fa_tensor_dim(x, 0); i++) flagged += robust[i];
  FA_CHECK(flagged == correct, "%s: %d flagged robust, %d classified correctly at x + delta",
           fa_apgd_name(c->loss), flagged, correct);
  return correct;
}

static char out[1 << 16], err[1 << 16];

/* `fastadv eval --attack=apgd-ce` on the same model and images as
 * check_trained_model prints what fa_apgd gave there (clean and APGD-CE-10
 * correct of N_FMNIST); the attacks and their defaults in --help; data sets
 * with too few classes and too many targets refused (exit 2). */
static void check_command_line(int clean, int apgd_ce) {
  const char *dir = fa_test_tmpdir("test_apgd");
  char args[1024];
  snprintf(args, sizeof args, "eval --model_path=%s --model=cnn --n_filters_cnn=4 --dataset=fmnist --n_eval=%d "
           "--attack=apgd-ce --attack_iters=10 --eps=4", fa_test_source_path(PLAIN), N_FMNIST);
  int rc = fa_test_run_fastadv(args, dir, out, err, sizeof out);
  const char *at = strstr(out, "initial accuracy: ");
  double printed_clean = -1, printed_robust = -1;
  if (at) sscanf(at, "initial accuracy: %lf%%\nrobust accuracy after APGD-CE: %lf%%", &printed_clean, &printed_robust);
  FA_CHECK(rc == 0 && fabs(printed_clean - 100.0 * clean / N_FMNIST) < 0.006 &&
               fabs(printed_robust - 100.0 * apgd_ce / N_FMNIST) < 0.006 && strstr(out, "apgd-ce-10-1 acc"),
           "eval --attack=apgd-ce: exit %d, printed %g%% and %g%%, expected %d and %d of %d\n%s%s", rc,
           printed_clean, printed_robust, clean, apgd_ce, N_FMNIST, out, err);

  rc = fa_test_run_fastadv("eval --help", dir, out, err, sizeof out);
  const char *ce = strstr(out, "  apgd_ce "), *t = strstr(out, "  apgd_t ");
  FA_CHECK(rc == 0 && ce && strstr(ce, "Defaults: --attack_iters=100") && strstr(out, "  apgd_dlr ") && t &&
               strstr(t, "--n_target_classes=9") && strstr(out, "--n_target_classes=N"),
           "eval --help lists the APGD attacks and their defaults:\n%s", out);

  const struct {
    const char *flags, *message;
  } refused[] = {
      {"--dataset=cifar10_binary --attack=apgd-dlr", "APGD-DLR needs at least 3 classes; the data set has 2"},
      {"--dataset=cifar10_binary --attack=apgd_t", "APGD-T needs at least 4 classes; the data set has 2"},
      {"--dataset=fmnist --attack=apgd-t --n_target_classes=10", "--n_target_classes=10: APGD-T targets"},
  };
  for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
    snprintf(args, sizeof args, "eval --model_path=%s --model=cnn --n_filters_cnn=4 %s", fa_test_source_path(PLAIN),
             refused[i].flags);
    rc = fa_test_run_fastadv(args, dir, out, err, sizeof out);
    FA_CHECK(rc == 2 && strstr(err, refused[i].message) && !strstr(out, "acc"), "%s: exit %d, %s", refused[i].flags,
             rc, err);
  }
}

static void check_trained_model(void) {
  if (access(FMNIST, R_OK) != 0) {
    printf("skipped the Fashion-MNIST checks: dataset-fashion-mnist is not installed\n");
    return;
  }
  fa_dataset ds = {0};
  FA_CHECK(fa_dataset_load("fmnist", "test", NULL, &ds) == FA_OK, "%s", fa_error_message());
  if (ds.n < N_FMNIST) return;
  fa_eval_config ec;
  fa_eval_config_defaults(&ec);
  snprintf(ec.model, sizeof ec.model, "cnn");
  ec.n_filters_cnn = 4;
  fa_checkpoint *ckpt = fa_ckpt_open(fa_test_source_path(PLAIN));
  fa_model *model = ckpt ? fa_eval_load_model(&ec, ckpt, &ds, "") : NULL;
  FA_CHECK(model, "%s", fa_error_message());
  float *xs = malloc(sizeof(float) * N_FMNIST * 784);
  int labels[N_FMNIST];
  for (int i = 0; i < N_FMNIST * 784; i++) xs[i] = ds.images[i] / 255.0f;
  for (int i = 0; i < N_FMNIST; i++) labels[i] = ds.labels[i];
  fa_tensor *x = fa_tensor_from(4, (int[]){N_FMNIST, 1, 28, 28}, xs), *y = fa_labels_from(N_FMNIST, labels, 10);
  bool was = fa_set_grad_enabled(false);
  int clean = model ? fa_count_correct(fa_model_forward(model, x, false), y) : -1;
  fa_set_grad_enabled(was);
  for (fa_apgd_loss loss = FA_APGD_CE; model && loss <= FA_APGD_DLR_TARGETED; loss++) {
    fa_apgd_config c = {.loss = loss, .eps = 0.0f, .n_iter = 10, .n_restarts = 1, .n_target_classes = 3};
    int at_zero = apgd_correct(model, &c, x, y);
    FA_CHECK(at_zero == clean, "%s at eps 0: %d correct, clean %d", fa_apgd_name(loss), at_zero, clean);
    c.eps = 4.0f / 255.0f;
    int attacked = apgd_correct(model, &c, x, y);
    FA_CHECK(attacked >= 0 && attacked < clean, "%s at eps 4/255: %d correct, clean %d", fa_apgd_name(loss),
             attacked, clean);
    printf("%s-10 at eps 4/255: %d of %d correct (clean %d)\n", fa_apgd_name(loss), attacked, N_FMNIST, clean);
    if (loss != FA_APGD_CE) continue;
    fa_rng rng = fa_rng_stream(0, FA_STREAM_EVAL);
    fa_tensor *delta = fa_pgd_restarts(model, x, y, c.eps, c.eps / 4.0f, 10, 1, &rng, 0, NULL, NULL);
    was = fa_set_grad_enabled(false);
    int pgd = delta ? fa_count_correct(fa_model_forward(model, fa_add(x, delta), false), y) : -1;
    fa_set_grad_enabled(was);
    printf("PGD-10 at eps 4/255: %d of %d correct\n", pgd, N_FMNIST);
    FA_CHECK(attacked <= pgd, "APGD-CE-10 leaves %d correct, PGD-10 %d", attacked, pgd);
    check_command_line(clean, attacked);
  }
  free(xs);
  fa_model_destroy(model);
  fa_ckpt_close(ckpt);
  fa_dataset_free(&ds);
}

int main(void) {
  fa_arena *arena = fa_arena_create((size_t)1 << 30);
  fa_arena_set_current(arena);
  fixture = fa_st_open(fa_test_source_path(FIXTURE));
  FA_CHECK(fixture, "%s", fa_error_message());
  if (fixture) {
    check_losses();
    check_schedule();
    check_runs();
    check_batch_independence();
    fa_st_close(fixture);
  }
  check_trained_model();
  fa_arena_destroy(arena);
  return fa_test_exit();
}
