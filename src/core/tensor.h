/* Tensors: float32 (labels int32, core/dtype.h), up to 4 dimensions,
 * contiguous row-major (NCHW).
 *
 * A tensor lives on a device: its context's (core/context.h), whose memory
 * holds its data. One made during a step lives in its context's current
 * arena (core/arena.h); parameters, their gradients and optimiser state
 * live in a persistent store (fa_store), one slab of device memory per
 * kind. A tensor knows the autograd node that produced it (NULL for leaves)
 * and whether a gradient flows to it. */
#ifndef FA_CORE_TENSOR_H
#define FA_CORE_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/context.h"
#include "core/dtype.h"
#include "core/error.h"

#define FA_MAX_DIMS 4

/* Opaque outside src/core and src/backend: the struct is in
 * core/tensor_internal.h, which no other layer includes (tests/check_layers.sh).
 * Above core, code reads a tensor's shape through the accessors below and
 * its values only through the host transfers, so that its memory may live
 * on a device. */
typedef struct fa_tensor fa_tensor;
typedef struct fa_node fa_node;

/* ---- what a tensor is ---- */
int fa_tensor_ndim(const fa_tensor *t);
int fa_tensor_dim(const fa_tensor *t, int i);     /* shape[i], 0 <= i < ndim */
const int *fa_tensor_shape(const fa_tensor *t);   /* ndim entries */
size_t fa_tensor_numel(const fa_tensor *t);
/* Elements per row of the first dim: numel / shape[0] (numel for 0 dims). */
size_t fa_tensor_row_numel(const fa_tensor *t);
fa_dtype fa_tensor_dtype(const fa_tensor *t);
const char *fa_tensor_name(const fa_tensor *t);   /* persistent tensors; NULL for step tensors */
fa_context *fa_tensor_context(const fa_tensor *t); /* the device it lives on */
fa_tensor *fa_tensor_grad(const fa_tensor *t);    /* a parameter's gradient; NULL for others */
bool fa_tensor_requires_grad(const fa_tensor *t);
/* Marks a leaf (no autograd node) as wanting a gradient, or not. */
void fa_tensor_set_requires_grad(fa_tensor *t, bool on);

/* ---- host transfers (core/tensor_host.c) ----
 * float32 tensors: n values from element `offset` (offset + n <= numel, else
 * FA_ERR_INVALID); int32 tensors (labels) through the _i32 forms. */
fa_status fa_tensor_read(const fa_tensor *t, size_t offset, size_t n, float *host);
fa_status fa_tensor_write(fa_tensor *t, size_t offset, size_t n, const float *host);
fa_status fa_tensor_read_i32(const fa_tensor *t, size_t offset, size_t n, int *host);
/* A copy of a float32 tensor's values in host memory (malloc: free it);
 * NULL and a message on failure. */
float *fa_tensor_to_host(const fa_tensor *t);
/* Element 0 of a float32 tensor (a scalar's value); NaN for NULL. */
float fa_tensor_item(const fa_tensor *t);
/* Device to device: n_rows rows (of the first dim) of src from src_row into
 * dst from dst_row; rows of the same length and dtype. */
fa_status fa_tensor_copy_rows(fa_tensor *dst, int dst_row, const fa_tensor *src, int src_row, int n_rows);
/* dst <- src, every element (the same numel and dtype). */
fa_status fa_tensor_copy(fa_tensor *dst, const fa_tensor *src);
/* A new step tensor with src's shape, dtype and values. */
fa_tensor *fa_tensor_clone(const fa_tensor *src);

/* ---- labels: int32 tensors (N) ----
 * labels[0..n) into a step tensor, each checked on the host to lie in
 * [0, n_classes): NULL and FA_ERR_INVALID naming the first that does not. */
fa_tensor *fa_labels_from(int n, const int *labels, int n_classes);
/* The rows idx[0..m) of labels (N): (m). */
fa_tensor *fa_labels_select(const fa_tensor *labels, int m, const int *idx);

/* ---- step tensors (the current context's current arena); NULL and an
 *      error message on failure ---- */
fa_tensor *fa_tensor_new(int ndim, const int *shape);             /* uninitialised */
fa_tensor *fa_zeros(int ndim, const int *shape);
fa_tensor *fa_full(int ndim, const int *shape, float value);
fa_tensor *fa_tensor_from(int ndim, const int *shape, const float *data); /* copies host data */
fa_tensor *fa_zeros_like(const fa_tensor *x); /* on x's device */
/* A leaf that shares x's data and records nothing: gradients stop here. */
fa_tensor *fa_detach(const fa_tensor *x);

/* For forward passes without a graph: releases the current arena back to
 * `mark` (taken before t was made) and returns t moved down there, so that
 * only t survives of what was made since the mark. t must be a constant
 * (no autograd node). */
fa_tensor *fa_tensor_keep_only(fa_tensor *t, fa_arena_mark mark);

/* ---- shapes ---- */
bool fa_same_shape(const fa_tensor *a, const fa_tensor *b);
/* "(2, 3, 4)" into buf; returns buf. */
const char *fa_shape_str(const fa_tensor *x, char *buf, size_t len);
/* The shape right-aligned into 4 dims, leading dims 1. */
void fa_shape4(const fa_tensor *x, int out[4]);

/* ---- persistent store: parameters, gradients, optimiser state ----
 * A store keeps slabs of device memory, one allocation each: the parameters
 * (fa_store_param), their gradients (laid out as the parameters), and the
 * other tensors (fa_store_new: buffers such as batch norm's running
 * statistics; fa_store_new_in puts them in a slab of their own, e.g. each
 * kind of an optimiser's state, laid out as the parameters when made in
 * their order and shapes). Its tensors are views into them, each at a
 * 64-byte aligned offset, the gaps zero, in the order they were made; they
 * keep their names and shapes (what checkpoints hold). A slab moves when it
 * grows: a view's data is valid until the store gains a tensor. */
typedef struct fa_store fa_store;
/* An empty store in the current context. */
fa_store *fa_store_create(void);
void fa_store_destroy(fa_store *store);
/* A zero-filled persistent tensor named `name` (copied), in the slab FA_SLAB_BUFFERS. */
fa_tensor *fa_store_new(fa_store *store, const char *name, int ndim, const int *shape);
/* The same in slab `slab`: FA_SLAB_BUFFERS + k, k < FA_STORE_BUFFER_SLABS. */
fa_tensor *fa_store_new_in(fa_store *store, int slab, const char *name, int ndim, const int *shape);
/* A trainable parameter: requires_grad, with a zeroed ->grad of its shape. */
fa_tensor *fa_store_param(fa_store *store, const char *name, int ndim, const int *shape);
int fa_store_count(const fa_store *store);
fa_tensor *fa_store_get(const fa_store *store, int i);
fa_tensor *fa_store_find(const fa_store *store, const char *name);
/* Sets every parameter's ->grad to zero: one fill of the gradient slab. */
void fa_store_zero_grad(fa_store *store);

enum {
  FA_SLAB_PARAMS,  /* the parameters */
  FA_SLAB_GRADS,   /* their gradients, at the same offsets */
  FA_SLAB_BUFFERS, /* the tensors of fa_store_new; FA_SLAB_BUFFERS + k those of fa_store_new_in */
  FA_STORE_BUFFER_SLABS = 4,
};
/* A whole slab as one 1-D tensor (a view, gaps included, no gradient), so
 * that an update of every parameter (an optimiser step over slabs laid out
 * alike, an all-reduce of the gradients) is one call; valid until the store
 * gains a tensor. NULL when the slab is empty. */
fa_tensor *fa_store_slab_tensor(fa_store *store, int which);

#endif
