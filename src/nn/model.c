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

/* The values of tensor t at initialisation into v (its numel floats). */
static void init_values(const fa_tensor *t, fa_rng *rng, float *v) {
  const int *shape = fa_tensor_shape(t);
  size_t n = fa_tensor_numel(t);
  if (fa_tensor_ndim(t) == 4) {  /* conv (out, in, k, k) */
    float fan = (float)(shape[2] * shape[3] * shape[0]);
    fa_rng_fill_normal(rng, v, n, 0.0f, sqrtf(2.0f / fan));
  } else if (fa_tensor_ndim(t) == 2) {  /* linear (out, in) */
    fa_rng_fill_normal(rng, v, n, 0.0f, sqrtf(2.0f / (float)shape[1]));
  } else {
    /* batch-norm scale and running variance 1; biases, shifts, means 0 */
    const char *name = fa_tensor_name(t);
    bool one = ends_with(name, "running_var") || (ends_with(name, ".weight") && fa_tensor_ndim(t) == 1);
    for (size_t j = 0; j < n; j++) v[j] = one ? 1.0f : 0.0f;
  }
}

fa_status fa_model_init(fa_model *model, fa_rng *rng) {
  size_t largest = 1;
  for (int i = 0; i < fa_store_count(model->store); i++) {
    size_t n = fa_tensor_numel(fa_store_get(model->store, i));
    largest = n > largest ? n : largest;
  }
  float *v = malloc(largest * sizeof *v);  /* drawn on the host, then written to the tensor */
  if (!v) return fa_error_set(FA_ERR_NOMEM, "no memory to initialise the model");
  fa_status st = FA_OK;
  for (int i = 0; st == FA_OK && i < fa_store_count(model->store); i++) {
    fa_tensor *t = fa_store_get(model->store, i);
    init_values(t, rng, v);
    st = fa_tensor_write(t, 0, fa_tensor_numel(t), v);
  }
  free(v);
  return st;
}

fa_tensor *fa_model_forward(fa_model *model, fa_tensor *x, bool training) {
  if (!x) return NULL;
  const fa_model_config *c = &model->config;
  if (fa_tensor_ndim(x) != 4 || fa_tensor_dim(x, 1) != c->in_channels || fa_tensor_dim(x, 2) != c->height ||
      fa_tensor_dim(x, 3) != c->width) {
    char buf[64];
    fa_error_set(FA_ERR_INVALID, "the %s model takes (N, %d, %d, %d) inputs, not %s", fa_arch_name(c->arch),
                 c->in_channels, c->height, c->width, fa_shape_str(x, buf, sizeof buf));
    return NULL;
  }
  return model->forward(model, x, training);
}

fa_store *fa_model_store(const fa_model *model) { return model->store; }
const fa_model_config *fa_model_get_config(const fa_model *model) { return &model->config; }
