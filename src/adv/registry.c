#include "adv/registry.h"

#include <stdio.h>

#include "adv/attack.h"
#include "core/arena.h"
#include "core/autograd.h"
#include "core/ops.h"

/* The built-in attacks, one line each, in --help's order: X(name) for the
 * `fa_train_attack_<name>` / `fa_eval_attack_<name>` its file in src/adv
 * defines. */
#define TRAIN_ATTACKS(X) X(fgsm) X(nfgsm) X(pgd) X(pgd_corner) X(random_corner) X(none)
#define EVAL_ATTACKS(X) X(pgd) X(apgd_ce) X(apgd_dlr) X(apgd_t) X(fab_t) X(square) X(autoattack)

#define DECLARE_TRAIN(name) extern const fa_train_attack fa_train_attack_##name;
#define DECLARE_EVAL(name) extern const fa_eval_attack fa_eval_attack_##name;
#define ENTRY_TRAIN(name) &fa_train_attack_##name,
#define ENTRY_EVAL(name) &fa_eval_attack_##name,
TRAIN_ATTACKS(DECLARE_TRAIN)
EVAL_ATTACKS(DECLARE_EVAL)

enum { TRAIN_ATTACKS_MAX = 32, EVAL_ATTACKS_MAX = 32 };

static const fa_train_attack *train_attacks[TRAIN_ATTACKS_MAX] = {TRAIN_ATTACKS(ENTRY_TRAIN)};
static const fa_eval_attack *eval_attacks[EVAL_ATTACKS_MAX] = {EVAL_ATTACKS(ENTRY_EVAL)};

bool fa_attack_names_equal(const char *a, const char *b) {
  for (; *a && *b; a++, b++)
    if (*a != *b && !((*a == '-' || *a == '_') && (*b == '-' || *b == '_'))) return false;
  return *a == *b;
}

const fa_train_attack *fa_train_attack_at(size_t i) { return i < TRAIN_ATTACKS_MAX ? train_attacks[i] : NULL; }

const fa_train_attack *fa_train_attack_find(const char *name) {
  for (size_t i = 0; i < TRAIN_ATTACKS_MAX && train_attacks[i]; i++)
    if (fa_attack_names_equal(train_attacks[i]->name, name)) return train_attacks[i];
  return NULL;
}

fa_status fa_train_attack_register(const fa_train_attack *attack) {
  if (fa_train_attack_find(attack->name))
    return fa_error_set(FA_ERR_INVALID, "a training attack named %s exists already", attack->name);
  for (size_t i = 0; i < TRAIN_ATTACKS_MAX; i++)
    if (!train_attacks[i]) {
      train_attacks[i] = attack;
      return FA_OK;
    }
  return fa_error_set(FA_ERR_INVALID, "cannot add the training attack %s: the registry holds %d", attack->name,
                      TRAIN_ATTACKS_MAX);
}

void fa_train_attack_method(const fa_train_attack *attack, const fa_run_method *run, char *out, size_t len) {
  if (attack->method) attack->method(run, out, len);
  else snprintf(out, len, "%s", attack->name);
}

const fa_eval_attack *fa_eval_attack_at(size_t i) { return i < EVAL_ATTACKS_MAX ? eval_attacks[i] : NULL; }

const fa_eval_attack *fa_eval_attack_find(const char *name) {
  for (size_t i = 0; i < EVAL_ATTACKS_MAX && eval_attacks[i]; i++)
    if (fa_attack_names_equal(eval_attacks[i]->name, name)) return eval_attacks[i];
  return NULL;
}

fa_status fa_eval_attack_register(const fa_eval_attack *attack) {
  if (fa_eval_attack_find(attack->name))
    return fa_error_set(FA_ERR_INVALID, "an evaluation attack named %s exists already", attack->name);
  for (size_t i = 0; i < EVAL_ATTACKS_MAX; i++)
    if (!eval_attacks[i]) {
      eval_attacks[i] = attack;
      return FA_OK;
    }
  return fa_error_set(FA_ERR_INVALID, "cannot add the evaluation attack %s: the registry holds %d", attack->name,
                      EVAL_ATTACKS_MAX);
}

const long *fa_eval_examples(const fa_eval_attack_input *in) {
  if (in->examples) return in->examples;
  int n = fa_tensor_dim(in->x, 0);
  long *index = fa_arena_alloc(fa_arena_current(), (size_t)n * sizeof(long));
  for (int i = 0; index && i < n; i++) index[i] = in->first_example + i;
  return index;
}

fa_status fa_eval_attack_check(const fa_eval_attack *attack, const fa_attack_options *options, int n_classes) {
  return attack->check ? attack->check(options, n_classes) : FA_OK;
}

int fa_eval_attack_robust(const fa_eval_attack *attack, const fa_eval_attack_input *in, bool *robust) {
  fa_tensor *delta = attack->perturb(in);
  bool was = fa_set_grad_enabled(false);
  fa_tensor *logits = delta ? fa_model_forward(in->model, fa_add(in->x, delta), false) : NULL;
  fa_set_grad_enabled(was);
  return logits ? fa_mark_correct(logits, in->y, robust) : -1;
}
