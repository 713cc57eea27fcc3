#include "core/finite.h"
#include "core/tensor_internal.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

bool fa_all_finite(const float *x, size_t n, size_t *first) {
  /* exponent bits all ones (NaN or Inf) iff (bits & exp) + 1 ulp of exp carries into the sign bit */
  uint32_t any = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t bits;
    memcpy(&bits, x + i, sizeof bits);
    any |= (bits & 0x7f800000u) + 0x00800000u;
  }
  if (!(any & 0x80000000u)) return true;
  size_t i = 0;
  while (i < n && ((x[i] - x[i]) == 0.0f)) i++; /* x - x is NaN exactly for NaN and Inf */
  *first = i;
  return false;
}

const fa_tensor *fa_first_nonfinite(const fa_store *store, bool gradients, size_t *index, float *value) {
  for (int i = 0; i < fa_store_count(store); i++) {
    const fa_tensor *t = fa_store_get(store, i);
    const fa_tensor *v = gradients ? t->grad : t;
    if (v && !fa_all_finite(v->data, v->numel, index)) {
      *value = v->data[*index];
      return t;
    }
  }
  return NULL;
}

const char *fa_nonfinite_name(double v) { return isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf"; }
