/* What core/tensor.h offers the layers above core: a tensor's shape, its
 * names and flags, and its values through host transfers. Every transfer
 * goes through the three memory helpers at the top, the copies of the
 * tensor's device (core/device.h). */
#include "core/tensor_internal.h"

#include <math.h>
#include <stdlib.h>

#include "core/arena.h"
#include "core/device.h"

void fa_mem_to_host(const fa_tensor *t, void *host, const void *device, size_t bytes) {
  fa_device_to_host(t->ctx, host, device, bytes);
}

void fa_mem_from_host(fa_tensor *t, void *device, const void *host, size_t bytes) {
  fa_device_from_host(t->ctx, device, host, bytes);
}

void fa_mem_copy(fa_tensor *dst, void *device_dst, const void *device_src, size_t bytes) {
  fa_device_copy(dst->ctx, device_dst, device_src, bytes);
}

size_t fa_dtype_size(fa_dtype dtype) {
  switch (dtype) {
    case FA_F32: case FA_I32: return 4;
    case FA_BF16: return 2;
    case FA_I64: return 8;
  }
  return 0;
}

const char *fa_dtype_name(fa_dtype dtype) {
  switch (dtype) {
    case FA_F32: return "f32";
    case FA_BF16: return "bf16";
    case FA_I32: return "i32";
    case FA_I64: return "i64";
  }
  return "?";
}

/* ---- what a tensor is ---- */

int fa_tensor_ndim(const fa_tensor *t) { return t->ndim; }
int fa_tensor_dim(const fa_tensor *t, int i) { return t->shape[i]; }
const int *fa_tensor_shape(const fa_tensor *t) { return t->shape; }
size_t fa_tensor_numel(const fa_tensor *t) { return t->numel; }
size_t fa_tensor_row_numel(const fa_tensor *t) { return t->ndim ? t->numel / (size_t)t->shape[0] : t->numel; }
fa_dtype fa_tensor_dtype(const fa_tensor *t) { return t->dtype; }
const char *fa_tensor_name(const fa_tensor *t) { return t->name; }
fa_context *fa_tensor_context(const fa_tensor *t) { return t->ctx; }
fa_tensor *fa_tensor_grad(const fa_tensor *t) { return t->grad; }
bool fa_tensor_requires_grad(const fa_tensor *t) { return t->requires_grad; }
void fa_tensor_set_requires_grad(fa_tensor *t, bool on) { t->requires_grad = on; }

/* ---- host transfers ---- */

static fa_status check_range(const fa_tensor *t, fa_dtype dtype, size_t offset, size_t n, const char *what) {
  if (!t) return fa_error_code() ? fa_error_code() : fa_error_set(FA_ERR_INVALID, "%s: no tensor", what);
  if (t->dtype != dtype)
    return fa_error_set(FA_ERR_INVALID, "%s: the tensor holds %s, not %s", what, fa_dtype_name(t->dtype),
                        fa_dtype_name(dtype));
  if (offset > t->numel || n > t->numel - offset)
    return fa_error_set(FA_ERR_INVALID, "%s: elements [%zu, %zu) of a tensor of %zu", what, offset, offset + n,
                        t->numel);
  return FA_OK;
}

fa_status fa_tensor_read(const fa_tensor *t, size_t offset, size_t n, float *host) {
  fa_status st = check_range(t, FA_F32, offset, n, "reading a tensor");
  if (st == FA_OK) fa_mem_to_host(t, host, t->data + offset, n * sizeof(float));
  return st;
}

fa_status fa_tensor_write(fa_tensor *t, size_t offset, size_t n, const float *host) {
  fa_status st = check_range(t, FA_F32, offset, n, "writing a tensor");
  if (st == FA_OK) fa_mem_from_host(t, t->data + offset, host, n * sizeof(float));
  return st;
}

fa_status fa_tensor_read_i32(const fa_tensor *t, size_t offset, size_t n, int *host) {
  _Static_assert(sizeof(int) == sizeof(int32_t), "labels are int32 on the host too");
  fa_status st = check_range(t, FA_I32, offset, n, "reading labels");
  if (st == FA_OK) fa_mem_to_host(t, host, (const int32_t *)(const void *)t->data + offset, n * sizeof(int32_t));
  return st;
}

float *fa_tensor_to_host(const fa_tensor *t) {
  if (!t) return NULL;
  float *host = malloc((t->numel ? t->numel : 1) * sizeof *host);
  if (!host) return fa_error_set(FA_ERR_NOMEM, "no memory for a host copy of %zu floats", t->numel), NULL;
  if (fa_tensor_read(t, 0, t->numel, host) == FA_OK) return host;
  free(host);
  return NULL;
}

float fa_tensor_item(const fa_tensor *t) {
  float v = NAN;
  if (t) fa_tensor_read(t, 0, 1, &v);
  return v;
}

fa_status fa_tensor_copy_rows(fa_tensor *dst, int dst_row, const fa_tensor *src, int src_row, int n_rows) {
  if (!dst || !src) return fa_error_set(FA_ERR_INVALID, "copying rows: no tensor");
  size_t row = fa_tensor_row_numel(src), elem = fa_dtype_size(src->dtype);
  int dst_rows = dst->ndim ? dst->shape[0] : 1, src_rows = src->ndim ? src->shape[0] : 1;
  if (dst->dtype != src->dtype || fa_tensor_row_numel(dst) != row)
    return fa_error_set(FA_ERR_INVALID, "copying rows between tensors of different rows or dtypes");
  if (!fa_one_device((const fa_tensor *[]){dst, src}, 2, "copy_rows")) return fa_error_code();
  if (n_rows < 0 || dst_row < 0 || src_row < 0 || dst_row > dst_rows - n_rows || src_row > src_rows - n_rows)
    return fa_error_set(FA_ERR_INVALID, "copying rows [%d, %d) into [%d, %d): out of range (%d and %d rows)",
                        src_row, src_row + n_rows, dst_row, dst_row + n_rows, src_rows, dst_rows);
  fa_mem_copy(dst, (char *)dst->data + (size_t)dst_row * row * elem,
              (const char *)src->data + (size_t)src_row * row * elem, (size_t)n_rows * row * elem);
  return FA_OK;
}

fa_status fa_tensor_copy(fa_tensor *dst, const fa_tensor *src) {
  if (!dst || !src) return fa_error_set(FA_ERR_INVALID, "copying a tensor: no tensor");
  if (dst->dtype != src->dtype || dst->numel != src->numel)
    return fa_error_set(FA_ERR_INVALID, "copying a tensor of %zu %s into one of %zu %s", src->numel,
                        fa_dtype_name(src->dtype), dst->numel, fa_dtype_name(dst->dtype));
  if (!fa_one_device((const fa_tensor *[]){dst, src}, 2, "copy")) return fa_error_code();
  fa_mem_copy(dst, dst->data, src->data, src->numel * fa_dtype_size(src->dtype));
  return FA_OK;
}

fa_tensor *fa_tensor_clone(const fa_tensor *src) {
  if (!src) return NULL;
  fa_tensor *t = fa_tensor_new_on(src->ctx, src->ndim, src->shape);
  if (!t) return NULL;
  t->dtype = src->dtype;  /* every dtype made so far is 4 bytes wide, as fa_tensor_new's floats */
  fa_tensor_copy(t, src);
  return t;
}

/* ---- labels ---- */

/* An int32 tensor of n uninitialised labels on ctx's device (the arena's floats are as wide). */
static fa_tensor *labels_new(fa_context *ctx, int n) {
  fa_tensor *t = fa_tensor_new_on(ctx, 1, &n);
  if (t) t->dtype = FA_I32;
  return t;
}

fa_tensor *fa_labels_from(int n, const int *labels, int n_classes) {
  for (int i = 0; i < n; i++)
    if (labels[i] < 0 || labels[i] >= n_classes)
      return fa_error_set(FA_ERR_INVALID, "label %d of example %d is outside [0, %d): the data's labels do not "
                          "fit the model's classes", labels[i], i, n_classes), NULL;
  fa_tensor *t = labels_new(fa_context_current(), n);
  if (t) fa_mem_from_host(t, t->data, labels, (size_t)n * sizeof(int32_t));
  return t;
}

fa_tensor *fa_labels_select(const fa_tensor *labels, int m, const int *idx) {
  if (!labels) return NULL;
  if (labels->dtype != FA_I32 || labels->ndim != 1)
    return fa_error_set(FA_ERR_INVALID, "selecting labels from a tensor that is not (N) int32"), NULL;
  for (int j = 0; j < m; j++)
    if (idx[j] < 0 || idx[j] >= labels->shape[0])
      return fa_error_set(FA_ERR_INVALID, "label row %d of %d", idx[j], labels->shape[0]), NULL;
  fa_tensor *t = labels_new(labels->ctx, m);
  if (t) labels->ctx->k->gather_labels(m, idx, (const int32_t *)(const void *)labels->data, (int32_t *)(void *)t->data);
  return t;
}
