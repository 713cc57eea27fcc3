/* The fastadv command line: the flag parser on every flag type and form, the
 * paper's defaults and command lines, each error with its message, notices,
 * the eval --model rule, the help, the flags as JSON (the run's
 * configuration record); then the built program's exit status and output
 * on good and bad command lines. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/flags.h"
#include "core/context.h"
#include "core/version.h"
#include "testlib.h"

static fa_flag_notices notices;
static bool help;

static int count_args(char *const argv[]) {
  int n = 0;
  while (argv[n]) n++;
  return n;
}

/* PARSE(&fa_cli_train, &config, "--eps=4", ...) */
#define PARSE(command, config, ...)                                                                   \
  fa_cli_parse(command, count_args((char *[]){__VA_ARGS__, NULL}), (char *[]){__VA_ARGS__, NULL}, config, \
               &help, &notices)
#define NEEDLES(...) ((const char *[]){__VA_ARGS__, NULL})

/* The command line must fail with a one-line message holding every needle. */
static void expect_error(int line, const fa_cli_command *command, char *const argv[], const char *const needles[]) {
  fa_train_config train;
  fa_eval_config eval;
  void *config = command == &fa_cli_train ? (void *)&train : (void *)&eval;
  fa_status status = fa_cli_parse(command, count_args(argv), argv, config, &help, &notices);
  const char *message = fa_error_message();
  FA_CHECK(status == FA_ERR_INVALID, "line %d: %s: status %d", line, argv[0], status);
  bool one_line = strlen(message) > 10;
  for (const char *c = message; *c; c++) one_line &= !iscntrl((unsigned char)*c);
  FA_CHECK(one_line, "line %d: one line: '%s'", line, message);
  for (int i = 0; needles[i]; i++)
    FA_CHECK(strstr(message, needles[i]), "line %d: '%s' not in '%s'", line, needles[i], message);
}
#define EXPECT_ERROR(command, needles, ...) \
  expect_error(__LINE__, command, (char *[]){__VA_ARGS__, NULL}, needles)

static bool pixels_equal(fa_pixels a, fa_pixels b) { return a.pixels == b.pixels && a.value == b.value; }

static bool train_equal(const fa_train_config *a, const fa_train_config *b) {
  return !strcmp(a->dataset, b->dataset) && !strcmp(a->model, b->model) && !strcmp(a->data_dir, b->data_dir) &&
         a->batch_size == b->batch_size && a->batch_size_eval == b->batch_size_eval && a->epochs == b->epochs &&
         a->lr_schedule == b->lr_schedule && a->lr_max == b->lr_max && a->weight_decay == b->weight_decay &&
         a->attack == b->attack && pixels_equal(a->eps, b->eps) && a->attack_iters == b->attack_iters &&
         a->pgd_train_n_iters == b->pgd_train_n_iters && pixels_equal(a->pgd_alpha_train, b->pgd_alpha_train) &&
         a->fgsm_alpha == b->fgsm_alpha && a->minibatch_replay == b->minibatch_replay &&
         a->attack_init == b->attack_init && a->grad_align_cos_lambda == b->grad_align_cos_lambda &&
         a->seed == b->seed && a->eval_iter_freq == b->eval_iter_freq &&
         a->n_eval_every_k_iter == b->n_eval_every_k_iter && a->n_layers == b->n_layers &&
         a->n_filters_cnn == b->n_filters_cnn && a->n_final_eval == b->n_final_eval &&
         a->eval_early_stopped_model == b->eval_early_stopped_model && a->half_prec == b->half_prec &&
         a->gpu == b->gpu && a->debug == b->debug && !strcmp(a->out_dir, b->out_dir);
}

static bool eval_equal(const fa_eval_config *a, const fa_eval_config *b) {
  return !strcmp(a->dataset, b->dataset) && !strcmp(a->model, b->model) && !strcmp(a->model_path, b->model_path) &&
         !strcmp(a->data_dir, b->data_dir) && !strcmp(a->set, b->set) && a->attack == b->attack &&
         pixels_equal(a->eps, b->eps) &&
         a->n_eval == b->n_eval && a->batch_size_eval == b->batch_size_eval && a->attack_iters == b->attack_iters &&
         a->n_restarts == b->n_restarts && a->n_layers == b->n_layers && a->n_filters_cnn == b->n_filters_cnn &&
         a->early_stopped_model == b->early_stopped_model && a->half_prec == b->half_prec && a->gpu == b->gpu &&
         a->seed == b->seed && !strcmp(a->out_dir, b->out_dir);
}

static bool has_notice(const char *needle) {
  for (int i = 0; i < notices.count; i++)
    if (strstr(notices.text[i], needle)) return true;
  return false;
}

static void test_defaults_are_the_papers(void) {
  fa_train_config t;
  fa_train_config_defaults(&t);
  FA_CHECK(!strcmp(t.dataset, "cifar10") && !strcmp(t.model, "resnet18") && !strcmp(t.data_dir, "") &&
               !strcmp(t.out_dir, "."), "train names");
  FA_CHECK(t.batch_size == 128 && t.batch_size_eval == 256 && t.epochs == 30, "train sizes");
  FA_CHECK(t.lr_schedule == FA_SCHEDULE_CYCLIC && t.lr_max == 0.2f && t.weight_decay == 5e-4f, "optimiser");
  FA_CHECK(t.attack == fa_train_attack_find("fgsm") && t.eps.pixels == 8 && t.attack_iters == 10 &&
               t.pgd_train_n_iters == 10 && t.pgd_alpha_train.pixels == 2 && t.fgsm_alpha == 1.25f && t.minibatch_replay == 1 &&
               t.attack_init == FA_INIT_RANDOM && t.grad_align_cos_lambda == 0, "attack");
  FA_CHECK(t.seed == 0 && t.eval_iter_freq == 200 && t.n_eval_every_k_iter == 256 && t.n_layers == 1 &&
               t.n_filters_cnn == 16 && t.n_final_eval == -1, "statistics, cnn");
  FA_CHECK(!t.eval_early_stopped_model && !t.half_prec && t.gpu == 0 && !t.debug, "switches");

  fa_eval_config e;
  fa_eval_config_defaults(&e);
  FA_CHECK(!strcmp(e.dataset, "") && !strcmp(e.model, "resnet18") && !strcmp(e.model_path, "") &&
               !strcmp(e.set, "test") && !strcmp(e.out_dir, "."), "eval names");
  FA_CHECK(e.attack == fa_eval_attack_find("pgd") && e.eps.pixels == 8 && e.n_eval == 256 && e.batch_size_eval == 1024 && e.attack_iters == 50 &&
               e.n_restarts == 10 && e.n_layers == 1 && e.n_filters_cnn == 16 && e.seed == 0 && e.gpu == 0 &&
               !e.early_stopped_model && !e.half_prec, "eval numbers");

  /* The table and the defaults agree: an empty command line gives the defaults. */
  fa_train_config parsed;
  FA_CHECK(fa_cli_parse(&fa_cli_train, 0, (char *[]){NULL}, &parsed, &help, &notices) == FA_OK, "empty");
  FA_CHECK(train_equal(&parsed, &t) && !help && notices.count == 0, "empty command line: defaults");
}

static void test_papers_command_lines(void) {
  fa_train_config got, want;
  fa_train_config_defaults(&want);
  strcpy(want.dataset, "cifar10");
  want.attack = fa_train_attack_find("fgsm"), want.eps = fa_pixels_of(8), want.attack_init = FA_INIT_ZERO;
  want.epochs = 30;
  want.grad_align_cos_lambda = 0.2f, want.lr_max = 0.30f, want.half_prec = true, want.n_final_eval = 1000;
  FA_CHECK(PARSE(&fa_cli_train, &got, "--dataset=cifar10", "--attack=fgsm", "--eps=8", "--attack_init=zero",
                 "--epochs=30", "--grad_align_cos_lambda=0.2", "--lr_max=0.30", "--half_prec",
                 "--n_final_eval=1000") == FA_OK, "GradAlign line: %s", fa_error_message());
  FA_CHECK(train_equal(&got, &want), "GradAlign line values");
  FA_CHECK(notices.count == 0, "--half_prec is honoured: no notice (%d)", notices.count);

  fa_train_config_defaults(&want);
  strcpy(want.model, "cnn");
  want.attack = fa_train_attack_find("fgsm"), want.eps = fa_pixels_of(10), want.attack_init = FA_INIT_ZERO;
  want.n_layers = 1;
  want.n_filters_cnn = 4, want.epochs = 30, want.eval_iter_freq = 50, want.lr_max = 0.003f, want.gpu = 0;
  want.n_final_eval = 1000;
  FA_CHECK(PARSE(&fa_cli_train, &got, "--model=cnn", "--attack=fgsm", "--eps=10", "--attack_init=zero",
                 "--n_layers=1", "--n_filters_cnn=4", "--epochs=30", "--eval_iter_freq=50", "--lr_max=0.003",
                 "--gpu=0", "--n_final_eval=1000") == FA_OK, "cnn line: %s", fa_error_message());
  FA_CHECK(train_equal(&got, &want), "cnn line values");
  FA_CHECK(notices.count == 1 && has_notice("--gpu") && has_notice("CPU"), "gpu notice");

  /* eval with the paper's README form: --model='<run name>' names the checkpoint. */
  char run[] = "2020-03-19 23:51:05 dataset=cifar10 model=resnet18 eps=8.0 attack=fgsm epoch=30";
  char model_flag[256];
  snprintf(model_flag, sizeof model_flag, "--model=%s", run);
  fa_eval_config e, e_want;
  fa_eval_config_defaults(&e_want);
  e_want.eps = fa_pixels_of(8), e_want.n_eval = 1000;
  strcpy(e_want.model, "");
  strcpy(e_want.model_path, run);
  FA_CHECK(PARSE(&fa_cli_eval, &e, "--eps=8", "--n_eval=1000", model_flag) == FA_OK, "eval: %s", fa_error_message());
  FA_CHECK(eval_equal(&e, &e_want), "eval line: model '%s', model_path '%s'", e.model, e.model_path);
  FA_CHECK(notices.count == 0, "no notice");

  /* an architecture stays the architecture */
  FA_CHECK(PARSE(&fa_cli_eval, &e, "--model=cnn", "--model_path", run) == FA_OK, "eval cnn");
  FA_CHECK(!strcmp(e.model, "cnn") && !strcmp(e.model_path, run), "eval cnn values");
}

static void test_every_type_in_both_forms(void) {
  fa_train_config t;
  FA_CHECK(PARSE(&fa_cli_train, &t, "--epochs=7", "--batch_size", "64", "--eps", "4.5", "--lr_max=1e-3",
                 "--data_dir", "/data/x y", "--out_dir=runs", "--dataset", "svhn", "--model=lenet",
                 "--lr_schedule", "piecewise", "--attack=pgd_corner", "--attack_init", "random", "--debug",
                 "--eval_early_stopped_model=true", "--n_final_eval", "-1", "--seed=+3") == FA_OK,
           "both forms: %s", fa_error_message());
  FA_CHECK(t.epochs == 7 && t.batch_size == 64 && t.eps.pixels == 4.5f && t.lr_max == 1e-3f, "numbers");
  FA_CHECK(!strcmp(t.data_dir, "/data/x y") && !strcmp(t.out_dir, "runs"), "strings");
  FA_CHECK(!strcmp(t.dataset, "svhn") && !strcmp(t.model, "lenet"), "names");
  FA_CHECK(t.lr_schedule == FA_SCHEDULE_PIECEWISE && t.attack == fa_train_attack_find("pgd_corner") &&
               t.attack_init == FA_INIT_RANDOM, "enums");
  FA_CHECK(t.debug && t.eval_early_stopped_model && t.n_final_eval == -1 && t.seed == 3, "switches, -1");

  /* a switch turned off; the last of a repeated flag wins */
  FA_CHECK(PARSE(&fa_cli_train, &t, "--debug", "--debug=false", "--half_prec=0", "--eps=2", "--eps=3") == FA_OK,
           "switch off");
  FA_CHECK(!t.debug && !t.half_prec && t.eps.pixels == 3 && notices.count == 0, "off, last wins, no notice");
  FA_CHECK(PARSE(&fa_cli_train, &t, "--half_prec=1", "--half_prec=true", "--half_prec", "--gpu=1", "--gpu=2") == FA_OK &&
               t.half_prec && t.gpu == 2,
           "switch on");
  FA_CHECK(notices.count == 1 && has_notice("--gpu"), "a notice once: %d", notices.count);

  /* a value that starts with one dash is a value */
  FA_CHECK(PARSE(&fa_cli_train, &t, "--data_dir", "-weird-dir") == FA_OK && !strcmp(t.data_dir, "-weird-dir"),
           "dash value");
  /* a run name holds '=' and spaces */
  FA_CHECK(PARSE(&fa_cli_train, &t, "--out_dir=a=b c") == FA_OK && !strcmp(t.out_dir, "a=b c"), "= in value");
  /* range ends */
  FA_CHECK(PARSE(&fa_cli_train, &t, "--eps=0", "--fgsm_alpha=0", "--batch_size=1", "--epochs=100000") == FA_OK,
           "range ends: %s", fa_error_message());
  FA_CHECK(PARSE(&fa_cli_train, &t, "--eps=255") == FA_OK && t.eps.pixels == 255, "eps 255");
}

static void test_notices(void) {
  fa_train_config t;
  FA_CHECK(PARSE(&fa_cli_train, &t, "--attack=free", "--minibatch_replay=8") == FA_OK, "free");
  FA_CHECK(t.attack == fa_train_attack_find("fgsm") && t.minibatch_replay == 8, "free is fgsm");
  FA_CHECK(notices.count == 1 && has_notice("--attack=free") && has_notice("--minibatch_replay"), "free notice");
  FA_CHECK(PARSE(&fa_cli_train, &t, "--fname", "plain_cifar10", "--gpu", "1", "--half_prec") == FA_OK, "fname");
  FA_CHECK(notices.count == 2 && has_notice("--fname") && has_notice("--gpu") && !has_notice("--half_prec"),
           "two notices: %d", notices.count);
  for (int i = 0; i < notices.count; i++)
    FA_CHECK(!strchr(notices.text[i], '\n'), "one line: %s", notices.text[i]);
  fa_eval_config e;
  FA_CHECK(PARSE(&fa_cli_eval, &e, "--model_path=x", "--n_hidden_fc=1024", "--half_prec") == FA_OK, "eval");
  FA_CHECK(notices.count == 1 && has_notice("--n_hidden_fc"), "eval notices");
  /* a flag the chosen attack does not read: a notice, not silence (N-FGSM starts from its own noise) */
  FA_CHECK(PARSE(&fa_cli_train, &t, "--attack=nfgsm", "--attack_init=random", "--nfgsm_k=3") == FA_OK, "nfgsm");
  FA_CHECK(notices.count == 1 && has_notice("--attack_init: not read by --attack=nfgsm"), "nfgsm notice: %d",
           notices.count);
  FA_CHECK(PARSE(&fa_cli_train, &t, "--attack=fgsm", "--attack_init=random", "--fgsm_alpha=1.25") == FA_OK, "fgsm");
  FA_CHECK(notices.count == 0, "fgsm reads both: %d", notices.count);
  FA_CHECK(PARSE(&fa_cli_eval, &e, "--model_path=x", "--attack=square", "--attack_iters=5") == FA_OK, "square");
  FA_CHECK(notices.count == 1 && has_notice("--attack_iters: not read by --attack=square"), "square notice");
  /* no notice survives a failed parse */
  FA_CHECK(PARSE(&fa_cli_train, &t, "--gpu=0", "--eps=x") == FA_ERR_INVALID, "error after a notice");
}

static void test_help(void) {
  fa_train_config t;
  FA_CHECK(PARSE(&fa_cli_train, &t, "--eps=4", "--help", "--bogus") == FA_OK && help, "--help stops parsing");
  fa_eval_config e;
  FA_CHECK(PARSE(&fa_cli_eval, &e, "-h") == FA_OK && help, "-h");
  FA_CHECK(PARSE(&fa_cli_train, &t, "--eps=4") == FA_OK && !help, "no help");

  char *text = NULL;
  size_t size = 0;
  FILE *out = open_memstream(&text, &size);
  fa_train_config_defaults(&t);
  fa_flags_print_help(out, fa_cli_train.flags, &t);
  fclose(out);
  for (size_t i = 0; i < fa_cli_train.flags->count; i++) {
    char flag[80];
    snprintf(flag, sizeof flag, "\n  --%s", fa_cli_train.flags->flags[i].name);
    FA_CHECK(strstr(text, flag), "help lists %s", flag + 3);
  }
  const char *shown_in_help[] = {"[default: 128]", "[default: 0.0005]", "[default: cyclic]",
                                 "[default: -1 (all)]", "[default: none]", "fgsm | nfgsm | pgd |",
                                 "pgd_corner | random_corner"};
  for (size_t i = 0; i < sizeof shown_in_help / sizeof *shown_in_help; i++)
    FA_CHECK(strstr(text, shown_in_help[i]), "help shows '%s'", shown_in_help[i]);
  FA_CHECK(!strstr(text, "free |") && !strstr(text, "| free"), "aliases are not listed");
  for (char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
    FA_CHECK(strcspn(line, "\n") <= 80, "help line over 80 columns: %.80s", line);
  free(text);
}

/* Every train flag's value as JSON, typed, read back to the same value; a
 * path with quotes, a backslash, a newline and a tab survives. */
static void test_json(void) {
  fa_train_config t;
  FA_CHECK(PARSE(&fa_cli_train, &t, "--lr_max=0.3", "--eps=8", "--attack=pgd", "--debug", "--n_final_eval=-1",
                 "--fname=x", "--out_dir=run \"1\"\\new\nline\tend") == FA_OK,
           "%s", fa_error_message());
  fa_json *o = fa_json_create();
  fa_flags_to_json(fa_cli_train.flags, &t, o);
  const char *text = fa_json_text(o);
  cJSON *j = text ? cJSON_Parse(text) : NULL;
  FA_CHECK(cJSON_IsObject(j), "not a JSON object: %s", text ? text : fa_error_message());
  if (j) {
    size_t members = 0;
    for (const cJSON *m = j->child; m; m = m->next) members++;
    size_t flags = 0;
    for (size_t i = 0; i < fa_cli_train.flags->count; i++) {
      const fa_flag *f = &fa_cli_train.flags->flags[i];
      if (f->type == FA_FLAG_IGNORED) {
        FA_CHECK(!cJSON_GetObjectItemCaseSensitive(j, f->name), "ignored --%s is left out", f->name);
        continue;
      }
      flags++;
      FA_CHECK(cJSON_GetObjectItemCaseSensitive(j, f->name), "--%s is in the record: %s", f->name, text);
    }
    FA_CHECK(members == flags, "%zu members for %zu flags", members, flags);
    const cJSON *lr = cJSON_GetObjectItemCaseSensitive(j, "lr_max"), *eps = cJSON_GetObjectItemCaseSensitive(j, "eps");
    FA_CHECK(cJSON_IsNumber(lr) && (float)lr->valuedouble == 0.3f && strstr(text, "\"lr_max\": 0.3,"),
             "a float with the fewest digits: %s", text);
    FA_CHECK(cJSON_IsNumber(eps) && eps->valuedouble == 8, "eps as given, in 1/255");
    FA_CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "debug")) &&
                 cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "half_prec")),
             "booleans: %s", text);
    const cJSON *attack = cJSON_GetObjectItemCaseSensitive(j, "attack"),
                *schedule = cJSON_GetObjectItemCaseSensitive(j, "lr_schedule"),
                *out_dir = cJSON_GetObjectItemCaseSensitive(j, "out_dir"),
                *resume = cJSON_GetObjectItemCaseSensitive(j, "resume"),
                *n_final = cJSON_GetObjectItemCaseSensitive(j, "n_final_eval");
    FA_CHECK(cJSON_IsString(attack) && !strcmp(attack->valuestring, "pgd") && cJSON_IsString(schedule) &&
                 !strcmp(schedule->valuestring, "cyclic"),
             "enums by name: %s", text);
    FA_CHECK(cJSON_IsString(out_dir) && !strcmp(out_dir->valuestring, t.out_dir), "the path read back: %s", text);
    FA_CHECK(cJSON_IsString(resume) && !*resume->valuestring, "an unset path is \"\": %s", text);
    FA_CHECK(cJSON_IsNumber(n_final) && n_final->valuedouble == -1, "-1 (all) as -1: %s", text);
  }
  cJSON_Delete(j);
  fa_json_destroy(o);
}

static void test_errors(void) {
  const fa_cli_command *T = &fa_cli_train, *E = &fa_cli_eval;
  /* unknown flags, with the closest known one when there is one */
  EXPECT_ERROR(T, NEEDLES("unknown flag --lr_mx", "did you mean --lr_max?"), "--lr_mx=0.1");
  EXPECT_ERROR(T, NEEDLES("did you mean --grad_align_cos_lambda?"), "--grad_align=0.2");
  EXPECT_ERROR(T, NEEDLES("did you mean --epochs?"), "--epohcs", "3");
  EXPECT_ERROR(T, NEEDLES("unknown flag --learning_rate", "fastadv train --help"), "--learning_rate=3");
  EXPECT_ERROR(T, NEEDLES("unknown flag --model_path"), "--model_path=x");  /* eval's flag */
  EXPECT_ERROR(T, NEEDLES("unknown flag --"), "--=3");
  /* missing values */
  EXPECT_ERROR(T, NEEDLES("--eps needs a value", "a number in [0, 255]"), "--eps");
  EXPECT_ERROR(T, NEEDLES("--eps needs a value"), "--eps", "--epochs=3");
  EXPECT_ERROR(T, NEEDLES("--dataset needs a value", "cifar10, svhn"), "--dataset");
  /* bad numbers */
  EXPECT_ERROR(T, NEEDLES("--eps=abc: not a number", "--eps takes a number in [0, 255]"), "--eps=abc");
  EXPECT_ERROR(T, NEEDLES("--eps=8x: not a number"), "--eps=8x");
  EXPECT_ERROR(T, NEEDLES("--eps=: not a number"), "--eps=");
  EXPECT_ERROR(T, NEEDLES("not a number"), "--eps= 8");
  EXPECT_ERROR(T, NEEDLES("--eps=nan: not a number"), "--eps=nan");
  EXPECT_ERROR(T, NEEDLES("--eps=inf: out of range"), "--eps=inf");
  EXPECT_ERROR(T, NEEDLES("--eps=256: out of range"), "--eps=256");
  EXPECT_ERROR(T, NEEDLES("--epochs=-3: out of range", "a whole number in [1, 100000]"), "--epochs=-3");
  EXPECT_ERROR(T, NEEDLES("--batch_size=0: out of range", "[1, 65536]"), "--batch_size=0");
  EXPECT_ERROR(T, NEEDLES("--epochs=2.5: not a whole number"), "--epochs", "2.5");
  EXPECT_ERROR(T, NEEDLES("--epochs=1e3: not a whole number"), "--epochs=1e3");
  EXPECT_ERROR(T, NEEDLES("out of range"), "--seed=99999999999999999999999");
  EXPECT_ERROR(T, NEEDLES("--n_final_eval=0: out of range", "-1 (all) or a whole number"), "--n_final_eval=0");
  EXPECT_ERROR(T, NEEDLES("--n_final_eval=-2: out of range"), "--n_final_eval=-2");
  EXPECT_ERROR(T, NEEDLES("--lr_max=-0.1: out of range"), "--lr_max=-0.1");
  EXPECT_ERROR(E, NEEDLES("--n_restarts=0: out of range"), "--model_path=x", "--n_restarts=0");
  /* the cnn has at most 16 layers (nn/model.h) */
  EXPECT_ERROR(T, NEEDLES("--n_layers=17: out of range", "a whole number in [1, 16]"), "--n_layers=17");
  EXPECT_ERROR(E, NEEDLES("--n_layers=100: out of range", "[1, 16]"), "--model_path=x", "--n_layers=100");
  /* bad choices: the choices listed, the closest suggested */
  EXPECT_ERROR(T, NEEDLES("--attack=fsgm: not a choice", "fgsm, pgd, pgd_corner, random_corner, none",
                          "did you mean fgsm?"), "--attack=fsgm");
  EXPECT_ERROR(T, NEEDLES("did you mean pgd?"), "--attack=PGD");
  EXPECT_ERROR(T, NEEDLES("--dataset=imagenet: not a choice", "cifar10_binary_gs"), "--dataset=imagenet");
  EXPECT_ERROR(T, NEEDLES("--model=resnet50", "resnet18, cnn, lenet"), "--model=resnet50");
  EXPECT_ERROR(E, NEEDLES("--set=val", "test, train"), "--model_path=x", "--set=val");
  /* switches, strings */
  EXPECT_ERROR(T, NEEDLES("--half_prec=maybe: not true or false"), "--half_prec=maybe");
  EXPECT_ERROR(T, NEEDLES("--data_dir=: empty"), "--data_dir=");
  char long_dir[FA_PATH_MAX + 16];
  memset(long_dir, 'd', sizeof long_dir - 1);
  long_dir[sizeof long_dir - 1] = '\0';
  memcpy(long_dir, "--data_dir=", strlen("--data_dir="));
  EXPECT_ERROR(T, NEEDLES("too long", "at most 4095 bytes", "..."), long_dir);
  /* positional junk, single dashes, a switch given a separate value */
  EXPECT_ERROR(T, NEEDLES("unexpected argument 'foo'"), "foo");
  EXPECT_ERROR(T, NEEDLES("unexpected argument 'true' after the switch --half_prec", "--half_prec=true"),
               "--half_prec", "true");
  EXPECT_ERROR(T, NEEDLES("flags start with two dashes (--eps=8)"), "-eps=8");
  EXPECT_ERROR(T, NEEDLES("unexpected argument '--'"), "--", "--eps=3");
  EXPECT_ERROR(T, NEEDLES("unexpected argument '-3'"), "--eps=3", "-3");
  /* a control character never reaches the one-line message */
  EXPECT_ERROR(T, NEEDLES("--eps=8?x: not a number"), "--eps=8\nx");
  /* eval: a checkpoint is needed, and only one */
  EXPECT_ERROR(E, NEEDLES("no checkpoint to evaluate", "--model_path="), "--eps=8");
  EXPECT_ERROR(E, NEEDLES("--model is not an architecture (resnet18, cnn, lenet)", "--model_path names one too"),
               "--model=foo", "--model_path=bar");
  EXPECT_ERROR(E, NEEDLES("--model is not an architecture"), "--model=\r", "--model_path=x");  /* found by fuzzing */
}

/* ---- --backend and $FASTADV_BACKEND ---- */

static void test_backend(void) {
  char *argv[] = {"--eps=8", "--backend", "cpu", "--epochs=2", NULL};
  int argc = 4;
  const char *backend = NULL;
  unsetenv("FASTADV_BACKEND");
  FA_CHECK(fa_cli_take_backend(&argc, argv, &backend) == FA_OK && !strcmp(backend, "cpu") && argc == 2 &&
               !strcmp(argv[0], "--eps=8") && !strcmp(argv[1], "--epochs=2"),
           "--backend cpu taken out of argv: %d left", argc);
  char *none[] = {"--eps=8", NULL};
  argc = 1;
  FA_CHECK(fa_cli_take_backend(&argc, none, &backend) == FA_OK && !strcmp(backend, FA_DEFAULT_BACKEND) && argc == 1,
           "the default backend");
  char *unknown[] = {"--backend=gpu", NULL};
  argc = 1;
  FA_CHECK(fa_cli_take_backend(&argc, unknown, &backend) == FA_ERR_INVALID &&
               strstr(fa_error_message(), "--backend=gpu: no such backend; the built-in ones are: cpu"),
           "an unknown backend: %s", fa_error_message());
  char *bare[] = {"--backend", "--eps=8", NULL};
  argc = 2;
  FA_CHECK(fa_cli_take_backend(&argc, bare, &backend) == FA_ERR_INVALID &&
               strstr(fa_error_message(), "--backend needs a value"),
           "--backend without a value: %s", fa_error_message());
  setenv("FASTADV_BACKEND", "tpu", 1);
  argc = 1;
  FA_CHECK(fa_cli_take_backend(&argc, none, &backend) == FA_ERR_INVALID &&
               strstr(fa_error_message(), "$FASTADV_BACKEND=tpu: no such backend; the built-in ones are: cpu"),
           "an unknown $FASTADV_BACKEND: %s", fa_error_message());
  char *flag[] = {"--backend=cpu", NULL};
  argc = 1;
  FA_CHECK(fa_cli_take_backend(&argc, flag, &backend) == FA_OK && !strcmp(backend, "cpu") && argc == 0,
           "the flag wins over $FASTADV_BACKEND");
  setenv("FASTADV_BACKEND", "cpu", 1);
  argc = 1;
  FA_CHECK(fa_cli_take_backend(&argc, none, &backend) == FA_OK && !strcmp(backend, "cpu"), "$FASTADV_BACKEND=cpu");
  unsetenv("FASTADV_BACKEND");
}

/* ---- the built program ---- */

static const char *program = FA_BUILD_DIR "/fastadv";

static int run_program(const char *args, char *out, char *err, size_t size) {
  return fa_test_run_fastadv(args, fa_test_tmpdir("test_cli_flags"), out, err, size);
}

static void expect_run(int line, const char *args, int want_status, const char *want_in_out,
                       const char *want_in_err) {
  static char out[1 << 16], err[1 << 16];
  int status = run_program(args, out, err, sizeof out);
  FA_CHECK(status == want_status, "line %d: fastadv %s: exit %d, want %d (stderr: %s)", line, args, status,
           want_status, err);
  if (want_in_out)
    FA_CHECK(strstr(out, want_in_out), "line %d: fastadv %s: '%s' not on stdout", line, args, want_in_out);
  if (want_in_err)
    FA_CHECK(strstr(err, want_in_err), "line %d: fastadv %s: '%s' not on stderr: %s", line, args, want_in_err, err);
}
#define EXPECT_RUN(args, status, in_out, in_err) expect_run(__LINE__, args, status, in_out, in_err)

static void test_program(void) {
  if (access(program, X_OK) != 0) {
    printf("skipped: %s is not built\n", program);
    return;
  }
  EXPECT_RUN("", 2, NULL, "usage: fastadv COMMAND");
  EXPECT_RUN("--help", 0, "train", NULL);
  EXPECT_RUN("-h", 0, "eval", NULL);
  EXPECT_RUN("--version", 0, "fastadv " FA_VERSION "\n", NULL);
  EXPECT_RUN("frobnicate", 2, NULL, "unknown command 'frobnicate'");
  EXPECT_RUN("train --eps=abc", 2, NULL, "fastadv train: --eps=abc: not a number; --eps takes a number in [0, 255]");
  EXPECT_RUN("train --lr_mx=0.1", 2, NULL, "did you mean --lr_max?");
  EXPECT_RUN("train --epochs=-3", 2, NULL, "--epochs=-3: out of range");
  EXPECT_RUN("train --attack=fsgm", 2, NULL, "one of fgsm, nfgsm, pgd, pgd_corner, random_corner, none");
  EXPECT_RUN("train --half_prec --eps=8x", 2, NULL, "--eps=8x");
  EXPECT_RUN("train junk", 2, NULL, "unexpected argument 'junk'");
  EXPECT_RUN("eval --eps=8", 2, NULL, "no checkpoint to evaluate");
  EXPECT_RUN("eval --model_path=x --n_eval=0", 2, NULL, "--n_eval=0: out of range");
  /* --backend on every command: an unknown one before any work, the built-in ones in every --help */
  EXPECT_RUN("eval --model_path=x --backend=gpu", 2, NULL, "fastadv eval: --backend=gpu: no such backend; the "
             "built-in ones are: cpu");
  EXPECT_RUN("align_init --backend nope", 2, NULL, "--backend=nope: no such backend");
  EXPECT_RUN("inspect --help", 0, "backends (--backend=NAME, every command; else $FASTADV_BACKEND; default cpu)",
             NULL);
  EXPECT_RUN("plot --help --backend=cpu", 0, "\n  cpu ", NULL);
  /* a model that cannot take the data set's images: exit 2 before the data is read or anything written */
  const char *never = FA_BUILD_DIR "/test-tmp/test_cli_flags/never";
  EXPECT_RUN("train --dataset=fmnist --model=resnet18 --out_dir=" FA_BUILD_DIR "/test-tmp/test_cli_flags/never", 2,
             NULL, "fastadv train: --model=resnet18 does not fit --dataset=fmnist (1x28x28 images, 10 classes): "
                   "resnet18 takes 32x32 images, not 28x28; choose another --model or --dataset");
  FA_CHECK(access(never, F_OK) != 0, "resnet18 on fmnist: %s was created", never);
  EXPECT_RUN("train --dataset=mnist --model=resnet18", 2, NULL, "resnet18 takes 32x32 images, not 28x28");
  EXPECT_RUN("train --model=cnn --n_layers=100", 2, NULL,
             "--n_layers=100: out of range; --n_layers takes a whole number in [1, 16]");

  static char out[1 << 16], err[1 << 16];
  FA_CHECK(run_program("train --gpu=0 --eps=8x", out, err, sizeof out) == 2 && !strstr(err, "note:"),
           "no notice before an error: %s", err);
  const fa_cli_command *commands[] = {&fa_cli_train, &fa_cli_eval};
  for (int c = 0; c < 2; c++) {
    char args[64];
    snprintf(args, sizeof args, "%s --help", commands[c]->name);
    FA_CHECK(run_program(args, out, err, sizeof out) == 0 && err[0] == '\0', "fastadv %s: exit 0, quiet", args);
    for (size_t i = 0; i < commands[c]->flags->count; i++) {
      char flag[80];
      snprintf(flag, sizeof flag, "  --%s", commands[c]->flags->flags[i].name);
      FA_CHECK(strstr(out, flag), "fastadv %s lists %s", args, flag + 2);
    }
  }
}

int main(void) {
  test_defaults_are_the_papers();
  test_papers_command_lines();
  test_every_type_in_both_forms();
  test_notices();
  test_help();
  test_json();
  test_errors();
  test_backend();
  test_program();
  return fa_test_exit();
}
