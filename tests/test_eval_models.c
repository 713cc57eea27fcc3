/* `fastadv eval` of model files (src/train/eval_cmd.c), on real Fashion-MNIST:
 *
 * - PyTorch interop: tests/fixtures/plain_cnn4_fmnist.safetensors, written by
 *   safetensors.torch.save_file (no metadata; scripts/gen_plain_safetensors_
 *   fixture.py), loads through fa_eval_load_model with --model=cnn
 *   --n_filters_cnn=4 and predicts PyTorch's labels on the first 256 test
 *   images (any disagreement is listed with PyTorch's logit margin); `fastadv
 *   eval` on it prints PyTorch's accuracy; wrong model flags or a missing
 *   --dataset are refused, naming each mismatched tensor;
 * - a NaN or an Inf in a model file (PyTorch's, or fastadv's with matching
 *   checksums): refused, exit 1, naming the tensor; under --attack=autoattack
 *   too, before any results file is written;
 * - a flipped bit in a model file fastadv wrote: refused by its checksum,
 *   exit 1, naming the tensor;
 * - PGD-3-2 of the plain file at batches of 32, 256 and 1024: the same
 *   accuracies (random starts per example; before, 32 gave 67.19% and 256
 *   66.80%);
 * - --early_stopped_model with a file: <run>_best.safetensors beside
 *   <run>.safetensors, the best model of a resume checkpoint; refused where
 *   there is none (exit 1) or where the name gives none (exit 2). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/autograd.h"
#include "core/rng.h"
#include "io/safetensors.h"
#include "testlib.h"
#include "train/checkpoint.h"
#include "train/resume.h"
#include "train/run.h"

#define FMNIST "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
#define PLAIN "tests/fixtures/plain_cnn4_fmnist.safetensors"
#define EXPECTED "tests/fixtures/plain_cnn4_fmnist_expected.safetensors"
#define N_TEST 256

static char out[1 << 16], err[1 << 16];
static const char *dir;

static const char *tmp(const char *name) {
  static char buf[4][4200];
  static int slot;
  slot = (slot + 1) % 4;
  snprintf(buf[slot], sizeof buf[slot], "%s/%s", dir, name);
  return buf[slot];
}

/* `fastadv eval` quick (PGD-1-1) on the first 256 Fashion-MNIST test images, with extra flags. */
static int eval(const char *flags) {
  char args[8192];
  snprintf(args, sizeof args, "eval --dataset=fmnist --n_eval=%d --batch_size_eval=128 --attack_iters=1 "
           "--n_restarts=1 --eps=2 %s", N_TEST, flags);
  return fa_test_run_fastadv(args, dir, out, err, sizeof out);
}

/* The clean accuracy eval printed, in percent (-1 when absent). */
static double printed_acc(void) {
  const char *at = strstr(out, "clean acc ");
  double acc = -1;
  if (!at || sscanf(at, "clean acc %lf%%", &acc) != 1) return -1;
  return acc;
}

/* PyTorch's evaluation of the plain file against fastadv's, through eval's loader. */
static double check_predictions(const fa_dataset *ds) {
  fa_st_file *expected = fa_st_open(fa_test_source_path(EXPECTED));
  FA_CHECK(expected, "%s", fa_error_message());
  if (!expected) return -1;
  int64_t labels[N_TEST], predicted[N_TEST];
  float margins[N_TEST], logits[N_TEST * 10];
  int64_t n_shape[1] = {N_TEST}, l_shape[2] = {N_TEST, 10};
  FA_CHECK(fa_st_copy(expected, "labels", FA_DTYPE_I64, 1, n_shape, labels) == FA_OK &&
               fa_st_copy(expected, "predicted", FA_DTYPE_I64, 1, n_shape, predicted) == FA_OK &&
               fa_st_copy(expected, "margins", FA_DTYPE_F32, 1, n_shape, margins) == FA_OK &&
               fa_st_copy(expected, "logits", FA_DTYPE_F32, 2, l_shape, logits) == FA_OK,
           "expected values: %s", fa_error_message());
  fa_st_close(expected);

  fa_eval_config c;
  fa_eval_config_defaults(&c);
  snprintf(c.model, sizeof c.model, "cnn");
  c.n_filters_cnn = 4;
  fa_checkpoint *ckpt = fa_ckpt_open(fa_test_source_path(PLAIN));
  fa_model *model = ckpt ? fa_eval_load_model(&c, ckpt, ds, "") : NULL;
  FA_CHECK(model, "the plain file does not load with --model=cnn --n_filters_cnn=4: %s", fa_error_message());
  double pytorch_acc = 0;
  if (model) {
    fa_arena *arena = fa_arena_create((size_t)1 << 28);
    fa_arena_set_current(arena);
    float *x = malloc(sizeof(float) * N_TEST * 784);
    for (int i = 0; i < N_TEST * 784; i++) x[i] = ds->images[i] / 255.0f;
    bool was = fa_set_grad_enabled(false);
    fa_tensor *y = fa_model_forward(model, fa_tensor_from(4, (int[]){N_TEST, 1, 28, 28}, x), false);
    FA_CHECK(y && fa_tensor_dim(y, 1) == 10, "forward: %s", fa_error_message());
    const float *z = fa_test_values(y);
    int disagree = 0;
    for (int i = 0; z && i < N_TEST; i++) {
      int best = 0;
      for (int k = 1; k < 10; k++)
        if (z[i * 10 + k] > z[i * 10 + best]) best = k;
      FA_CHECK(labels[i] == ds->labels[i], "image %d: label %d here, %lld in the fixture", i, ds->labels[i],
               (long long)labels[i]);
      pytorch_acc += predicted[i] == labels[i];
      if (best != predicted[i]) {
        disagree++;
        printf("disagreement at image %d: fastadv %d, PyTorch %lld (PyTorch's margin %.3g)\n", i, best,
               (long long)predicted[i], margins[i]);
      }
    }
    FA_CHECK(disagree == 0, "%d of %d predictions differ from PyTorch's (listed above)", disagree, N_TEST);
    double rel = z ? fa_test_rel_err_ff(z, logits, N_TEST * 10) : 1;
    FA_CHECK(rel < 1e-5, "logits: relative error %.2e against PyTorch's", rel);
    printf("plain PyTorch file, --model=cnn --n_filters_cnn=4: %d/%d predictions as PyTorch's, logits relative "
           "error %.2e\n", N_TEST - disagree, N_TEST, rel);
    fa_set_grad_enabled(was);
    free(x);
    fa_arena_destroy(arena);
  }
  fa_model_destroy(model);
  fa_ckpt_close(ckpt);
  return 100 * pytorch_acc / N_TEST;
}

/* A copy of the plain file with one value changed and perhaps an extra
 * tensor of 4 values (extra not NULL), without metadata. */
static const char *plain_with(const char *file, const char *tensor, int index, float value, const char *extra) {
  fa_st_file *src = fa_st_open(fa_test_source_path(PLAIN));
  fa_st_tensor t[5];
  static const float four[4];
  static float changed[10 * 3136];
  for (int i = 0; i < 4; i++) {
    t[i] = *fa_st_get(src, i);
    if (strcmp(t[i].name, tensor) == 0) {
      memcpy(changed, t[i].data, t[i].nbytes);
      changed[index] = value;
      t[i].data = changed;
    }
  }
  t[4] = (fa_st_tensor){extra, FA_DTYPE_F32, 1, {4}, sizeof four, four};
  const char *path = tmp(file);
  FA_CHECK(fa_st_write(path, t, extra ? 5 : 4, NULL, NULL, 0) == FA_OK, "%s", fa_error_message());
  fa_st_close(src);
  return path;
}

/* The eval command on the plain file: PyTorch's accuracy; wrong flags named. */
static void check_plain_eval(double pytorch_acc) {
  char flags[4400];
  snprintf(flags, sizeof flags, "--model_path='%s' --model=cnn --n_filters_cnn=4", fa_test_source_path(PLAIN));
  int code = eval(flags);
  FA_CHECK(code == 0 && fabs(printed_acc() - pytorch_acc) < 0.005, "eval of the plain file: exit %d, clean acc "
           "%.2f%% (PyTorch %.2f%%): %s%s", code, printed_acc(), pytorch_acc, out, err);
  printf("fastadv eval of the plain file: %s", out);
  const struct {
    const char *flags;
    int code;
    const char *message[3];
  } wrong[] = {
      {"--model=cnn --n_filters_cnn=16", 1,
       {"\"_model.0.weight\" has shape (4, 1, 3, 3) in the file but (16, 1, 3, 3) in the model",
        "\"_model.3.weight\" has shape (10, 3136) in the file but (10, 12544) in the model", "no fastadv metadata"}},
      {"--model=cnn --n_layers=2 --n_filters_cnn=4", 1,
       {"(6 problems): \"_model.2.weight\" is missing", "\"_model.5.weight\" is missing", "and 2 more"}},
      {"--model=lenet", 1, {"\"_model.3.weight\" has shape (10, 3136) in the file but (64, 32, 5, 5)",
                            "\"_model.0.weight\" has shape (4, 1, 3, 3) in the file but (32, 1, 5, 5)",
                            "give those the model was trained with"}},
      {"--model=cnn --dataset=cifar10 --data_dir=/nonexistent", 1, {"cifar10", "", ""}},
  };
  for (size_t i = 0; i < sizeof wrong / sizeof *wrong; i++) {
    snprintf(flags, sizeof flags, "--model_path='%s' %s", fa_test_source_path(PLAIN), wrong[i].flags);
    code = eval(flags);
    bool named = true;
    for (int k = 0; k < 3; k++) named = named && strstr(err, wrong[i].message[k]);
    FA_CHECK(code == wrong[i].code && named, "%s: exit %d (want %d): %s", wrong[i].flags, code, wrong[i].code, err);
    printf("%s: exit %d: %s", wrong[i].flags, code, err);
  }
  /* a tensor the model does not have */
  snprintf(flags, sizeof flags, "--model_path='%s' --model=cnn --n_filters_cnn=4",
           plain_with("extra.safetensors", "_model.0.bias", 0, 0.5f, "_model.9.weight"));
  code = eval(flags);
  FA_CHECK(code == 1 && strstr(err, "(1 problem): \"_model.9.weight\" is in the file but not in the model"),
           "an unexpected tensor: exit %d: %s", code, err);
  printf("an unexpected tensor: exit %d: %s", code, err);
  /* no --dataset: the file does not name one */
  snprintf(flags, sizeof flags, "eval --model_path='%s' --model=cnn --n_filters_cnn=4", fa_test_source_path(PLAIN));
  code = fa_test_run_fastadv(flags, dir, out, err, sizeof out);
  FA_CHECK(code == 1 && strstr(err, "pass --dataset"), "no --dataset: exit %d: %s", code, err);
}

/* PGD's random starts are drawn per example: the same accuracies at batches of 32, 256 and 1024. */
static void check_batch_independence(void) {
  char args[8192], first[1024] = "";
  const int batches[] = {32, 256, 1024};
  for (int i = 0; i < 3; i++) {
    int b = batches[i];
    snprintf(args, sizeof args, "eval --dataset=fmnist --n_eval=%d --eps=8 --attack_iters=3 --n_restarts=2 "
             "--batch_size_eval=%d --model_path='%s' --model=cnn --n_filters_cnn=4", N_TEST, b,
             fa_test_source_path(PLAIN));
    int code = fa_test_run_fastadv(args, dir, out, err, sizeof out);
    char *time = strstr(out, " (");  /* the accuracies, without the seconds */
    if (time) *time = '\0';
    FA_CHECK(code == 0 && (!first[0] || strcmp(out, first) == 0), "batch %d: exit %d, %s (batch 32: %s)", b, code,
             out, first);
    if (!first[0]) snprintf(first, sizeof first, "%.1000s", out);
    printf("batch %d: %s\n", b, out);
  }
}

/* The plain file's model, perhaps with one value changed, saved by fastadv (metadata, checksums). */
static void save_as_fastadv(const char *path, const fa_dataset *ds, float scale) {
  fa_eval_config c;
  fa_eval_config_defaults(&c);
  snprintf(c.model, sizeof c.model, "cnn");
  c.n_filters_cnn = 4;
  fa_checkpoint *ckpt = fa_ckpt_open(fa_test_source_path(PLAIN));
  fa_model *model = fa_eval_load_model(&c, ckpt, ds, "");
  fa_tensor *w = fa_store_find(fa_model_store(model), "_model.3.weight");
  float *v = fa_tensor_to_host(w);
  for (size_t i = 0; v && i < fa_tensor_numel(w); i++) v[i] *= (i % 7 == 0) ? scale : 1.0f;
  FA_CHECK(v && fa_tensor_write(w, 0, fa_tensor_numel(w), v) == FA_OK, "%s", fa_error_message());
  free(v);
  const char *keys[] = {"dataset"}, *values[] = {"fmnist"};
  FA_CHECK(fa_ckpt_save(path, model, 0, NULL, 0, (fa_ckpt_meta_list){keys, values, 1}) == FA_OK, "%s",
           fa_error_message());
  fa_model_destroy(model);
  fa_ckpt_close(ckpt);
}

static void check_damaged_models(const fa_dataset *ds) {
  char flags[4400];
  snprintf(flags, sizeof flags, "--model_path='%s' --model=cnn --n_filters_cnn=4",
           plain_with("nan.safetensors", "_model.3.weight", 5, NAN, NULL));
  int code = eval(flags);
  FA_CHECK(code == 1 && strstr(err, "\"_model.3.weight\" holds NaN at element 5"), "NaN: exit %d: %s%s", code, out,
           err);
  printf("a NaN in a model file: exit %d: %s", code, err);
  /* the same under AutoAttack: refused before any attack, no results file */
  const char *results = tmp("nan_aa.json");
  snprintf(flags, sizeof flags, "--model_path='%s' --model=cnn --n_filters_cnn=4 --attack=autoattack "
           "--results_json='%s'", tmp("nan.safetensors"), results);
  code = eval(flags);
  FA_CHECK(code == 1 && strstr(err, "\"_model.3.weight\" holds NaN at element 5") && access(results, F_OK) != 0 &&
               access(tmp("nan_aa.json.examples.jsonl"), F_OK) != 0,
           "NaN under --attack=autoattack: exit %d, results file %s: %s%s", code,
           access(results, F_OK) == 0 ? "written" : "absent", out, err);
  snprintf(flags, sizeof flags, "--model_path='%s' --model=cnn --n_filters_cnn=4",
           plain_with("inf.safetensors", "_model.0.bias", 2, -INFINITY, NULL));
  code = eval(flags);
  FA_CHECK(code == 1 && strstr(err, "\"_model.0.bias\" holds -Inf at element 2"), "Inf: exit %d: %s%s", code, out,
           err);

  char path[4200];
  snprintf(path, sizeof path, "%s", tmp("fastadv_nan.safetensors"));
  save_as_fastadv(path, ds, NAN); /* its checksums match: the values are refused for what they are */
  snprintf(flags, sizeof flags, "--model_path='%s'", path);
  code = eval(flags);
  FA_CHECK(code == 1 && strstr(err, "\"_model.3.weight\" holds NaN at element 0"), "NaN in a fastadv model: exit "
           "%d: %s%s", code, out, err);
  snprintf(path, sizeof path, "%s", tmp("fastadv_model.safetensors"));
  save_as_fastadv(path, ds, 1.0f);
  snprintf(flags, sizeof flags, "--model_path='%s'", path);
  code = eval(flags);
  FA_CHECK(code == 0, "the intact fastadv model: exit %d: %s", code, err);
  FA_CHECK(fa_test_flip_bit(path, "_model.3.weight"), "cannot flip a bit");
  code = eval(flags);
  FA_CHECK(code == 1 && strstr(err, "\"_model.3.weight\" does not match its checksum"), "flipped bit: exit %d: %s%s",
           code, out, err);
  printf("a flipped bit in a model file: exit %d: %s", code, err);
}

/* A model of fewer classes than the data set's labels (a 2-class cnn on
 * Fashion-MNIST, as its metadata says): refused where the labels are made,
 * not scored with zero one-hot rows. */
static void check_too_few_classes(void) {
  fa_model_config mc = {.arch = FA_ARCH_CNN, .in_channels = 1, .height = 28, .width = 28, .n_classes = 2,
                        .n_layers = 1, .n_filters = 4};
  fa_model *model = fa_model_create(&mc);
  fa_rng init = fa_rng_stream(0, FA_STREAM_INIT);
  const char *path = tmp("two_classes.safetensors"), *keys[] = {"dataset"}, *values[] = {"fmnist"};
  FA_CHECK(model && fa_model_init(model, &init) == FA_OK &&
               fa_ckpt_save(path, model, 0, NULL, 0, (fa_ckpt_meta_list){keys, values, 1}) == FA_OK,
           "%s", fa_error_message());
  fa_model_destroy(model);
  char flags[4400];
  snprintf(flags, sizeof flags, "--model_path='%s'", path);
  int code = eval(flags);
  FA_CHECK(code == 1 && strstr(err, "is outside [0, 2)") && !strstr(out, "acc "),
           "a 2-class model on 10 classes: exit %d: %s%s", code, out, err);
  printf("a 2-class model on Fashion-MNIST: exit %d: %s", code, err);
}

/* A resume checkpoint whose last model is the plain file's with every 7th
 * weight of the linear layer negated and whose best model is the plain
 * file's, the best accuracy at best_pgd. */
static void save_resume(const char *path, const fa_dataset *ds, double best_pgd) {
  fa_train_config tc;
  fa_train_config_defaults(&tc);
  snprintf(tc.dataset, sizeof tc.dataset, "fmnist");
  snprintf(tc.model, sizeof tc.model, "cnn");
  tc.n_filters_cnn = 4;
  char model_path[4200];
  snprintf(model_path, sizeof model_path, "%s", tmp("resume_parts.safetensors"));
  save_as_fastadv(model_path, ds, -1.0f);
  fa_checkpoint *last = fa_ckpt_open(model_path), *plain = fa_ckpt_open(fa_test_source_path(PLAIN));
  fa_model *model = fa_ckpt_load_model(last);
  fa_eval_config c;
  fa_eval_config_defaults(&c);
  snprintf(c.model, sizeof c.model, "cnn");
  c.n_filters_cnn = 4;
  fa_model *best = fa_eval_load_model(&c, plain, ds, "");
  fa_store *opt = fa_store_create();
  fa_store_new(opt, "step", 1, (int[]){1});
  fa_resume_stores stores = {model, opt, fa_model_store(best), NULL};
  fa_resume_point point = {.epoch = 1, .best_train_pgd = best_pgd};
  snprintf(point.run_name, sizeof point.run_name, "resumable");
  FA_CHECK(fa_resume_save(path, &tc, &stores, &point) == FA_OK, "%s", fa_error_message());
  fa_store_destroy(opt);
  fa_model_destroy(best);
  fa_model_destroy(model);
  fa_ckpt_close(plain);
  fa_ckpt_close(last);
}

static void check_early_stopped(const fa_dataset *ds, double pytorch_acc) {
  mkdir(tmp("models"), 0755);
  char last[4200], best[4200], flags[8800];
  snprintf(last, sizeof last, "%s", tmp("models/run.safetensors"));
  snprintf(best, sizeof best, "%s", tmp("models/run_best.safetensors"));
  save_as_fastadv(last, ds, -1.0f);
  save_as_fastadv(best, ds, 1.0f);
  snprintf(flags, sizeof flags, "--model_path='%s'", last);
  int code = eval(flags);
  double last_acc = printed_acc();
  FA_CHECK(code == 0 && strncmp(out, last, strlen(last)) == 0 && fabs(last_acc - pytorch_acc) > 1,
           "the last model: exit %d, %s", code, out);
  snprintf(flags, sizeof flags, "--model_path='%s' --early_stopped_model", last);
  code = eval(flags);
  FA_CHECK(code == 0 && strncmp(out, best, strlen(best)) == 0 && fabs(printed_acc() - pytorch_acc) < 0.005,
           "--early_stopped_model with the file of the last model: exit %d, %s%s", code, out, err);
  printf("--early_stopped_model with a model file: %s", out);
  snprintf(flags, sizeof flags, "--model_path='%s' --early_stopped_model", best);
  code = eval(flags);
  FA_CHECK(code == 0 && strncmp(out, best, strlen(best)) == 0, "--early_stopped_model with the best file: %s%s", out,
           err);

  unlink(best);
  snprintf(flags, sizeof flags, "--model_path='%s' --early_stopped_model", last);
  code = eval(flags);
  FA_CHECK(code == 1 && strstr(err, "there is no early-stopped model") && strstr(err, "run_best.safetensors"),
           "no best file: exit %d: %s", code, err);
  printf("--early_stopped_model, no _best file: exit %d: %s", code, err);
  char odd[4200];
  snprintf(odd, sizeof odd, "%s", tmp("models/run.st"));
  FA_CHECK(rename(last, odd) == 0, "rename");
  snprintf(flags, sizeof flags, "--model_path='%s' --early_stopped_model", odd);
  code = eval(flags);
  FA_CHECK(code == 2 && strstr(err, "is not named <run>.safetensors"), "a file not named .safetensors: exit %d: %s",
           code, err);
  printf("--early_stopped_model, a file not named .safetensors: exit %d: %s", code, err);

  char resume[4200];
  snprintf(resume, sizeof resume, "%s", tmp("resume.safetensors"));
  save_resume(resume, ds, 0.25);
  snprintf(flags, sizeof flags, "--model_path='%s'", resume);
  code = eval(flags);
  FA_CHECK(code == 0 && fabs(printed_acc() - last_acc) < 0.005, "a resume checkpoint's last model: exit %d, %s%s",
           code, out, err);
  snprintf(flags, sizeof flags, "--model_path='%s' --early_stopped_model", resume);
  code = eval(flags);
  FA_CHECK(code == 0 && strstr(out, "(early-stopped model)") && fabs(printed_acc() - pytorch_acc) < 0.005,
           "a resume checkpoint's best model: exit %d, %s%s", code, out, err);
  printf("--early_stopped_model with a resume checkpoint: %s", out);
  save_resume(resume, ds, -1);
  code = eval(flags);
  FA_CHECK(code == 1 && strstr(err, "holds no early-stopped model yet"), "a resume checkpoint before any report: "
           "exit %d: %s", code, err);
}

int main(void) {
  if (access(FMNIST, R_OK) != 0) {
    printf("skipped: Fashion-MNIST is not installed (scripts/setup.sh installs dataset-fashion-mnist)\n");
    return fa_test_exit();
  }
  dir = fa_test_tmpdir("test_eval_models");
  fa_dataset ds = {0};
  FA_CHECK(fa_dataset_load("fmnist", "test", NULL, &ds) == FA_OK, "%s", fa_error_message());
  if (ds.n < N_TEST) return fa_test_exit();
  double pytorch_acc = check_predictions(&ds);
  check_plain_eval(pytorch_acc);
  check_batch_independence();
  check_damaged_models(&ds);
  check_too_few_classes();
  check_early_stopped(&ds, pytorch_acc);
  fa_dataset_free(&ds);
  return fa_test_exit();
}
