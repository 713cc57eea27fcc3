/* The tensor struct, for src/core and src/backend only: every other layer
 * sees fa_tensor as opaque (core/tensor.h) and reaches its memory through
 * core's transfers and ops. tests/check_layers.sh fails when a file outside
 * src/core and src/backend includes this header. */
#ifndef FA_CORE_TENSOR_INTERNAL_H
#define FA_CORE_TENSOR_INTERNAL_H

#include "core/tensor.h"

struct fa_tensor {
  int ndim;
  int shape[FA_MAX_DIMS];
  size_t numel;
  fa_dtype dtype;           /* FA_F32 (0, what a zeroed struct holds) but for labels */
  float *data;              /* device memory of ctx: numel elements of dtype (an int32 tensor's are int32_t) */
  fa_context *ctx;          /* the device it lives on, and the context of its ops */
  bool requires_grad;
  fa_node *node;            /* producer; NULL for a leaf */
  struct fa_tensor *grad;   /* persistent leaves: where fa_backward accumulates */
  const char *name;         /* persistent tensors: the PyTorch state_dict name */
  /* autograd bookkeeping for one backward pass (see core/autograd.c) */
  struct fa_tensor *pass_grad;
  uint64_t pass_id;         /* pass_grad belongs to this pass */
  uint64_t target_id;       /* fa_grad asked for this tensor's gradient in this pass */
};

/* The host side of the transfers (core/tensor_host.c): bytes between a
 * tensor's memory and the host, and within the device, through the copies
 * of t's device (core/device.h). t is the tensor the device memory belongs
 * to. */
void fa_mem_to_host(const fa_tensor *t, void *host, const void *device, size_t bytes);
void fa_mem_from_host(fa_tensor *t, void *device, const void *host, size_t bytes);
void fa_mem_copy(fa_tensor *dst, void *device_dst, const void *device_src, size_t bytes);

#endif
