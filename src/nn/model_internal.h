/* Shared by the model files: each architecture builds its layers into the
 * model's store and provides its forward pass. */
#ifndef FA_NN_MODEL_INTERNAL_H
#define FA_NN_MODEL_INTERNAL_H

#include "nn/model.h"

struct fa_model {
  fa_model_config config;
  fa_store *store;
  void *arch_data;  /* the architecture's layers */
  fa_tensor *(*forward)(fa_model *model, fa_tensor *x, bool training);
};

/* Each architecture's part of fa_model_config_check, and its builder
 * (called with a config that passed the check). */
fa_status fa_resnet18_check(const fa_model_config *config);
fa_status fa_cnn_check(const fa_model_config *config);
fa_status fa_lenet_check(const fa_model_config *config);
fa_status fa_resnet18_build(fa_model *model);
fa_status fa_cnn_build(fa_model *model);
fa_status fa_lenet_build(fa_model *model);

#endif
