/* Predictions and statistics read back as scalars (core/measure.h). A
 * result is written by its kernel into a small step tensor and read back
 * through core's host transfer. */
#include "core/measure.h"

#include <math.h>

#include "core/arena.h"
#include "core/device.h"
#include "core/tensor_internal.h"

static bool check_logits(const fa_tensor *logits, const char *what) {
  if (!logits) return false;
  if (logits->ndim != 2 || logits->dtype != FA_F32)
    return fa_error_set(FA_ERR_INVALID, "%s needs (N, K) float32 logits", what), false;
  return true;
}

/* A scalar of the result's bytes (a float or a double) on ctx's device, in its current arena. */
static fa_tensor *result_slot(fa_context *ctx) { return fa_tensor_new_on(ctx, 1, (int[]){2}); }

int fa_count_correct(const fa_tensor *logits, const fa_tensor *labels) {
  if (!check_logits(logits, "counting correct predictions") || !labels) return -1;
  if (labels->dtype != FA_I32 || labels->ndim != 1 || labels->shape[0] != logits->shape[0])
    return fa_error_set(FA_ERR_INVALID, "counting correct predictions needs (%d) int32 labels", logits->shape[0]), -1;
  if (!fa_one_device((const fa_tensor *[]){logits, labels}, 2, "count_correct")) return -1;
  fa_context *ctx = logits->ctx;
  fa_arena_mark mark = fa_arena_get_mark(ctx->arena);
  fa_tensor *count = result_slot(ctx);
  if (!count) return -1;
  ctx->k->count_correct(logits->shape[0], logits->shape[1], logits->data,
                              (const int32_t *)(const void *)labels->data, count->data);
  float n = fa_tensor_item(count);
  fa_arena_release(ctx->arena, mark);
  return (int)n;
}

fa_tensor *fa_argmax_rows(const fa_tensor *logits) {
  if (!check_logits(logits, "argmax")) return NULL;
  fa_tensor *out = fa_tensor_new_on(logits->ctx, 1, logits->shape);
  if (!out) return NULL;
  out->dtype = FA_I32;
  logits->ctx->k->argmax_rows(logits->shape[0], logits->shape[1], logits->data, (int32_t *)(void *)out->data);
  return out;
}

long fa_count_nonzero_pairs(const fa_tensor *a, const fa_tensor *b) {
  if (!a || !b) return -1;
  if (!fa_same_shape(a, b)) return fa_error_set(FA_ERR_INVALID, "counting non-zero pairs of two shapes"), -1;
  if (!fa_one_device((const fa_tensor *[]){a, b}, 2, "count_nonzero_pairs")) return -1;
  fa_context *ctx = a->ctx;
  fa_arena_mark mark = fa_arena_get_mark(ctx->arena);
  fa_tensor *count = result_slot(ctx);
  if (!count) return -1;
  ctx->k->count_nonzero_pairs(a->numel, a->data, b->data, count->data);
  float n = fa_tensor_item(count);
  fa_arena_release(ctx->arena, mark);
  return (long)n;
}

/* A double the kernel wrote into slot, read back. */
static double read_double(const fa_tensor *slot) {
  double v;
  fa_mem_to_host(slot, &v, slot->data, sizeof v);
  return v;
}

static bool check_rows(const fa_tensor *a, const fa_tensor *b) {
  if (!a || !b) return false;
  if (a->ndim < 1 || !fa_same_shape(a, b))
    return fa_error_set(FA_ERR_INVALID, "per-example statistics need rows of one shape"), false;
  return true;
}

double fa_mean_cosine(const fa_tensor *a, const fa_tensor *b) {
  if (!check_rows(a, b) || !fa_one_device((const fa_tensor *[]){a, b}, 2, "mean_cosine")) return NAN;
  fa_context *ctx = a->ctx;
  fa_arena_mark mark = fa_arena_get_mark(ctx->arena);
  fa_tensor *slot = result_slot(ctx);
  if (!slot) return NAN;
  ctx->k->mean_row_cosine(a->shape[0], fa_tensor_row_numel(a), a->data, b->data, (double *)(void *)slot->data);
  double v = read_double(slot);
  fa_arena_release(ctx->arena, mark);
  return v;
}

double fa_mean_row_norm(const fa_tensor *a) {
  if (!check_rows(a, a)) return NAN;
  fa_context *ctx = a->ctx;
  fa_arena_mark mark = fa_arena_get_mark(ctx->arena);
  fa_tensor *slot = result_slot(ctx);
  if (!slot) return NAN;
  ctx->k->mean_row_norm(a->shape[0], fa_tensor_row_numel(a), a->data, (double *)(void *)slot->data);
  double v = read_double(slot);
  fa_arena_release(ctx->arena, mark);
  return v;
}
