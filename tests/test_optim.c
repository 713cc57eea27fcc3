/* Optimisers and learning-rate schedules against PyTorch float64 references
 * (tests/fixtures/optim.safetensors, made by scripts/gen_optim_fixtures.py):
 * every step of SGD and Adam with weight decay and changing learning rates,
 * relative error <= 1e-6; only trainable tensors updated; a large tensor
 * (the threaded path) updated exactly as its small tile; state saved and
 * restored into a fresh optimiser resumes bit for bit; the schedules at every
 * iteration of several runs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "optim/optim.h"
#include "optim/schedule.h"
#include "core/tensor_internal.h" /* the state slabs' layout: data addresses */
#include "testlib.h"

#define TOL 1e-6
#define STEPS 6
#define N_PARAMS 4
#define TILES 700 /* "tiled" = conv.weight (54 floats) 700 times: above the threaded size */

static const struct {
  const char *name;
  int ndim, shape[4];
} PARAMS[N_PARAMS] = {
    {"conv.weight", 4, {2, 3, 3, 3}}, {"fc.weight", 2, {4, 5}}, {"bn.bias", 1, {6}}, {"scale", 1, {1}}};

static fa_st_file *fixtures;
static double worst[2]; /* per optimiser case: the largest relative error seen */

static const fa_st_tensor *fixture(const char *fmt, const char *a, const char *b, int k) {
  char key[256];
  snprintf(key, sizeof key, fmt, a, b, k);
  const fa_st_tensor *st = fa_st_find(fixtures, key);
  if (!st) {
    fprintf(stderr, "fixture %s missing\n", key);
    exit(1);
  }
  return st;
}

/* Copies "<case>.<param>.<what><k>" (k < 0: no index) as float32 into t from element `at`. */
static void load(const char *c, const char *param, const char *what, int k, fa_tensor *t, size_t at) {
  char fmt[64];
  snprintf(fmt, sizeof fmt, k < 0 ? "%%s.%%s.%s" : "%%s.%%s.%s%%d", what);
  const fa_st_tensor *st = fixture(fmt, c, param, k);
  size_t n = st->nbytes / fa_st_dtype_size(st->dtype);
  float *values = malloc(n * sizeof *values);
  if (!values || fa_st_copy(fixtures, st->name, FA_DTYPE_F32, st->ndim, st->shape, values) != FA_OK ||
      fa_tensor_write(t, at, n, values) != FA_OK) {
    fprintf(stderr, "%s\n", fa_error_message());
    exit(1);
  }
  free(values);
}

static void fill(fa_tensor *t, float value) {
  float values[8];
  for (size_t i = 0; i < fa_tensor_numel(t) && i < 8; i++) values[i] = value;
  fa_tensor_write(t, 0, fa_tensor_numel(t), values);  /* the 5 floats of frozen.weight, bn.running_mean */
}

static void expect(int ci, const char *c, const char *param, const char *what, int k,
                   const fa_tensor *got) {
  char fmt[64];
  snprintf(fmt, sizeof fmt, k < 0 ? "%%s.%%s.%s" : "%%s.%%s.%s%%d", what);
  const fa_st_tensor *st = fixture(fmt, c, param, k);
  FA_CHECK(got != NULL, "%s: no tensor", st->name);
  if (!got) return;
  FA_CHECK(st->nbytes == fa_tensor_numel(got) * sizeof(double), "%s: size", st->name);
  double err = fa_test_rel_err(fa_test_values(got), (const double *)st->data, fa_tensor_numel(got));
  FA_CHECK(err <= TOL, "%s: relative error %.3g", st->name, err);
  if (err > worst[ci]) worst[ci] = err;
}

/* The fixture's parameters and a large "tiled" one; with `frozen`, also a
 * frozen parameter (with a gradient but requires_grad off) and a buffer,
 * both filled with 7s. */
static fa_store *make_store_of(const char *c, bool frozen_too) {
  fa_store *s = fa_store_create();
  for (int i = 0; i < N_PARAMS; i++) {
    fa_tensor *p = fa_store_param(s, PARAMS[i].name, PARAMS[i].ndim, PARAMS[i].shape);
    load(c, PARAMS[i].name, "init", -1, p, 0);
  }
  fa_tensor *tiled = fa_store_param(s, "tiled", 2, (int[]){TILES, 54});
  for (int t = 0; t < TILES; t++) load(c, "conv.weight", "init", -1, tiled, 54 * (size_t)t);
  if (!frozen_too) return s;
  fa_tensor *frozen = fa_store_param(s, "frozen.weight", 1, (int[]){5});
  fa_tensor_set_requires_grad(frozen, false);
  fa_tensor *buffer = fa_store_new(s, "bn.running_mean", 1, (int[]){5});
  fill(frozen, 7.0f);
  fill(fa_tensor_grad(frozen), 7.0f);
  fill(buffer, 7.0f);
  return s;
}

static fa_store *make_store(const char *c) { return make_store_of(c, true); }

static void set_grads(fa_store *s, const char *c, int k) {
  for (int i = 0; i < N_PARAMS; i++)
    load(c, PARAMS[i].name, "grad", k, fa_tensor_grad(fa_store_find(s, PARAMS[i].name)), 0);
  fa_tensor *tiled = fa_store_find(s, "tiled");
  for (int t = 0; t < TILES; t++) load(c, "conv.weight", "grad", k, fa_tensor_grad(tiled), 54 * (size_t)t);
}

static float lr_of(const char *c, int k) {
  const fa_st_tensor *st = fixture("%s.lr%s", c, "", 0);
  return (float)((const double *)st->data)[k];
}

static fa_optimizer *make_opt(const char *c, fa_store *s) {
  if (strcmp(c, "sgd") == 0) return fa_sgd_create(s, 0.9f, 0.05f);
  return fa_adam_create(s, 0.9f, 0.999f, 1e-8f, 0.05f);
}

static void check_untouched(fa_store *s, fa_optimizer *opt) {
  for (int i = 0; i < 5; i++) {
    FA_CHECK(fa_test_value(fa_store_find(s, "frozen.weight"), i) == 7.0f, "a frozen parameter changed");
    FA_CHECK(fa_test_value(fa_store_find(s, "bn.running_mean"), i) == 7.0f, "a buffer changed");
  }
  fa_store *state = fa_optimizer_state(opt);
  for (int i = 0; i < fa_store_count(state); i++) {
    const char *name = fa_tensor_name(fa_store_get(state, i));
    FA_CHECK(strncmp(name, "frozen", 6) != 0 && strncmp(name, "bn.running", 10) != 0,
             "state %s for a tensor that is not trained", name);
  }
}

static void test_against_pytorch(int ci, const char *c, const char *const *state_names, int n_state) {
  fa_store *s = make_store(c);
  fa_optimizer *opt = make_opt(c, s);
  FA_CHECK(opt != NULL, "%s: %s", c, fa_error_message());
  fa_store *state = fa_optimizer_state(opt);
  FA_CHECK(fa_store_count(state) == (N_PARAMS + 1) * n_state + 1, "%s: %d state tensors", c,
           fa_store_count(state));
  for (int k = 0; k < STEPS; k++) {
    set_grads(s, c, k);
    FA_CHECK(fa_optimizer_step(opt, lr_of(c, k)) == FA_OK, "%s", fa_error_message());
    for (int i = 0; i < N_PARAMS; i++) expect(ci, c, PARAMS[i].name, "after", k, fa_store_find(s, PARAMS[i].name));
    const fa_tensor *conv = fa_store_find(s, "conv.weight"), *tiled = fa_store_find(s, "tiled");
    for (int t = 0; t < TILES; t++)
      FA_CHECK(memcmp(fa_test_values(tiled) + 54 * t, fa_test_values(conv), 54 * sizeof(float)) == 0,
               "%s step %d: tile %d differs from conv.weight", c, k, t);
  }
  FA_CHECK(fa_optimizer_steps(opt) == STEPS, "%s: %ld steps", c, fa_optimizer_steps(opt));
  for (int i = 0; i < N_PARAMS; i++)
    for (int j = 0; j < n_state; j++) {
      char name[128];
      snprintf(name, sizeof name, "%s.%s", PARAMS[i].name, state_names[j]);
      expect(ci, c, PARAMS[i].name, state_names[j], -1, fa_store_find(state, name));
    }
  check_untouched(s, opt);
  fa_optimizer_destroy(opt);
  fa_store_destroy(s);
}

/* Copies every tensor of `from` into the tensor of the same name in `to`. */
static void copy_by_name(fa_store *to, const fa_store *from) {
  for (int i = 0; i < fa_store_count(from); i++) {
    const fa_tensor *src = fa_store_get(from, i);
    fa_tensor *dst = fa_store_find(to, fa_tensor_name(src));
    FA_CHECK(dst && fa_tensor_copy(dst, src) == FA_OK, "no tensor %s to restore into", fa_tensor_name(src));
  }
}

/* Three steps, a snapshot of parameters and state, three more steps; then a
 * fresh store and optimiser restored from the snapshot take the same three
 * steps and must end bit-identical. */
static void test_resume(const char *c) {
  fa_store *s = make_store(c), *snap_params = make_store(c), *resumed = make_store(c);
  fa_optimizer *opt = make_opt(c, s), *snap_opt = make_opt(c, snap_params);
  for (int k = 0; k < STEPS; k++) {
    if (k == STEPS / 2) {
      copy_by_name(snap_params, s);
      copy_by_name(fa_optimizer_state(snap_opt), fa_optimizer_state(opt));
    }
    set_grads(s, c, k);
    fa_optimizer_step(opt, lr_of(c, k));
  }
  copy_by_name(resumed, snap_params);
  fa_optimizer *opt2 = make_opt(c, resumed);
  copy_by_name(fa_optimizer_state(opt2), fa_optimizer_state(snap_opt));
  FA_CHECK(fa_optimizer_steps(opt2) == STEPS / 2, "%s: resumed at step %ld", c, fa_optimizer_steps(opt2));
  for (int k = STEPS / 2; k < STEPS; k++) {
    set_grads(resumed, c, k);
    fa_optimizer_step(opt2, lr_of(c, k));
  }
  for (int i = 0; i < fa_store_count(s); i++) {
    const fa_tensor *a = fa_store_get(s, i), *b = fa_store_find(resumed, fa_tensor_name(a));
    FA_CHECK(memcmp(fa_test_values(a), fa_test_values(b), fa_tensor_numel(a) * sizeof(float)) == 0,
             "%s: resumed %s differs", c, fa_tensor_name(a));
  }
  fa_store *st1 = fa_optimizer_state(opt), *st2 = fa_optimizer_state(opt2);
  for (int i = 0; i < fa_store_count(st1); i++) {
    const fa_tensor *a = fa_store_get(st1, i), *b = fa_store_find(st2, fa_tensor_name(a));
    FA_CHECK(memcmp(fa_test_values(a), fa_test_values(b), fa_tensor_numel(a) * sizeof(float)) == 0,
             "%s: resumed state %s differs", c, fa_tensor_name(a));
  }
  fa_optimizer_destroy(opt);
  fa_optimizer_destroy(snap_opt);
  fa_optimizer_destroy(opt2);
  fa_store_destroy(s);
  fa_store_destroy(snap_params);
  fa_store_destroy(resumed);
}

static void test_misuse(void) {
  fa_store *s = make_store("sgd");
  FA_CHECK(fa_sgd_create(s, 1.0f, 0.0f) == NULL, "momentum 1 accepted");
  FA_CHECK(fa_sgd_create(s, 0.9f, -1.0f) == NULL, "negative weight decay accepted");
  FA_CHECK(fa_adam_create(s, 0.9f, 0.999f, 0.0f, 0.0f) == NULL, "eps 0 accepted");
  FA_CHECK(fa_adam_create(s, 0.9f, NAN, 1e-8f, 0.0f) == NULL, "beta2 NaN accepted");
  fa_optimizer *opt = fa_sgd_create(s, 0.9f, 0.0f);
  set_grads(s, "sgd", 0);
  float before = fa_test_value(fa_store_find(s, "scale"), 0);
  FA_CHECK(fa_optimizer_step(opt, NAN) == FA_ERR_INVALID, "NaN learning rate accepted");
  FA_CHECK(fa_optimizer_step(opt, -0.1f) == FA_ERR_INVALID, "negative learning rate accepted");
  fa_tensor_write(fa_store_find(fa_optimizer_state(opt), "step"), 0, 1, (float[]){1.5f});
  FA_CHECK(fa_optimizer_step(opt, 0.1f) == FA_ERR_INVALID, "step count 1.5 accepted");
  FA_CHECK(strstr(fa_error_message(), "step count") != NULL, "message: %s", fa_error_message());
  FA_CHECK(fa_test_value(fa_store_find(s, "scale"), 0) == before, "a failed step changed a parameter");
  fa_optimizer_destroy(opt);
  fa_store_destroy(s);
}

static const struct {
  fa_lr_schedule kind;
  const char *name;
  int epochs, batches;
  float lr_max;
} SCHEDULES[] = {
    {FA_SCHEDULE_CYCLIC, "cyclic", 30, 7, 0.2f},      {FA_SCHEDULE_CYCLIC, "cyclic", 7, 5, 0.05f},
    {FA_SCHEDULE_CYCLIC, "cyclic", 1, 3, 0.2f},       {FA_SCHEDULE_CYCLIC, "cyclic", 5, 4, 0.3f},
    {FA_SCHEDULE_CYCLIC, "cyclic", 3, 2, 0.15f},      {FA_SCHEDULE_PIECEWISE, "piecewise", 30, 7, 0.2f},
    {FA_SCHEDULE_PIECEWISE, "piecewise", 7, 5, 0.05f}, {FA_SCHEDULE_PIECEWISE, "piecewise", 1, 3, 0.2f},
    {FA_SCHEDULE_PIECEWISE, "piecewise", 4, 8, 0.1f},
};

static void test_schedules(void) {
  double worst_sched = 0;
  int exact = 0, total = 0;
  for (size_t c = 0; c < sizeof SCHEDULES / sizeof SCHEDULES[0]; c++) {
    char key[128];
    snprintf(key, sizeof key, "sched.%s.%d.%d.lr", SCHEDULES[c].name, SCHEDULES[c].epochs, SCHEDULES[c].batches);
    const fa_st_tensor *st = fixture("%s%s", key, "", 0);
    const double *ref = st->data;
    int n = SCHEDULES[c].batches, j = 0;
    FA_CHECK(st->nbytes == sizeof(double) * (size_t)(1 + SCHEDULES[c].epochs * n), "%s: size", key);
    for (int epoch = 0; epoch <= SCHEDULES[c].epochs; epoch++)
      for (int i = 0; i < (epoch == 0 ? 1 : n); i++, j++) {
        double t = fa_epoch_fraction(epoch, i, n);
        float lr = fa_lr_at(SCHEDULES[c].kind, SCHEDULES[c].lr_max, SCHEDULES[c].epochs, t);
        double err = ref[j] == 0 ? fabs(lr) : fabs(lr - ref[j]) / fabs(ref[j]);
        FA_CHECK(err <= TOL, "%s: epoch %d batch %d: %.9g, numpy %.9g", key, epoch, i, lr, ref[j]);
        if (err > worst_sched) worst_sched = err;
        exact += lr == (float)ref[j];
        total++;
      }
  }
  printf("schedules: %d iterations, worst relative error %.3g, %d equal to numpy's value in float32\n",
         total, worst_sched, exact);
  /* the constant schedule (fastadv's extra) is lr_max at every t */
  for (double t = 0; t <= 7.0; t += 0.25)
    FA_CHECK(fa_lr_at(FA_SCHEDULE_CONSTANT, 0.125f, 7, t) == 0.125f, "constant schedule at %g", t);
}

/* Every parameter trained: the step is one pass over the slabs (optim.c);
 * with a frozen parameter, one pass per parameter. Both give the same
 * floats, parameters and state, bit for bit, after STEPS steps. */
static void test_one_pass(const char *c) {
  fa_store *whole = make_store_of(c, false), *each = make_store(c);
  fa_optimizer *opt_whole = make_opt(c, whole), *opt_each = make_opt(c, each);
  for (int k = 0; k < STEPS; k++) {
    set_grads(whole, c, k);
    set_grads(each, c, k);
    FA_CHECK(fa_optimizer_step(opt_whole, lr_of(c, k)) == FA_OK && fa_optimizer_step(opt_each, lr_of(c, k)) == FA_OK,
             "%s", fa_error_message());
  }
  fa_store *stores[2][2] = {{whole, fa_optimizer_state(opt_whole)}, {each, fa_optimizer_state(opt_each)}};
  for (int kind = 0; kind < 2; kind++)
    for (int i = 0; i < fa_store_count(stores[0][kind]); i++) {
      const fa_tensor *a = fa_store_get(stores[0][kind], i), *b = fa_store_find(stores[1][kind], fa_tensor_name(a));
      FA_CHECK(b && fa_tensor_numel(a) == fa_tensor_numel(b) &&
                   !memcmp(fa_test_values(a), fa_test_values(b), fa_tensor_numel(a) * sizeof(float)),
               "%s: %s after one pass over the slabs differs from one pass per parameter", c, fa_tensor_name(a));
    }
  fa_optimizer_destroy(opt_whole), fa_optimizer_destroy(opt_each);
  fa_store_destroy(whole), fa_store_destroy(each);
}

/* Adam's state: each kind one slab laid out as the parameters (every one
 * trainable here), the step count in a slab of its own. */
static void test_state_slabs(void) {
  fa_store *s = fa_store_create();
  for (int i = 0; i < N_PARAMS; i++) fa_store_param(s, PARAMS[i].name, PARAMS[i].ndim, PARAMS[i].shape);
  fa_optimizer *opt = fa_adam_create(s, 0.9f, 0.999f, 1e-8f, 0.0f);
  fa_store *state = fa_optimizer_state(opt);
  fa_tensor *p = fa_store_slab_tensor(s, FA_SLAB_PARAMS), *m = fa_store_slab_tensor(state, FA_SLAB_BUFFERS);
  fa_tensor *v = fa_store_slab_tensor(state, FA_SLAB_BUFFERS + 1);
  fa_tensor *step = fa_store_slab_tensor(state, FA_SLAB_BUFFERS + 2);
  FA_CHECK(p && m && v && step && m->numel == p->numel && v->numel == p->numel && step->numel == 16,
           "one slab per kind of state, as large as the parameters'");
  for (int i = 0; p && m && v && i < N_PARAMS; i++) {
    char name[64];
    fa_tensor *param = fa_store_find(s, PARAMS[i].name);
    snprintf(name, sizeof name, "%s.exp_avg", PARAMS[i].name);
    fa_tensor *mi = fa_store_find(state, name);
    snprintf(name, sizeof name, "%s.exp_avg_sq", PARAMS[i].name);
    fa_tensor *vi = fa_store_find(state, name);
    FA_CHECK(mi && vi && mi->data - m->data == param->data - p->data && vi->data - v->data == param->data - p->data,
             "%s: its state at its offset", PARAMS[i].name);
  }
  fa_optimizer_destroy(opt);
  fa_store_destroy(s);
}

int main(void) {
  fixtures = fa_st_open(fa_test_source_path("tests/fixtures/optim.safetensors"));
  if (!fixtures) {
    fprintf(stderr, "%s\n", fa_error_message());
    return 1;
  }
  const char *sgd_state[] = {"momentum_buffer"}, *adam_state[] = {"exp_avg", "exp_avg_sq"};
  test_against_pytorch(0, "sgd", sgd_state, 1);
  test_against_pytorch(1, "adam", adam_state, 2);
  printf("worst relative error against PyTorch float64: sgd %.3g, adam %.3g\n", worst[0], worst[1]);
  test_resume("sgd");
  test_resume("adam");
  test_one_pass("sgd");
  test_one_pass("adam");
  test_misuse();
  test_state_slabs();
  test_schedules();
  fa_st_close(fixtures);
  return fa_test_exit();
}
