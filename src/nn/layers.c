#include "nn/layers.h"

#include <stdio.h>

static fa_tensor *named(fa_store *s, const char *prefix, const char *suffix, bool trainable, int ndim,
                        const int *shape) {
  char name[256];
  snprintf(name, sizeof name, "%s.%s", prefix, suffix);
  return trainable ? fa_store_param(s, name, ndim, shape) : fa_store_new(s, name, ndim, shape);
}

fa_status fa_conv_layer_make(fa_conv_layer *l, fa_store *s, const char *prefix, int c_in, int c_out, int k,
                             int stride, int pad, bool bias) {
  l->weight = named(s, prefix, "weight", true, 4, (int[]){c_out, c_in, k, k});
  l->bias = bias ? named(s, prefix, "bias", true, 1, &c_out) : NULL;
  l->stride = stride;
  l->pad = pad;
  l->bf16_output = false;
  return l->weight && (!bias || l->bias) ? FA_OK : fa_error_code();
}

fa_status fa_bn_layer_make(fa_bn_layer *l, fa_store *s, const char *prefix, int channels) {
  l->weight = named(s, prefix, "weight", true, 1, &channels);
  l->bias = named(s, prefix, "bias", true, 1, &channels);
  l->running_mean = named(s, prefix, "running_mean", false, 1, &channels);
  l->running_var = named(s, prefix, "running_var", false, 1, &channels);
  return l->weight && l->bias && l->running_mean && l->running_var ? FA_OK : fa_error_code();
}

fa_status fa_linear_layer_make(fa_linear_layer *l, fa_store *s, const char *prefix, int in, int out) {
  l->weight = named(s, prefix, "weight", true, 2, (int[]){out, in});
  l->bias = named(s, prefix, "bias", true, 1, &out);
  return l->weight && l->bias ? FA_OK : fa_error_code();
}

fa_tensor *fa_conv_layer_forward(const fa_conv_layer *l, fa_tensor *x) {
  if (!x) return NULL;
  const bool half = l->bf16_output && !l->bias && fa_context_bf16(fa_tensor_context(x));
  return fa_conv2d_as(x, l->weight, l->bias, l->stride, l->pad, half ? FA_BF16 : FA_F32);
}

fa_tensor *fa_bn_relu_layer_forward(const fa_bn_layer *l, fa_tensor *x, bool training) {
  return fa_batch_norm_relu(x, l->weight, l->bias, l->running_mean, l->running_var, training, 0.1f, 1e-5f);
}

fa_tensor *fa_linear_layer_forward(const fa_linear_layer *l, fa_tensor *x) {
  return fa_linear(x, l->weight, l->bias);
}
