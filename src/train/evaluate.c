#include "train/evaluate.h"

#include <stdlib.h>
#include <time.h>

#include "adv/attack.h"
#include "core/arena.h"
#include "core/autograd.h"
#include "data/loader.h"
#include "io/progress.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

fa_status fa_evaluate(fa_model *model, const fa_dataset *ds, int n, int batch_size, float eps,
                      const fa_eval_attack *attack, const fa_attack_options *options, int seed, fa_eval_result *out) {
  fa_loader_config cfg = {.mode = FA_LOADER_EVAL, .batch_size = batch_size, .n_examples = n};
  fa_loader *loader = fa_loader_create(ds, &cfg, fa_rng_stream(0, FA_STREAM_SHUFFLE),
                                       fa_rng_stream(0, FA_STREAM_AUGMENT));
  if (!loader) return fa_error_code();
  fa_rng rng = fa_rng_stream((uint64_t)seed, FA_STREAM_EVAL);
  size_t image = (size_t)ds->c * ds->h * ds->w;
  float *x = malloc((size_t)batch_size * image * sizeof *x);
  int *y = malloc((size_t)batch_size * sizeof *y);
  fa_status status = x && y ? FA_OK : fa_error_set(FA_ERR_NOMEM, "out of memory for evaluation batches");
  fa_arena *arena = fa_arena_current();
  fa_progress *progress = fa_progress_create(stderr, "eval", fa_loader_batches_per_epoch(loader), 1.0);
  double start = now_s();
  long clean = 0, robust = 0, seen = 0, done = 0;
  fa_loader_begin_epoch(loader);
  int count;
  while (status == FA_OK && (count = fa_loader_next(loader, x, y)) > 0) {
    fa_arena_mark mark = fa_arena_get_mark(arena);
    fa_tensor *xb = fa_tensor_from(4, (int[]){count, ds->c, ds->h, ds->w}, x);
    fa_eval_attack_input in = {.model = model, .x = xb, .y = y, .eps = eps, .options = options, .rng = &rng};
    int robust_now = xb ? fa_eval_attack_robust(attack, &in, NULL) : -1;
    bool was = fa_set_grad_enabled(false);
    fa_tensor *clean_logits = robust_now >= 0 ? fa_model_forward(model, xb, false) : NULL;
    fa_set_grad_enabled(was);
    if (clean_logits) {
      clean += fa_count_correct(clean_logits, y);
      robust += robust_now;
      seen += count;
      fa_progress_update(progress, ++done, seen);
    } else {
      status = fa_error_code();
    }
    fa_arena_release(arena, mark);
  }
  fa_progress_finish(progress);
  fa_loader_free(loader);
  free(x);
  free(y);
  if (status != FA_OK) return status;
  *out = (fa_eval_result){.n = (int)seen, .clean_acc = seen ? (double)clean / seen : 0,
                          .robust_acc = seen ? (double)robust / seen : 0, .seconds = now_s() - start};
  return FA_OK;
}
