/* Predictions and statistics read back as scalars (core/measure.h). A
 * result is written by its kernel into a small step tensor and read back
 * through core's host transfer. */
#include "core/measure.h"

#include <math.h>

#include "backend/backend.h"
#include "core/arena.h"
#include "core/tensor_internal.h"

static bool check_logits(const fa_tensor *logits, const char *what) {
  if (!logits) return false;
  if (logits->ndim != 2 || logits->dtype != FA_F32)
    return fa_error_set(FA_ERR_INVALID, "%s needs (N, K) float32 logits", what), false;
  return true;
}

/* A scalar of the result's bytes (a float or a double) in the current arena. */
static fa_tensor *result_slot(void) { return fa_tensor_new(1, (int[]){2}); }

int fa_count_correct(const fa_tensor *logits, const fa_tensor *labels) {
  if (!check_logits(logits, "counting correct predictions") || !labels) return -1;
  if (labels->dtype != FA_I32 || labels->ndim != 1 || labels->shape[0] != logits->shape[0])
    return fa_error_set(FA_ERR_INVALID, "counting correct predictions needs (%d) int32 labels", logits->shape[0]), -1;
  fa_arena *arena = fa_arena_current();
  fa_arena_mark mark = fa_arena_get_mark(arena);
  fa_tensor *count = result_slot();
  if (!count) return -1;
  fa_kernels()->count_correct(logits->shape[0], logits->shape[1], logits->data,
                              (const int32_t *)(const void *)labels->data, count->data);
  float n = fa_tensor_item(count);
  fa_arena_release(arena, mark);
  return (int)n;
}

fa_tensor *fa_argmax_rows(const fa_tensor *logits) {
  if (!check_logits(logits, "argmax")) return NULL;
  fa_tensor *out = fa_tensor_new(1, logits->shape);
  if (!out) return NULL;
  out->dtype = FA_I32;
  fa_kernels()->argmax_rows(logits->shape[0], logits->shape[1], logits->data, (int32_t *)(void *)out->data);
  return out;
}

long fa_count_nonzero_pairs(const fa_tensor *a, const fa_tensor *b) {
  if (!a || !b) return -1;
  if (!fa_same_shape(a, b)) return fa_error_set(FA_ERR_INVALID, "counting non-zero pairs of two shapes"), -1;
  fa_arena *arena = fa_arena_current();
  fa_arena_mark mark = fa_arena_get_mark(arena);
  fa_tensor *count = result_slot();
  if (!count) return -1;
  fa_kernels()->count_nonzero_pairs(a->numel, a->data, b->data, count->data);
  float n = fa_tensor_item(count);
  fa_arena_release(arena, mark);
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
  if (!check_rows(a, b)) return NAN;
  fa_arena *arena = fa_arena_current();
  fa_arena_mark mark = fa_arena_get_mark(arena);
  fa_tensor *slot = result_slot();
  if (!slot) return NAN;
  fa_kernels()->mean_row_cosine(a->shape[0], fa_tensor_row_numel(a), a->data, b->data, (double *)(void *)slot->data);
  double v = read_double(slot);
  fa_arena_release(arena, mark);
  return v;
}

double fa_mean_row_norm(const fa_tensor *a) {
  if (!check_rows(a, a)) return NAN;
  fa_arena *arena = fa_arena_current();
  fa_arena_mark mark = fa_arena_get_mark(arena);
  fa_tensor *slot = result_slot();
  if (!slot) return NAN;
  fa_kernels()->mean_row_norm(a->shape[0], fa_tensor_row_numel(a), a->data, (double *)(void *)slot->data);
  double v = read_double(slot);
  fa_arena_release(arena, mark);
  return v;
}
