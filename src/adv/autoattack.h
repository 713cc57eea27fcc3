/* AutoAttack (Croce & Hein, ICML 2020): evaluation attacks run one after the
 * other, each on the examples still robust, an example counting as broken
 * when any stage broke it (the pointwise worst case). docs/AUTOATTACK.md. */
#ifndef FA_ADV_AUTOATTACK_H
#define FA_ADV_AUTOATTACK_H

#include "adv/registry.h"

/* The most examples a stage is given at once: a batch's examples still
 * robust go to it in chunks of this many. On the cnns a chunk's activations
 * stay in the cache; APGD-CE on 1,000 CIFAR-10 images through the
 * 16-filter cnn ran 1.5x faster than in one batch, ResNet-18 as fast
 * (docs/AUTOATTACK.md, "The AutoAttack driver"). */
#define FA_AUTOATTACK_CHUNK 64

typedef struct {
  const fa_eval_attack *attack;
  fa_attack_options options;
} fa_autoattack_stage;

/* The stages of `list` into stages (at most FA_EVAL_MAX_STAGES), their
 * count in *n: "standard" (apgd_ce, apgd_t, fab_t, square), "plus"
 * (apgd_ce and apgd_dlr with 5 restarts, fab_t, square, apgd_t, fab_t's
 * place taken once: docs/AUTOATTACK.md) or names of evaluation attacks
 * separated by commas. Each stage reads from `options` the options its
 * attack reads. FA_ERR_INVALID and a message naming the stage for a name
 * not registered (fab_t until it is built), autoattack itself, an empty or
 * too long list. */
fa_status fa_autoattack_stages(const char *list, const fa_attack_options *options, fa_autoattack_stage *stages,
                               int *n);

#endif
