#include "core/finite.h"

#include <math.h>

#include "backend/finite_scan.h"
#include "core/device.h"

bool fa_all_finite(const float *x, size_t n, size_t *first) {
  size_t i = fa_scan_first_nonfinite(x, n);
  if (i == n) return true;
  *first = i;
  return false;
}

/* The index of the first NaN or Inf of data[0..n) (ctx's device memory), n
 * when all are finite: one kernel pass, its result in a slot of the
 * context's current arena (or one allocated for it) read back. n itself
 * when the slot cannot be had (the error set). */
static size_t first_nonfinite_on(fa_context *ctx, const float *data, size_t n) {
  double at = (double)n;
  fa_arena *arena = ctx->arena;
  fa_arena_mark mark = {0, 0};
  double *slot;
  if (arena) {
    mark = fa_arena_get_mark(arena);
    slot = fa_arena_alloc_data(arena, sizeof *slot);
  } else {
    slot = fa_device_alloc(ctx, sizeof *slot, "the finite-value check");
  }
  if (slot) {
    ctx->k->first_nonfinite(n, data, slot);
    fa_device_to_host(ctx, &at, slot, sizeof at);
  }
  if (arena)
    fa_arena_release(arena, mark);
  else
    fa_device_free(ctx, slot, sizeof *slot);
  return (size_t)at;
}

/* The store's tensor (or, with gradients, the parameter whose gradient it
 * is) whose view holds element `at` of the slab `slab` starts at, with its
 * index in the store; NULL when none does (a gap). */
static const fa_tensor *holder(fa_store *store, bool gradients, const float *slab, size_t at, int *which,
                               size_t *index) {
  for (int i = 0; i < fa_store_count(store); i++) {
    const fa_tensor *t = fa_store_get(store, i), *v = gradients ? t->grad : t;
    if (v && v->data >= slab && (size_t)(v->data - slab) <= at && at - (size_t)(v->data - slab) < v->numel) {
      *which = i;
      *index = at - (size_t)(v->data - slab);
      return t;
    }
  }
  return NULL;
}

const fa_tensor *fa_first_nonfinite(fa_store *store, bool gradients, size_t *index, float *value) {
  /* each slab scanned whole (one kernel call; the gaps between views are
   * zero); of the slabs' first bad tensors, the one made first */
  static const int value_slabs[] = {FA_SLAB_PARAMS, FA_SLAB_BUFFERS, FA_SLAB_BUFFERS + 1, FA_SLAB_BUFFERS + 2,
                                    FA_SLAB_BUFFERS + 3};
  _Static_assert(FA_STORE_BUFFER_SLABS == 4, "value_slabs lists every buffer slab");
  static const int grad_slabs[] = {FA_SLAB_GRADS};
  const int *slabs = gradients ? grad_slabs : value_slabs;
  const int n_slabs = gradients ? 1 : (int)(sizeof value_slabs / sizeof *value_slabs);
  const fa_tensor *bad = NULL;
  int bad_at = 0;
  for (int k = 0; k < n_slabs; k++) {
    fa_tensor *slab = fa_store_slab_tensor(store, slabs[k]);
    if (!slab) continue;
    size_t at = first_nonfinite_on(slab->ctx, slab->data, slab->numel), i;
    int which;
    const fa_tensor *t = at < slab->numel ? holder(store, gradients, slab->data, at, &which, &i) : NULL;
    if (t && (!bad || which < bad_at)) {
      bad = t, bad_at = which, *index = i;
      fa_device_to_host(slab->ctx, value, slab->data + at, sizeof *value);
    }
  }
  return bad;
}

const char *fa_nonfinite_name(double v) { return isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf"; }
