/* `fastadv eval`: clean accuracy and PGD-50-10 of a checkpoint (docs/METHOD.md
 * section 5), the paper's eval.py. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/arena.h"
#include "train/checkpoint.h"
#include "train/evaluate.h"
#include "train/run.h"

#define FA_EVAL_ARENA_BYTES ((size_t)64 << 30)    /* reserved, committed only as used */
#define FA_EVAL_ARENA_MIN_BYTES ((size_t)1 << 30) /* where address space is limited (valgrind) */

/* The checkpoint file: model_path as a file, else a run name in <out_dir>/models/. */
static bool resolve_checkpoint(const fa_eval_config *c, char *path, size_t len) {
  if (access(c->model_path, R_OK) == 0) {
    snprintf(path, len, "%s", c->model_path);
    return true;
  }
  snprintf(path, len, "%s/models/%s%s.safetensors", c->out_dir, c->model_path, c->early_stopped_model ? "_best" : "");
  return access(path, R_OK) == 0;
}

int fa_run_eval(const fa_eval_config *c) {
  char path[2 * FA_PATH_MAX + 64];
  if (!c->model_path[0]) {
    fprintf(stderr, "fastadv eval: no checkpoint given: pass --model_path=<file or run name>\n");
    return 2;
  }
  if (!resolve_checkpoint(c, path, sizeof path)) {
    fprintf(stderr,
            "fastadv eval: no checkpoint %s: not a readable file, and not a run name in %s/models/ "
            "(looked for %s)\n",
            c->model_path, c->out_dir, path);
    return 1;
  }
  fa_checkpoint *ckpt = fa_ckpt_open(path);
  fa_model *model = ckpt ? fa_ckpt_load_model(ckpt) : NULL;
  const char *dataset = c->dataset[0] ? c->dataset : (ckpt ? fa_ckpt_meta(ckpt, "dataset") : NULL);
  fa_dataset ds = {0};
  fa_arena *arena = NULL;
  fa_eval_result res;
  fa_status st = model ? FA_OK : fa_error_code();
  if (st == FA_OK && !dataset) st = fa_error_set(FA_ERR_INVALID, "the checkpoint does not name its data set: pass --dataset");
  if (st == FA_OK) st = fa_dataset_load(dataset, c->set, c->data_dir[0] ? c->data_dir : NULL, &ds);
  if (st == FA_OK && !(arena = fa_arena_create_largest(FA_EVAL_ARENA_BYTES, FA_EVAL_ARENA_MIN_BYTES)))
    st = fa_error_code();
  if (st == FA_OK) {
    fa_arena_set_current(arena);
    st = fa_evaluate(model, &ds, c->n_eval, c->batch_size_eval, c->eps / 255.0f, c->attack_iters, c->n_restarts,
                     c->seed, &res);
  }
  if (st == FA_OK)
    printf("%s: clean acc %.2f%%, pgd-%d-%d acc %.2f%% (eps %g/255) on %d %s examples of %s (%.1fs)\n", path,
           100 * res.clean_acc, c->attack_iters, c->n_restarts, 100 * res.robust_acc, c->eps, res.n, c->set, dataset,
           res.seconds);
  else
    fprintf(stderr, "fastadv eval: %s\n", fa_error_message());
  fa_arena_destroy(arena);
  fa_dataset_free(&ds);
  fa_model_destroy(model);
  fa_ckpt_close(ckpt);
  return st == FA_OK ? 0 : 1;
}
