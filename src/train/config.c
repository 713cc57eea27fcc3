#include "train/config.h"

#include <string.h>

void fa_train_config_defaults(fa_train_config *c) {
  *c = (fa_train_config){
      .batch_size = 128,
      .batch_size_eval = 256,
      .epochs = 30,
      .lr_schedule = FA_SCHEDULE_CYCLIC,
      .lr_max = 0.2f,
      .weight_decay = 5e-4f,
      .attack = FA_ATTACK_FGSM,
      .eps = 8,
      .attack_iters = 10,
      .pgd_train_n_iters = 10,
      .pgd_alpha_train = 2,
      .fgsm_alpha = 1.25f,
      .minibatch_replay = 1,
      .attack_init = FA_INIT_RANDOM,
      .grad_align_cos_lambda = 0,
      .seed = 0,
      .eval_iter_freq = 200,
      .n_eval_every_k_iter = 256,
      .n_layers = 1,
      .n_filters_cnn = 16,
      .n_final_eval = -1,
      .gpu = 0,
  };
  strcpy(c->dataset, "cifar10");
  strcpy(c->model, "resnet18");
  strcpy(c->out_dir, ".");
}

void fa_eval_config_defaults(fa_eval_config *c) {
  *c = (fa_eval_config){
      .eps = 8,
      .n_eval = 256,
      .batch_size_eval = 1024,
      .attack_iters = 50,
      .n_restarts = 10,
      .n_layers = 1,
      .n_filters_cnn = 16,
      .gpu = 0,
      .seed = 0,
  };
  c->dataset[0] = '\0'; /* the checkpoint's data set */
  strcpy(c->model, "resnet18");
  strcpy(c->set, "test");
  strcpy(c->out_dir, ".");
}
