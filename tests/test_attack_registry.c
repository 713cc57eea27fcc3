/* The attack registries (adv/registry.h). A new training attack, written
 * here as a contributor would write its file in src/adv and added with one
 * registration, is usable by everything at once: the command line takes
 * its name ('-' or '_') and its own defaults for the flags not given, and
 * --help lists them; a real training run (Fashion-MNIST, the normal step,
 * statistics and final evaluation) trains with it; the run is named after
 * it and plot labels it. Then the built-in entries: names, per-attack
 * defaults of train and eval, and the evaluation pgd being PGD-k-r with
 * steps of eps/4. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adv/attack.h"
#include "adv/registry.h"
#include "analysis/runlog.h"
#include "cli/commands.h"
#include "core/arena.h"
#include "core/ops.h"
#include "testlib.h"
#include "train/run.h"

#define FMNIST "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"

/* ---- the new attack: a random walk of n_iters signed steps in the eps-ball ---- */

static struct {
  int starts, perturbs;
  int n_iters;          /* as the last call saw them */
  float step, eps;
  bool input_grad_asked;
} seen;

static fa_tensor *walk_start(const fa_train_attack_input *in) {
  seen.starts++;
  return fa_zeros_like(in->x);
}

/* n_iters times: delta += step * sign(u), u uniform; into the box, then the ball */
static fa_status walk_perturb(const fa_train_attack_input *in, fa_tensor *delta, fa_tensor **input_grad) {
  seen.perturbs++;
  seen.n_iters = in->options->n_iters;
  seen.step = in->options->step.value;
  seen.eps = in->eps;
  seen.input_grad_asked |= input_grad != NULL && *input_grad != NULL;
  for (int i = 0; i < in->options->n_iters; i++) {
    fa_tensor *u = fa_uniform_delta(in->x, 1.0f, in->rng);
    if (!u) return fa_error_code();
    fa_attack_step(in->x, u, delta, in->options->step.value, in->eps, true);
  }
  return FA_OK;
}

static void walk_method(const fa_run_method *run, char *out, size_t len) {
  snprintf(out, len, "Random walk (k=%d)", run->n_iters);
}

static const fa_train_attack random_walk = {
    .name = "random_walk",
    .summary = "a random walk of n_iters signed steps in the eps-ball",
    .options = FA_OPTION_STEP | FA_OPTION_ITERS,
    .defaults = {.step = FA_PIXELS(4), .n_iters = 3},
    .ramps_radius = true,
    .start = walk_start,
    .perturb = walk_perturb,
    .method = walk_method,
};

/* ---- helpers ---- */

static fa_flag_notices notices;
static bool help;

static fa_status parse(const fa_cli_command *command, void *config, char **argv) {
  int argc = 0;
  while (argv[argc]) argc++;
  return fa_cli_parse(command, argc, argv, config, &help, &notices);
}
#define PARSE(command, config, ...) parse(command, config, (char *[]){__VA_ARGS__, NULL})

static char *help_text(const fa_cli_command *command) {
  char *text = NULL;
  size_t size = 0;
  FILE *out = open_memstream(&text, &size);
  fa_cli_print_help(out, command);
  fclose(out);
  /* one space for each run of blanks, so that wrapped lines read as one */
  char *w = text;
  for (const char *r = text; *r; r++)
    if (!(*r == ' ' || *r == '\n') || (w > text && w[-1] != ' ')) *w++ = *r == '\n' ? ' ' : *r;
  *w = '\0';
  return text;
}

/* The one file in dir whose name ends with suffix. */
static bool find_file(const char *dir, const char *suffix, char *path, size_t len) {
  DIR *d = opendir(dir);
  bool found = false;
  for (struct dirent *e; d && (e = readdir(d));) {
    size_t n = strlen(e->d_name), m = strlen(suffix);
    if (n > m && strcmp(e->d_name + n - m, suffix) == 0) {
      snprintf(path, len, "%s/%s", dir, e->d_name);
      found = true;
    }
  }
  if (d) closedir(d);
  return found;
}

/* ---- the new attack through everything ---- */

static void test_new_attack_on_the_command_line(void) {
  FA_CHECK(fa_train_attack_register(&random_walk) == FA_OK, "register: %s", fa_error_message());
  FA_CHECK(fa_train_attack_register(&random_walk) == FA_ERR_INVALID && strstr(fa_error_message(), "exists"),
           "a name is registered once");
  FA_CHECK(fa_train_attack_find("random-walk") == &random_walk, "found with '-'");

  fa_train_config c;
  FA_CHECK(PARSE(&fa_cli_train, &c, "--attack=random-walk") == FA_OK, "--attack=random-walk: %s",
           fa_error_message());
  FA_CHECK(c.attack == &random_walk, "the new attack chosen");
  FA_CHECK(c.pgd_train_n_iters == 3 && c.pgd_alpha_train.pixels == 4 && c.pgd_alpha_train.value == 4 / 255.0f,
           "its own defaults: %d, %g", c.pgd_train_n_iters, c.pgd_alpha_train.pixels);
  FA_CHECK(c.fgsm_alpha == 1.25f && c.attack_init == FA_INIT_RANDOM, "the options it does not read keep theirs");
  FA_CHECK(PARSE(&fa_cli_train, &c, "--pgd_train_n_iters=7", "--attack=random_walk") == FA_OK &&
               c.pgd_train_n_iters == 7 && c.pgd_alpha_train.pixels == 4,
           "a flag given wins over the attack's default");

  char *text = help_text(&fa_cli_train);
  FA_CHECK(strstr(text, "random_walk a random walk of n_iters signed steps in the eps-ball. Defaults: "
                        "--pgd_alpha_train=4 --pgd_train_n_iters=3"),
           "--help lists it with its defaults: %s", text);
  FA_CHECK(strstr(text, "fgsm | pgd | pgd_corner | random_corner | none | random_walk"), "--attack's choices");
  free(text);
}

static void test_new_attack_trains(void) {
  if (access(FMNIST, R_OK) != 0) {
    printf("skipped: Fashion-MNIST is not installed (scripts/setup.sh installs dataset-fashion-mnist)\n");
    return;
  }
  const char *dir = fa_test_tmpdir("test_attack_registry");
  char out_dir[4200];
  snprintf(out_dir, sizeof out_dir, "--out_dir=%s", dir);
  fa_train_config c;
  FA_CHECK(PARSE(&fa_cli_train, &c, "--dataset=fmnist", "--model=cnn", "--n_filters_cnn=4", "--debug",
                 "--batch_size=32", "--epochs=2", "--lr_max=0.003", "--eps=8", "--attack=random-walk", "--eval_iter_freq=4",
                 "--n_eval_every_k_iter=32", "--attack_iters=2", "--n_final_eval=50", "--batch_size_eval=50",
                 "--grad_align_cos_lambda=0.5", out_dir) == FA_OK,
           "%s", fa_error_message());
  memset(&seen, 0, sizeof seen);
  fa_json *flags = fa_json_create();  /* for the run's configuration record, as the program passes them */
  fa_flags_to_json(fa_cli_train.flags, &c, flags);
  fa_comm one = {.size = 1};
  FA_CHECK(fa_run_train(&c, flags, &one) == FA_EXIT_OK, "training with the new attack: %s", fa_error_message());
  fa_json_destroy(flags);
  /* epoch 0's step, then 2 epochs of 4 batches: each step started and perturbed once */
  FA_CHECK(seen.starts == 9 && seen.perturbs == 9, "9 steps: %d starts, %d perturbations", seen.starts,
           seen.perturbs);
  FA_CHECK(seen.n_iters == 3 && seen.step == 4 / 255.0f && seen.eps == 8 / 255.0f && !seen.input_grad_asked,
           "the step gave it its options and radius (%d, %g, %g)", seen.n_iters, seen.step, seen.eps);

  char logs[4200], path[8400];
  snprintf(logs, sizeof logs, "%s/logs", dir);
  FA_CHECK(find_file(logs, ".jsonl", path, sizeof path), "metrics in %s", logs);
  fa_run_info info;
  FA_CHECK(fa_run_info_read(path, &info) == FA_OK && !info.legacy, "the run's records: %s", fa_error_message());
  FA_CHECK(strstr(info.name, " attack=random_walk m=1 ") && strstr(info.name, " pgd=4.0-3 "),
           "the run is named after it: %s", info.name);
  FA_CHECK(!strcmp(info.method, "Random walk (k=3)"), "plot's label: %s", info.method);
  FA_CHECK(info.finished && info.clean_acc > 0.1 && info.pgd_acc >= 0, "the final evaluation ran");

  fa_metrics_table t;
  FA_CHECK(fa_metrics_read(path, &t) == FA_OK, "%s", fa_error_message());
  const double *delta_norm = fa_metrics_column(&t, "train.delta_norm"), *reg = fa_metrics_column(&t, "train.reg");
  FA_CHECK(delta_norm && reg && t.n_reports == 3, "3 reports: %d", t.n_reports);
  /* 3 signed steps of 4/255 from 0 stay within 3 * 4/255 per pixel: the norm of 784 of them within 0.47 */
  for (int r = 0; delta_norm && reg && r < t.n_reports; r++)
    FA_CHECK(delta_norm[r] > 0 && delta_norm[r] <= 12 / 255.0 * 28 + 1e-6 && isfinite(reg[r]),
             "report %d: ||delta|| %g, GradAlign's reg %g", r, delta_norm[r], reg[r]);
  fa_metrics_free(&t);
}

/* ---- the built-in entries ---- */

static void test_builtin_names_and_defaults(void) {
  const char *train_names[] = {"fgsm", "nfgsm", "pgd", "pgd_corner", "random_corner", "none"};
  for (size_t i = 0; i < 6; i++)
    FA_CHECK(fa_train_attack_at(i) && !strcmp(fa_train_attack_at(i)->name, train_names[i]), "training attack %zu",
             i);
  FA_CHECK(fa_train_attack_find("pgd-corner") == fa_train_attack_find("pgd_corner") &&
               fa_train_attack_find("random-corner") == fa_train_attack_at(4),
           "'-' and '_' alike");
  FA_CHECK(!fa_train_attack_find("pgd_") && !fa_train_attack_find("PGD") && !fa_train_attack_find(""),
           "other names are not found");
  const char *eval_names[] = {"pgd", "apgd_ce", "apgd_dlr", "apgd_t", "fab_t", "square", "autoattack"};
  for (size_t i = 0; i < 7; i++)
    FA_CHECK(fa_eval_attack_at(i) && !strcmp(fa_eval_attack_at(i)->name, eval_names[i]), "evaluation attack %zu", i);
  FA_CHECK(!fa_eval_attack_at(7) && fa_eval_attack_find("apgd-t") == fa_eval_attack_at(3) &&
               fa_eval_attack_find("fab-t") == fa_eval_attack_at(4), "evaluation attacks");

  fa_train_config t;
  FA_CHECK(PARSE(&fa_cli_train, &t, "--attack=pgd-corner") == FA_OK && t.attack == fa_train_attack_find("pgd_corner"),
           "--attack=pgd-corner");
  FA_CHECK(t.pgd_train_n_iters == 10 && t.pgd_alpha_train.pixels == 2 && t.attack_init == FA_INIT_RANDOM,
           "pgd_corner's defaults, the paper's");
  FA_CHECK(PARSE(&fa_cli_train, &t, "--attack=fgsm", "--attack_init=zero") == FA_OK &&
               t.attack_init == FA_INIT_ZERO && t.fgsm_alpha == 1.25f,
           "fgsm: --attack_init given, --fgsm_alpha its default");

  fa_eval_config e;
  FA_CHECK(PARSE(&fa_cli_eval, &e, "--model_path=x") == FA_OK && e.attack == fa_eval_attack_find("pgd") &&
               e.attack_iters == 50 && e.n_restarts == 10,
           "eval: pgd, PGD-50-10");
  FA_CHECK(PARSE(&fa_cli_eval, &e, "--model_path=x", "--attack=pgd", "--n_restarts=3") == FA_OK &&
               e.attack_iters == 50 && e.n_restarts == 3,
           "eval: a flag given wins");
  FA_CHECK(PARSE(&fa_cli_eval, &e, "--model_path=x", "--attack=apgd") == FA_ERR_INVALID &&
               strstr(fa_error_message(), "--attack=apgd: not a choice; --attack takes one of pgd"),
           "an unknown evaluation attack: %s", fa_error_message());
  char *text = help_text(&fa_cli_eval);
  FA_CHECK(strstr(text, "Defaults: --attack_iters=50 --n_restarts=10"), "eval --help: pgd's defaults");
  free(text);
  text = help_text(&fa_cli_train);
  FA_CHECK(strstr(text, "pgd PGD-k") && strstr(text, "Defaults: --attack_init=random --pgd_alpha_train=2 "
                                                     "--pgd_train_n_iters=10"),
           "train --help: pgd's defaults");
  free(text);
}

/* Radii and steps are converted where read, as the code before did at use. */
static void test_units(void) {
  fa_train_config t;
  FA_CHECK(PARSE(&fa_cli_train, &t, "--eps=4.5", "--pgd_alpha_train=1.7") == FA_OK, "parse");
  float eps = (float)strtod("4.5", NULL), alpha = (float)strtod("1.7", NULL);
  FA_CHECK(t.eps.pixels == eps && t.eps.value == eps / 255.0f, "--eps");
  FA_CHECK(t.pgd_alpha_train.pixels == alpha && t.pgd_alpha_train.value == alpha / 255.0f, "--pgd_alpha_train");
  fa_eval_config e;
  FA_CHECK(PARSE(&fa_cli_eval, &e, "--model_path=x", "--eps=16") == FA_OK && e.eps.value == 16.0f / 255.0f,
           "eval --eps");
}

/* The registry's pgd is fa_pgd_restarts with steps of eps / 4, and
 * fa_eval_attack_robust counts what fa_count_correct counts. */
static void test_eval_pgd(void) {
  fa_model_config mc = {.arch = FA_ARCH_CNN, .in_channels = 1, .height = 28, .width = 28, .n_classes = 10,
                        .n_layers = 1, .n_filters = 4};
  fa_model *model = fa_model_create(&mc);
  fa_rng init = fa_rng_stream(0, FA_STREAM_INIT), data = fa_rng_stream(1, FA_STREAM_INIT);
  fa_model_init(model, &init);
  fa_tensor *x = fa_uniform(4, (int[]){16, 1, 28, 28}, &data, 0.0f, 1.0f);
  int labels[16];
  for (int i = 0; i < 16; i++) labels[i] = i % 10;
  fa_tensor *y = fa_labels_from(16, labels, mc.n_classes);
  float eps = fa_pixels_of(8).value;
  fa_attack_options options = {.n_iters = 4, .n_restarts = 2};
  fa_rng a = fa_rng_stream(0, FA_STREAM_EVAL), b = a;
  fa_eval_attack_input in = {.model = model, .x = x, .y = y, .eps = eps, .options = &options, .rng = &a};
  fa_tensor *got = fa_eval_attack_find("pgd")->perturb(&in);
  fa_tensor *want = fa_pgd_restarts(model, x, y, eps, eps / 4.0f, 4, 2, &b, 0, NULL, NULL);
  FA_CHECK(got && want && memcmp(fa_test_values(got), fa_test_values(want), fa_tensor_numel(x) * sizeof(float)) == 0,
           "pgd is PGD-4-2, eps/4");
  bool robust[16];
  fa_rng c = fa_rng_stream(0, FA_STREAM_EVAL);
  in.rng = &c;
  int n_robust = fa_eval_attack_robust(fa_eval_attack_find("pgd"), &in, robust);
  fa_tensor *logits = fa_model_forward(model, fa_add(x, want), false);
  int count = 0;
  for (int i = 0; i < 16; i++) count += robust[i];
  FA_CHECK(n_robust == fa_count_correct(logits, y) && count == n_robust, "robust: %d", n_robust);
  char label[32];
  fa_eval_attack_find("pgd")->label(&fa_eval_attack_find("pgd")->defaults, label, sizeof label);
  FA_CHECK(!strcmp(label, "pgd-50-10"), "label %s", label);
  fa_model_destroy(model);
}

int main(void) {
  fa_arena *arena = fa_arena_create((size_t)1 << 30);
  fa_arena_set_current(arena);
  test_builtin_names_and_defaults();
  test_units();
  test_eval_pgd();
  fa_arena_destroy(arena);
  test_new_attack_on_the_command_line();
  test_new_attack_trains();
  return fa_test_exit();
}
