#include "adv/dlr.h"

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
  if (logits->ndim != 2)
    return fa_error_set(FA_ERR_INVALID, "the %s loss needs (N, classes) logits", what), false;
  if (logits->shape[1] < min_classes)
    return fa_error_set(FA_ERR_INVALID, "the %s loss needs at least %d classes, not %d", what, min_classes,
                        logits->shape[1]), false;
  return true;
}

/* classes (N), one per row of logits, each in [0, K) */
static bool check_classes(const fa_tensor *logits, const int *classes, const char *what) {
  int n = logits->shape[0], k = logits->shape[1];
  for (int i = 0; i < n; i++)
    if (classes[i] < 0 || classes[i] >= k)
      return fa_error_set(FA_ERR_INVALID, "%s %d of example %d is outside [0, %d)", what, classes[i], i, k), false;
  return true;
}

/* -(sum_j z_ij num_ij) / (sum_j z_ij den_ij + 1e-12) per row i, with the
 * constant weights num and den (N, K) that pick the entries of either loss
 * (target NULL: the untargeted one). */
static fa_tensor *dlr_ratio(fa_tensor *logits, const int *y, const int *target) {
  int n = logits->shape[0], k = logits->shape[1], col[2] = {n, 1};
  fa_tensor *num = fa_zeros(2, logits->shape), *den = fa_zeros(2, logits->shape);
  if (!num || !den) return NULL;
  for (int i = 0; i < n; i++) {
    int top[4];
    top4(logits->data + (size_t)i * k, k, top);
    float *nu = num->data + (size_t)i * k, *de = den->data + (size_t)i * k;
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
  fa_tensor *above = fa_sum_to(fa_mul(logits, num), 2, col);
  fa_tensor *below = fa_affine(fa_sum_to(fa_mul(logits, den), 2, col), 1.0f, DLR_EPS);
  return fa_reshape(fa_scale(fa_div(above, below), -1.0f), 1, &n);
}

fa_tensor *fa_dlr_loss(fa_tensor *logits, const int *y) {
  if (!logits || !check_shape(logits, FA_DLR_MIN_CLASSES, "DLR") || !check_classes(logits, y, "label")) return NULL;
  return dlr_ratio(logits, y, NULL);
}

fa_tensor *fa_dlr_targeted_loss(fa_tensor *logits, const int *y, const int *target) {
  if (!logits || !check_shape(logits, FA_DLR_TARGETED_MIN_CLASSES, "targeted DLR") ||
      !check_classes(logits, y, "label") || !check_classes(logits, target, "target class"))
    return NULL;
  return dlr_ratio(logits, y, target);
}
