/* `fastadv plot` on metrics and logs written here: each kind of figure
 * comes out as a PNG of the expected size and an SVG, the eps table has
 * the mean over seeds; bad inputs get a message and a non-zero status.
 * Also Lemma 2's bound, and `fastadv align_init`'s flags. Without gnuplot
 * the command must say so. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analysis/align_init.h"
#include "testlib.h"

static char out[65536], err[65536];

static void write_file(const char *dir, const char *name, const char *text) {
  char path[8400];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
}

/* What a run was trained with. */
typedef struct {
  int eps, seed, replay, pgd_iters;
  const char *attack, *init, *lambda;
  const char *config_extra; /* more members of the config record: ", \"elle_adaptive\": true" */
} run_params;

/* 9 reports (100 iterations per epoch, one every 50) into p; returns the end */
static char *put_reports(char *p, int from, int to) {
  for (int r = from; r <= to; r++)
    p += sprintf(p,
                 "{\"iteration\": %d, \"epoch\": %d, \"time_s\": 1, \"test.acc_fgsm\": %g, \"test.acc_pgd\": %g, "
                 "\"test.loss_fgsm\": %g, \"test.loss_pgd\": %s, \"test.cos_x_eta\": %g, \"test.cos_fgsm_pgd\": %g, "
                 "\"cnn.filter_norm_0\": %g, \"cnn.outgoing_norm_0\": %g, \"cnn.filter_norm_1\": 1, "
                 "\"cnn.outgoing_norm_1\": 2}\n",
                 50 * r, r == 0 ? 0 : (50 * r + 99) / 100, 0.1 * r, r < 4 ? 0.2 : 0.0, 2.0, r == 5 ? "null" : "3",
                 1.0 - 0.1 * r, 0.9 - 0.1 * r, 1.0 + r, 2.0 + r);
  return p;
}

static char *logs_dir(const char *dir, const char *name) {
  static char logs[4200];
  snprintf(logs, sizeof logs, "%s/%s", dir, name);
  mkdir(logs, 0777);
  snprintf(logs, sizeof logs, "%s/%s/logs", dir, name);
  mkdir(logs, 0777);
  return logs;
}

/* LEGACY: a run as main wrote it before the records (fastadv 0.1): the .log
 * holds the run's name (its hyper-parameters) and the final line; the
 * .jsonl holds reports only. */
static void write_legacy_run(const char *dir, const char *name, const run_params *r, double clean, double pgd) {
  char *logs = logs_dir(dir, name), text[8192];
  snprintf(text, sizeof text,
           "[2026-01-01 00:00:00] run: 2026-01-01 00:00:00 dataset=cifar10 model=cnn eps=%d.0 attack=%s m=%d "
           "attack_init=%s fgsm_alpha=1.25 epochs=3 pgd=2.0-%d grad_align_cos_lambda=%s lr_max=0.003 seed=%d "
           "n_layers=1 n_filters_cnn=2\n"
           "[2026-01-01 00:01:00] [final: last model] clean acc %.2f%%, pgd-50-10 acc %.2f%% on 500 test examples (1.0s)\n",
           r->eps, r->attack, r->replay, r->init, r->pgd_iters, r->lambda, r->seed, clean, pgd);
  write_file(logs, "r.log", text);
  put_reports(text, 0, 8);
  write_file(logs, "r.jsonl", text);
}

/* Today's run: the .jsonl alone, its first record the configuration, its
 * last the final evaluation (none when final is 0: the run has not
 * finished); with resumed, a resume record in the middle. No .log: the
 * records must be enough. */
static void write_run(const char *dir, const char *name, const run_params *r, double clean, double pgd, int final,
                      int resumed) {
  char *logs = logs_dir(dir, name), text[16384], config[2048];
  snprintf(config, sizeof config,
           "{\"version\": \"0.2.0\", \"run\": \"2026-01-01 00:00:00 dataset=cifar10 ...\", \"dataset\": \"cifar10\", "
           "\"model\": \"cnn\", \"out_dir\": \"a \\\"quoted\\\"\\npath\", \"epochs\": 3, \"lr_max\": 0.003, "
           "\"attack\": \"%s\", \"eps\": %d, \"attack_init\": \"%s\", \"fgsm_alpha\": 1.25, \"pgd_train_n_iters\": %d, "
           "\"pgd_alpha_train\": 2, \"minibatch_replay\": %d, \"grad_align_cos_lambda\": %s, \"seed\": %d, "
           "\"debug\": false%s}",
           r->attack, r->eps, r->init, r->pgd_iters, r->replay, r->lambda, r->seed,
           r->config_extra ? r->config_extra : "");
  char *p = text + sprintf(text, "{\"config\": %s}\n", config);
  if (resumed) {
    p = put_reports(p, 0, 4);
    p += sprintf(p, "{\"resume\": {\"iteration\": 201, %s}\n", config + 1);
    p = put_reports(p, 5, 8);
  } else {
    p = put_reports(p, 0, 8);
  }
  if (r->config_extra && strstr(r->config_extra, "on_co")) /* the monitor fired, as the replay does not */
    p += sprintf(p, "{\"co_detected\": {\"iteration\": 150, \"epoch\": 2, \"evidence\": \"...\"}}\n");
  if (final)
    sprintf(p, "{\"final\": {\"attack\": \"pgd\", \"attack_iters\": 50, \"n_restarts\": 10, \"eps\": %d, "
               "\"n_examples\": 500, \"seed\": %d, \"last\": {\"clean_acc\": %.17g, \"robust_acc\": %.17g, "
               "\"time_s\": 1.5}, \"best\": null}}\n",
            r->eps, r->seed, clean / 100, pgd / 100);
  write_file(logs, "r.jsonl", text);
}

static int svg_ok(const char *prefix) {
  char path[4200], head[512] = "";
  snprintf(path, sizeof path, "%s.svg", prefix);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  size_t n = fread(head, 1, sizeof head - 1, f);
  head[n] = '\0';
  fclose(f);
  return strstr(head, "<svg") != NULL;
}

static void check_figure(const char *prefix, int width, int height, const char *what) {
  char png[4200];
  snprintf(png, sizeof png, "%s.png", prefix);
  int w = 0, h = 0;
  long bytes = 0;
  FA_CHECK(fa_test_png_size(png, &w, &h, &bytes) && w == width && h == height, "%s: PNG %d x %d", what, w, h);
  FA_CHECK(bytes > 10000, "%s: PNG of %ld bytes", what, bytes);
  FA_CHECK(svg_ok(prefix), "%s: SVG written", what);
}

static int exists(const char *dir, const char *name) {
  char path[8400];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  struct stat sb;
  return stat(path, &sb) == 0;
}

/* Each way a string reaches the gnuplot script, with a newline that would
 * end the command and run `system "touch PWNED_<way>"` (in dir, the working
 * directory of fastadv and gnuplot): a file name in a --runs directory is
 * skipped with a warning, the flags are refused. */
static void injection_fails(const char *dir) {
  char evil[8400], args[32768], attack[8400];
  snprintf(evil, sizeof evil, "%s/evil", dir);
  mkdir(evil, 0777);
  if (chdir(dir) != 0) exit(1);
  snprintf(args, sizeof args, "cp '%s/fgsm_8_0/logs/r.jsonl' '%s/good.jsonl' && cp '%s/fgsm_8_0/logs/r.jsonl' "
           "'%s/r\nsystem \"touch PWNED_file\"\n#.jsonl'", dir, evil, dir, evil);
  FA_CHECK(system(args) == 0, "the run directory with a hostile file name: %s", args);
  snprintf(args, sizeof args, "plot --kind=curves --runs='%s' --out='%s/evil_curves'", evil, dir);
  int status = fa_test_run_fastadv(args, dir, out, err, sizeof out);
  FA_CHECK(!exists(dir, "PWNED_file"), "a file name in a --runs directory ran a command: %s", err);
  FA_CHECK(status == 0 && strstr(err, "skipping") && strstr(err, "r\\x0asystem") && strstr(out, "from 1 file"),
           "the hostile file is skipped with a warning, the other one drawn: %d %s", status, err);

  static const char *const ways[] = {"labels", "out", "title", "runs"};
  for (int w = 0; w < 4; w++) {
    snprintf(attack, sizeof attack, "x\nsystem \"touch PWNED_%s\"\n#", ways[w]);
    snprintf(args, sizeof args, "plot --kind=curves --runs='%s/good.jsonl' --out='%s/flag_curves' --%s='%s'", evil,
             dir, ways[w], attack);
    status = fa_test_run_fastadv(args, dir, out, err, sizeof out);
    char pwned[64];
    snprintf(pwned, sizeof pwned, "PWNED_%s", ways[w]);
    FA_CHECK(!exists(dir, pwned), "--%s ran a command", ways[w]);
    FA_CHECK(status == 2 && strstr(err, ways[w]) && strstr(err, "control character"),
             "--%s with a newline is refused: %d %s", ways[w], status, err);
  }
}

/* --out naming a directory: the kind's name inside it, never a hidden .png;
 * a directory that does not exist is named, and nothing reaches stdout. */
static void out_directory(const char *dir) {
  char args[16384], figs[4200];
  snprintf(figs, sizeof figs, "%s/figs", dir);
  mkdir(figs, 0777);
  for (int slash = 0; slash < 2; slash++) {
    snprintf(args, sizeof args, "plot --kind=filters --runs='%s/fgsm_8_0/logs/r.jsonl' --out='%s%s'", dir, figs,
             slash ? "/" : "");
    FA_CHECK(fa_test_run_fastadv(args, dir, out, err, sizeof out) == 0, "--out=figs%s: %s", slash ? "/" : "", err);
    FA_CHECK(exists(figs, "filters.png") && exists(figs, "filters.svg") && !exists(figs, ".png"),
             "--out=figs%s writes figs/filters.png and .svg", slash ? "/" : "");
  }
  snprintf(args, sizeof args, "plot --kind=filters --runs='%s/fgsm_8_0/logs/r.jsonl' --out='%s/none/'", dir, dir);
  FA_CHECK(fa_test_run_fastadv(args, dir, out, err, sizeof out) == 1 && strstr(err, "none/") &&
               strstr(err, "does not exist") && out[0] == '\0',
           "--out in a missing directory: %s", err);
}

static void lemma2_bound(void) {
  double tiny = fa_lemma2_bound(27, 0.1 / 255, 20000, 0), b4 = fa_lemma2_bound(27, 4.0 / 255, 20000, 0);
  double b16 = fa_lemma2_bound(27, 16.0 / 255, 20000, 0), huge = fa_lemma2_bound(27, 1.0, 20000, 0);
  FA_CHECK(tiny > 0.95 && tiny <= 1, "bound -> 1 as eps -> 0: %g", tiny);
  FA_CHECK(b4 > b16 && b16 >= 0.5, "bound decreases with eps: %g at 4/255, %g at 16/255", b4, b16);
  FA_CHECK(huge == 0.5, "bound is at least 0.5: %g at eps 1", huge);
}

int main(void) {
  lemma2_bound();
  const char *dir = fa_test_tmpdir("test_analysis_plot");
  char args[16384], prefix[4200];
  char sub[64];
  /* seed 0 written the legacy way, seed 1 with records: the eps table mixes both */
  for (int seed = 0; seed < 2; seed++)
    for (int eps = 4; eps <= 8; eps += 4) {
      run_params fgsm = {eps, seed, 1, 10, "fgsm", "zero", "0", NULL}, pgd = {eps, seed, 1, 3, "pgd", "random", "0", NULL};
      snprintf(sub, sizeof sub, "fgsm_%d_%d", eps, seed);
      if (seed == 0) write_legacy_run(dir, sub, &fgsm, 80 - eps, eps == 8 ? 0 : 30);
      else write_run(dir, sub, &fgsm, 80 - eps, eps == 8 ? 0 : 40, 1, 0);
      snprintf(sub, sizeof sub, "pgd_%d_%d", eps, seed);
      if (seed == 0) write_legacy_run(dir, sub, &pgd, 70 - eps, 40 - eps);
      else write_run(dir, sub, &pgd, 70 - eps, 40 - eps, 1, 0);
    }
  run_params ga = {8, 0, 1, 10, "fgsm", "zero", "0.5", NULL}, free_m4 = {8, 0, 4, 10, "fgsm", "zero", "0", NULL};
  write_run(dir, "ga", &ga, 70, 30, 1, 1);
  write_run(dir, "free", &free_m4, 60, 20, 1, 0);
  write_run(dir, "unfinished", &free_m4, 0, 0, 0, 0);
  /* the methods of docs/LATER_METHODS.md, with AutoAttack's results beside the logs */
  run_params nfgsm = {8, 0, 1, 10, "nfgsm", "random", "0", NULL},
             elle_a = {8, 0, 1, 10, "fgsm", "zero", "0", ", \"elle_adaptive\": true, \"elle_lambda\": 0, \"on_co\": \"warn\""},
             elle = {8, 0, 1, 10, "fgsm", "random", "0", ", \"elle_adaptive\": false, \"elle_lambda\": 1000"};
  write_run(dir, "nfgsm", &nfgsm, 65, 45, 1, 0);
  run_params pgd2 = {8, 0, 1, 2, "pgd", "zero", "0", NULL};
  write_run(dir, "pgd2", &pgd2, 66, 44, 1, 0);
  write_run(dir, "elle_a", &elle_a, 70, 35, 1, 0);
  elle_a.seed = 1; /* without AutoAttack's results */
  write_run(dir, "elle_a_1", &elle_a, 70, 35, 1, 0);
  write_run(dir, "elle", &elle, 70, 5, 1, 0);
  /* never robust: periodic PGD accuracy 1%, FGSM 60% */
  write_file(logs_dir(dir, "never"), "r.jsonl",
             "{\"config\": {\"attack\": \"fgsm\", \"attack_init\": \"random\", \"eps\": 12, \"seed\": 0}}\n"
             "{\"iteration\": 0, \"epoch\": 0, \"test.acc_fgsm\": 0.6, \"test.acc_pgd\": 0.01, \"test.cos_x_eta\": 0.5}\n"
             "{\"iteration\": 50, \"epoch\": 1, \"test.acc_fgsm\": 0.6, \"test.acc_pgd\": 0, \"test.cos_x_eta\": 0.1}\n"
             "{\"final\": {\"last\": {\"clean_acc\": 0.7, \"robust_acc\": 0}}}\n");
  snprintf(args, sizeof args, "%s/elle_a", dir);
  write_file(args, "autoattack.json", "{\"attack\": \"autoattack-standard\", \"clean_acc\": 70.0, \"autoattack_acc\": 31.5}\n");
  write_file(args, "autoattack.json.examples.jsonl", "{\"evaluation\": \"...\"}\n{\"index\": 0, \"clean\": 1}\n");
  write_file(dir, "lemma2.tsv", "# n_filters eps seed cos bound\n4 2 0 0.99 0.86\n4 8 0 0.98 0.73\n4 8 1 0.96 0.73\n"
                                "16 2 0 0.995 0.86\n16 8 0 0.99 0.73\n");

  if (system("gnuplot --version >/dev/null 2>&1") != 0) {
    snprintf(args, sizeof args, "plot --kind=eps --runs='%s' --out='%s/eps'", dir, dir);
    FA_CHECK(fa_test_run_fastadv(args, dir, out, err, sizeof out) == 1 && strstr(err, "gnuplot-nox"),
             "without gnuplot, plot says what to install: %s", err);
    printf("gnuplot is not installed: only its absence was checked\n");
    return fa_test_exit();
  }

  snprintf(prefix, sizeof prefix, "%s/curves", dir);
  snprintf(args, sizeof args, "plot --kind=curves --runs='%s/fgsm_8_0,%s/ga' --out='%s' --mark_epoch=2 --title=t",
           dir, dir, prefix);
  FA_CHECK(fa_test_run_fastadv(args, dir, out, err, sizeof out) == 0, "curves: %s", err);
  check_figure(prefix, 1600, 400 + 36 * 2, "curves");
  snprintf(args, sizeof args, "%s.svg", prefix);
  char *svg = fa_test_read_file(args);
  FA_CHECK(svg && strstr(svg, "FGSM, seed 0: FGSM acc.") && strstr(svg, "FGSM + GradAlign, seed 0: FGSM acc."),
           "legend names from the legacy log (fgsm_8_0) and from the records (ga)");
  free(svg);

  snprintf(prefix, sizeof prefix, "%s/filters", dir);
  snprintf(args, sizeof args, "plot --kind=filters --runs='%s/fgsm_8_0/logs/r.jsonl' --out='%s'", dir, prefix);
  FA_CHECK(fa_test_run_fastadv(args, dir, out, err, sizeof out) == 0, "filters: %s", err);
  check_figure(prefix, 1100, 400, "filters");
  snprintf(args, sizeof args, "plot --kind=filters --runs='%s/ga/logs/r.jsonl' --out='%s'", dir, prefix);
  FA_CHECK(fa_test_run_fastadv(args, dir, out, err, sizeof out) == 0, "filters of a run with records: %s", err);
  check_figure(prefix, 1100, 400, "filters (records)");

  snprintf(prefix, sizeof prefix, "%s/eps", dir);
  snprintf(args, sizeof args, "plot --kind=eps --runs='%s' --out='%s'", dir, prefix);
  FA_CHECK(fa_test_run_fastadv(args, dir, out, err, sizeof out) == 0, "eps: %s", err);
  check_figure(prefix, 1800, 450, "eps with an AutoAttack panel");
  FA_CHECK(strstr(out, "| FGSM | 4 | 76.0 ± 0.0 (76.0, 76.0) | 35.0 ± 7.1 (30.0, 40.0) | — | 0 of 2 |") != NULL,
           "the eps table has the mean, sd and seeds: %s", out);
  FA_CHECK(strstr(out, "| PGD-3 | 8 | 62.0 ± 0.0 (62.0, 62.0) | 32.0 ± 0.0 (32.0, 32.0) |") &&
               strstr(out, "| FGSM + GradAlign | 8 | 70.0 ± 0.0 (70.0) | 30.0 ± 0.0 (30.0)") &&
               strstr(out, "| AT for Free (m=4) | 8 | 60.0 ± 0.0 (60.0) | 20.0"),
           "methods named from the records (seed 1, ga, free) and the legacy run names (seed 0): %s", out);
  FA_CHECK(strstr(out, "| N-FGSM | 8 | 65.0 ± 0.0 (65.0) | 45.0 ± 0.0 (45.0) | — | 0 of 1 |") &&
               strstr(out, "| FGSM + ELLE-A | 8 | 70.0 ± 0.0 (70.0, 70.0) | 35.0 ± 0.0 (35.0, 35.0) | 31.5 ± 0.0 (31.5, —) | 0 of 2 |") &&
               strstr(out, "| FGSM-RS + ELLE | 8 | 70.0 ± 0.0 (70.0) | 5.0 ± 0.0 (5.0) | — | 1 of 1 |"),
           "N-FGSM, ELLE and ELLE-A named, AutoAttack read from autoattack.json beside logs/: %s", out);
  snprintf(args, sizeof args, "%s.svg", prefix);
  svg = fa_test_read_file(args);
  FA_CHECK(svg && strstr(svg, "rgb( 79, 122, 168)") && strstr(svg, "rgb( 23,  50,  77)"),
           "PGD-2 drawn in its colour (steel blue), PGD-3 in PGD's (dark blue)");
  free(svg);
  FA_CHECK(strstr(out, "| FGSM-RS | 12 | 70.0 ± 0.0 (70.0) | 0.0 ± 0.0 (0.0) | — | 0 of 1 (1 never robust) |") &&
               strstr(out, "| FGSM-RS | 1 | 1 | 0 | 0 | — | 0 | 0 |"),
           "a run never 5%% robust has not collapsed, and is counted apart: %s", out);
  /* every report: periodic PGD 20% until iteration 150, then 0 with FGSM 40% or more: the monitor fires at 200;
   * the runs ending below 10% PGD-50-10 collapsed (onset 200: hits), the others are false alarms */
  FA_CHECK(strstr(out, "| FGSM | 4 | 0 | 2 | 2 | 0 (0 to 0) | 0 | 2 |") &&
               strstr(out, "- false alarm: FGSM, eps 4, seed 1: best periodic PGD accuracy 20.0%, final PGD-50-10 "
                           "40.0%, alarm at iteration 200\n") &&
               strstr(out, "- hit: FGSM, eps 8, seed 1: best periodic PGD accuracy 20.0%, final PGD-50-10 0.0%, "
                           "alarm at iteration 200, onset at iteration 200\n"),
           "the monitor's record per method, and the runs it fired on named: %s", out);
  FA_CHECK(strstr(out, "note: FGSM + ELLE-A, eps 8, seed 1: the run's co_detected record says 150, the monitor as "
                       "built fires at 200") && !strstr(out, "note: FGSM, eps"),
           "a record that differs from the replay is noted, for monitored runs only: %s", out);
  FA_CHECK(strstr(err, "unfinished/logs/r.jsonl: the run has not finished"), "an unfinished run is skipped: %s", err);
  FA_CHECK(strstr(err, "fgsm_4_0/logs/r.jsonl has no records") && !strstr(err, "fgsm_4_1/logs/r.jsonl has no records"),
           "the legacy runs, and only they, are named: %s", err);
  snprintf(args, sizeof args, "plot --kind=eps --runs='%s/fgsm_4_0/logs/r.log' --out='%s'", dir, prefix);
  FA_CHECK(fa_test_run_fastadv(args, dir, out, err, sizeof out) == 0 && strstr(out, "| FGSM | 4 | 76.0 ± 0.0 (76.0) | 30.0 ± 0.0 (30.0) |"),
           "a legacy .log given directly: %s %s", out, err);

  snprintf(prefix, sizeof prefix, "%s/lemma2", dir);
  snprintf(args, sizeof args, "plot --kind=lemma2 --runs='%s/lemma2.tsv' --out='%s'", dir, prefix);
  FA_CHECK(fa_test_run_fastadv(args, dir, out, err, sizeof out) == 0, "lemma2: %s", err);
  check_figure(prefix, 640, 460, "lemma2");

  /* bad inputs */
  snprintf(args, sizeof args, "plot --kind=curves --runs='%s/nothing' --out='%s'", dir, prefix);
  FA_CHECK(fa_test_run_fastadv(args, dir, out, err, sizeof out) == 1 && strstr(err, "does not exist"),
           "a missing input: %s", err);
  write_file(dir, "bad.jsonl", "{\"iteration\": 0}\nnot json\n");
  snprintf(args, sizeof args, "plot --kind=curves --runs='%s/bad.jsonl' --out='%s'", dir, prefix);
  FA_CHECK(fa_test_run_fastadv(args, dir, out, err, sizeof out) == 1 && strstr(err, "line 2"),
           "a broken metrics line is named: %s", err);
  snprintf(args, sizeof args, "plot --kind=filters --runs='%s/fgsm_8_0,%s/ga' --out='%s'", dir, dir, prefix);
  FA_CHECK(fa_test_run_fastadv(args, dir, out, err, sizeof out) == 1 && strstr(err, "one run"),
           "filters of two runs: %s", err);
  snprintf(args, sizeof args, "%s/elle", dir);
  write_file(args, "autoattack.json", "{\"autoattack_acc\": \"n/a\"}\n");
  snprintf(args, sizeof args, "plot --kind=eps --runs='%s/elle' --out='%s'", dir, prefix);
  FA_CHECK(fa_test_run_fastadv(args, dir, out, err, sizeof out) == 1 && strstr(err, "elle/autoattack.json is not the "
                                                                                  "results file"),
           "a broken autoattack.json is named: %s", err);
  snprintf(args, sizeof args, "plot --kind=eps --runs='%s/lemma2.tsv' --out='%s'", dir, prefix);
  FA_CHECK(fa_test_run_fastadv(args, dir, out, err, sizeof out) == 1 && strstr(err, "line 1: not JSON"),
           "a file that is not a metrics file: %s", err);
  write_file(dir, "no_record.jsonl", "{\"config\": 3}\n");
  snprintf(args, sizeof args, "plot --kind=curves --runs='%s/no_record.jsonl' --out='%s'", dir, prefix);
  FA_CHECK(fa_test_run_fastadv(args, dir, out, err, sizeof out) == 1 && strstr(err, "nor a record"),
           "a line that is neither a report nor a record: %s", err);
  FA_CHECK(fa_test_run_fastadv("plot --kind=bars --runs=x --out=y", dir, out, err, sizeof out) == 2 &&
               strstr(err, "--kind"),
           "an unknown kind: %s", err);
  FA_CHECK(fa_test_run_fastadv("plot --runs=x", dir, out, err, sizeof out) == 2 && strstr(err, "--out"),
           "no output: %s", err);
  injection_fails(dir);
  out_directory(dir);
  /* bad lists are a command-line error, found before the data set is looked for */
  snprintf(args, sizeof args, "align_init --eps_list=1,x --out=t.tsv --dataset=fmnist --data_dir='%s/evil'", dir);
  FA_CHECK(fa_test_run_fastadv(args, dir, out, err, sizeof out) == 2 && strstr(err, "--eps_list=1,x"),
           "a bad eps list: %s", err);
  snprintf(args, sizeof args, "align_init --filters_list=4,2.5 --out=t.tsv --dataset=fmnist --data_dir='%s/evil'", dir);
  FA_CHECK(fa_test_run_fastadv(args, dir, out, err, sizeof out) == 2 && strstr(err, "--filters_list=4,2.5") && strstr(err, "whole number"),
           "a bad filters list: %s", err);
  return fa_test_exit();
}
