/* Layers with named parameters, registered in a store under PyTorch's
 * state_dict names ("<prefix>.weight", "<prefix>.running_mean", ...). */
#ifndef FA_NN_LAYERS_H
#define FA_NN_LAYERS_H

#include "core/error.h"
#include "core/ops.h"

typedef struct {
  fa_tensor *weight;  /* (out, in, k, k) */
  fa_tensor *bias;    /* (out) or NULL */
  int stride, pad;
  /* whether the output is stored in bfloat16 when the context computes in bfloat16 (--half_prec): set by
   * models whose layers after it read bfloat16 (batch norm, residual sums, average pooling), as
   * PyTorch's autocast keeps convolutions' outputs (docs/PERFORMANCE.md, "bfloat16 activations") */
  bool bf16_output;
} fa_conv_layer;

typedef struct {
  fa_tensor *weight, *bias;               /* scale and shift (C) */
  fa_tensor *running_mean, *running_var;  /* buffers (C) */
} fa_bn_layer;

typedef struct {
  fa_tensor *weight;  /* (out, in) */
  fa_tensor *bias;    /* (out) */
} fa_linear_layer;

/* Each returns FA_OK or an error (duplicate name, out of memory). */
fa_status fa_conv_layer_make(fa_conv_layer *l, fa_store *s, const char *prefix, int c_in, int c_out, int k,
                             int stride, int pad, bool bias);
fa_status fa_bn_layer_make(fa_bn_layer *l, fa_store *s, const char *prefix, int channels);
fa_status fa_linear_layer_make(fa_linear_layer *l, fa_store *s, const char *prefix, int in, int out);

/* conv(x) (+ bias); bfloat16 when l->bf16_output and x's context computes in bfloat16 */
fa_tensor *fa_conv_layer_forward(const fa_conv_layer *l, fa_tensor *x);
/* relu(batch norm(x)), batch norm with PyTorch's defaults: eps 1e-5, momentum 0.1. */
fa_tensor *fa_bn_relu_layer_forward(const fa_bn_layer *l, fa_tensor *x, bool training);
fa_tensor *fa_linear_layer_forward(const fa_linear_layer *l, fa_tensor *x);

#endif
