/* End to end on real Fashion-MNIST (Debian's dataset-fashion-mnist): one
 * epoch of FGSM training of a small cnn through the fastadv program.
 * Accuracy rises far above chance within a few hundred iterations; the log,
 * the metrics file (its configuration record first, its final record last)
 * and the checkpoints exist and say the right things; and
 * `fastadv eval` on the checkpoint reproduces the final numbers training
 * printed, for the same examples. Then --half_prec: a short run whose
 * record names bfloat16 (float32, with a note, where oneDNN is held below
 * AVX512-BF16), and `eval --half_prec`. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/context.h"
#include "core/version.h"
#include "train/checkpoint.h"
#include "testlib.h"

#define FMNIST "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"

static char out[1 << 20], err[1 << 20];

/* The one file in dir whose name ends with suffix (and not with "_best" + suffix). */
static const char *find_file(const char *dir, const char *suffix) {
  static char path[8192];
  DIR *d = opendir(dir);
  const char *found = NULL;
  for (struct dirent *e; d && (e = readdir(d));) {
    size_t n = strlen(e->d_name), m = strlen(suffix);
    if (n > m && strcmp(e->d_name + n - m, suffix) == 0 && !(n > m + 5 && !strncmp(e->d_name + n - m - 5, "_best", 5))) {
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
      found = path;
    }
  }
  if (d) closedir(d);
  return found;
}

static char *read_all(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  static char buf[1 << 20];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

/* The "precision" of the configuration record of the one run under out_dir. */
static const char *recorded_precision(const char *out_dir) {
  static char precision[16];
  char logs[4200];
  snprintf(logs, sizeof logs, "%s/logs", out_dir);
  const char *jsonl = find_file(logs, ".jsonl");
  char *text = jsonl ? read_all(jsonl) : NULL;
  char *line = text ? strtok(text, "\n") : NULL;
  cJSON *obj = line ? cJSON_Parse(line) : NULL;
  const char *p = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "config"), "precision"));
  snprintf(precision, sizeof precision, "%s", p ? p : "(none)");
  cJSON_Delete(obj);
  return precision;
}

/* The largest difference between the parameters of the final models of the
 * runs under out_dir_a and out_dir_b (-1 when they cannot be compared). */
static double model_difference(const char *out_dir_a, const char *out_dir_b) {
  char models[4300], path_a[8192];
  snprintf(models, sizeof models, "%s/models", out_dir_a);
  const char *found = find_file(models, ".safetensors");
  snprintf(path_a, sizeof path_a, "%s", found ? found : "");
  snprintf(models, sizeof models, "%s/models", out_dir_b);
  found = find_file(models, ".safetensors");
  fa_test_model_diff d;
  return path_a[0] && found && fa_test_compare_models(path_a, found, &d) ? d.max_diff : -1;
}

/* --half_prec: a --debug run (4 batches) of the same training, in bfloat16 where this CPU has
 * AVX512-BF16; with oneDNN held to AVX512 without it ($ONEDNN_MAX_CPU_ISA), float32 and one note.
 * Beside them the same run without --half_prec: the bfloat16 run's model differs from it, by
 * bfloat16's rounding and no more. */
static void check_half_prec(const char *dir, const char *ckpt_path) {
  char args[16384], out_dir[4200], f32_dir[4200];
  snprintf(f32_dir, sizeof f32_dir, "%s/half_prec_off", dir);
  for (int held = -1; held < 2; held++) {
    snprintf(out_dir, sizeof out_dir, "%s", f32_dir);
    if (held >= 0) snprintf(out_dir, sizeof out_dir, "%s/half_prec%d", dir, held);
    snprintf(args, sizeof args,
             "train %s --debug --dataset=fmnist --model=cnn --n_filters_cnn=8 --epochs=1 --lr_max=0.002 "
             "--attack=fgsm --eps=8 --attack_init=zero --grad_align_cos_lambda=0.2 --eval_iter_freq=100 "
             "--n_eval_every_k_iter=128 --n_final_eval=100 --batch_size_eval=100 --out_dir='%s'",
             held >= 0 ? "--half_prec" : "", out_dir);
    if (held < 0) {
      int status = fa_test_run_fastadv(args, dir, out, err, sizeof out);
      FA_CHECK(status == 0, "float32 training exited %d: %s", status, err);
      continue;
    }
    if (held) setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE", 1);
    int status = fa_test_run_fastadv(args, dir, out, err, sizeof out);
    unsetenv("ONEDNN_MAX_CPU_ISA");
    FA_CHECK(status == 0, "--half_prec training exited %d: %s", status, err);
    const char *note = strstr(err, "--half_prec"), *precision = recorded_precision(out_dir);
    if (!held && fa_context_bf16_fast(fa_context_current())) {
      FA_CHECK(!note && !strcmp(precision, "bf16"), "--half_prec: precision %s, stderr: %s", precision, err);
      /* the steps did run in bfloat16 (the same run in float32 gives other bits), and the runs
       * stay apart by less than Adam's 4 steps of at most lr 0.002 each could take them (0.016) */
      double moved = model_difference(out_dir, f32_dir);
      FA_CHECK(moved > 0 && moved < 0.016, "--half_prec model against float32's: largest difference %g", moved);
      printf("--half_prec: largest parameter difference from the float32 run %g\n", moved);
    } else {
      FA_CHECK(note && strstr(note, "float32") && !strstr(note + 1, "--half_prec") && !strcmp(precision, "f32"),
               "--half_prec without AVX512-BF16: precision %s, one note naming float32: %s", precision, err);
    }
    printf("--half_prec%s: precision %s\n", held ? " with ONEDNN_MAX_CPU_ISA=AVX512_CORE" : "", precision);
  }
  /* eval --half_prec of the float32 model: close to its float32 numbers on the same 200 examples */
  snprintf(args, sizeof args, "eval --half_prec --eps=8 --n_eval=200 --batch_size_eval=100 --model_path='%s'",
           ckpt_path);
  int status = fa_test_run_fastadv(args, dir, out, err, sizeof out);
  double clean = -1, robust = -1;
  const char *res = strstr(out, "clean acc ");
  FA_CHECK(status == 0 && res && sscanf(res, "clean acc %lf%%, pgd-50-10 acc %lf%%", &clean, &robust) == 2,
           "eval --half_prec exited %d: %s%s", status, out, err);
  printf("eval --half_prec: clean %.2f%%, PGD-50-10 %.2f%%\n", clean, robust);
}

int main(void) {
  if (access(FMNIST, R_OK) != 0) {
    printf("skipped: Fashion-MNIST is not installed (scripts/setup.sh installs dataset-fashion-mnist)\n");
    return 0;
  }
  const char *dir = fa_test_tmpdir("test_e2e_train");
  char args[16384];
  snprintf(args, sizeof args,
           "train --dataset=fmnist --model=cnn --n_filters_cnn=8 --epochs=1 --lr_schedule=constant --lr_max=0.002 "
           "--attack=fgsm --eps=8 --attack_init=zero --eval_iter_freq=100 --n_eval_every_k_iter=128 "
           "--attack_iters=5 --n_final_eval=200 --batch_size_eval=100 --backend=cpu --out_dir='%s'",
           dir);
  int status = fa_test_run_fastadv(args, dir, out, err, sizeof out);
  FA_CHECK(status == 0, "training exited %d: %s", status, err);

  /* the metrics: one JSON object per report, at iterations 0, 100, ..., 400 */
  char logs[4200], models[4200];
  snprintf(logs, sizeof logs, "%s/logs", dir);
  snprintf(models, sizeof models, "%s/models", dir);
  const char *jsonl = find_file(logs, ".jsonl");
  FA_CHECK(jsonl != NULL, "no metrics file in %s", logs);
  char *text = jsonl ? read_all(jsonl) : NULL;
  int reports = 0, lines = 0;
  cJSON *config = NULL, *final_record = NULL;
  double first_acc = -1, last_acc = -1, last_align = -1;
  for (char *line = text ? strtok(text, "\n") : NULL; line; line = strtok(NULL, "\n")) {
    cJSON *obj = cJSON_Parse(line);
    FA_CHECK(obj != NULL, "metrics line is not JSON: %.80s", line);
    if (!obj) continue;
    lines++;
    if (lines == 1) config = cJSON_DetachItemFromObjectCaseSensitive(obj, "config");
    cJSON_Delete(final_record);  /* the last line's */
    final_record = cJSON_DetachItemFromObjectCaseSensitive(obj, "final");
    cJSON *it = cJSON_GetObjectItem(obj, "iteration"), *acc = cJSON_GetObjectItem(obj, "test.acc_clean");
    cJSON *align = cJSON_GetObjectItem(obj, "test.cos_x_eta");
    if (it && acc && align) {
      FA_CHECK(it->valuedouble == 100.0 * reports, "report %d at iteration %g", reports, it->valuedouble);
      if (reports == 0) first_acc = acc->valuedouble;
      last_acc = acc->valuedouble;
      last_align = align->valuedouble;
      reports++;
    }
    cJSON_Delete(obj);
  }
  FA_CHECK(reports == 5, "%d periodic reports, want 5 (iterations 0..400 of 1 + 468)", reports);
  FA_CHECK(first_acc < 0.3 && last_acc > 0.6, "clean accuracy %.3f at initialisation, %.3f at the end", first_acc,
           last_acc);
  FA_CHECK(last_align > 0 && last_align <= 1, "alignment %.3f", last_align);

  /* the human log ends with the final evaluation */
  const char *log = find_file(logs, ".log");
  char *log_text = log ? read_all(log) : NULL;
  const char *final = log_text ? strstr(log_text, "[final: last model] clean acc ") : NULL;
  double clean = -1, robust = -1;
  FA_CHECK(final && sscanf(final, "[final: last model] clean acc %lf%%, pgd-50-10 acc %lf%%", &clean, &robust) == 2,
           "no final line in the log");
  FA_CHECK(clean > 60 && robust >= 0 && robust < clean, "final clean %.2f%%, PGD %.2f%%", clean, robust);
  FA_CHECK(strstr(log_text ? log_text : "", "dataset=fmnist model=cnn eps=8.0 attack=fgsm") != NULL, "run name");

  /* the records: every flag's value, the version and the run's name first; the final evaluation last */
  const cJSON *run = cJSON_GetObjectItemCaseSensitive(config, "run");
  const char *run_line = log_text ? strstr(log_text, "] run: ") : NULL;
  FA_CHECK(cJSON_IsObject(config) && lines == reports + 2, "the first line is the config record, %d lines", lines);
  FA_CHECK(cJSON_IsString(run) && run_line && !strncmp(run_line + 7, run->valuestring, strlen(run->valuestring)),
           "the record's run name is the log's");
  FA_CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(config, "version")), FA_VERSION) &&
               !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(config, "dataset")), "fmnist") &&
               !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(config, "lr_schedule")), "constant") &&
               cJSON_GetNumberValue(cJSON_GetObjectItem(config, "eps")) == 8 &&
               cJSON_GetNumberValue(cJSON_GetObjectItem(config, "n_filters_cnn")) == 8 &&
               cJSON_GetNumberValue(cJSON_GetObjectItem(config, "batch_size")) == 128 &&
               cJSON_IsFalse(cJSON_GetObjectItem(config, "eval_early_stopped_model")) &&
               !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(config, "backend")), "cpu"),
           "the config record's values (given and default)");
  const cJSON *last = cJSON_GetObjectItem(final_record, "last");
  double rec_clean = cJSON_GetNumberValue(cJSON_GetObjectItem(last, "clean_acc"));
  double rec_robust = cJSON_GetNumberValue(cJSON_GetObjectItem(last, "robust_acc"));
  char shown[64];
  snprintf(shown, sizeof shown, "%.2f %.2f", 100 * rec_clean, 100 * rec_robust);
  char logged[64];
  snprintf(logged, sizeof logged, "%.2f %.2f", clean, robust);
  FA_CHECK(cJSON_IsObject(final_record) && !strcmp(shown, logged), "the final record (%s) is the log's final line (%s)", shown,
           logged);
  FA_CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(final_record, "n_examples")) == 200 &&
               cJSON_GetNumberValue(cJSON_GetObjectItem(final_record, "attack_iters")) == 50 &&
               cJSON_GetNumberValue(cJSON_GetObjectItem(final_record, "n_restarts")) == 10 &&
               cJSON_IsNull(cJSON_GetObjectItem(final_record, "best")),
           "the final record's attack and size");
  cJSON_Delete(config);
  cJSON_Delete(final_record);

  /* the checkpoints: last and best, with PyTorch names and the run in the metadata */
  const char *ckpt_path = find_file(models, ".safetensors");
  FA_CHECK(ckpt_path != NULL, "no checkpoint in %s", models);
  char ckpt_copy[8192];
  snprintf(ckpt_copy, sizeof ckpt_copy, "%s", ckpt_path ? ckpt_path : "");
  fa_checkpoint *ckpt = ckpt_path ? fa_ckpt_open(ckpt_path) : NULL;
  FA_CHECK(ckpt != NULL, "checkpoint: %s", fa_error_message());
  if (ckpt) {
    FA_CHECK(!strcmp(fa_ckpt_meta(ckpt, "arch"), "cnn") && !strcmp(fa_ckpt_meta(ckpt, "dataset"), "fmnist") &&
                 !strcmp(fa_ckpt_meta(ckpt, "n_filters"), "8") && !strcmp(fa_ckpt_meta(ckpt, "iteration"), "469"),
             "checkpoint metadata");
    fa_model *model = fa_ckpt_load_model(ckpt);
    FA_CHECK(model != NULL, "load: %s", fa_error_message());
    fa_model_destroy(model);
    fa_ckpt_close(ckpt);
  }
  char best[sizeof ckpt_copy + 32];
  snprintf(best, sizeof best, "%.*s_best.safetensors", (int)(strlen(ckpt_copy) - strlen(".safetensors")), ckpt_copy);
  FA_CHECK(access(best, R_OK) == 0, "no best checkpoint %s", best);

  /* eval on the checkpoint: the numbers training printed */
  snprintf(args, sizeof args, "eval --eps=8 --n_eval=200 --batch_size_eval=100 --model_path='%s'", ckpt_copy);
  status = fa_test_run_fastadv(args, dir, out, err, sizeof out);
  FA_CHECK(status == 0, "eval exited %d: %s", status, err);
  double eval_clean = -1, eval_robust = -1;
  const char *res = strstr(out, "clean acc ");
  FA_CHECK(res && sscanf(res, "clean acc %lf%%, pgd-50-10 acc %lf%%", &eval_clean, &eval_robust) == 2,
           "eval output: %s", out);
  FA_CHECK(eval_clean == clean && eval_robust == robust, "eval %.2f%% / %.2f%%, training printed %.2f%% / %.2f%%",
           eval_clean, eval_robust, clean, robust);
  FA_CHECK(!strcmp(recorded_precision(dir), "f32"), "the record's precision without --half_prec: %s",
           recorded_precision(dir));
  check_half_prec(dir, ckpt_copy);
  return fa_test_exit();
}
