/* FAB-T (src/adv/fab.c; docs/AUTOATTACK.md) against PyTorch float64
 * references written from the paper (scripts/gen_fab_fixture.py):
 *
 * - the L-infinity projection onto a hyperplane within the [0, 1] box, 340
 *   random cases of 1 to 784 coordinates (the box active or not, the
 *   hyperplane out of the box's reach; 10 whose root lies past the Newton
 *   steps, found by sorting): every coordinate within 1e-6;
 * - a 10-iteration run of a cnn from a fixed start: every iterate within
 *   1e-5 of the reference's (absolute) but at most 2 pixels of the 4 x 784,
 *   the smallest adversarial norms so far within 1e-5 after each iteration,
 *   the examples found exactly; after the final search (whose last steps
 *   sit on the boundary, where float32 and float64 may decide differently:
 *   not in the fixture) the points misclassified and no larger than before;
 * - the attack on a batch (some examples broken, some not): an example's
 *   result does not depend on its batch;
 *   too many target classes are refused;
 * - on the Fashion-MNIST cnn of tests/fixtures/plain_cnn4_fmnist.safetensors
 *   (256 test images): eps 0 gives the clean accuracy exactly (10
 *   iterations, 2 restarts, 3 targets); at eps 4/255
 *   the perturbations of the broken examples are within the ball and the
 *   box, and FAB-T's robust accuracy is within 3 points of APGD-T's (the same
 *   targets and iterations) and below the clean accuracy;
 * - `fastadv eval --attack=fab-t` prints the numbers fa_fab gave; --help
 *   lists it with its defaults; too many target classes exit 2. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adv/apgd.h"
#include "adv/attack.h"
#include "adv/fab.h"
#include "core/arena.h"
#include "core/autograd.h"
#include "core/ops.h"
#include "train/checkpoint.h"
#include "io/safetensors.h"
#include "testlib.h"
#include "train/config.h"
#include "train/run.h"

#define FIXTURE "tests/fixtures/fab.safetensors"
#define FMNIST "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
#define PLAIN "tests/fixtures/plain_cnn4_fmnist.safetensors"
#define N_FMNIST 256
#define N_ITER 10            /* of the reference run */
#define PIXEL_TOL 1e-5
#define MAX_PIXELS_OFF 2

static fa_st_file *fixture;

/* The fixture's tensor `name` of n elements of elem bytes, or NULL. */
static const void *ref(const char *name, size_t n, size_t elem) {
  const fa_st_tensor *t = fa_st_find(fixture, name);
  FA_CHECK(t && t->nbytes == n * elem, "%s: missing or of the wrong size", name);
  return t && t->nbytes == n * elem ? t->data : NULL;
}

static void check_projection(void) {
  const fa_st_tensor *nt = fa_st_find(fixture, "proj.n");
  FA_CHECK(nt, "proj.n missing");
  if (!nt) return;
  size_t cases = nt->nbytes / 4, total = 0;
  const int *n = (const int *)nt->data;
  for (size_t c = 0; c < cases; c++) total += (size_t)n[c];
  const float *t = ref("proj.t", total, 4), *w = ref("proj.w", total, 4), *d_ref = ref("proj.d", total, 4);
  const double *b = ref("proj.b", cases, 8);
  if (!t || !w || !d_ref || !b) return;
  float *d = malloc(total * sizeof *d);
  double worst = 0;
  int wrong = 0;
  for (size_t c = 0, at = 0; c < cases; at += (size_t)n[c++]) {
    FA_CHECK(fa_fab_project_linf((size_t)n[c], t + at, w + at, b[c], 0.0f, 1.0f, d + at) == FA_OK, "case %zu: %s",
             c, fa_error_message());
    double e = 0;
    for (int i = 0; i < n[c]; i++) e = fmax(e, fabs((double)d[at + i] - d_ref[at + i]));
    wrong += e > 1e-6;
    worst = fmax(worst, e);
  }
  FA_CHECK(wrong == 0, "%d of %zu projections off the reference by more than 1e-6 (at most %.3g)", wrong, cases,
           worst);
  printf("projection: %zu cases, every coordinate within %.2g of the reference\n", cases, worst);
  free(d);
}

static float max_abs(const float *v, size_t n) {
  float m = 0;
  for (size_t i = 0; i < n; i++) m = fmaxf(m, fabsf(v[i]));
  return m;
}

static fa_model *fixture_cnn(void) {
  fa_model_config mc = {FA_ARCH_CNN, 1, 28, 28, 10, 1, 4, 0};
  fa_model *model = fa_model_create(&mc);
  fa_store *store = fa_model_store(model);
  for (int i = 0; i < fa_store_count(store); i++)
    if (fa_tensor_requires_grad(fa_store_get(store, i))) fa_test_fill_hashed(fa_store_get(store, i));
  return model;
}

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

typedef struct {
  int n;
  size_t per;        /* floats per iterate */
  bool *off;
  double worst, worst_norm;
  float *last_norm;  /* (n) the best norms after the last iteration */
} trace_check;

static void on_iterate(void *ctx, int it, const fa_tensor *delta, const float *best_norm) {
  trace_check *c = ctx;
  const float *d = ref("run.delta", N_ITER * c->per, 4), *b = ref("run.best_norm", N_ITER * (size_t)c->n, 4);
  if (!d || !b) return;
  c->worst = fmax(c->worst, mark_off(fa_test_values(delta), d + (size_t)it * c->per, c->per, c->off));
  for (int i = 0; i < c->n; i++) {
    float want = b[it * c->n + i];  /* 1e30: none yet */
    c->worst_norm = fmax(c->worst_norm, want >= 1e29f ? (isinf(best_norm[i]) ? 0 : INFINITY)
                                                      : fabs((double)best_norm[i] - want));
    c->last_norm[i] = best_norm[i];
  }
}

static void check_run(void) {
  enum { N = 4, ROW = 784 };
  fa_model *model = fixture_cnn();
  const float *x = ref("run.x", N * ROW, 4), *start = ref("run.start", N * ROW, 4);
  const int *y = ref("run.labels", N, 4), *t = ref("run.targets", N, 4);
  const uint8_t *found = ref("run.found", N, 1);
  FA_CHECK(atoi(fa_st_meta(fixture, "n_iter")) == N_ITER, "the fixture's iterations");
  if (!x || !start || !y || !t || !found) return;
  fa_fab_config c = {.eps = strtof(fa_st_meta(fixture, "eps"), NULL), .n_iter = N_ITER};
  bool off[N * ROW] = {false};
  float last_norm[N];
  trace_check tc = {N, N * ROW, off, 0, 0, last_norm};
  fa_fab_trace trace = {on_iterate, &tc};
  fa_fab_result res;
  fa_tensor *xt = fa_tensor_from(4, (int[]){N, 1, 28, 28}, x), *st = fa_tensor_from(4, (int[]){N, 1, 28, 28}, start);
  fa_tensor *labels = fa_labels_from(N, y, 10);
  fa_status status = fa_fab_run(model, &c, xt, labels, t, st, &trace, &res);
  FA_CHECK(status == FA_OK, "run: %s", fa_error_message());
  if (status == FA_OK) {
    int pixels_off = count_off(off, N * ROW);
    FA_CHECK(pixels_off <= MAX_PIXELS_OFF && tc.worst_norm <= PIXEL_TOL,
             "%d pixels of the iterates off by more than %g (at most %g); best norms off by %g", pixels_off,
             PIXEL_TOL, tc.worst, tc.worst_norm);
    /* the final search: misclassified points no larger than those before it */
    bool was = fa_set_grad_enabled(false);
    fa_tensor *logits = fa_model_forward(model, fa_add(xt, res.adv), false);
    fa_set_grad_enabled(was);
    bool correct[N];
    fa_mark_correct(logits, labels, correct);
    const float *adv = fa_test_values(res.adv);
    for (int i = 0; i < N; i++) {
      float norm = max_abs(adv + i * ROW, ROW);
      FA_CHECK(res.found[i] == (found[i] != 0) && (!found[i] || (!correct[i] && res.norm[i] == norm &&
                                                                 norm <= last_norm[i])),
               "example %d: found %d (the reference %d), misclassified %d, norm %.7g (of adv %.7g, before the "
               "final search %.7g)", i, res.found[i], found[i], !correct[i], res.norm[i], norm, last_norm[i]);
    }
    printf("run: %d pixels of the iterates off by more than %g (at most %.2g), best norms within %.2g; final "
           "search: norms %.4g %.4g %.4g %.4g (before %.4g %.4g %.4g %.4g)\n", pixels_off, PIXEL_TOL, tc.worst,
           tc.worst_norm, res.norm[0], res.norm[1], res.norm[2], res.norm[3], last_norm[0], last_norm[1],
           last_norm[2], last_norm[3]);
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
  fa_fab_config c = {.eps = 1.8f / 255.0f, .n_iter = 10, .n_restarts = 2, .n_target_classes = 3};
  bool robust[N], robust_one;
  fa_tensor *xt = fa_tensor_from(4, (int[]){N, 1, 28, 28}, x);
  const long examples[N] = {100, 101, 102, 103};
  fa_tensor *all = fa_fab(model, &c, xt, y, &stream, examples, robust);
  int n_robust = 0;
  for (int i = 0; i < N; i++) n_robust += robust[i];
  FA_CHECK(all && n_robust > 0 && n_robust < N, "%d of %d robust (want some of each): %s", n_robust, N,
           fa_error_message());
  for (int i = 0; all && i < N; i++) {
    fa_tensor *one = fa_fab(model, &c, fa_tensor_from(4, (int[]){1, 1, 28, 28}, x + i * ROW),
                            fa_labels_from(1, labels + i, 10), &stream, examples + i, &robust_one);
    FA_CHECK(one && robust_one == robust[i] &&
                 memcmp(fa_test_values(one), fa_test_values(all) + i * ROW, ROW * sizeof(float)) == 0,
             "example %d alone: robust %d (in the batch %d), or another delta", i, one ? robust_one : -1, robust[i]);
  }
  c.n_target_classes = 10;
  FA_CHECK(!fa_fab(model, &c, xt, y, &stream, NULL, NULL) && strstr(fa_error_message(), "1 to 9 target classes"),
           "10 targets of 10 classes: %s", fa_error_message());
  fa_model_destroy(model);
}

/* Correct at x + delta of fa_fab's delta, which must keep x + delta in the
 * eps-ball and the box and agree with its robust flags; -1 on failure. */
static int fab_correct(fa_model *model, const fa_fab_config *c, fa_tensor *x, const fa_tensor *y) {
  fa_rng stream = fa_rng_stream(0, FA_STREAM_EVAL);
  bool robust[N_FMNIST];
  fa_tensor *delta = fa_fab(model, c, x, y, &stream, NULL, robust);
  FA_CHECK(delta, "FAB-T: %s", fa_error_message());
  if (!delta) return -1;
  double outside = 0;
  const float *xv = fa_test_values(x), *dv = fa_test_values(delta);
  for (size_t i = 0; i < fa_tensor_numel(x); i++) {
    float p = xv[i] + dv[i];
    outside = fmax(outside, fmax(fabs(dv[i]) - c->eps, fmax(-p, p - 1.0f)));
  }
  bool was = fa_set_grad_enabled(false);
  int correct = fa_count_correct(fa_model_forward(model, fa_add(x, delta), false), y), flagged = 0;
  fa_set_grad_enabled(was);
  for (int i = 0; i < fa_tensor_dim(x, 0); i++) flagged += robust[i];
  FA_CHECK(outside <= 1e-7, "FAB-T at eps %g: a point %.3g outside the ball or the box", c->eps, outside);
  FA_CHECK(flagged == correct, "FAB-T: %d flagged robust, %d classified correctly at x + delta", flagged, correct);
  return correct;
}

static char out[1 << 16], err[1 << 16];

/* `fastadv eval --attack=fab-t` prints what fa_fab gave (clean and FAB-T
 * correct of N_FMNIST, 3 targets); --help; too many targets refused. */
static void check_command_line(int clean, int fab) {
  const char *dir = fa_test_tmpdir("test_fab");
  char args[1024];
  snprintf(args, sizeof args, "eval --model_path=%s --model=cnn --n_filters_cnn=4 --dataset=fmnist --n_eval=%d "
           "--attack=fab-t --n_target_classes=3 --eps=4", fa_test_source_path(PLAIN), N_FMNIST);
  int rc = fa_test_run_fastadv(args, dir, out, err, sizeof out);
  const char *at = strstr(out, "initial accuracy: ");
  double printed_clean = -1, printed_robust = -1;
  if (at) sscanf(at, "initial accuracy: %lf%%\nrobust accuracy after FAB-T: %lf%%", &printed_clean, &printed_robust);
  FA_CHECK(rc == 0 && fabs(printed_clean - 100.0 * clean / N_FMNIST) < 0.006 &&
               fabs(printed_robust - 100.0 * fab / N_FMNIST) < 0.006 && strstr(out, "fab-t-100-1-3 acc"),
           "eval --attack=fab-t: exit %d, printed %g%% and %g%%, expected %d and %d of %d\n%s%s", rc, printed_clean,
           printed_robust, clean, fab, N_FMNIST, out, err);

  rc = fa_test_run_fastadv("eval --help", dir, out, err, sizeof out);
  const char *fab_help = strstr(out, "  fab_t "), *defaults = fab_help ? strstr(fab_help, "Defaults:") : NULL;
  FA_CHECK(rc == 0 && defaults && strstr(defaults, "--attack_iters=100") && strstr(defaults, "--n_restarts=1") &&
               strstr(defaults, "--n_target_classes=9"),
           "eval --help lists fab_t and its defaults:\n%s", out);

  const struct {
    const char *flags, *message;
  } refused[] = {
      {"--dataset=fmnist --attack=fab-t --n_target_classes=10", "--n_target_classes=10: FAB-T targets"},
      {"--dataset=cifar10_binary --attack=fab_t", "--n_target_classes=9: FAB-T targets"},
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
  if (model) {
    bool was = fa_set_grad_enabled(false);
    int clean = fa_count_correct(fa_model_forward(model, x, false), y);
    fa_set_grad_enabled(was);
    fa_fab_config c = {.eps = 0.0f, .n_iter = 10, .n_restarts = 2, .n_target_classes = 3};
    int at_zero = fab_correct(model, &c, x, y);
    FA_CHECK(at_zero == clean, "FAB-T at eps 0: %d correct, clean %d", at_zero, clean);
    c = (fa_fab_config){.eps = 4.0f / 255.0f, .n_iter = 100, .n_restarts = 1, .n_target_classes = 3};
    int fab = fab_correct(model, &c, x, y);
    fa_rng stream = fa_rng_stream(0, FA_STREAM_EVAL);
    fa_apgd_config ac = {.loss = FA_APGD_DLR_TARGETED, .eps = c.eps, .n_iter = 100, .n_restarts = 1,
                         .n_target_classes = 3};
    bool robust[N_FMNIST];
    int apgd_t = 0;
    FA_CHECK(fa_apgd(model, &ac, x, y, &stream, NULL, robust), "APGD-T: %s", fa_error_message());
    for (int i = 0; i < N_FMNIST; i++) apgd_t += robust[i];
    printf("at eps 4/255, 3 targets x 100 iterations: FAB-T leaves %d of %d correct, APGD-T %d (clean %d)\n", fab,
           N_FMNIST, apgd_t, clean);
    FA_CHECK(fab >= 0 && fab < clean && abs(fab - apgd_t) * 100 <= 3 * N_FMNIST,
             "FAB-T leaves %d correct, APGD-T %d, clean %d: not within 3 points of APGD-T", fab, apgd_t, clean);
    check_command_line(clean, fab);
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
    check_projection();
    check_run();
    check_batch_independence();
    fa_st_close(fixture);
  }
  check_trained_model();
  fa_arena_destroy(arena);
  return fa_test_exit();
}
