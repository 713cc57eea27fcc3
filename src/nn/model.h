/* The models of the paper: PreAct ResNet-18, the n-layer CNN, LeNet.
 *
 * A model owns a store of its parameters and buffers under PyTorch's
 * state_dict names, so weights move between fastadv and PyTorch by name. */
#ifndef FA_NN_MODEL_H
#define FA_NN_MODEL_H

#include "core/error.h"
#include "core/rng.h"
#include "core/tensor.h"

typedef enum { FA_ARCH_RESNET18, FA_ARCH_CNN, FA_ARCH_LENET } fa_arch;

/* The largest input channel count, side, class count, filter count and
 * ResNet width a model may have (fa_model_create refuses more). */
#define FA_MODEL_MAX_DIM 65536

typedef struct {
  fa_arch arch;
  int in_channels, height, width;  /* input images */
  int n_classes;
  int n_layers, n_filters;         /* cnn: --n_layers, --n_filters_cnn */
  int resnet_width;                /* resnet18: planes of the first stage (64 in the paper) */
} fa_model_config;

typedef struct fa_model fa_model;

/* "resnet18", "cnn", "lenet" -> arch; false for another name. */
bool fa_arch_from_name(const char *name, fa_arch *arch);
const char *fa_arch_name(fa_arch arch);

/* The cnn's most conv layers (--n_layers). */
#define FA_CNN_MAX_LAYERS 16

/* FA_OK when the architecture can take the config's inputs and shape:
 * resnet18 32x32 images (three stride-2 stages down to its 4x4 average
 * pool), the cnn 1..FA_CNN_MAX_LAYERS layers of at least one filter, lenet
 * sides divisible by 4 (two 2x2 max pools); at least one channel and two
 * classes for all. Else FA_ERR_INVALID and a message saying what does not
 * fit. Allocates nothing: for checking a command line before any work. */
fa_status fa_model_config_check(const fa_model_config *config);

/* A model with all parameters zero; NULL and a message on a bad config
 * (fa_model_config_check). */
fa_model *fa_model_create(const fa_model_config *config);
void fa_model_destroy(fa_model *model);

/* The paper's initialisation: conv weights ~ N(0, 2 / (k*k*out_channels)),
 * linear weights ~ N(0, 2 / in_features), biases 0, batch-norm scale 1 and
 * shift 0, running mean 0 and variance 1. Draws from `rng` (the init stream)
 * in the store's order, on the host. FA_ERR_NOMEM when out of memory. */
fa_status fa_model_init(fa_model *model, fa_rng *rng);

/* x (N, C, H, W) in [0, 1] -> logits (N, n_classes). Training mode uses
 * batch statistics and updates the running ones. */
fa_tensor *fa_model_forward(fa_model *model, fa_tensor *x, bool training);

fa_store *fa_model_store(const fa_model *model);
const fa_model_config *fa_model_get_config(const fa_model *model);

#endif
