/* `fastadv train`: the paper's training loop (SPEC.md sections 3 to 5).
 *
 * Epoch 0 is one iteration that computes every statistic without updating
 * the parameters; epochs 1..E train. Before every iteration the learning
 * rate is set from the fractional epoch. Every eval_iter_freq iterations the
 * periodic statistics are reported, and the model with the best training
 * PGD accuracy is kept as "best". At the end the last and best models are
 * saved and evaluated with PGD-50-10. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/arena.h"
#include "data/loader.h"
#include "io/checkpoint.h"
#include "io/metrics.h"
#include "io/progress.h"
#include "optim/optim.h"
#include "optim/schedule.h"
#include "train/evaluate.h"
#include "train/run.h"
#include "train/run_name.h"
#include "train/statistics.h"
#include "train/step.h"

#define FA_STEP_ARENA_BYTES ((size_t)64 << 30) /* reserved, committed only as used */
#define FA_MAX_REPORT 64

typedef struct {
  const fa_train_config *cfg;
  fa_dataset train_set, test_set;
  fa_model *model;
  fa_optimizer *opt;
  fa_loader *loader;
  fa_trainer trainer;
  fa_example_set stats_test, stats_train;
  fa_rng stats_rng;
  fa_metrics *metrics;
  fa_progress *progress;
  fa_arena *arena;
  float **best;             /* the best model's tensors, as the store's */
  double best_train_pgd;
  fa_step_stats since_report;
  char name[1024], models_dir[FA_PATH_MAX + 16], logs_dir[FA_PATH_MAX + 16];
  float *x;                 /* the current batch */
  int *y;
} run;

static int fail(const char *what) {
  fprintf(stderr, "fastadv train: %s: %s\n", what, fa_error_message());
  return 1;
}

static fa_status mkdir_p(const char *dir) {
  char path[FA_PATH_MAX + 16];
  snprintf(path, sizeof path, "%s", dir);
  for (char *p = path + 1; *p; p++)
    if (*p == '/') {
      *p = '\0';
      mkdir(path, 0777);
      *p = '/';
    }
  if (mkdir(path, 0777) != 0 && access(path, W_OK) != 0)
    return fa_error_set(FA_ERR_IO, "cannot create the directory %s: check --out_dir and its permissions", dir);
  return FA_OK;
}

/* The first n examples of ds, as floats in [0, 1] (file order). */
static fa_status load_examples(const fa_dataset *ds, int n, fa_example_set *set) {
  if (n > ds->n) n = ds->n;
  size_t image = (size_t)ds->c * ds->h * ds->w;
  set->n = n;
  set->x = malloc((size_t)n * image * sizeof *set->x);
  set->y = malloc((size_t)n * sizeof *set->y);
  if (!set->x || !set->y) return fa_error_set(FA_ERR_NOMEM, "out of memory for the statistics examples");
  for (size_t i = 0; i < (size_t)n * image; i++) set->x[i] = ds->images[i] / 255.0f;
  for (int i = 0; i < n; i++) set->y[i] = ds->labels[i];
  return FA_OK;
}

static fa_status setup(run *r, const fa_train_config *c) {
  r->cfg = c;
  const char *data_dir = c->data_dir[0] ? c->data_dir : NULL;
  if (fa_dataset_load(c->dataset, "train", data_dir, &r->train_set) != FA_OK ||
      fa_dataset_load(c->dataset, "test", data_dir, &r->test_set) != FA_OK)
    return fa_error_code();
  fa_model_config mc = {.in_channels = r->train_set.c, .height = r->train_set.h, .width = r->train_set.w,
                        .n_classes = r->train_set.n_classes, .n_layers = c->n_layers,
                        .n_filters = c->n_filters_cnn, .resnet_width = 64};
  if (!fa_arch_from_name(c->model, &mc.arch))
    return fa_error_set(FA_ERR_INVALID, "unknown model %s: use resnet18, cnn or lenet", c->model);
  if (!(r->model = fa_model_create(&mc))) return fa_error_code();
  fa_rng init = fa_rng_stream((uint64_t)c->seed, FA_STREAM_INIT);
  fa_model_init(r->model, &init);
  fa_store *params = fa_model_store(r->model);
  r->opt = mc.arch == FA_ARCH_RESNET18 ? fa_sgd_create(params, 0.9f, c->weight_decay)
                                       : fa_adam_create(params, 0.9f, 0.999f, 1e-8f, c->weight_decay);
  if (!r->opt) return fa_error_code();
  fa_loader_config lc = {.mode = FA_LOADER_TRAIN, .batch_size = c->batch_size,
                         .n_examples = c->debug ? 4 * c->batch_size : 0,
                         .augment = r->train_set.train_augment, .prefetch = 1};
  r->loader = fa_loader_create(&r->train_set, &lc, fa_rng_stream((uint64_t)c->seed, FA_STREAM_SHUFFLE),
                               fa_rng_stream((uint64_t)c->seed, FA_STREAM_AUGMENT));
  if (!r->loader) return fa_error_code();
  if (fa_loader_batches_per_epoch(r->loader) < 1)
    return fa_error_set(FA_ERR_INVALID, "--batch_size %d is larger than the %d training examples", c->batch_size,
                        fa_loader_n_examples(r->loader));
  if (fa_trainer_init(&r->trainer, c, r->model) != FA_OK) return fa_error_code();
  if (load_examples(&r->test_set, c->n_eval_every_k_iter, &r->stats_test) != FA_OK ||
      load_examples(&r->train_set, c->n_eval_every_k_iter, &r->stats_train) != FA_OK)
    return fa_error_code();
  r->stats_rng = fa_rng_stream((uint64_t)c->seed, FA_STREAM_ATTACK + 16);
  size_t image = (size_t)mc.in_channels * mc.height * mc.width;
  r->x = malloc((size_t)c->batch_size * image * sizeof *r->x);
  r->y = malloc((size_t)c->batch_size * sizeof *r->y);
  int n_store = fa_store_count(params);
  r->best = calloc((size_t)n_store, sizeof *r->best);
  if (!r->x || !r->y || !r->best) return fa_error_set(FA_ERR_NOMEM, "out of memory for batches");
  for (int i = 0; i < n_store; i++)
    if (!(r->best[i] = malloc(fa_store_get(params, i)->numel * sizeof(float))))
      return fa_error_set(FA_ERR_NOMEM, "out of memory for the best model");
  r->best_train_pgd = -1;

  char stamp[32];
  time_t now = time(NULL);
  strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", localtime(&now));
  fa_run_name(c, stamp, r->name, sizeof r->name);
  snprintf(r->models_dir, sizeof r->models_dir, "%s/models", c->out_dir);
  snprintf(r->logs_dir, sizeof r->logs_dir, "%s/logs", c->out_dir);
  if (mkdir_p(r->models_dir) != FA_OK || mkdir_p(r->logs_dir) != FA_OK) return fa_error_code();
  if (!(r->metrics = fa_metrics_open(r->logs_dir, r->name, stdout))) return fa_error_code();
  if (!(r->arena = fa_arena_create(FA_STEP_ARENA_BYTES))) return fa_error_code();
  fa_arena_set_current(r->arena);
  return FA_OK;
}

static void teardown(run *r) {
  if (r->best)
    for (int i = 0; i < fa_store_count(fa_model_store(r->model)); i++) free(r->best[i]);
  free(r->best);
  free(r->x);
  free(r->y);
  free(r->stats_test.x);
  free(r->stats_test.y);
  free(r->stats_train.x);
  free(r->stats_train.y);
  fa_trainer_free(&r->trainer);
  fa_loader_free(r->loader);
  fa_optimizer_destroy(r->opt);
  fa_model_destroy(r->model);
  fa_dataset_free(&r->train_set);
  fa_dataset_free(&r->test_set);
  if (r->metrics) fa_metrics_close(r->metrics);
  fa_arena_destroy(r->arena);
}

/* copies every tensor of the model's store to (or from) the best snapshot */
static void snapshot(run *r, bool restore) {
  fa_store *s = fa_model_store(r->model);
  for (int i = 0; i < fa_store_count(s); i++) {
    fa_tensor *t = fa_store_get(s, i);
    if (restore)
      memcpy(t->data, r->best[i], t->numel * sizeof(float));
    else
      memcpy(r->best[i], t->data, t->numel * sizeof(float));
  }
}

static fa_status report(run *r, long iteration, int epoch, float lr) {
  fa_periodic_stats ps;
  fa_arena_mark mark = fa_arena_get_mark(r->arena);
  fa_status st = fa_periodic_stats_compute(r->model, &r->stats_test, &r->stats_train, r->cfg->eps / 255.0f,
                                           r->cfg->attack_iters, r->cfg->batch_size_eval, &r->stats_rng, &ps);
  fa_arena_release(r->arena, mark);
  if (st != FA_OK) return st;
  if (ps.train_pgd_acc >= r->best_train_pgd) {
    r->best_train_pgd = ps.train_pgd_acc;
    snapshot(r, false);
  }
  const fa_step_stats *s = &r->since_report;
  double n = s->n > 0 ? s->n : 1;
  const char *keys[FA_MAX_REPORT] = {"train.loss", "train.reg", "train.acc", "train.grad_norm", "train.delta_norm",
                                     "train.lr", "test.acc_clean", "test.acc_fgsm", "test.acc_pgd",
                                     "test.loss_pgd", "test.cos_fgsm_pgd", "test.cos_x_eta", "train.acc_pgd"};
  double values[FA_MAX_REPORT] = {s->loss / n, s->reg / n, s->correct / n, s->grad_norm / n, s->delta_norm / n, lr,
                                  ps.clean_acc, ps.fgsm_acc, ps.pgd_acc, ps.pgd_loss, ps.cos_fgsm_pgd,
                                  ps.grad_align, ps.train_pgd_acc};
  int n_keys = 13, n_shown = 13;
  static char names[2 * 32][32];
  const fa_model_config *mc = fa_model_get_config(r->model);
  if (mc->arch == FA_ARCH_CNN && mc->n_filters <= 32) {
    double filters[32], outgoing[32];
    fa_cnn_filter_norms(r->model, filters, outgoing);
    for (int f = 0; f < mc->n_filters; f++) {
      snprintf(names[2 * f], sizeof names[0], "cnn.filter_norm_%d", f);
      snprintf(names[2 * f + 1], sizeof names[0], "cnn.outgoing_norm_%d", f);
      keys[n_keys] = names[2 * f];
      values[n_keys++] = filters[f];
      keys[n_keys] = names[2 * f + 1];
      values[n_keys++] = outgoing[f];
    }
  }
  r->since_report = (fa_step_stats){0};
  return fa_metrics_report(r->metrics, iteration, epoch, n_keys, keys, values, n_shown);
}

static fa_status save(run *r, const char *suffix, long iteration, int epoch) {
  char path[FA_PATH_MAX + 1200], it[32], ep[32], eps[32];
  snprintf(path, sizeof path, "%s/%s%s.safetensors", r->models_dir, r->name, suffix);
  snprintf(it, sizeof it, "%ld", iteration);
  snprintf(ep, sizeof ep, "%d", epoch);
  snprintf(eps, sizeof eps, "%g", r->cfg->eps);
  const char *keys[] = {"run", "dataset", "eps", "epoch", "iteration"};
  const char *values[] = {r->name, r->cfg->dataset, eps, ep, it};
  fa_ckpt_meta_list meta = {keys, values, 5};
  return fa_ckpt_save(path, r->model, 0, NULL, 0, meta);
}

static fa_status final_eval(run *r, const char *which) {
  fa_eval_result res;
  fa_status st = fa_evaluate(r->model, &r->test_set, r->cfg->n_final_eval, r->cfg->batch_size_eval,
                             r->cfg->eps / 255.0f, 50, 10, r->cfg->seed, &res);
  if (st != FA_OK) return st;
  return fa_metrics_log(r->metrics, "[final: %s model] clean acc %.2f%%, pgd-50-10 acc %.2f%% on %d test examples (%.1fs)",
                        which, 100 * res.clean_acc, 100 * res.robust_acc, res.n, res.seconds);
}

static fa_status train(run *r) {
  const fa_train_config *c = r->cfg;
  int batches = fa_loader_batches_per_epoch(r->loader), replay = c->minibatch_replay;
  bool svhn = strcmp(c->dataset, "svhn") == 0;
  long total = 1 + (long)c->epochs * batches * replay, iteration = 0;
  fa_metrics_log(r->metrics, "run: %s", r->name);
  r->progress = fa_progress_create(stderr, "train", total, 5.0);
  for (int epoch = 0; epoch <= c->epochs; epoch++) {
    fa_loader_begin_epoch(r->loader);
    for (int i = 0; i < (epoch == 0 ? 1 : batches); i++) {
      int count = fa_loader_next(r->loader, r->x, r->y);
      if (count <= 0) return fa_error_set(FA_ERR_INVALID, "the loader ran out of batches");
      float lr = epoch == 0 ? 0.0f : fa_lr_at(c->lr_schedule, c->lr_max, c->epochs, fa_epoch_fraction(epoch, i, batches));
      for (int rep = 0; rep < replay && (epoch > 0 || rep == 0); rep++) {
        fa_arena_mark mark = fa_arena_get_mark(r->arena);
        fa_tensor *x = fa_tensor_from(4, (int[]){count, r->train_set.c, r->train_set.h, r->train_set.w}, r->x);
        /* SVHN warm-up: the FGSM step or the PGD radius ramp up over the first 5 epochs */
        float ramp = svhn ? fminf(1.0f, (float)iteration / (5.0f * batches * replay)) : 1.0f;
        double loss_before = r->since_report.loss;
        fa_status st = x ? fa_train_step(&r->trainer, x, r->y, ramp, &r->since_report) : fa_error_code();
        fa_arena_release(r->arena, mark);
        if (st != FA_OK) return st;
        if (!isfinite(r->since_report.loss - loss_before))
          return fa_error_set(FA_ERR_NUMERIC,
                              "iteration %ld (epoch %d): the training loss is not finite; the run stops here and "
                              "keeps the checkpoints written so far. Try a smaller --lr_max",
                              iteration, epoch);
        if (epoch > 0 && (st = fa_optimizer_step(r->opt, lr)) != FA_OK) return st;
        if (iteration % c->eval_iter_freq == 0 && (st = report(r, iteration, epoch, lr)) != FA_OK) return st;
        iteration++;
        fa_progress_update(r->progress, iteration, iteration * (long)c->batch_size);
      }
    }
  }
  fa_progress_finish(r->progress);
  r->progress = NULL;
  /* the last model: saved and evaluated; then the best one */
  fa_status st = save(r, "", iteration, c->epochs);
  if (st == FA_OK) st = final_eval(r, "last");
  if (st != FA_OK) return st;
  snapshot(r, true);
  st = save(r, "_best", iteration, c->epochs);
  if (st == FA_OK && c->eval_early_stopped_model) st = final_eval(r, "best (early stopped)");
  return st;
}

int fa_run_train(const fa_train_config *config) {
  run r = {0};
  fa_status st = setup(&r, config);
  if (st == FA_OK) st = train(&r);
  if (r.progress) fa_progress_finish(r.progress);
  int code = st == FA_OK ? 0 : fail("the run stopped");
  teardown(&r);
  return code;
}
