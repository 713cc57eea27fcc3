/* Square (src/adv/square.c) and the AutoAttack driver (src/adv/autoattack.c,
 * src/train/evaluate.c; docs/AUTOATTACK.md):
 *
 * - Square's schedule of p and window sides against the paper's
 *   (scripts/gen_square_fixture.py, exact), and one step from the stripes
 *   start with fixed noise against a float64 PyTorch reference;
 * - Square keeps x + delta in the eps-ball and the box, queries forward only
 *   (no parameter gradient, 1 + n_queries passes for a robust example), and
 *   an example's result does not depend on its batch; with the official
 *   window range (AutoAttack's stage) no window crosses the last column;
 * - the driver: an example is robust after apgd-ce,square exactly when each
 *   attack alone leaves it robust (the pointwise worst case, each stage on
 *   the examples still robust); the stages' robust sets shrink; eps 0 gives
 *   the clean accuracy exactly; --results_json has RobustBench's fields;
 *   an evaluation killed (SIGKILL) or torn mid-line and resumed with
 *   --resume_eval gives the uninterrupted run's log and numbers; unknown
 *   stages, too few classes, an existing log and an unwritable results file
 *   are refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adv/attack.h"
#include "adv/autoattack.h"
#include "adv/square.h"
#include "core/arena.h"
#include "core/autograd.h"
#include "core/ops.h"
#include "io/safetensors.h"
#include "testlib.h"

#define FIXTURE "tests/fixtures/square.safetensors"
#define PLAIN "tests/fixtures/plain_cnn4_fmnist.safetensors"
#define FMNIST "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
enum { N = 4, ROW = 784 };

static fa_st_file *fixture;

static const void *ref(const char *name, size_t n, size_t elem) {
  const fa_st_tensor *t = fa_st_find(fixture, name);
  FA_CHECK(t && t->nbytes == n * elem, "%s: missing or of the wrong size", name);
  return t && t->nbytes == n * elem ? t->data : NULL;
}

static void check_schedule(void) {
  const int lengths[] = {100, 5000, 10000}, sides[] = {28, 32};
  for (int l = 0; l < 3; l++) {
    char key[64];
    snprintf(key, sizeof key, "schedule.p.%d", lengths[l]);
    const float *p = ref(key, lengths[l], 4);
    int wrong = 0;
    for (int i = 0; p && i < lengths[l]; i++) wrong += (float)fa_square_p(0.8, i, lengths[l]) != p[i];
    FA_CHECK(p && wrong == 0, "p of a schedule of %d: %d iterations differ", lengths[l], wrong);
    for (int h = 0; h < 2; h++) {
      snprintf(key, sizeof key, "schedule.side.%d.%d", lengths[l], sides[h]);
      const int *s = ref(key, lengths[l], 4);
      wrong = 0;
      for (int i = 0; s && i < lengths[l]; i++)
        wrong += fa_square_side(0.8, i, lengths[l], sides[h], sides[h]) != s[i];
      FA_CHECK(s && wrong == 0, "%s: %d sides differ", key, wrong);
    }
  }
}

static fa_model *fixture_cnn(void) {
  fa_model_config mc = {FA_ARCH_CNN, 1, 28, 28, 10, 1, 4, 0};
  fa_model *model = fa_model_create(&mc);
  fa_store *store = fa_model_store(model);
  for (int i = 0; i < fa_store_count(store); i++)
    if (fa_tensor_requires_grad(fa_store_get(store, i))) fa_test_fill_hashed(fa_store_get(store, i));
  return model;
}

static void check_step(void) {
  fa_model *model = fixture_cnn();
  const float *x = ref("step.x", N * ROW, 4), *stripes = ref("step.stripes", N * 28, 4);
  const float *start = ref("step.start", N * ROW, 4), *margin0 = ref("step.margin0", N, 4);
  const int *y = ref("step.labels", N, 4), *rows = ref("step.rows", N, 4), *cols = ref("step.cols", N, 4);
  const float *signs = ref("step.signs", N, 4), *delta_ref = ref("step.delta", N * ROW, 4);
  const float *margin_ref = ref("step.margin", N, 4);
  const uint8_t *taken = ref("step.taken", N, 1);
  if (!x || !stripes || !start || !margin0 || !y || !rows || !cols || !signs || !delta_ref || !margin_ref || !taken)
    return;
  float eps = 8.0f / 255.0f;
  int side = atoi(fa_st_meta(fixture, "side"));
  fa_tensor *xt = fa_tensor_from(4, (int[]){N, 1, 28, 28}, x), *delta = fa_zeros_like(xt);
  fa_square_stripes(xt, eps, stripes, delta);
  double worst = 0;
  const float *dv = fa_test_values(delta);
  for (int i = 0; i < N * ROW; i++) worst = fmax(worst, fabs(dv[i] - start[i]));
  FA_CHECK(worst <= 1e-7, "the stripes start: %.3g from the reference", worst);
  float margin[N];
  bool was = fa_set_grad_enabled(false);
  fa_square_margins(fa_model_forward(model, fa_add(xt, delta), false), y, margin);
  fa_set_grad_enabled(was);
  FA_CHECK(fa_test_rel_err_ff(margin, margin0, N) <= 1e-4, "the start's margins: %.3g",
           fa_test_rel_err_ff(margin, margin0, N));
  fa_square_window w[N];
  for (int i = 0; i < N; i++) w[i] = (fa_square_window){.row = rows[i], .col = cols[i], .signs = {signs[i]}};
  float before[N];
  memcpy(before, margin, sizeof margin);
  FA_CHECK(fa_square_step(model, xt, y, eps, side, w, delta, margin) == FA_OK, "%s", fa_error_message());
  worst = 0;
  dv = fa_test_values(delta);
  for (int i = 0; i < N * ROW; i++) worst = fmax(worst, fabs(dv[i] - delta_ref[i]));
  int taken_wrong = 0;
  for (int i = 0; i < N; i++) taken_wrong += (margin[i] != before[i]) != (taken[i] != 0);
  FA_CHECK(worst <= 1e-6 && taken_wrong == 0 && fa_test_rel_err_ff(margin, margin_ref, N) <= 1e-4,
           "one step: delta %.3g from the reference, %d examples took the other choice, margins %.3g", worst,
           taken_wrong, fa_test_rel_err_ff(margin, margin_ref, N));
  printf("Square step vs float64: delta within %.2g, margins within %.2g\n", worst,
         fa_test_rel_err_ff(margin, margin_ref, N));
  fa_model_destroy(model);
}

/* The ball, the box, forward passes only, the query count, batch independence. */
static void check_attack(void) {
  fa_model *model = fixture_cnn();
  const float *x = ref("step.x", N * ROW, 4);
  const int *y = ref("step.labels", N, 4);
  if (!x || !y) return;
  fa_tensor *xt = fa_tensor_from(4, (int[]){N, 1, 28, 28}, x);
  fa_rng stream = fa_rng_stream(5, FA_STREAM_EVAL);
  fa_square_config c = {.eps = 8.0f / 255.0f, .n_queries = 40, .p_init = 0.8f, .n_restarts = 2, .rescale = true};
  const long index[N] = {7, 8, 9, 10};
  bool robust[N], one_robust;
  int queries[N], one_queries;
  fa_tensor *d = fa_square(model, &c, xt, fa_labels_from(N, y, 10), &stream, index, robust, queries);
  FA_CHECK(d, "%s", fa_error_message());
  if (!d) return;
  const float *dv = fa_test_values(d);
  double out_of_ball = 0, out_of_box = 0;
  for (int i = 0; i < N * ROW; i++) {
    out_of_ball = fmax(out_of_ball, fabs(dv[i]) - c.eps - 1e-6); /* the box's rounding: x + d - x */
    float v = x[i] + dv[i];
    out_of_box = fmax(out_of_box, fmax(-v, v - 1));
  }
  FA_CHECK(out_of_ball <= 0 && out_of_box <= 0, "Square left the ball by %g, the box by %g", out_of_ball, out_of_box);
  fa_store *store = fa_model_store(model);
  for (int i = 0; i < fa_store_count(store); i++) {
    const fa_tensor *p = fa_store_get(store, i);
    bool zero = true;
    const float *g = fa_test_values(fa_tensor_grad(p));
    for (size_t k = 0; g && k < fa_tensor_numel(p); k++) zero &= g[k] == 0;
    FA_CHECK(zero, "Square left a gradient in parameter %d: not forward passes only", i);
  }
  int n_robust = 0;
  for (int i = 0; i < N; i++) {
    n_robust += robust[i];
    FA_CHECK(robust[i] ? queries[i] == 2 * (c.n_queries + 1) : queries[i] <= 2 * (c.n_queries + 1),
             "example %d (robust %d): %d forward passes", i, robust[i], queries[i]);
    fa_tensor *one = fa_square(model, &c, fa_tensor_from(4, (int[]){1, 1, 28, 28}, x + i * ROW),
                               fa_labels_from(1, y + i, 10), &stream, index + i, &one_robust, &one_queries);
    FA_CHECK(one && one_robust == robust[i] && one_queries == queries[i] &&
                 memcmp(fa_test_values(one), dv + i * ROW, ROW * sizeof(float)) == 0,
             "example %d alone: another result than in its batch", i);
  }
  printf("Square, 2 x 40 queries at eps 8/255: %d of %d robust\n", n_robust, N);
  FA_CHECK(n_robust < N, "Square broke none of the fixture's examples");
  fa_model_destroy(model);
}

/* The windows' range: with official_windows no window covers the last
 * column (s < w), so every broken example's last column keeps its stripe:
 * one sign down each channel's column (0 where the box clips it); with the
 * paper's range some window crosses it. */
static int last_columns_crossed(fa_model *model, fa_tensor *x, const fa_tensor *y, bool official, int *broken) {
  enum { M = 64 };
  long index[M];
  for (int i = 0; i < M; i++) index[i] = i;
  fa_rng stream = fa_rng_stream(3, FA_STREAM_EVAL);
  fa_square_config c = {.eps = 16.0f / 255.0f, .n_queries = 100, .p_init = 0.8f, .n_restarts = 1, .rescale = true,
                        .official_windows = official};
  bool robust[M];
  fa_tensor *d = fa_square(model, &c, x, y, &stream, index, robust, NULL);
  FA_CHECK(d, "%s", fa_error_message());
  if (!d) return -1;
  const float *dv = fa_test_values(d);
  int crossed = 0;
  *broken = 0;
  for (int i = 0; i < M; i++) {
    if (robust[i]) continue;
    ++*broken;
    bool plus = false, minus = false;
    for (int r = 0; r < 28; r++) {
      float v = dv[(size_t)i * ROW + r * 28 + 27];
      plus |= v > 0, minus |= v < 0;
    }
    crossed += plus && minus;
  }
  return crossed;
}

static void check_windows(void) {
  fa_model *model = fixture_cnn();
  const float *x4 = ref("step.x", N * ROW, 4);
  const int *y4 = ref("step.labels", N, 4);
  if (!x4 || !y4) return;
  static float x[64 * ROW];
  int labels[64], broken_official, broken_paper;
  for (int i = 0; i < 64; i++) {
    memcpy(x + (size_t)i * ROW, x4 + (size_t)(i % N) * ROW, ROW * sizeof(float));
    labels[i] = y4[i % N];
  }
  fa_tensor *xt = fa_tensor_from(4, (int[]){64, 1, 28, 28}, x), *y = fa_labels_from(64, labels, 10);
  int official = last_columns_crossed(model, xt, y, true, &broken_official);
  int paper = last_columns_crossed(model, xt, y, false, &broken_paper);
  printf("windows: last column crossed in %d of %d broken examples (official range), %d of %d (the paper's)\n",
         official, broken_official, paper, broken_paper);
  FA_CHECK(broken_official > 0 && official == 0, "official windows: %d of %d broken examples' last columns crossed",
           official, broken_official);
  FA_CHECK(paper > 0, "the paper's windows never crossed the last column of %d broken examples", broken_paper);
  fa_model_destroy(model);
}

/* Robust after each attack alone, at eps 6/255, on the fixture's images. */
static void robust_alone(fa_model *model, const char *name, fa_tensor *x, const fa_tensor *y, bool *robust) {
  fa_rng stream = fa_rng_stream(0, FA_STREAM_EVAL);
  const fa_eval_attack *a = fa_eval_attack_find(name);
  fa_attack_options o = a->defaults;
  o.n_iters = 5, o.n_queries = 30;
  fa_eval_attack_input in = {.model = model, .x = x, .y = y, .eps = 6.0f / 255.0f, .options = &o, .rng = &stream,
                             .first_example = 20};
  FA_CHECK(fa_eval_attack_robust(a, &in, robust) >= 0, "%s: %s", name, fa_error_message());
}

/* A stage that notes the examples it is given and leaves them as they are. */
/* A stage that counts the examples it is given (by data set index), and its calls. */
enum { BIG = 150 };
static int counter_seen[BIG], counter_calls, counter_most;
static fa_tensor *counter_perturb(const fa_eval_attack_input *in) {
  const long *index = fa_eval_examples(in);
  int m = fa_tensor_dim(in->x, 0);
  counter_calls++;
  counter_most = m > counter_most ? m : counter_most;
  for (int i = 0; index && i < m; i++) counter_seen[index[i]]++;
  return fa_zeros_like(in->x);
}
static void counter_label(const fa_attack_options *o, char *out, size_t len) { (void)o, snprintf(out, len, "counter"); }
static const fa_eval_attack counter = {.name = "counter", .summary = "a test's", .perturb = counter_perturb,
                                       .label = counter_label};
/* Its counts set to zero, and it registered once. */
static void counter_reset(void) {
  memset(counter_seen, 0, sizeof counter_seen);
  counter_calls = counter_most = 0;
  if (!fa_eval_attack_find(counter.name))
    FA_CHECK(fa_eval_attack_register(&counter) == FA_OK, "%s", fa_error_message());
}

static void check_driver(void) {
  fa_model *model = fixture_cnn();
  const float *x = ref("step.x", N * ROW, 4);
  const int *labels = ref("step.labels", N, 4);
  if (!x || !labels) return;
  fa_tensor *xt = fa_tensor_from(4, (int[]){N, 1, 28, 28}, x), *y = fa_labels_from(N, labels, 10);
  bool ce[N], sq[N], both[N], stage_robust[FA_EVAL_MAX_STAGES * N];
  robust_alone(model, "apgd_ce", xt, y, ce);
  robust_alone(model, "square", xt, y, sq);
  const fa_eval_attack *aa = fa_eval_attack_find("autoattack");
  fa_attack_options o = aa->defaults;
  o.n_iters = 5, o.n_queries = 30;
  snprintf(o.stages, sizeof o.stages, "apgd-ce,square");
  fa_rng stream = fa_rng_stream(0, FA_STREAM_EVAL);
  fa_eval_stages stages = {.robust = stage_robust};
  fa_eval_attack_input in = {.model = model, .x = xt, .y = y, .eps = 6.0f / 255.0f, .options = &o, .rng = &stream,
                             .first_example = 20, .stages = &stages};
  FA_CHECK(fa_eval_attack_robust(aa, &in, both) >= 0, "%s", fa_error_message());
  int broken_by_one = 0;
  for (int i = 0; i < N; i++) {
    broken_by_one += ce[i] != sq[i];
    FA_CHECK(both[i] == (ce[i] && sq[i]) && stages.n == 2 && stage_robust[i] == ce[i] &&
                 stage_robust[N + i] == both[i],
             "example %d: robust to apgd-ce %d, to square %d, to both in turn %d (after the stages %d %d)", i, ce[i],
             sq[i], both[i], stage_robust[i], stage_robust[N + i]);
  }
  printf("driver: %d of %d examples broken by one attack and not the other\n", broken_by_one, N);
  /* a stage sees the examples still robust, and only those */
  counter_reset();
  snprintf(o.stages, sizeof o.stages, "apgd-ce,counter");
  in.rng = &stream;
  FA_CHECK(fa_eval_attack_robust(aa, &in, both) >= 0, "%s", fa_error_message());
  for (int i = 0; i < N; i++)
    FA_CHECK(counter_seen[20 + i] == ce[i], "example %d: robust after apgd-ce %d, given to the next stage %d times",
             i, ce[i], counter_seen[20 + i]);
  fa_autoattack_stage s[FA_EVAL_MAX_STAGES];
  int n;
  FA_CHECK(fa_autoattack_stages("apgd-ce,nope", &o, s, &n) != FA_OK && strstr(fa_error_message(), "nope"),
           "an unknown stage: %s", fa_error_message());
  FA_CHECK(fa_autoattack_stages("plus", &o, s, &n) != FA_OK || (n == 5 && s[0].options.n_restarts == 5),
           "plus: %d stages", n);
  FA_CHECK(fa_autoattack_stages("apgd-ce,,square", &o, s, &n) != FA_OK, "an empty stage name taken");
  fa_model_destroy(model);
}

/* A batch larger than FA_AUTOATTACK_CHUNK: each stage gets its examples in
 * chunks of at most that many, each example once, with the numbers of the
 * whole batch (apgd-ce alone on it). */
static void check_driver_chunks(void) {
  fa_model *model = fixture_cnn();
  const float *x4 = ref("step.x", N * ROW, 4);
  const int *y4 = ref("step.labels", N, 4);
  if (!x4 || !y4) return;
  static float x[BIG * ROW];
  int labels[BIG];
  for (int i = 0; i < BIG; i++) {
    memcpy(x + (size_t)i * ROW, x4 + (size_t)(i % N) * ROW, ROW * sizeof(float));
    labels[i] = y4[i % N];
  }
  fa_tensor *xt = fa_tensor_from(4, (int[]){BIG, 1, 28, 28}, x), *y = fa_labels_from(BIG, labels, 10);
  bool alone[BIG], driven[BIG], clean[BIG], stage_robust[FA_EVAL_MAX_STAGES * BIG];
  bool was = fa_set_grad_enabled(false);
  fa_mark_correct(fa_model_forward(model, xt, false), y, clean);
  fa_set_grad_enabled(was);
  const fa_eval_attack *aa = fa_eval_attack_find("autoattack"), *ce = fa_eval_attack_find("apgd_ce");
  fa_attack_options o = aa->defaults, o_ce = ce->defaults;
  o.n_iters = o_ce.n_iters = 5;
  snprintf(o.stages, sizeof o.stages, "apgd-ce,counter");
  counter_reset();
  fa_rng stream = fa_rng_stream(0, FA_STREAM_EVAL);
  fa_eval_stages stages = {.robust = stage_robust};
  fa_eval_attack_input in = {.model = model, .x = xt, .y = y, .eps = 1.0f / 255.0f, .options = &o, .rng = &stream,
                             .stages = &stages};
  FA_CHECK(fa_eval_attack_robust(aa, &in, driven) >= 0, "%s", fa_error_message());
  in.options = &o_ce, in.stages = NULL;
  FA_CHECK(fa_eval_attack_robust(ce, &in, alone) >= 0, "%s", fa_error_message());
  int n_clean = 0, n_alone = 0;
  for (int i = 0; i < BIG; i++) {
    n_clean += clean[i], n_alone += alone[i];
    FA_CHECK(driven[i] == alone[i] && counter_seen[i] == alone[i],
             "example %d: robust to apgd-ce alone %d, after the driver's apgd-ce %d, given to the next stage %d "
             "times", i, alone[i], driven[i], counter_seen[i]);
  }
  int chunks = (n_alone + FA_AUTOATTACK_CHUNK - 1) / FA_AUTOATTACK_CHUNK;
  printf("driver: %d of %d examples clean-correct, %d robust after apgd-ce, given to the next stage in %d calls of "
         "at most %d\n", n_clean, BIG, n_alone, counter_calls, counter_most);
  FA_CHECK(n_alone > FA_AUTOATTACK_CHUNK && counter_calls == chunks && counter_most <= FA_AUTOATTACK_CHUNK,
           "%d examples in %d calls of at most %d, not %d chunks of at most %d", n_alone, counter_calls,
           counter_most, chunks, FA_AUTOATTACK_CHUNK);
  fa_model_destroy(model);
}

static char out[1 << 16], err[1 << 16];

static const char *json_number(const char *json, const char *field, double *v) {
  char key[64];
  snprintf(key, sizeof key, "\"%s\": ", field);
  const char *at = strstr(json, key);
  if (!at || sscanf(at + strlen(key), "%lf", v) != 1) return NULL;
  return at;
}

static bool read_file(const char *path, char *buf, size_t size) {
  FILE *f = fopen(path, "r");
  size_t n = f ? fread(buf, 1, size - 1, f) : 0;
  if (f) fclose(f);
  buf[n] = '\0';
  return f != NULL;
}

static void check_command_line(void) {
  if (access(FMNIST, R_OK) != 0) {
    printf("skipped the command-line checks: dataset-fashion-mnist is not installed\n");
    return;
  }
  const char *dir = fa_test_tmpdir("test_square");
  char base[1024], args[2048], json[8192], full[1 << 16], resumed[1 << 16], path[1024];
  snprintf(base, sizeof base, "eval --model_path=%s --model=cnn --n_filters_cnn=4 --dataset=fmnist --n_eval=48 "
           "--batch_size_eval=16 --attack=autoattack --aa_attacks=apgd-ce,apgd-t,square --attack_iters=5 "
           "--n_target_classes=2 --n_queries=300", fa_test_source_path(PLAIN));
  /* eps 0: the clean accuracy */
  snprintf(args, sizeof args, "%s --eps=0 --results_json=%s/zero.json", base, dir);
  int rc = fa_test_run_fastadv(args, dir, out, err, sizeof out);
  snprintf(path, sizeof path, "%s/zero.json", dir);
  double clean = -1, robust = -2, n = 0, eps = -1;
  bool ok = read_file(path, json, sizeof json) && json_number(json, "clean_acc", &clean) &&
            json_number(json, "autoattack_acc", &robust) && json_number(json, "n_examples", &n) &&
            json_number(json, "eps", &eps) && strstr(json, "\"model\": ") && strstr(json, "\"seconds\": ") &&
            strstr(json, "{\"name\": \"APGD-T\", \"robust_acc\": ");
  FA_CHECK(rc == 0 && ok && clean == robust && n == 48 && eps == 0 && clean > 0,
           "eps 0: exit %d, clean %g, autoattack %g, %g examples\n%s%s", rc, clean, robust, n, json, err);
  /* uninterrupted, at eps 8 */
  snprintf(args, sizeof args, "%s --eps=8 --results_json=%s/full.json", base, dir);
  rc = fa_test_run_fastadv(args, dir, out, err, sizeof out);
  snprintf(path, sizeof path, "%s/full.json.examples.jsonl", dir);
  FA_CHECK(rc == 0 && read_file(path, full, sizeof full) && strstr(out, "robust accuracy after Square: "),
           "eval: exit %d\n%s%s", rc, out, err);
  snprintf(path, sizeof path, "%s/full.json", dir);
  double full_acc = -1, again_acc = -2;
  FA_CHECK(read_file(path, json, sizeof json) && json_number(json, "autoattack_acc", &full_acc) && full_acc < clean,
           "eps 8: autoattack %g, clean %g", full_acc, clean);
  /* killed part way (SIGKILL), then resumed */
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "cd %s && rm -f k.json* && timeout -s KILL 0.5 %s/fastadv %s --eps=8 --batch_size_eval=4 "
           "--results_json=%s/k.json >/dev/null 2>&1", dir, FA_BUILD_DIR, base, dir);
  rc = system(cmd);
  snprintf(args, sizeof args, "%s --eps=8 --results_json=%s/k.json", base, dir);
  rc = fa_test_run_fastadv(args, dir, out, err, sizeof out);
  FA_CHECK(rc != 0 && strstr(err, "--resume_eval"), "a log there without --resume_eval: exit %d, %s", rc, err);
  snprintf(args, sizeof args, "%s --eps=8 --results_json=%s/k.json --resume_eval", base, dir);
  rc = fa_test_run_fastadv(args, dir, out, err, sizeof out);
  snprintf(path, sizeof path, "%s/k.json.examples.jsonl", dir);
  FA_CHECK(rc == 0 && read_file(path, resumed, sizeof resumed) && strcmp(resumed, full) == 0,
           "killed and resumed: exit %d, the log differs from the uninterrupted one\n%s", rc, err);
  printf("killed after 0.5 s and resumed: %s", strstr(out, "resumed:") ? strstr(out, "resumed:") : "(done before)\n");
  /* torn mid-line, then resumed */
  snprintf(cmd, sizeof cmd, "cd %s && head -c 700 full.json.examples.jsonl > t.json.examples.jsonl", dir);
  rc = system(cmd);
  snprintf(args, sizeof args, "%s --eps=8 --results_json=%s/t.json --resume_eval --batch_size_eval=7", base,
           dir);
  rc = fa_test_run_fastadv(args, dir, out, err, sizeof out);
  snprintf(path, sizeof path, "%s/t.json.examples.jsonl", dir);
  FA_CHECK(rc == 0 && read_file(path, resumed, sizeof resumed) && strcmp(resumed, full) == 0 &&
               strstr(out, "resumed: "),
           "torn and resumed: exit %d, the log differs from the uninterrupted one\n%s%s", rc, out, err);
  snprintf(path, sizeof path, "%s/t.json", dir);
  FA_CHECK(read_file(path, json, sizeof json) && json_number(json, "autoattack_acc", &again_acc) &&
               again_acc == full_acc, "resumed: autoattack %g, uninterrupted %g", again_acc, full_acc);
  /* killed before the log's first line was whole: started afresh */
  snprintf(cmd, sizeof cmd, "cd %s && head -c 20 full.json.examples.jsonl > e.json.examples.jsonl", dir);
  rc = system(cmd);
  snprintf(args, sizeof args, "%s --eps=8 --results_json=%s/e.json --resume_eval", base, dir);
  rc = fa_test_run_fastadv(args, dir, out, err, sizeof out);
  snprintf(path, sizeof path, "%s/e.json.examples.jsonl", dir);
  FA_CHECK(rc == 0 && read_file(path, resumed, sizeof resumed) && strcmp(resumed, full) == 0,
           "a torn first line, resumed: exit %d\n%s", rc, err);
  /* the log of another evaluation */
  snprintf(args, sizeof args, "%s --eps=4 --results_json=%s/k.json --resume_eval", base, dir);
  rc = fa_test_run_fastadv(args, dir, out, err, sizeof out);
  FA_CHECK(rc == 1 && strstr(err, "is the log of another evaluation"), "resumed at another eps: exit %d, %s", rc,
           err);
  /* the final evaluation of a training run */
  snprintf(args, sizeof args, "train --dataset=fmnist --model=cnn --n_filters_cnn=2 --epochs=1 --debug --batch_size=16 "
           "--n_final_eval=32 --batch_size_eval=16 --final_eval=autoattack --aa_attacks=apgd-ce,square "
           "--out_dir=%s/run", dir);
  rc = fa_test_run_fastadv(args, dir, out, err, sizeof out);
  FA_CHECK(rc == 0 && strstr(out, "[final: last model] clean acc ") && strstr(out, "autoattack-apgd-ce,square acc "),
           "train --final_eval=autoattack: exit %d\n%s%s", rc, out, err);
  snprintf(args, sizeof args, "train --dataset=cifar10_binary --model=cnn --final_eval=autoattack --aa_attacks=apgd-t "
           "--out_dir=%s/run2", dir);
  rc = fa_test_run_fastadv(args, dir, out, err, sizeof out);
  FA_CHECK(rc == 2 && strstr(err, "APGD-T needs at least 4 classes"), "train, too few classes for the final "
           "evaluation: exit %d, %s", rc, err);
  /* refusals */
  const struct {
    const char *flags, *message;
    int rc;
  } refused[] = {
      {"--aa_attacks=apgd-ce,nope", "the stage nope is not an evaluation attack", 2},
      {"--aa_attacks=standard,square", "the stage standard is not an evaluation attack", 2},
      {"--dataset=cifar10_binary --aa_attacks=apgd-ce,apgd-t", "APGD-T needs at least 4 classes", 2},
      {"--results_json=/nonexistent/r.json", "cannot write the per-example log /nonexistent/r.json", 1},
      {"--resume_eval", "--resume_eval continues the evaluation of a --results_json", 2},
  };
  for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
    snprintf(args, sizeof args, "eval --model_path=%s --model=cnn --n_filters_cnn=4 --dataset=fmnist --n_eval=8 "
             "--attack=autoattack "
             "--aa_attacks=apgd-ce --attack_iters=2 %s", fa_test_source_path(PLAIN), refused[i].flags);
    rc = fa_test_run_fastadv(args, dir, out, err, sizeof out);
    FA_CHECK(rc == refused[i].rc && strstr(err, refused[i].message), "%s: exit %d, %s", refused[i].flags, rc, err);
  }
}

int main(void) {
  fa_arena *arena = fa_arena_create((size_t)1 << 30);
  fa_arena_set_current(arena);
  fixture = fa_st_open(fa_test_source_path(FIXTURE));
  FA_CHECK(fixture, "%s", fa_error_message());
  if (fixture) {
    check_schedule();
    check_step();
    check_attack();
    check_windows();
    check_driver();
    check_driver_chunks();
    fa_st_close(fixture);
  }
  check_command_line();
  fa_arena_destroy(arena);
  return fa_test_exit();
}
