/* The small models:
 *   cnn:   n_layers x (conv 3x3 pad 1 with bias, n_filters, ReLU), flatten, linear
 *          (PyTorch: nn.Sequential named _model: conv at 2i, linear at 2L + 1)
 *   lenet: conv 5x5 pad 2 (32) ReLU maxpool2, conv 5x5 pad 2 (64) ReLU maxpool2,
 *          flatten, linear 1024 ReLU, linear (_model.0, .3, .7, .9) */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "nn/layers.h"
#include "nn/model_internal.h"

typedef struct {
  int n_layers;
  fa_conv_layer convs[FA_CNN_MAX_LAYERS];
  fa_linear_layer linear;
} cnn;

static fa_tensor *cnn_forward(fa_model *model, fa_tensor *x, bool training) {
  (void)training;
  const cnn *m = model->arch_data;
  for (int i = 0; i < m->n_layers; i++) x = fa_relu(fa_conv_layer_forward(&m->convs[i], x));
  return fa_linear_layer_forward(&m->linear, fa_flatten(x));
}

fa_status fa_cnn_check(const fa_model_config *c) {
  int64_t features = (int64_t)c->n_filters * c->height * c->width; /* each at most FA_MODEL_MAX_DIM */
  if (c->n_layers < 1 || c->n_layers > FA_CNN_MAX_LAYERS || c->n_filters < 1)
    return fa_error_set(FA_ERR_INVALID, "cnn: --n_layers must be 1..%d and --n_filters_cnn positive (got %d, %d)",
                        FA_CNN_MAX_LAYERS, c->n_layers, c->n_filters);
  if (features > INT_MAX)
    return fa_error_set(FA_ERR_INVALID, "cnn: %d filters of %dx%d make %lld features for the linear layer, more "
                        "than %d", c->n_filters, c->height, c->width, (long long)features, INT_MAX);
  return FA_OK;
}

fa_status fa_cnn_build(fa_model *model) {
  const fa_model_config *c = &model->config;
  cnn *m = calloc(1, sizeof *m);
  if (!m) return fa_error_set(FA_ERR_NOMEM, "out of memory creating cnn");
  model->arch_data = m;
  model->forward = cnn_forward;
  m->n_layers = c->n_layers;
  fa_status st = FA_OK;
  for (int i = 0; i < c->n_layers && st == FA_OK; i++) {
    char prefix[32];
    snprintf(prefix, sizeof prefix, "_model.%d", 2 * i);
    st = fa_conv_layer_make(&m->convs[i], model->store, prefix, i ? c->n_filters : c->in_channels, c->n_filters, 3,
                            1, 1, true);
  }
  char prefix[32];
  snprintf(prefix, sizeof prefix, "_model.%d", 2 * c->n_layers + 1);
  int features = c->n_filters * c->height * c->width; /* fits: fa_cnn_check */
  return st ? st : fa_linear_layer_make(&m->linear, model->store, prefix, features, c->n_classes);
}

typedef struct {
  fa_conv_layer conv1, conv2;
  fa_linear_layer fc1, fc2;
} lenet;

static fa_tensor *lenet_forward(fa_model *model, fa_tensor *x, bool training) {
  (void)training;
  const lenet *m = model->arch_data;
  x = fa_max_pool(fa_relu(fa_conv_layer_forward(&m->conv1, x)), 2);
  x = fa_max_pool(fa_relu(fa_conv_layer_forward(&m->conv2, x)), 2);
  x = fa_relu(fa_linear_layer_forward(&m->fc1, fa_flatten(x)));
  return fa_linear_layer_forward(&m->fc2, x);
}

fa_status fa_lenet_check(const fa_model_config *c) {
  if (c->height % 4 || c->width % 4)
    return fa_error_set(FA_ERR_INVALID, "lenet takes images whose sides are divisible by 4 (two 2x2 max pools), "
                        "not %dx%d", c->height, c->width);
  return FA_OK;
}

fa_status fa_lenet_build(fa_model *model) {
  const fa_model_config *c = &model->config;
  lenet *m = calloc(1, sizeof *m);
  if (!m) return fa_error_set(FA_ERR_NOMEM, "out of memory creating lenet");
  model->arch_data = m;
  model->forward = lenet_forward;
  fa_store *s = model->store;
  fa_status st = fa_conv_layer_make(&m->conv1, s, "_model.0", c->in_channels, 32, 5, 1, 2, true);
  if (!st) st = fa_conv_layer_make(&m->conv2, s, "_model.3", 32, 64, 5, 1, 2, true);
  if (!st) st = fa_linear_layer_make(&m->fc1, s, "_model.7", 64 * (c->height / 4) * (c->width / 4), 1024);
  if (!st) st = fa_linear_layer_make(&m->fc2, s, "_model.9", 1024, c->n_classes);
  return st;
}
