#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/model_internal.h"

static const char *const arch_names[] = {"resnet18", "cnn", "lenet"};

bool fa_arch_from_name(const char *name, fa_arch *arch) {
  for (int i = 0; i < 3; i++)
    if (strcmp(name, arch_names[i]) == 0) {
      *arch = (fa_arch)i;
      return true;
    }
  return false;
}

const char *fa_arch_name(fa_arch arch) { return arch_names[arch]; }

fa_status fa_model_config_check(const fa_model_config *c) {
  /* ranges first, so that no size computed from them overflows an int (cnn.c, resnet18.c) */
  const int dims[6] = {c->in_channels, c->height, c->width, c->n_classes, c->n_filters, c->resnet_width};
  bool in_range = c->in_channels >= 1 && c->height >= 1 && c->width >= 1 && c->n_classes >= 2;
  for (int i = 0; i < 6; i++) in_range = in_range && dims[i] >= 0 && dims[i] <= FA_MODEL_MAX_DIM;
  if (!in_range)
    return fa_error_set(FA_ERR_INVALID, "a model needs input channels, height and width in 1..%d, 2..%d classes and "
                        "filters and widths of at most %d (got %d channels, %dx%d, %d classes, %d filters, width %d)",
                        FA_MODEL_MAX_DIM, FA_MODEL_MAX_DIM, FA_MODEL_MAX_DIM, c->in_channels, c->height, c->width,
                        c->n_classes, c->n_filters, c->resnet_width);
  switch (c->arch) {
    case FA_ARCH_RESNET18: return fa_resnet18_check(c);
    case FA_ARCH_CNN: return fa_cnn_check(c);
    case FA_ARCH_LENET: return fa_lenet_check(c);
  }
  return fa_error_set(FA_ERR_INVALID, "unknown architecture %d", (int)c->arch);
}

fa_model *fa_model_create(const fa_model_config *config) {
  const fa_model_config *c = config;
  if (fa_model_config_check(c) != FA_OK) return NULL;
  fa_model *model = calloc(1, sizeof *model);
  if (!model) {
    fa_error_set(FA_ERR_NOMEM, "out of memory creating a model");
    return NULL;
  }
  model->config = *config;
  model->store = fa_store_create();
  fa_status status = FA_ERR_NOMEM;
  if (model->store) switch (c->arch) {
      case FA_ARCH_RESNET18: status = fa_resnet18_build(model); break;
      case FA_ARCH_CNN: status = fa_cnn_build(model); break;
      case FA_ARCH_LENET: status = fa_lenet_build(model); break;
    }
  if (status != FA_OK) {
    fa_model_destroy(model);
    return NULL;
  }
  return model;
}

void fa_model_destroy(fa_model *model) {
  if (!model) return;
  fa_store_destroy(model->store);
  free(model->arch_data);
  free(model);
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

void fa_model_init(fa_model *model, fa_rng *rng) {
  for (int i = 0; i < fa_store_count(model->store); i++) {
    fa_tensor *t = fa_store_get(model->store, i);
    if (t->ndim == 4) {  /* conv (out, in, k, k) */
      float fan = (float)(t->shape[2] * t->shape[3] * t->shape[0]);
      fa_rng_fill_normal(rng, t->data, t->numel, 0.0f, sqrtf(2.0f / fan));
    } else if (t->ndim == 2) {  /* linear (out, in) */
      fa_rng_fill_normal(rng, t->data, t->numel, 0.0f, sqrtf(2.0f / (float)t->shape[1]));
    } else {
      /* batch-norm scale and running variance 1; biases, shifts, means 0 */
      bool one = ends_with(t->name, "running_var") || (ends_with(t->name, ".weight") && t->ndim == 1);
      for (size_t j = 0; j < t->numel; j++) t->data[j] = one ? 1.0f : 0.0f;
    }
  }
}

fa_tensor *fa_model_forward(fa_model *model, fa_tensor *x, bool training) {
  if (!x) return NULL;
  const fa_model_config *c = &model->config;
  if (x->ndim != 4 || x->shape[1] != c->in_channels || x->shape[2] != c->height || x->shape[3] != c->width) {
    char buf[64];
    fa_error_set(FA_ERR_INVALID, "the %s model takes (N, %d, %d, %d) inputs, not %s", fa_arch_name(c->arch),
                 c->in_channels, c->height, c->width, fa_shape_str(x, buf, sizeof buf));
    return NULL;
  }
  return model->forward(model, x, training);
}

fa_store *fa_model_store(const fa_model *model) { return model->store; }
const fa_model_config *fa_model_get_config(const fa_model *model) { return &model->config; }
