/* Runs are named from their hyper-parameters, as the paper's are. */
#ifndef FA_TRAIN_RUN_NAME_H
#define FA_TRAIN_RUN_NAME_H

#include <stddef.h>

#include "train/config.h"

/* "<timestamp> dataset=cifar10 model=resnet18 eps=8.0 attack=fgsm m=1
 * attack_init=zero fgsm_alpha=1.25 epochs=30 pgd=2.0-10
 * grad_align_cos_lambda=0.2 lr_max=0.3 seed=0", the paper's fields in its
 * order (plus n_layers and n_filters_cnn for the cnn; after
 * grad_align_cos_lambda, "nfgsm_k=2" and "nfgsm_clip" for nfgsm, and
 * "elle=0.1" or "elle_a=4000" with ELLE or ELLE-A); the timestamp is
 * local time "YYYY-MM-DD HH:MM:SS". */
void fa_run_name(const fa_train_config *c, const char *timestamp, char *out, size_t len);
/* --attack_init's value as on the command line. */
const char *fa_attack_init_name(fa_attack_init a);

#endif
