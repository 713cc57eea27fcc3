/* `fastadv train`: the paper's training loop (docs/METHOD.md sections 3 to 5).
 *
 * Epoch 0 is one iteration that computes every statistic without updating
 * the parameters; epochs 1..E train. Before every iteration the learning
 * rate is set from the fractional epoch. Every eval_iter_freq iterations the
 * periodic statistics are reported, and the model with the best training
 * PGD accuracy is kept as "best". At the end the last and best models are
 * saved and evaluated with PGD-50-10 (PGD-10-3 with --debug, as the
 * paper's train.py).
 *
 * Reliability: before any work the model is checked against the data
 * set's image size and the output directories are checked. A run holds
 * its lock while it trains (train/run_files.h). A resume checkpoint
 * (train/resume.h) is written atomically at the start, every
 * --checkpoint_every iterations, at the end of training and when SIGINT,
 * SIGTERM or SIGHUP asks the run to stop (after the current iteration);
 * --resume continues from it bit for bit. A NaN or Inf in the loss, a
 * gradient or a parameter stops the run before anything non-finite is
 * saved. Exit statuses: train/run.h. */
#include <glob.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/context.h"
#include "core/version.h"
#include "data/loader.h"
#include "dist/fingerprint.h"
#include "io/metrics.h"
#include "io/progress.h"
#include "optim/optim.h"
#include "optim/schedule.h"
#include "train/checkpoint.h"
#include "train/evaluate.h"
#include "train/precision.h"
#include "train/co_monitor.h"
#include "train/run.h"
#include "core/finite.h"
#include "train/resume.h"
#include "train/run_files.h"
#include "train/run_name.h"
#include "train/statistics.h"
#include "train/step.h"

#define FA_STEP_ARENA_BYTES ((size_t)64 << 30) /* reserved, committed only as used */
#define FA_STEP_ARENA_MIN_BYTES ((size_t)1 << 30) /* where address space is limited (valgrind) */
#define FA_MAX_REPORT 64

typedef struct {
  const fa_train_config *cfg;
  fa_comm *comm;            /* the run's processes (docs/SCALE.md); rank 0 alone writes */
  fa_json *flags;           /* every flag's value, for the configuration record */
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
  bool bf16;                /* the steps' products in bfloat16 (--half_prec, train/precision.h) */
  fa_store *best;           /* the best model: the model store's names and shapes */
  fa_resume_point at;       /* the next iteration's place, the streams, best accuracy, report sums */
  fa_loader_state batch_state; /* the loader before the current batch was drawn */
  fa_run_files files;       /* the output directories and the run's lock */
  char checkpoint[FA_RUN_FILE_MAX];
  long checkpoint_iteration;   /* of the last checkpoint written or read, -1 before */
  bool stopped;             /* by a signal, after writing a checkpoint */
  bool co_stop;             /* the monitor fired under --on_co=stop: the run ends after this iteration */
  float *x;                 /* the current global batch; this rank's slice is rows [first, first + local) */
  int *y, count, first, local;
  float *grads;             /* a spread run's: the gradient slab on the host, for the sum over the ranks */
} run;

static bool writes(const run *r) { return r->comm->rank == 0; }

/* SIGINT, SIGTERM and SIGHUP (the terminal closed) ask the run to stop
 * after the current iteration. The handler is reset when it runs
 * (SA_RESETHAND): a second signal stops the process at once. */
static volatile sig_atomic_t stop_signal;
static void on_stop_signal(int signum) { stop_signal = signum; }

static void catch_stop_signals(bool catch) {
  struct sigaction sa = {.sa_handler = catch ? on_stop_signal : SIG_DFL, .sa_flags = catch ? SA_RESETHAND : 0};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
}

/* The model of the run for images of the given format. */
static fa_model_config model_config(const fa_train_config *c, fa_arch arch, int channels, int height, int width,
                                    int n_classes) {
  return (fa_model_config){.arch = arch, .in_channels = channels, .height = height, .width = width,
                           .n_classes = n_classes, .n_layers = c->n_layers, .n_filters = c->n_filters_cnn,
                           .resnet_width = 64};
}

/* Whether --model can take --dataset's images (fa_model_config_check), from
 * the data set's published format: a command-line error, before any work. */
static fa_status check_model_fits_data(const fa_train_config *c) {
  fa_arch arch;
  fa_dataset_format f;
  if (!fa_arch_from_name(c->model, &arch))
    return fa_error_set(FA_ERR_INVALID, "unknown model %s: use resnet18, cnn or lenet", c->model);
  if (fa_dataset_format_of(c->dataset, &f) != FA_OK) return fa_error_code();
  fa_model_config mc = model_config(c, arch, f.c, f.h, f.w, f.n_classes);
  if (fa_model_config_check(&mc) == FA_OK) return FA_OK;
  char why[512];
  snprintf(why, sizeof why, "%s", fa_error_message());
  return fa_error_set(FA_ERR_INVALID, "--model=%s does not fit --dataset=%s (%dx%dx%d images, %d classes): %s; "
                      "choose another --model or --dataset", c->model, c->dataset, f.c, f.h, f.w, f.n_classes, why);
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

/* A store with a tensor of the same name and shape for each of `like`'s. */
static fa_store *store_like(const fa_store *like) {
  fa_store *s = fa_store_create();
  for (int i = 0; s && i < fa_store_count(like); i++) {
    const fa_tensor *t = fa_store_get(like, i);
    if (!fa_store_new(s, fa_tensor_name(t), fa_tensor_ndim(t), fa_tensor_shape(t))) {
      fa_store_destroy(s);
      return NULL;
    }
  }
  if (!s) fa_error_set(FA_ERR_NOMEM, "out of memory for a copy of the model");
  return s;
}

/* --resume's checkpoint: a file path, or a run name in checkpoints/. */
static void resume_path(const fa_train_config *c, char *path, size_t len) {
  if (strchr(c->resume, '/') || access(c->resume, F_OK) == 0) snprintf(path, len, "%s", c->resume);
  else snprintf(path, len, "%s/checkpoints/%s.safetensors", c->out_dir, c->resume);
}

/* A process killed while writing the checkpoint leaves its temporary file
 * (io/safetensors.h: "<path>.tmp.<pid>.<n>"); the run that continues
 * removes them. */
static void remove_stale_temporaries(const char *checkpoint) {
  char pattern[2 * FA_PATH_MAX + FA_RUN_NAME_MAX + 80];
  size_t at = 0;
  for (const char *c = checkpoint; *c && at + 3 < sizeof pattern; c++) {
    if (strchr("*?[\\", *c)) pattern[at++] = '\\';
    pattern[at++] = *c;
  }
  snprintf(pattern + at, sizeof pattern - at, ".tmp.*");
  glob_t found = {0};
  if (glob(pattern, 0, NULL, &found) == 0)
    for (size_t i = 0; i < found.gl_pathc; i++) unlink(found.gl_pathv[i]);
  globfree(&found);
}

static fa_resume_stores stores_of(run *r) {
  return (fa_resume_stores){r->model, fa_optimizer_state(r->opt), r->best, r->trainer.replay};
}

/* Continues the run of --resume: the stores, the place, the streams and
 * the loader from its checkpoint. */
static fa_status resume(run *r) {
  const fa_train_config *c = r->cfg;
  char path[2 * FA_PATH_MAX + 32];  /* --out_dir/checkpoints/--resume.safetensors */
  resume_path(c, path, sizeof path);
  if (access(path, R_OK) != 0)
    return fa_error_set(FA_ERR_IO, "--resume: there is no checkpoint %s: give the run's name (the first line of "
                        "its logs/<run>.log) with the same --out_dir, or the checkpoint file; start a new run "
                        "without --resume", path);
  fa_resume_stores stores = stores_of(r);
  if (fa_resume_load(path, c, fa_loader_batches_per_epoch(r->loader), &stores, &r->at) != FA_OK)
    return fa_error_code();
  if (fa_loader_set_state(r->loader, &r->at.loader) != FA_OK) {
    char why[512];
    snprintf(why, sizeof why, "%s", fa_error_message());
    return fa_error_set(FA_ERR_FORMAT, "resume checkpoint %s: %s; the file is damaged or was edited: resume from an "
                        "intact copy or start the run again without --resume", path, why);
  }
  r->trainer.attack_rng.counter = r->at.attack_counter;
  r->trainer.elle = r->at.elle;
  r->stats_rng.counter = r->at.stats_counter;
  r->checkpoint_iteration = r->at.iteration;
  return FA_OK;
}

/* The name of a new run, claimed (train/run_files.h), and its metrics
 * files, created. */
static fa_status start_new(run *r, time_t started) {
  char stamp[32], name[FA_RUN_NAME_MAX];
  strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", localtime(&started));
  fa_run_name(r->cfg, stamp, name, sizeof name);
  if (fa_run_files_claim_new(&r->files, name, r->at.run_name, sizeof r->at.run_name) != FA_OK) return fa_error_code();
  r->metrics = fa_metrics_create(r->files.logs, r->at.run_name, stdout);
  return r->metrics ? FA_OK : fa_error_code();
}

/* The run of --resume (read from its checkpoint: resume), locked, and its
 * metrics files, cut back to the checkpoint. */
static fa_status start_resumed(run *r) {
  char note[FA_RUN_FILE_MAX + 600];
  if (fa_run_files_claim_resumed(&r->files, r->at.run_name, note, sizeof note) != FA_OK) return fa_error_code();
  if (note[0]) fprintf(stderr, "fastadv train: note: %s\n", note);
  r->metrics = fa_metrics_reopen(r->files.logs, r->at.run_name, stdout, &r->at.metrics);
  return r->metrics ? FA_OK : fa_error_code();
}

/* The run's configuration as the first record of its metrics file:
 *   {"config": {"version": ..., "run": <name>, <every flag>: <value>, ...}}
 * "precision" is what the training steps compute in: "bf16" (--half_prec
 * on a device with fast bfloat16 products) or "f32".
 * A resumed run appends {"resume": {"iteration": <where it continues>, ...
 * the same members}} instead: its own version and flags (those outside the
 * fingerprint, such as --n_final_eval, may differ). */
static fa_status write_config_record(run *r) {
  fa_json *o = fa_json_create();
  if (!o) return fa_error_code();
  bool resumed = r->cfg->resume[0] != '\0';
  if (resumed) fa_json_add_int(o, "iteration", r->at.iteration);
  fa_json_add_string(o, "version", FA_VERSION);
  fa_json_add_string(o, "run", r->at.run_name);
  char library[128];
  fa_comm_library(r->comm, library, sizeof library);
  fa_json_add_int(o, "processes", r->comm->size);
  fa_json_add_string(o, "mpi", library);
  fa_json_add_string(o, "precision", fa_precision_name(r->bf16));
  fa_json_add_members(o, r->flags);
  fa_status st = fa_metrics_record(r->metrics, resumed ? "resume" : "config", o);
  fa_json_destroy(o);
  return st;
}

/* Every rank runs the same job: the program's version, the flags a resume
 * checks and the data (dist/fingerprint.h); a plain run has nothing to check. */
static fa_status check_same_job(run *r) {
  if (!fa_comm_distributed(r->comm)) return FA_OK;
  char flags[8192];
  fa_train_config_fingerprint(r->cfg, flags, sizeof flags);
  const fa_dataset *tr = &r->train_set, *te = &r->test_set;
  size_t train_image = (size_t)tr->c * tr->h * tr->w, test_image = (size_t)te->c * te->h * te->w;
  fa_fingerprint_item items[] = {
      fa_fingerprint_text("version", FA_VERSION),
      fa_fingerprint_text("flags", flags),
      fa_fingerprint_bytes("training images", tr->images, (size_t)tr->n * train_image),
      fa_fingerprint_bytes("training labels", tr->labels, (size_t)tr->n),
      fa_fingerprint_bytes("test images", te->images, (size_t)te->n * test_image),
      fa_fingerprint_bytes("test labels", te->labels, (size_t)te->n),
  };
  return fa_comm_check_same(r->comm, items, (int)(sizeof items / sizeof *items));
}

/* This rank's own part of the setup: the data, the model, the optimiser,
 * the loader, the step, the statistics' examples, the buffers (and, on
 * rank 0, the output directories). */
static fa_status prepare(run *r, const fa_train_config *c) {
  if (writes(r) && fa_run_files_prepare(&r->files, c->out_dir) != FA_OK) return fa_error_code();
  const char *data_dir = c->data_dir[0] ? c->data_dir : NULL;
  if (fa_dataset_load(c->dataset, "train", data_dir, &r->train_set) != FA_OK ||
      fa_dataset_load(c->dataset, "test", data_dir, &r->test_set) != FA_OK)
    return fa_error_code();
  fa_arch arch;
  fa_arch_from_name(c->model, &arch);  /* known: check_model_fits_data */
  fa_model_config mc = model_config(c, arch, r->train_set.c, r->train_set.h, r->train_set.w, r->train_set.n_classes);
  if (!(r->model = fa_model_create(&mc))) return fa_error_code();
  fa_rng init = fa_rng_stream((uint64_t)c->seed, FA_STREAM_INIT);
  if (fa_model_init(r->model, &init) != FA_OK) return fa_error_code();
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
  if (fa_trainer_init(&r->trainer, c, r->model, r->comm) != FA_OK) return fa_error_code();
  if (load_examples(&r->test_set, c->n_eval_every_k_iter, &r->stats_test) != FA_OK ||
      load_examples(&r->train_set, c->n_eval_every_k_iter, &r->stats_train) != FA_OK)
    return fa_error_code();
  r->stats_rng = fa_rng_stream((uint64_t)c->seed, FA_STREAM_ATTACK + 16);
  size_t image = (size_t)mc.in_channels * mc.height * mc.width;
  r->x = malloc((size_t)c->batch_size * image * sizeof *r->x);
  r->y = malloc((size_t)c->batch_size * sizeof *r->y);
  if (!r->x || !r->y) return fa_error_set(FA_ERR_NOMEM, "out of memory for batches");
  if (!(r->best = store_like(params))) return fa_error_code();
  fa_tensor *grads = fa_store_slab_tensor(params, FA_SLAB_GRADS);
  if (fa_comm_distributed(r->comm) && !(r->grads = malloc(fa_tensor_numel(grads) * sizeof *r->grads)))
    return fa_error_set(FA_ERR_NOMEM, "out of memory for the sum of the gradients over the ranks");
  r->at.best_train_pgd = -1;
  r->at.monitor = fa_co_monitor_start();
  r->at.loader = fa_loader_get_state(r->loader);
  return FA_OK;
}

/* Every rank prepares (a rank that cannot stops every rank, naming
 * itself), checks that all run the same job and reads --resume's
 * checkpoint; rank 0 then names and claims the run and opens its metrics. */
static fa_status setup(run *r, const fa_train_config *c) {
  r->cfg = c;
  r->checkpoint_iteration = -1;
  r->bf16 = fa_half_prec_resolve("train", c->half_prec, r->comm->rank == 0);
  time_t started = time(NULL);  /* names the run, as the paper's start time does */
  fa_status st = fa_comm_agree(r->comm, prepare(r, c));
  if (st == FA_OK) st = check_same_job(r);
  if (st == FA_OK && c->resume[0]) st = fa_comm_agree(r->comm, resume(r));
  if (st == FA_OK && writes(r)) {
    st = c->resume[0] ? start_resumed(r) : start_new(r, started);
    if (st == FA_OK) st = write_config_record(r);
  }
  if ((st = fa_comm_agree(r->comm, st)) != FA_OK) return st;
  fa_comm_broadcast(r->comm, r->at.run_name, sizeof r->at.run_name, 0);
  snprintf(r->checkpoint, sizeof r->checkpoint, "%s/%s.safetensors", r->files.checkpoints, r->at.run_name);
  if (writes(r)) remove_stale_temporaries(r->checkpoint);  /* of this run, which this process holds now */
  if (!(r->arena = fa_arena_create_largest(FA_STEP_ARENA_BYTES, FA_STEP_ARENA_MIN_BYTES))) return fa_error_code();
  fa_arena_set_current(r->arena);
  return FA_OK;
}

static void teardown(run *r) {
  free(r->grads);
  fa_store_destroy(r->best);
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
  fa_run_files_release(&r->files);
}

/* copies every tensor of the model's store to (or from) the best snapshot */
static void snapshot(run *r, bool restore) {
  fa_store *s = fa_model_store(r->model);
  for (int i = 0; i < fa_store_count(s); i++) {
    fa_tensor *t = fa_store_get(s, i), *b = fa_store_get(r->best, i);
    fa_tensor_copy(restore ? t : b, restore ? b : t);  /* stores of one layout: cannot fail */
  }
}

/* The monitor fired at the report of `iteration`: said once in the log, on
 * the progress line and as a co_detected record (train/co_monitor.h). */
static fa_status co_detected(run *r, long iteration, int epoch, const fa_periodic_stats *ps, double elle,
                             const char *evidence) {
  const fa_train_config *c = r->cfg;
  bool stop = c->on_co == FA_ON_CO_STOP;
  char note[64];
  snprintf(note, sizeof note, "catastrophic overfitting at iteration %ld", iteration);
  fa_progress_set_note(r->progress, note);
  /* {"co_detected": {"iteration", "epoch", "evidence", the statistics of the report, the bests, ELLE's penalty}} */
  fa_json *o = fa_json_create();
  if (!o) return fa_error_code();
  fa_json_add_int(o, "iteration", iteration);
  fa_json_add_int(o, "epoch", epoch);
  fa_json_add_string(o, "evidence", evidence);
  const char *keys[] = {"test.acc_clean", "test.acc_fgsm", "test.acc_pgd", "test.loss_fgsm", "test.loss_pgd",
                        "test.cos_x_eta", "train.acc_pgd", "best.test.acc_pgd", "best.test.cos_x_eta", "train.elle"};
  double values[] = {ps->clean_acc, ps->fgsm_acc, ps->pgd_acc, ps->fgsm_loss, ps->pgd_loss, ps->grad_align,
                     ps->train_pgd_acc, r->at.monitor.best_pgd, r->at.monitor.best_align, elle};
  int n = fa_train_config_elle(c) ? 10 : 9;
  for (int i = 0; i < n; i++) fa_json_add_number(o, keys[i], values[i]);
  fa_status st = fa_metrics_record(r->metrics, "co_detected", o);
  fa_json_destroy(o);
  fa_status st_log = fa_metrics_log(r->metrics, "catastrophic overfitting detected at iteration %ld (epoch %d): %s%s",
                                    iteration, epoch, evidence,
                                    stop ? "; --on_co=stop: the run stops after this iteration and evaluates its "
                                           "best and last models"
                                         : " (--on_co=warn: training goes on)");
  r->co_stop = stop;
  return st ? st : st_log;
}

/* A spread run: every rank gets rank 0's batch-norm running statistics
 * (the model store's buffers), so that every rank evaluates, and saves,
 * rank 0's model (docs/SCALE.md). The parameters are the same bits on
 * every rank already. */
static void share_buffers(run *r) {
  fa_tensor *buffers = fa_store_slab_tensor(fa_model_store(r->model), FA_SLAB_BUFFERS);
  if (!fa_comm_distributed(r->comm) || !buffers) return;
  size_t n = fa_tensor_numel(buffers);
  float *host = fa_tensor_to_host(buffers);
  if (!host) fa_comm_abort(r->comm, FA_EXIT_FAILED, "out of memory for the batch-norm statistics");
  fa_comm_broadcast(r->comm, host, n * sizeof *host, 0);
  fa_tensor_write(buffers, 0, n, host);
  free(host);
}

static fa_status report(run *r, long iteration, int epoch, float lr) {
  fa_periodic_stats ps;
  share_buffers(r);
  fa_arena_mark mark = fa_arena_get_mark(r->arena);
  /* the paper's: PGD with --attack_iters steps and one restart */
  fa_stats_attack attack = {.eps = r->cfg->eps.value, .attack = fa_eval_attack_find("pgd"),
                            .options = {.n_iters = r->cfg->attack_iters, .n_restarts = 1}};
  fa_status st = fa_periodic_stats_compute(r->model, &r->stats_test, &r->stats_train, &attack,
                                           r->cfg->batch_size_eval, &r->stats_rng, r->comm, &ps);
  fa_arena_release(r->arena, mark);
  if (st != FA_OK) return st;
  if (ps.train_pgd_acc >= r->at.best_train_pgd) {
    r->at.best_train_pgd = ps.train_pgd_acc;
    snapshot(r, false);
  }
  const fa_step_stats *s = &r->at.since_report;
  double n = s->n > 0 ? s->n : 1;
  const char *keys[FA_MAX_REPORT] = {"train.loss", "train.reg", "train.acc", "train.grad_norm", "train.delta_norm",
                                     "train.lr", "test.acc_clean", "test.acc_fgsm", "test.acc_pgd",
                                     "test.loss_fgsm", "test.loss_pgd", "test.cos_fgsm_pgd", "test.cos_x_eta",
                                     "train.acc_pgd"};
  double values[FA_MAX_REPORT] = {s->loss / n, s->reg / n, s->correct / n, s->grad_norm / n, s->delta_norm / n, lr,
                                  ps.clean_acc, ps.fgsm_acc, ps.pgd_acc, ps.fgsm_loss, ps.pgd_loss, ps.cos_fgsm_pgd,
                                  ps.grad_align, ps.train_pgd_acc};
  int n_keys = 14, n_shown = 14;
  if (fa_train_config_elle(r->cfg)) { /* ELLE's mean penalty and its weight now */
    keys[n_keys] = "train.elle";
    values[n_keys++] = s->elle / n;
    keys[n_keys] = "train.elle_lambda";
    values[n_keys++] = r->cfg->elle_adaptive ? r->trainer.elle.lambda : r->cfg->elle_lambda;
    n_shown = n_keys;
  }
  double elle = s->elle / n;
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
  r->at.since_report = (fa_step_stats){0};
  st = fa_metrics_report(r->metrics, iteration, epoch, n_keys, keys, values, n_shown);
  char evidence[256];
  if (st == FA_OK && fa_co_monitor_observe(&r->at.monitor, iteration, &ps, evidence, sizeof evidence))
    st = co_detected(r, iteration, epoch, &ps, elle, evidence);
  return st;
}

static fa_status save(run *r, const char *suffix, long iteration, int epoch) {
  if (!writes(r)) return FA_OK;
  char path[FA_PATH_MAX + 1200], it[32], ep[32], eps[32];
  snprintf(path, sizeof path, "%s/%s%s.safetensors", r->files.models, r->at.run_name, suffix);
  snprintf(it, sizeof it, "%ld", iteration);
  snprintf(ep, sizeof ep, "%d", epoch);
  snprintf(eps, sizeof eps, "%g", r->cfg->eps.pixels);
  const char *keys[] = {"run", "dataset", "eps", "epoch", "iteration"};
  const char *values[] = {r->at.run_name, r->cfg->dataset, eps, ep, it};
  fa_ckpt_meta_list meta = {keys, values, 5};
  return fa_ckpt_save(path, r->model, 0, NULL, 0, meta);
}

/* The resume checkpoint of the run as it stands between two iterations. */
static fa_status write_checkpoint(run *r) {
  if (!writes(r)) {
    r->checkpoint_iteration = r->at.iteration;  /* rank 0's: the ranks agree on it (train) */
    return FA_OK;
  }
  r->at.loader = r->at.rep > 0 ? r->batch_state : fa_loader_get_state(r->loader);
  r->at.attack_counter = r->trainer.attack_rng.counter;
  r->at.elle = r->trainer.elle;
  r->at.stats_counter = r->stats_rng.counter;
  r->at.metrics = fa_metrics_tell(r->metrics);
  fa_resume_stores stores = stores_of(r);
  if (fa_resume_save(r->checkpoint, r->cfg, &stores, &r->at) != FA_OK) {
    char why[1024];
    snprintf(why, sizeof why, "%s", fa_error_message());
    return fa_error_set(fa_error_code(), "iteration %ld: cannot write the resume checkpoint: %s; %s", r->at.iteration,
                        why, r->checkpoint_iteration < 0 ? "no checkpoint of this run exists"
                                                         : "the previous checkpoint is intact: free space, then "
                                                           "resume from it");
  }
  r->checkpoint_iteration = r->at.iteration;
  return FA_OK;
}

/* Stops the run when a value of the store (or its gradient) is not finite. */
static fa_status guard_store(fa_store *store, bool gradients, long iteration, int epoch) {
  size_t index;
  float value;
  const fa_tensor *t = fa_first_nonfinite(store, gradients, &index, &value);
  if (!t) return FA_OK;
  return fa_error_set(FA_ERR_NUMERIC, "iteration %ld (epoch %d): %s %s holds %s at element %zu",
                      iteration, epoch, gradients ? "the gradient of" : "the parameter", fa_tensor_name(t),
                      fa_nonfinite_name(value), index);
}

/* The final evaluation: --final_eval with its own defaults (the paper's
 * PGD-50-10); with --debug, 10 iterations (PGD-10-3, as the paper's
 * train.py, 3 restarts) and 100 queries. */
typedef struct {
  const fa_eval_attack *attack;
  fa_attack_options options;
} final_attack;

static final_attack final_attack_of(const fa_train_config *c) {
  final_attack a = {.attack = c->final_eval};
  a.options = a.attack->defaults;
  snprintf(a.options.stages, sizeof a.options.stages, "%s", c->aa_attacks);
  if (c->debug) a.options.n_iters = 10, a.options.n_queries = 100;
  if (c->debug && a.attack == fa_eval_attack_find("pgd")) a.options.n_restarts = 3;
  return a;
}

static fa_status final_eval(run *r, const char *which, fa_eval_result *res) {
  final_attack a = final_attack_of(r->cfg);
  char label[64];
  a.attack->label(&a.options, label, sizeof label);
  share_buffers(r);
  fa_status st = fa_evaluate(r->model, &r->test_set, r->cfg->n_final_eval, r->cfg->batch_size_eval,
                             r->cfg->eps.value, a.attack, &a.options, r->cfg->seed, r->comm, NULL, res);
  if (st != FA_OK) return st;
  return fa_metrics_log(r->metrics, "[final: %s model] clean acc %.2f%%, %s acc %.2f%% on %d test examples (%.1fs)",
                        which, 100 * res->clean_acc, label, 100 * res->robust_acc, res->n, res->seconds);
}

static fa_json *result_json(const fa_eval_result *res) {
  fa_json *o = fa_json_create();
  if (!o) return NULL;
  fa_json_add_number(o, "clean_acc", res->clean_acc);
  fa_json_add_number(o, "robust_acc", res->robust_acc);
  fa_json_add_number(o, "time_s", round(res->seconds * 1000) / 1000);
  return o;
}

/* The last record of the metrics file:
 *   {"final": {"attack": "pgd", "attack_iters": 50, "n_restarts": 10, "eps": <1/255>, "n_examples": n,
 *              "seed": s, "last": {"clean_acc", "robust_acc", "time_s"}, "best": {...} or null}}
 * "best" is evaluated with --eval_early_stopped_model only. */
static fa_status final_record(run *r, const fa_eval_result *last, const fa_eval_result *best) {
  fa_json *o = fa_json_create(), *l = result_json(last), *b = best ? result_json(best) : NULL;
  final_attack a = final_attack_of(r->cfg);
  fa_status st = FA_OK;
  if (!o || !l || (best && !b)) st = fa_error_code();
  else {
    fa_json_add_string(o, "attack", a.attack->name);
    fa_json_add_int(o, "attack_iters", a.options.n_iters);
    fa_json_add_int(o, "n_restarts", a.options.n_restarts);
    fa_json_add_float(o, "eps", r->cfg->eps.pixels);
    fa_json_add_int(o, "n_examples", last->n);
    fa_json_add_int(o, "seed", r->cfg->seed);
    fa_json_add_object(o, "last", l);
    if (b) fa_json_add_object(o, "best", b);
    else fa_json_add_null(o, "best");
    st = fa_metrics_record(r->metrics, "final", o);
  }
  fa_json_destroy(o);
  fa_json_destroy(l);
  fa_json_destroy(b);
  return st;
}

/* Stops the run when this slice's share of the step's loss, GradAlign term
 * or ELLE penalty (the sums since `before`, over n of the global batch's
 * total rows) is not finite. */
static fa_status guard_step(const fa_resume_point *p, const fa_step_stats *before, int n, int total) {
  const fa_step_stats *now = &p->since_report;
  double loss = (now->loss - before->loss) / n, reg = (now->reg - before->reg) / total,
         elle = (now->elle - before->elle) / n;
  const char *what = !isfinite(loss) ? "loss" : !isfinite(reg) ? "regulariser (GradAlign)" : "ELLE penalty";
  if (!isfinite(loss) || !isfinite(reg) || !isfinite(elle))
    return fa_error_set(FA_ERR_NUMERIC, "iteration %ld (epoch %d): the training %s is %s", p->iteration, p->epoch,
                        what, fa_nonfinite_name(!isfinite(loss) ? loss : !isfinite(reg) ? reg : elle));
  return FA_OK;
}

/* A spread run: the gradient slab and the step's sums (since `before`)
 * summed over the ranks, in rank order (dist/comm.h): every rank then
 * holds the global batch's gradient and statistics, the same bits. */
static void sum_over_ranks(run *r, const fa_step_stats *before) {
  if (!fa_comm_distributed(r->comm)) return;
  fa_tensor *slab = fa_store_slab_tensor(fa_model_store(r->model), FA_SLAB_GRADS);
  size_t n = fa_tensor_numel(slab);
  /* host transfers of a slab in memory this process owns: they cannot fail */
  fa_tensor_read(slab, 0, n, r->grads);
  fa_comm_sum_floats(r->comm, r->grads, n);
  fa_tensor_write(slab, 0, n, r->grads);
  fa_step_stats *s = &r->at.since_report;
  double step[] = {s->loss - before->loss, s->reg - before->reg, s->elle - before->elle,
                   s->correct - before->correct, s->grad_norm - before->grad_norm,
                   s->delta_norm - before->delta_norm, s->n - before->n};
  fa_comm_sum_doubles(r->comm, step, sizeof step / sizeof *step);
  *s = (fa_step_stats){before->loss + step[0], before->reg + step[1], before->elle + step[2],
                       before->correct + step[3], before->grad_norm + step[4], before->delta_norm + step[5],
                       before->n + (int)step[6]};
}

/* The stop signal of the lowest rank that caught one (0 when none did), on
 * every rank: the ranks stop together, after the same iteration. */
static int agreed_signal(fa_comm *comm, int signal) {
  if (!fa_comm_distributed(comm)) return signal;
  int *all = malloc((size_t)comm->size * sizeof *all);
  if (!all) fa_comm_abort(comm, FA_EXIT_FAILED, "out of memory for the ranks' signals");
  fa_comm_allgather(comm, &signal, sizeof signal, all);
  int first = 0;
  for (int i = comm->size - 1; i >= 0; i--)
    if (all[i]) first = all[i];
  free(all);
  return first;
}

/* One iteration at r->at: the batch (drawn when the place needs a new
 * one), the step, the guards, the update and the report. */
static fa_status iterate(run *r, bool *have_batch) {
  const fa_train_config *c = r->cfg;
  fa_resume_point *p = &r->at;
  int batches = fa_loader_batches_per_epoch(r->loader), replay = c->minibatch_replay;
  if (!*have_batch) {
    /* every rank draws the global batch (its order, crops and flips) and takes its slice of it */
    if (p->batch == 0 && p->rep == 0) fa_loader_begin_epoch(r->loader);
    r->batch_state = fa_loader_get_state(r->loader);
    if ((r->count = fa_loader_next(r->loader, r->x, r->y)) <= 0)
      return fa_error_set(FA_ERR_INVALID, "the loader ran out of batches");
    r->first = (int)((long)r->count * r->comm->rank / r->comm->size);
    r->local = (int)((long)r->count * (r->comm->rank + 1) / r->comm->size) - r->first;
    r->trainer.first_row = r->first;
    r->trainer.total_rows = r->count;
    *have_batch = true;
  }
  float lr = p->epoch == 0 ? 0.0f
                           : fa_lr_at(c->lr_schedule, c->lr_max, c->epochs, fa_epoch_fraction(p->epoch, p->batch, batches));
  fa_arena_mark mark = fa_arena_get_mark(r->arena);
  size_t image = (size_t)r->train_set.c * r->train_set.h * r->train_set.w;
  fa_tensor *x = fa_tensor_from(4, (int[]){r->local, r->train_set.c, r->train_set.h, r->train_set.w},
                                r->x + (size_t)r->first * image);
  fa_tensor *y = x ? fa_labels_from(r->local, r->y + r->first, r->train_set.n_classes) : NULL;
  /* SVHN warm-up: the FGSM step or the PGD radius ramp up over the first 5 epochs */
  float ramp = strcmp(c->dataset, "svhn") == 0 ? fminf(1.0f, (float)p->iteration / (5.0f * batches * replay)) : 1.0f;
  fa_step_stats before = p->since_report;
  /* --half_prec: the step's products in bfloat16; the statistics and evaluations after it in float32 */
  bool was_bf16 = fa_context_set_bf16(fa_context_current(), r->bf16);
  fa_status st = y ? fa_train_step(&r->trainer, x, y, ramp, &p->since_report) : fa_error_code();
  fa_context_set_bf16(fa_context_current(), was_bf16);
  fa_arena_release(r->arena, mark);
  fa_store *params = fa_model_store(r->model);
  if (st == FA_OK) st = guard_step(p, &before, r->local, r->count);
  if (st == FA_OK) st = guard_store(params, true, p->iteration, p->epoch);
  /* a rank that failed (its slice's NaN, memory) stops every rank, naming itself */
  if ((st = fa_comm_agree(r->comm, st)) != FA_OK) return st;
  sum_over_ranks(r, &before);
  if (p->epoch > 0 && (st = fa_optimizer_step(r->opt, lr)) != FA_OK) return st;
  /* the parameters, and the batch-norm statistics the forward passes updated (each rank's own) */
  if ((st = fa_comm_agree(r->comm, guard_store(params, false, p->iteration, p->epoch))) != FA_OK) return st;
  if (p->iteration % c->eval_iter_freq == 0 && (st = report(r, p->iteration, p->epoch, lr)) != FA_OK) return st;
  /* the next place */
  p->iteration++;
  if (++p->rep == (p->epoch == 0 ? 1 : replay)) {
    p->rep = 0;
    *have_batch = false;
    if (++p->batch == (p->epoch == 0 ? 1 : batches)) {
      p->batch = 0;
      p->epoch++;
    }
  }
  return FA_OK;
}

static fa_status train(run *r) {
  const fa_train_config *c = r->cfg;
  long total = 1 + (long)c->epochs * fa_loader_batches_per_epoch(r->loader) * c->minibatch_replay;
  fa_status st = FA_OK;
  char processes[256] = "";
  if (fa_comm_distributed(r->comm)) {
    char library[128];
    fa_comm_library(r->comm, library, sizeof library);
    snprintf(processes, sizeof processes, " (%d processes, %s, launched by %s)", r->comm->size, library,
             r->comm->launcher);
  }
  if (c->resume[0])
    fa_metrics_log(r->metrics, "resumed at iteration %ld of %ld from %s%s", r->at.iteration, total, r->checkpoint,
                   processes);
  else
    fa_metrics_log(r->metrics, "run: %s%s", r->at.run_name, processes);
  catch_stop_signals(true);
  if (r->checkpoint_iteration < 0) st = fa_comm_agree(r->comm, write_checkpoint(r));
  if (writes(r)) r->progress = fa_progress_create(stderr, "train", total - r->at.iteration, 5.0);
  bool have_batch = false;
  long first = r->at.iteration;
  while (st == FA_OK && r->at.iteration < total) {
    st = iterate(r, &have_batch);
    /* rank 0's writes (metrics above, the checkpoint below) and a signal to any rank: the ranks agree */
    int signal = agreed_signal(r->comm, stop_signal);
    if (st == FA_OK) {
      fa_progress_update(r->progress, r->at.iteration - first, (r->at.iteration - first) * (long)c->batch_size);
      bool due = c->checkpoint_every > 0 && r->at.iteration % c->checkpoint_every == 0;
      if (signal || due || r->at.iteration == total || r->co_stop) st = write_checkpoint(r);
    }
    if ((st = fa_comm_agree(r->comm, st)) != FA_OK) break;
    if (signal) {
      r->stopped = true;
      fa_metrics_log(r->metrics, "stopped by signal %d after %ld iterations; resume with the same flags and "
                     "--resume='%s'", signal, r->at.iteration, r->at.run_name);
      break;
    }
    if (st == FA_OK && r->co_stop) {
      fa_metrics_log(r->metrics, "stopped by the catastrophic-overfitting monitor (--on_co=stop) after %ld "
                     "iterations; to train on, resume with the same flags, --on_co=warn and --resume='%s'",
                     r->at.iteration, r->at.run_name);
      break;
    }
  }
  catch_stop_signals(false);  /* the final evaluation can be stopped at once: the checkpoint holds the run */
  fa_progress_finish(r->progress);
  r->progress = NULL;
  if (st == FA_ERR_NUMERIC) {
    char why[1024];
    snprintf(why, sizeof why, "%s", fa_error_message());
    if (c->resume[0] && r->at.iteration == first && !r->at.checksummed)
      return fa_error_set(FA_ERR_NUMERIC, "%s, at the first iteration after resuming: the values came unchanged from "
                          "the resume checkpoint %s, which has no checksums to verify them, so it is most likely "
                          "corrupt: resume from an intact copy, or start the run again without --resume (had the "
                          "run itself diverged, a smaller --lr_max would help). The checkpoint is kept as it was",
                          why, r->checkpoint);
    return fa_error_set(FA_ERR_NUMERIC, "%s. The run stops; nothing was saved after it. %s. Try a smaller --lr_max",
                        why, r->checkpoint_iteration < 0 ? "It has no checkpoint" : "Its last good checkpoint is kept");
  }
  if (st != FA_OK || r->stopped) return st;
  /* the last model: saved and evaluated; then the best one (always evaluated when the monitor stopped the run);
   * then the record of both */
  fa_eval_result last, best;
  long at = r->co_stop ? r->at.iteration : total;
  int epoch = r->co_stop ? r->at.epoch : c->epochs;
  bool eval_best = c->eval_early_stopped_model || r->co_stop;
  st = fa_comm_agree(r->comm, save(r, "", at, epoch));
  if (st == FA_OK) st = fa_comm_agree(r->comm, final_eval(r, "last", &last));
  if (st != FA_OK) return st;
  snapshot(r, true);
  st = fa_comm_agree(r->comm, save(r, "_best", at, epoch));
  if (st == FA_OK && eval_best) st = fa_comm_agree(r->comm, final_eval(r, "best (early stopped)", &best));
  if (st == FA_OK) st = final_record(r, &last, eval_best ? &best : NULL);
  return st;
}

/* What a run spread over processes cannot do (yet): a command-line error. */
static fa_status check_processes(const fa_train_config *c, const fa_comm *comm) {
  if (comm->size > 1 && c->batch_size < comm->size)
    return fa_error_set(FA_ERR_INVALID, "--batch_size=%d is smaller than the %d processes, which take a slice of "
                        "every batch each: give a --batch_size of at least %d, or start fewer processes",
                        c->batch_size, comm->size, comm->size);
  if (comm->size > 1 && c->minibatch_replay > 1)
    return fa_error_set(FA_ERR_INVALID, "--minibatch_replay=%d (AT for Free) carries each slice's perturbation "
                        "from one step to the next, which this build does not spread over processes: run it "
                        "as one process (without mpirun or srun)", c->minibatch_replay);
  return FA_OK;
}

int fa_run_train(const fa_train_config *config, fa_json *flags, fa_comm *comm) {
  if (check_model_fits_data(config) != FA_OK || check_processes(config, comm) != FA_OK) {
    if (comm->rank == 0) fprintf(stderr, "fastadv train: %s\n", fa_error_message());
    return FA_EXIT_USAGE;
  }
  run r = {.flags = flags, .comm = comm};
  stop_signal = 0;
  fa_status st = setup(&r, config);
  if (st == FA_OK) st = train(&r);
  if (r.progress) fa_progress_finish(r.progress);
  int code = FA_EXIT_OK;
  if (st != FA_OK) {
    /* the ranks agreed on the failure (fa_comm_agree): rank 0 says it */
    if (writes(&r)) fprintf(stderr, "fastadv train: the run stopped: %s\n", fa_error_message());
    if (r.metrics) fa_metrics_log(r.metrics, "the run stopped: %s", fa_error_message());
    code = st == FA_ERR_NUMERIC ? FA_EXIT_NUMERIC : FA_EXIT_FAILED;
  } else if (r.stopped) {
    if (writes(&r))
      fprintf(stderr, "fastadv train: stopped; the checkpoint %s holds iteration %ld\n", r.checkpoint,
              r.checkpoint_iteration);
    code = FA_EXIT_STOPPED;
  } else if (r.co_stop) {
    if (writes(&r))
      fprintf(stderr, "fastadv train: stopped by the catastrophic-overfitting monitor at iteration %ld "
              "(--on_co=stop); the checkpoint %s holds it: resume with --on_co=warn to train on\n",
              r.at.monitor.detected_at, r.checkpoint);
    code = FA_EXIT_CO;
  }
  teardown(&r);
  return code;
}
