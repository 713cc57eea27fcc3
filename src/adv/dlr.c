#include "adv/dlr.h"

#include "core/arena.h"
#include "core/error.h"
#include "core/ops.h"

/* Guards the denominator against 0, as in the paper (docs/AUTOATTACK.md). */
#define DLR_EPS 1e-12f

/* The indices of the four largest entries of row (k entries; those past k
 * are -1), the first of equal entries ranking higher. */
static void top4(const float *row, int k, int out[4]) {
  out[0] = out[1] = out[2] = out[3] = -1;
  for (int j = 0; j < k; j++) {
    int at = 4;
    while (at > 0 && (out[at - 1] < 0 || row[j] > row[out[at - 1]])) at--;
    for (int m = 3; m > at; m--) out[m] = out[m - 1];
    if (at < 4) out[at] = j;
  }
}

static bool check_shape(const fa_tensor *logits, int min_classes, const char *what) {
  if (fa_tensor_ndim(logits) != 2)
    return fa_error_set(FA_ERR_INVALID, "the %s loss needs (N, classes) logits", what), false;
  if (fa_tensor_dim(logits, 1) < min_classes)
    return fa_error_set(FA_ERR_INVALID, "the %s loss needs at least %d classes, not %d", what, min_classes,
                        fa_tensor_dim(logits, 1)), false;
  return true;
}

/* classes (N), one per row of logits, each in [0, K) */
static bool check_classes(const fa_tensor *logits, const int *classes, const char *what) {
  int n = fa_tensor_dim(logits, 0), k = fa_tensor_dim(logits, 1);
  for (int i = 0; i < n; i++)
    if (classes[i] < 0 || classes[i] >= k)
      return fa_error_set(FA_ERR_INVALID, "%s %d of example %d is outside [0, %d)", what, classes[i], i, k), false;
  return true;
}

/* -(sum_j z_ij num_ij) / (sum_j z_ij den_ij + 1e-12) per row i, with the
 * constant weights num and den (N, K) that pick the entries of either loss
 * (target NULL: the untargeted one), made on the host from the logits and
 * labels read back (an evaluation's attack). */
static fa_tensor *dlr_ratio(fa_tensor *logits, const fa_tensor *labels, const int *target, const char *what) {
  if (!logits || !labels || !check_shape(logits, target ? FA_DLR_TARGETED_MIN_CLASSES : FA_DLR_MIN_CLASSES, what))
    return NULL;
  int n = fa_tensor_dim(logits, 0), k = fa_tensor_dim(logits, 1), col[2] = {n, 1};
  size_t nk = (size_t)n * k;
  fa_arena *arena = fa_arena_current();
  float *z = fa_arena_alloc(arena, 3 * nk * sizeof *z), *num = z ? z + nk : NULL, *den = z ? z + 2 * nk : NULL;
  int *y = fa_arena_alloc(arena, (size_t)n * sizeof *y);
  if (!z || !y || fa_tensor_read(logits, 0, nk, z) != FA_OK || fa_tensor_read_i32(labels, 0, (size_t)n, y) != FA_OK ||
      !check_classes(logits, y, "label") || (target && !check_classes(logits, target, "target class")))
    return NULL;
  for (size_t j = 0; j < 2 * nk; j++) num[j] = 0.0f;
  for (int i = 0; i < n; i++) {
    int top[4];
    top4(z + (size_t)i * k, k, top);
    float *nu = num + (size_t)i * k, *de = den + (size_t)i * k;
    nu[y[i]] += 1.0f;
    de[top[0]] += 1.0f;
    if (target) {
      nu[target[i]] -= 1.0f;
      de[top[2]] -= 0.5f;
      de[top[3]] -= 0.5f;
    } else {
      nu[top[0] == y[i] ? top[1] : top[0]] -= 1.0f;  /* the largest other logit */
      de[top[2]] -= 1.0f;
    }
  }
  fa_tensor *num_t = fa_tensor_from(2, fa_tensor_shape(logits), num);
  fa_tensor *den_t = fa_tensor_from(2, fa_tensor_shape(logits), den);
  fa_tensor *above = fa_sum_to(fa_mul(logits, num_t), 2, col);
  fa_tensor *below = fa_affine(fa_sum_to(fa_mul(logits, den_t), 2, col), 1.0f, DLR_EPS);
  return fa_reshape(fa_scale(fa_div(above, below), -1.0f), 1, &n);
}

fa_tensor *fa_dlr_loss(fa_tensor *logits, const fa_tensor *y) { return dlr_ratio(logits, y, NULL, "DLR"); }

fa_tensor *fa_dlr_targeted_loss(fa_tensor *logits, const fa_tensor *y, const int *target) {
  return dlr_ratio(logits, y, target, "targeted DLR");
}
