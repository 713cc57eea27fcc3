/* `fastadv eval`: clean accuracy and robust accuracy of a checkpoint under
 * an evaluation attack (--attack, by default the paper's PGD-50-10; docs/METHOD.md
 * section 5), the paper's eval.py. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/context.h"
#include "core/version.h"
#include "dist/fingerprint.h"
#include "train/checkpoint.h"
#include "train/evaluate.h"
#include "train/precision.h"
#include "train/resume.h"
#include "train/run.h"

#define FA_EVAL_ARENA_BYTES ((size_t)64 << 30)    /* reserved, committed only as used */
#define FA_EVAL_ARENA_MIN_BYTES ((size_t)1 << 30) /* where address space is limited (valgrind) */
#define SUFFIX ".safetensors"
#define BEST "_best"

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The checkpoint file: model_path as a file, else a run name in <out_dir>/models/
 * (<run>_best.safetensors with --early_stopped_model). */
static bool resolve_checkpoint(const fa_eval_config *c, char *path, size_t len, bool *is_file) {
  *is_file = access(c->model_path, R_OK) == 0;
  if (*is_file) {
    snprintf(path, len, "%s", c->model_path);
    return true;
  }
  snprintf(path, len, "%s/models/%s%s" SUFFIX, c->out_dir, c->model_path, c->early_stopped_model ? BEST : "");
  return access(path, R_OK) == 0;
}

/* --early_stopped_model with a file: a resume checkpoint holds the best model
 * under FA_RESUME_BEST_PREFIX (*prefix set); a model file <run>.safetensors has
 * it beside it in <run>_best.safetensors (path changed; a _best file is
 * itself the early-stopped model). Returns an exit status, 0 when found. */
static int early_stopped_of_file(fa_checkpoint *ckpt, char *path, size_t len, const char **prefix) {
  if (fa_ckpt_meta(ckpt, "resume_version")) {
    const char *best = fa_ckpt_meta(ckpt, "best_train_pgd");
    if (!best || strtod(best, NULL) < 0) {
      fprintf(stderr, "fastadv eval: --early_stopped_model: the resume checkpoint %s was written before the run's "
              "first report, so it holds no early-stopped model yet: evaluate its last model without "
              "--early_stopped_model\n", path);
      return FA_EXIT_FAILED;
    }
    *prefix = FA_RESUME_BEST_PREFIX;
    return FA_EXIT_OK;
  }
  if (ends_with(path, BEST SUFFIX)) return FA_EXIT_OK;
  if (!ends_with(path, SUFFIX) || strlen(path) + strlen(BEST) >= len) {
    fprintf(stderr, "fastadv eval: --early_stopped_model: %s is not named <run>" SUFFIX ", so it has no "
            "<run>" BEST SUFFIX " beside it: give the early-stopped model's file itself, or a run name, or a "
            "resume checkpoint\n", path);
    return FA_EXIT_USAGE;
  }
  char given[2 * FA_PATH_MAX + 64];
  snprintf(given, sizeof given, "%s", path);
  snprintf(path, len, "%.*s" BEST SUFFIX, (int)(strlen(given) - strlen(SUFFIX)), given);
  if (access(path, R_OK) != 0) {
    fprintf(stderr, "fastadv eval: --early_stopped_model: there is no early-stopped model %s beside %s (fastadv "
            "train writes <run>" BEST SUFFIX " next to <run>" SUFFIX "): evaluate %s without "
            "--early_stopped_model, or give the early-stopped model's file\n", path, given, given);
    return FA_EXIT_FAILED;
  }
  return FA_EXIT_OK;
}

fa_model *fa_eval_load_model(const fa_eval_config *c, const fa_checkpoint *ckpt, const fa_dataset *ds,
                             const char *prefix) {
  if (fa_ckpt_meta(ckpt, "arch")) return fa_ckpt_load_model_as(ckpt, NULL, prefix);
  fa_model_config mc = {.in_channels = ds->c, .height = ds->h, .width = ds->w, .n_classes = ds->n_classes,
                        .n_layers = c->n_layers, .n_filters = c->n_filters_cnn, .resnet_width = 64};
  if (!fa_arch_from_name(c->model, &mc.arch)) {
    fa_error_set(FA_ERR_INVALID, "the checkpoint does not say which model it holds (no fastadv metadata): give "
                 "the architecture with --model=resnet18|cnn|lenet (and --n_layers, --n_filters_cnn for the cnn) "
                 "and the file with --model_path");
    return NULL;
  }
  return fa_ckpt_load_model_as(ckpt, &mc, prefix);
}

/* What follows the result line: the resumed examples, and each stage as the reference implementation prints it. */
static void print_stages(const fa_eval_config *c, const fa_eval_result *res, const char *log_path) {
  if (res->n_resumed) printf("resumed: %d examples from %s\n", res->n_resumed, log_path);
  if (c->attack->title) printf("initial accuracy: %.2f%%\n", 100 * res->clean_acc);
  for (int s = 0; s < res->n_stages; s++)
    printf("robust accuracy after %s: %.2f%% (%.1f s)\n", res->stage_titles[s], 100 * res->stage_acc[s],
           res->stage_seconds[s]);
  if (c->attack->title)
    printf("robust accuracy after %s: %.2f%% (total time %.1f s)\n", c->attack->title, 100 * res->robust_acc,
           res->seconds);
}

/* Rounds of batches per process (evaluate.c spreads whole batches): a
 * batch size the user did not give is cut so that each of N processes gets
 * about this many, the work of an attack per batch being uneven. */
enum { FA_EVAL_BATCHES_PER_PROCESS = 4 };

/* --batch_size_eval, or under N > 1 processes and not given, at most
 * n / (4 N) (rounded up) for the n examples evaluated. */
static int eval_batch_size(const fa_eval_config *c, int n_examples, int processes) {
  if (c->batch_size_eval_given || processes < 2) return c->batch_size_eval;
  const int parts = FA_EVAL_BATCHES_PER_PROCESS * processes, share = (n_examples + parts - 1) / parts;
  return share >= 1 && share < c->batch_size_eval ? share : c->batch_size_eval;
}

/* Under a launcher, that every rank evaluates the same model on the same
 * examples with the same attack (dist/fingerprint.h), the ranks' results
 * being pooled; a plain run has nothing to check. The model: its
 * parameters and buffers (batch norm's statistics), as loaded. */
static fa_status check_same_eval(fa_comm *comm, const char *settings, fa_model *model, const fa_dataset *ds) {
  if (!fa_comm_distributed(comm)) return FA_OK;
  fa_store *store = fa_model_store(model);
  fa_tensor *params = fa_store_slab_tensor(store, FA_SLAB_PARAMS);
  float *weights = params ? fa_tensor_to_host(params) : NULL;
  fa_tensor *buffers = weights ? fa_store_slab_tensor(store, FA_SLAB_BUFFERS) : NULL;
  float *stats = buffers ? fa_tensor_to_host(buffers) : NULL;
  fa_status st = weights && (stats || !buffers) ? FA_OK : fa_error_code();
  st = fa_comm_agree(comm, st);
  size_t image = (size_t)ds->c * ds->h * ds->w;
  fa_fingerprint_item items[] = {
      fa_fingerprint_text("version", FA_VERSION),
      fa_fingerprint_text("settings", settings),
      fa_fingerprint_bytes("model parameters", weights, weights ? fa_tensor_numel(params) * sizeof(float) : 0),
      fa_fingerprint_bytes("model buffers", stats, stats ? fa_tensor_numel(buffers) * sizeof(float) : 0),
      fa_fingerprint_bytes("images", ds->images, (size_t)ds->n * image),
      fa_fingerprint_bytes("labels", ds->labels, (size_t)ds->n),
  };
  if (st == FA_OK) st = fa_comm_check_same(comm, items, (int)(sizeof items / sizeof *items));
  free(weights);
  free(stats);
  return st;
}

int fa_run_eval(const fa_eval_config *c, fa_comm *comm) {
  char path[2 * FA_PATH_MAX + 64];
  bool is_file;
  if (!c->model_path[0]) {
    fprintf(stderr, "fastadv eval: no checkpoint given: pass --model_path=<file or run name>\n");
    return FA_EXIT_USAGE;
  }
  if (c->resume_eval && !c->results_json[0]) {
    fprintf(stderr, "fastadv eval: --resume_eval continues the evaluation of a --results_json=FILE (from "
            "FILE.examples.jsonl): give the same --results_json as the stopped evaluation\n");
    return FA_EXIT_USAGE;
  }
  if (!resolve_checkpoint(c, path, sizeof path, &is_file)) {
    fprintf(stderr,
            "fastadv eval: no checkpoint %s: not a readable file, and not a run name in %s/models/ "
            "(looked for %s)\n",
            c->model_path, c->out_dir, path);
    return FA_EXIT_FAILED;
  }
  fa_checkpoint *ckpt = fa_ckpt_open(path);
  const char *prefix = "";
  if (ckpt && is_file && c->early_stopped_model) {
    char given[sizeof path];
    snprintf(given, sizeof given, "%s", path);
    int code = early_stopped_of_file(ckpt, path, sizeof path, &prefix);
    if (code != FA_EXIT_OK) {
      fa_ckpt_close(ckpt);
      return code;
    }
    if (strcmp(given, path) != 0) {
      fa_ckpt_close(ckpt);
      ckpt = fa_ckpt_open(path);
    }
  }
  const char *dataset = c->dataset[0] ? c->dataset : (ckpt ? fa_ckpt_meta(ckpt, "dataset") : NULL);
  fa_dataset ds = {0};
  fa_model *model = NULL;
  fa_arena *arena = NULL;
  fa_eval_result res;
  fa_attack_options options = fa_eval_attack_options(c);
  char label[64];
  c->attack->label(&options, label, sizeof label);
  fa_status st = ckpt ? FA_OK : fa_error_code();
  if (st == FA_OK && !dataset) st = fa_error_set(FA_ERR_INVALID, "the checkpoint does not name its data set: pass --dataset");
  /* an attack the data set cannot take (too few classes for its loss) is a command-line error, before any work */
  fa_dataset_format format;
  bool usage = false;
  if (st == FA_OK && fa_dataset_format_of(dataset, &format) == FA_OK)
    usage = (st = fa_eval_attack_check(c->attack, &options, format.n_classes)) != FA_OK;
  if (st == FA_OK) st = fa_dataset_load(dataset, c->set, c->data_dir[0] ? c->data_dir : NULL, &ds);
  if (st == FA_OK && !(model = fa_eval_load_model(c, ckpt, &ds, prefix))) st = fa_error_code();
  if (st == FA_OK && !(arena = fa_arena_create_largest(FA_EVAL_ARENA_BYTES, FA_EVAL_ARENA_MIN_BYTES)))
    st = fa_error_code();
  char log_path[FA_PATH_MAX + 32], header[sizeof path + 512];
  snprintf(log_path, sizeof log_path, "%s.examples.jsonl", c->results_json);
  snprintf(header, sizeof header, "%s%s, %s eps %g/255 seed %d, first %d of %s %s", path, *prefix ? " (best)" : "",
           label, c->eps.pixels, c->seed, c->n_eval, c->set, dataset ? dataset : "");
  fa_eval_log log = {.path = log_path, .header = header, .resume = c->resume_eval};
  /* a rank that cannot read the checkpoint or the data stops every rank, naming itself */
  st = fa_comm_agree(comm, st);
  char settings[512]; /* what the ranks must share besides the model and data: not the paths */
  snprintf(settings, sizeof settings, "%s eps %g/255 seed %d, first %d of %s %s, --half_prec=%d", label, c->eps.pixels,
           c->seed, c->n_eval, c->set, dataset ? dataset : "", c->half_prec);
  if (st == FA_OK) st = check_same_eval(comm, settings, model, &ds);
  if (st == FA_OK) {
    fa_arena_set_current(arena);
    bool bf16 = fa_half_prec_resolve("eval", c->half_prec, comm->rank == 0);
    bool was = fa_context_set_bf16(fa_context_current(), bf16);
    const int n_examples = c->n_eval < 0 || c->n_eval > ds.n ? ds.n : c->n_eval;
    st = fa_evaluate(model, &ds, c->n_eval, eval_batch_size(c, n_examples, comm->size), c->eps.value, c->attack,
                     &options, c->seed, comm,
                     c->results_json[0] ? &log : NULL, &res);
    fa_context_set_bf16(fa_context_current(), was);
  }
  if (st == FA_OK && c->results_json[0] && comm->rank == 0)
    st = fa_eval_write_results(c->results_json, &res, path, c->eps.value, label);
  st = fa_comm_agree(comm, st);
  if (st == FA_OK && comm->rank == 0) { /* rank 0 says it */
    printf("%s%s: clean acc %.2f%%, %s acc %.2f%% (eps %g/255) on %d %s examples of %s (%.1fs)\n", path,
           *prefix ? " (early-stopped model)" : "", 100 * res.clean_acc, label, 100 * res.robust_acc,
           c->eps.pixels, res.n, c->set, dataset, res.seconds);
    print_stages(c, &res, log_path);
  }
  else if (st != FA_OK && comm->rank == 0)
    fprintf(stderr, "fastadv eval: %s\n", fa_error_message());
  fa_arena_destroy(arena);
  fa_dataset_free(&ds);
  fa_model_destroy(model);
  fa_ckpt_close(ckpt);
  return st == FA_OK ? FA_EXIT_OK : usage ? FA_EXIT_USAGE : FA_EXIT_FAILED;
}
