/* The methods beyond the paper (docs/LATER_METHODS.md):
 *
 * - ELLE-A's weight rule on a synthetic penalty sequence, against the rule
 *   computed from the whole history at every step (mean and standard
 *   deviation, divisor n, of the values before the current one, at least 3),
 *   and its edge cases: no jump on 2 values of history, the current value
 *   not part of its own test, the decay by 0.99;
 * - the catastrophic-overfitting monitor on the periodic statistics of a
 *   collapsing run (Fashion-MNIST, FGSM at eps 51/255, the demo's setting:
 *   it fires once, at the report where PGD accuracy fell to a third of its
 *   best) and of healthy ones (the same with GradAlign; a noisy PGD
 *   accuracy without FGSM's blindness): it stays quiet;
 * - the command-line errors of the new flags (exit 2);
 * - --on_co=stop on a short real run that collapses (Fashion-MNIST, FGSM at
 *   eps 51/255, lr 0.01): exit 5, the co_detected record, both models
 *   evaluated, and a resume with --on_co=warn that trains to the end. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adv/elle.h"
#include "testlib.h"
#include "train/co_monitor.h"

#define FMNIST "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"

/* ---- ELLE-A ---- */

/* The rule from the whole list: jump when n >= 3 and p > mean + 2 std. */
static double reference_lambda(const double *history, int n, double p, double lambda, double lambda_max) {
  if (n < 3) return 0.99 * lambda;
  double mean = 0, var = 0;
  for (int i = 0; i < n; i++) mean += history[i];
  mean /= n;
  for (int i = 0; i < n; i++) var += (history[i] - mean) * (history[i] - mean);
  return p > mean + 2 * sqrt(var / n) ? lambda_max : 0.99 * lambda;
}

static void test_elle_adaptive(void) {
  fa_elle_adaptive s = fa_elle_adaptive_start();
  bool spike;
  FA_CHECK(s.lambda == 0 && s.count == 0, "ELLE-A starts at lambda 0 with no history");
  /* 2 values of history: a huge third value does not jump */
  fa_elle_adaptive_step(&s, 1.0, 4000, &spike);
  fa_elle_adaptive_step(&s, 1.0, 4000, &spike);
  double l = fa_elle_adaptive_step(&s, 100.0, 4000, &spike);
  FA_CHECK(l == 0 && !spike, "no jump with 2 values of history (lambda %g)", l);
  /* history {1, 1, 100}: mean 34, std 46.7: 120 > 127.4 is false; 128 jumps */
  l = fa_elle_adaptive_step(&s, 120.0, 4000, &spike);
  FA_CHECK(l == 0 && !spike, "120 is within mean + 2 std of {1, 1, 100}");
  l = fa_elle_adaptive_step(&s, 200.0, 4000, &spike);
  FA_CHECK(l == 4000 && spike, "200 is a spike of {1, 1, 100, 120} (lambda %g)", l);
  l = fa_elle_adaptive_step(&s, 1.0, 4000, &spike);
  FA_CHECK(l == 0.99 * 4000 && !spike, "then lambda decays by 0.99 (%g)", l);
  /* the current value is not in its own test: history {5, 5, 5}, std 0: 5 + 1e-9 jumps */
  fa_elle_adaptive t = fa_elle_adaptive_start();
  for (int i = 0; i < 3; i++) fa_elle_adaptive_step(&t, 5.0, 10, NULL);
  FA_CHECK(fa_elle_adaptive_step(&t, 5.0 + 1e-9, 10, NULL) == 10, "a value just above a constant history jumps");

  /* 2000 steps of a noisy, drifting penalty with spikes, against the whole-history rule */
  enum { STEPS = 2000 };
  static double history[STEPS];
  fa_elle_adaptive u = fa_elle_adaptive_start();
  fa_rng rng = fa_rng_stream(7, FA_STREAM_EVAL);
  double lambda = 0;
  int jumps = 0, disagree = 0;
  double worst = 0;
  for (int i = 0; i < STEPS; i++) {
    double p = 1e-4 * (1 + i / 500.0) * (0.5 + fa_rng_uniform(&rng));
    if (fa_rng_uniform(&rng) < 0.02) p *= 10;
    double want = reference_lambda(history, i, p, lambda, 4000);
    double got = fa_elle_adaptive_step(&u, p, 4000, &spike);
    disagree += (want == 4000) != spike;
    jumps += spike;
    worst = fmax(worst, fabs(got - want) / fmax(1, want));
    lambda = want;
    history[i] = p;
  }
  FA_CHECK(disagree == 0 && worst < 1e-12, "ELLE-A against the whole-history rule: %d decisions differ, lambda "
           "error %.3g", disagree, worst);
  FA_CHECK(jumps > 10 && jumps < 200, "%d jumps in %d steps", jumps, STEPS);
  printf("ELLE-A: %d steps, %d jumps, as the whole-history rule\n", STEPS, jumps);
}

/* ---- the monitor ---- */

typedef struct {
  long iteration;
  double clean, fgsm, pgd, align, train_pgd;
} report_row;

/* Runs the monitor over the rows; returns the iteration it fired at (-1: never) and checks it fires once. */
static long monitor_over(const report_row *rows, int n, const char *what) {
  fa_co_monitor m = fa_co_monitor_start();
  long fired = -1;
  int times = 0;
  char evidence[256];
  for (int i = 0; i < n; i++) {
    fa_periodic_stats s = {.clean_acc = rows[i].clean, .fgsm_acc = rows[i].fgsm, .pgd_acc = rows[i].pgd,
                           .grad_align = rows[i].align, .train_pgd_acc = rows[i].train_pgd};
    if (fa_co_monitor_observe(&m, rows[i].iteration, &s, evidence, sizeof evidence)) {
      times++;
      if (fired < 0) fired = rows[i].iteration;
      printf("%s: fired at %ld: %s\n", what, rows[i].iteration, evidence);
    }
  }
  FA_CHECK(times <= 1, "%s: fired %d times", what, times);
  FA_CHECK(m.detected_at == fired, "%s: detected_at %ld, fired at %ld", what, m.detected_at, fired);
  return fired;
}

static void test_monitor(void) {
  /* fastadv train --dataset=fmnist --model=cnn --n_filters_cnn=16 --epochs=5 --lr_schedule=constant
   * --lr_max=0.001 --eps=51 --attack=fgsm --attack_init=zero --eval_iter_freq=100 (seed 0), rounded */
  static const report_row collapse[] = {
      {0, 0.090, 0.000, 0.000, 0.679, 0.000},   {100, 0.727, 0.570, 0.188, 0.543, 0.191},
      {200, 0.766, 0.500, 0.184, 0.546, 0.215}, {300, 0.773, 0.539, 0.176, 0.467, 0.188},
      {400, 0.785, 0.727, 0.125, 0.380, 0.164}, {500, 0.785, 0.789, 0.062, 0.295, 0.094},
      {600, 0.785, 0.859, 0.027, 0.227, 0.055}, {700, 0.789, 0.750, 0.023, 0.204, 0.023},
      {800, 0.777, 0.895, 0.016, 0.151, 0.004}, {1000, 0.793, 0.949, 0.004, 0.126, 0.000}};
  /* the same with --grad_align_cos_lambda=1 */
  static const report_row gradalign[] = {
      {0, 0.090, 0.000, 0.000, 0.679, 0.000},   {100, 0.727, 0.449, 0.363, 0.842, 0.355},
      {200, 0.723, 0.461, 0.402, 0.861, 0.414}, {300, 0.738, 0.457, 0.379, 0.850, 0.414},
      {400, 0.742, 0.465, 0.387, 0.851, 0.402}, {500, 0.750, 0.470, 0.391, 0.855, 0.410}};
  /* PGD accuracy halves (noise on few examples, a learning-rate jump) but FGSM falls with it and the
   * alignment holds: not catastrophic overfitting */
  static const report_row noisy[] = {
      {0, 0.10, 0.00, 0.00, 0.70, 0.00}, {100, 0.60, 0.45, 0.30, 0.80, 0.30},
      {200, 0.55, 0.25, 0.14, 0.78, 0.15}, {300, 0.62, 0.46, 0.31, 0.81, 0.31}};
  /* standard training: PGD accuracy never above 5% */
  static const report_row standard[] = {
      {0, 0.10, 0.00, 0.00, 0.70, 0.00}, {100, 0.85, 0.40, 0.04, 0.30, 0.03}, {200, 0.88, 0.50, 0.00, 0.10, 0.00}};
  /* barely robust (docs/EXPERIMENTS.md, the monitor's calibration): FGSM + ELLE-A at eps 64 on
   * Fashion-MNIST (the fast methods' sweep, seed 0), PGD accuracy at most 5.9% (15 of 256 examples), then
   * 2.3%, within the noise of 256 examples; its final PGD-50-10, 4.1%, is not a collapse. The rule of
   * a best of 5% fired at 800. */
  static const report_row barely[] = {
      {0, 0.090, 0.000, 0.000, 0.656, 0.000},   {100, 0.676, 0.406, 0.047, 0.529, 0.039},
      {200, 0.695, 0.355, 0.035, 0.568, 0.047}, {300, 0.691, 0.316, 0.059, 0.628, 0.066},
      {400, 0.695, 0.344, 0.051, 0.608, 0.062}, {500, 0.660, 0.504, 0.039, 0.510, 0.047},
      {600, 0.691, 0.531, 0.039, 0.562, 0.043}, {700, 0.645, 0.559, 0.031, 0.572, 0.047},
      {800, 0.699, 0.582, 0.023, 0.463, 0.023}, {900, 0.715, 0.676, 0.051, 0.566, 0.059}};
  /* a collapse from just above the least best PGD accuracy (10%) is still found */
  static const report_row low_best[] = {
      {0, 0.10, 0.00, 0.00, 0.70, 0.00}, {100, 0.70, 0.40, 0.11, 0.60, 0.10}, {200, 0.72, 0.70, 0.05, 0.30, 0.04}};
  FA_CHECK(monitor_over(collapse, 10, "FGSM eps 51") == 500, "the collapse is found at iteration 500");
  FA_CHECK(monitor_over(gradalign, 6, "GradAlign") == -1, "no alarm on GradAlign");
  FA_CHECK(monitor_over(noisy, 4, "noisy PGD accuracy") == -1, "no alarm on a drop without FGSM's blindness");
  FA_CHECK(monitor_over(standard, 3, "standard training") == -1, "no alarm without robustness to lose");
  FA_CHECK(monitor_over(barely, 10, "barely robust") == -1, "no alarm on a run never 10%% robust");
  FA_CHECK(monitor_over(low_best, 3, "best 11%") == 200, "a collapse from a best of 11%% is found");
}

/* ---- real runs ---- */

static char out[1 << 16], err[1 << 16];

static void test_flag_errors(const char *dir) {
  char args[4400];
  const char *cases[][2] = {
      {"--elle_lambda=0.1 --elle_adaptive", "--elle_lambda and --elle_adaptive both set ELLE's weight"},
      {"--elle_lambda_max=100", "--elle_lambda_max is ELLE-A's"},
      {"--on_co=halt", "--on_co=halt"},
      {"--nfgsm_k=-1", "--nfgsm_k=-1"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    snprintf(args, sizeof args, "train --dataset=fmnist --model=cnn %s --out_dir='%s/flags'", cases[i][0], dir);
    int code = fa_test_run_fastadv(args, dir, out, err, sizeof out);
    FA_CHECK(code == 2 && strstr(err, cases[i][1]), "%s: exit %d (want 2), stderr: %s", cases[i][0], code, err);
    FA_CHECK(access("flags", F_OK) != 0, "%s: nothing written", cases[i][0]);
  }
}

/* The first file under dir whose name ends with suffix. */
static bool find_file(const char *dir, const char *suffix, char *path, size_t len) {
  DIR *d = opendir(dir);
  struct dirent *e;
  bool found = false;
  while (d && !found && (e = readdir(d))) {
    size_t n = strlen(e->d_name), k = strlen(suffix);
    if (n > k && strcmp(e->d_name + n - k, suffix) == 0) {
      snprintf(path, len, "%s/%s", dir, e->d_name);
      found = true;
    }
  }
  if (d) closedir(d);
  return found;
}

static char *read_all(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
  if (buf) buf[got] = '\0';
  fclose(f);
  return buf;
}

static void test_stop_on_co(const char *dir) {
  char args[4400], path[4600], logs[4300], models[4300];
  const char *flags = "--dataset=fmnist --model=cnn --n_filters_cnn=16 --epochs=1 --lr_schedule=constant "
                      "--lr_max=0.01 --eps=51 --attack=fgsm --attack_init=zero --eval_iter_freq=25 "
                      "--n_eval_every_k_iter=100 --attack_iters=5 --n_final_eval=20 --batch_size_eval=100";
  snprintf(args, sizeof args, "train %s --on_co=stop --out_dir='%s/stop'", flags, dir);
  int code = fa_test_run_fastadv(args, dir, out, err, sizeof out);
  FA_CHECK(code == 5, "--on_co=stop: exit %d, want 5: %s", code, err);
  FA_CHECK(strstr(err, "stopped by the catastrophic-overfitting monitor at iteration") &&
               strstr(err, "resume with --on_co=warn"), "--on_co=stop: stderr says how to resume: %s", err);
  FA_CHECK(strstr(out, "catastrophic overfitting detected at iteration") &&
               strstr(out, "[final: last model]") && strstr(out, "[final: best (early stopped) model]"),
           "--on_co=stop: the log says it once and evaluates both models: %s", out);
  snprintf(logs, sizeof logs, "%s/stop/logs", dir);
  snprintf(models, sizeof models, "%s/stop/models", dir);
  char *jsonl = find_file(logs, ".jsonl", path, sizeof path) ? read_all(path) : NULL;
  const char *record = jsonl ? strstr(jsonl, "{\"co_detected\": {\"iteration\": ") : NULL;
  FA_CHECK(record && strstr(record, "\"evidence\": \"PGD accuracy") && strstr(record, "\"test.acc_pgd\": "),
           "the metrics hold a co_detected record with its evidence");
  FA_CHECK(record && !strstr(record + strlen("{\"co_detected"), "co_detected"), "one co_detected record");
  FA_CHECK(find_file(models, "_best.safetensors", path, sizeof path), "the best model is saved");
  free(jsonl);

  /* to train on: resume with --on_co=warn; the monitor, restored, does not fire again */
  char *log = find_file(logs, ".log", path, sizeof path) ? read_all(path) : NULL;
  char name[1100] = "";
  if (log && !strncmp(log, "[", 1) && strstr(log, "run: ")) sscanf(strstr(log, "run: ") + 5, "%1099[^\n]", name);
  free(log);
  snprintf(args, sizeof args, "train %s --on_co=warn --out_dir='%s/stop' --resume='%s'", flags, dir, name);
  code = fa_test_run_fastadv(args, dir, out, err, sizeof out);
  FA_CHECK(code == 0, "resume with --on_co=warn: exit %d: %s", code, err);
  FA_CHECK(!strstr(out, "catastrophic overfitting detected"), "the resumed run does not detect it again: %s", out);
}

int main(void) {
  test_elle_adaptive();
  test_monitor();
  const char *dir = fa_test_tmpdir("test_methods");
  if (chdir(dir) != 0) FA_CHECK(false, "cd %s", dir);
  test_flag_errors(dir);
  if (access(FMNIST, R_OK) != 0) {
    printf("skipped the run: Fashion-MNIST is not installed (scripts/setup.sh installs dataset-fashion-mnist)\n");
    return fa_test_exit();
  }
  test_stop_on_co(dir);
  return fa_test_exit();
}
