#include "adv/gradalign.h"

#include "core/arena.h"
#include "core/error.h"
#include "core/measure.h"
#include "core/ops.h"

/* The rows i with both squared norms non-zero, into keep (N ints); their
 * count. The common case (every row) is known from one scalar; only
 * otherwise do the norms come to the host. -1 on failure. */
static int rows_that_count(const fa_tensor *g1_sq, const fa_tensor *g2_sq, int *keep) {
  int n = fa_tensor_dim(g1_sq, 0);
  long kept = fa_count_nonzero_pairs(g1_sq, g2_sq);
  if (kept < 0 || kept == n) return (int)kept;
  fa_arena *arena = fa_arena_current();
  float *sq = fa_arena_alloc(arena, 2 * (size_t)n * sizeof *sq);
  if (!sq || fa_tensor_read(g1_sq, 0, (size_t)n, sq) != FA_OK || fa_tensor_read(g2_sq, 0, (size_t)n, sq + n) != FA_OK)
    return -1;
  int count = 0;
  for (int i = 0; i < n; i++)
    if (sq[i] != 0 && sq[n + i] != 0) keep[count++] = i;
  return count;
}

static long same_count(void *ctx, long kept) { return (void)ctx, kept; }

fa_tensor *fa_grad_align_reg(fa_tensor *g1, fa_tensor *g2, float lambda) {
  return fa_grad_align_reg_part(g1, g2, lambda, same_count, NULL);
}

fa_tensor *fa_grad_align_reg_part(fa_tensor *g1, fa_tensor *g2, float lambda, long (*total)(void *ctx, long kept),
                                  void *ctx) {
  bool shapes = g1 && g2 && fa_same_shape(g1, g2);
  int n = shapes ? fa_tensor_dim(g1, 0) : 0;
  /* the squared norms (N) decide which rows count and go into their cosines */
  fa_tensor *g1_sq = shapes ? fa_row_dot(g1, g1) : NULL, *g2_sq = shapes ? fa_row_dot(g2, g2) : NULL;
  int *nonzero = shapes ? fa_arena_alloc(fa_arena_current(), (size_t)n * sizeof *nonzero) : NULL;
  int kept = g1_sq && g2_sq && nonzero ? rows_that_count(g1_sq, g2_sq, nonzero) : -1;
  long all = total(ctx, kept > 0 ? kept : 0);
  if (g1 && g2 && !shapes) return fa_error_set(FA_ERR_INVALID, "GradAlign: g1 and g2 differ in shape"), NULL;
  if (kept < 0) return NULL;
  if (kept == 0) return fa_zeros(0, NULL);
  if (kept < n) {
    g1 = fa_select_rows(g1, kept, nonzero), g2 = fa_select_rows(g2, kept, nonzero);
    g1_sq = fa_select_rows(g1_sq, kept, nonzero), g2_sq = fa_select_rows(g2_sq, kept, nonzero);
  }
  fa_tensor *cos = fa_cosine_of_rows(g1, g2, g1_sq, g2_sq);
  float share = (float)((double)kept / (double)all); /* 1 when this slice is the batch */
  return fa_scale(fa_affine(fa_mean(cos), -share, share), lambda);
}
