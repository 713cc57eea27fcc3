/* SGD with momentum and Adam, as PyTorch 1.13 computes them: see optim.h.
 * An update is one kernel pass (core/update.h, the kernel table's
 * sgd_update and adam_update) over the store's whole slabs when every
 * parameter is trained: each kind of state is then a slab laid out as the
 * parameters (core/tensor.h, fa_store_new_in), the gaps between views zero
 * in all of them and left zero by the updates, and each element is updated
 * alone, so the floats are those of one pass per parameter. Otherwise one
 * pass per trained parameter. The step count and the bias corrections are
 * computed here. */
#include "optim/optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/update.h"

/* the step count is a float32 whole number: exact below 2^24 */
#define STEP_LIMIT 16777216.0f

typedef enum { OPT_SGD, OPT_ADAM } opt_kind;

/* One parameter and its state tensors (s1, s2 of its shape; s2 Adam only). */
typedef struct {
  fa_tensor *p;
  fa_tensor *s1; /* SGD: momentum_buffer; Adam: exp_avg */
  fa_tensor *s2; /* Adam: exp_avg_sq */
} slot;

struct fa_optimizer {
  opt_kind kind;
  float momentum;              /* SGD */
  float beta1, beta2, eps;     /* Adam */
  float weight_decay;
  fa_store *state;
  fa_tensor *step;             /* (1,) */
  slot *slots;
  int n_slots;
  fa_store *params;
  bool every_param;            /* every parameter of params is trained: its state slabs are laid out as its slab */
};

static bool trainable(const fa_tensor *t) { return fa_tensor_requires_grad(t) && fa_tensor_grad(t); }

/* The state tensor "<param>.<what>" of p's shape, in the store's slab `slab`
 * (one per kind of state, laid out as the parameters); NULL if there is no `what`. */
static fa_status state_like(fa_store *state, int slab, const fa_tensor *p, const char *what, fa_tensor **out) {
  *out = NULL;
  if (!what) return FA_OK;
  char name[1024];
  if (snprintf(name, sizeof name, "%s.%s", fa_tensor_name(p), what) >= (int)sizeof name)
    return fa_error_set(FA_ERR_INVALID, "parameter name too long: %s", fa_tensor_name(p));
  *out = fa_store_new_in(state, slab, name, fa_tensor_ndim(p), fa_tensor_shape(p));
  return *out ? FA_OK : fa_error_code();
}

/* An optimiser over the trainable tensors of `params`, with state tensors
 * "<param>.<s1>" and, if s2 is not NULL, "<param>.<s2>". */
static fa_optimizer *optimizer_create(opt_kind kind, fa_store *params, const char *s1,
                                      const char *s2) {
  fa_optimizer *opt = calloc(1, sizeof *opt);
  if (!opt) goto nomem;
  opt->kind = kind;
  opt->params = params;
  opt->every_param = true;
  opt->slots = calloc((size_t)fa_store_count(params) + 1, sizeof *opt->slots);
  opt->state = fa_store_create();
  if (!opt->slots || !opt->state) goto nomem;
  for (int i = 0; i < fa_store_count(params); i++) {
    fa_tensor *p = fa_store_get(params, i);
    if (fa_tensor_grad(p) && !trainable(p)) opt->every_param = false; /* a parameter left out */
    if (!trainable(p)) continue;
    slot *sl = &opt->slots[opt->n_slots++];
    sl->p = p;
    if (state_like(opt->state, FA_SLAB_BUFFERS, p, s1, &sl->s1) != FA_OK ||
        state_like(opt->state, FA_SLAB_BUFFERS + 1, p, s2, &sl->s2) != FA_OK)
      goto fail;
  }
  opt->step = fa_store_new_in(opt->state, FA_SLAB_BUFFERS + 2, "step", 1, (int[]){1});
  if (!opt->step) goto fail;
  return opt;
nomem:
  fa_error_set(FA_ERR_NOMEM, "out of memory creating an optimiser");
fail:
  fa_optimizer_destroy(opt);
  return NULL;
}

static bool in_unit(float x) { return x >= 0.0f && x < 1.0f; }

fa_optimizer *fa_sgd_create(fa_store *params, float momentum, float weight_decay) {
  if (!in_unit(momentum) || !(weight_decay >= 0.0f && isfinite(weight_decay))) {
    fa_error_set(FA_ERR_INVALID, "SGD needs momentum in [0, 1) and weight decay >= 0, not %g and %g",
                 momentum, weight_decay);
    return NULL;
  }
  fa_optimizer *opt = optimizer_create(OPT_SGD, params, "momentum_buffer", NULL);
  if (!opt) return NULL;
  opt->momentum = momentum;
  opt->weight_decay = weight_decay;
  return opt;
}

fa_optimizer *fa_adam_create(fa_store *params, float beta1, float beta2, float eps,
                             float weight_decay) {
  if (!in_unit(beta1) || !in_unit(beta2) || !(eps > 0.0f && isfinite(eps)) ||
      !(weight_decay >= 0.0f && isfinite(weight_decay))) {
    fa_error_set(FA_ERR_INVALID,
                 "Adam needs betas in [0, 1), eps > 0 and weight decay >= 0, not %g, %g, %g and %g",
                 beta1, beta2, eps, weight_decay);
    return NULL;
  }
  fa_optimizer *opt = optimizer_create(OPT_ADAM, params, "exp_avg", "exp_avg_sq");
  if (!opt) return NULL;
  opt->beta1 = beta1;
  opt->beta2 = beta2;
  opt->eps = eps;
  opt->weight_decay = weight_decay;
  return opt;
}

void fa_optimizer_destroy(fa_optimizer *opt) {
  if (!opt) return;
  fa_store_destroy(opt->state);
  free(opt->slots);
  free(opt);
}

fa_store *fa_optimizer_state(const fa_optimizer *opt) { return opt->state; }

/* The parameter slab and the state slabs as one slot, and the gradient
 * slab, when every parameter is trained and the slabs are as long as the
 * parameters' (they are then laid out alike); false otherwise. Valid until
 * a store gains a tensor. */
static bool whole_slabs(const fa_optimizer *opt, slot *whole, fa_tensor **grads) {
  if (!opt->every_param) return false;
  whole->p = fa_store_slab_tensor(opt->params, FA_SLAB_PARAMS);
  whole->s1 = fa_store_slab_tensor(opt->state, FA_SLAB_BUFFERS);
  whole->s2 = opt->kind == OPT_ADAM ? fa_store_slab_tensor(opt->state, FA_SLAB_BUFFERS + 1) : NULL;
  fa_tensor *g = *grads = fa_store_slab_tensor(opt->params, FA_SLAB_GRADS);
  size_t n = whole->p ? fa_tensor_numel(whole->p) : 0;
  return n && g && fa_tensor_numel(g) == n && whole->s1 && fa_tensor_numel(whole->s1) == n &&
         (opt->kind != OPT_ADAM || (whole->s2 && fa_tensor_numel(whole->s2) == n));
}

long fa_optimizer_steps(const fa_optimizer *opt) { return (long)fa_tensor_item(opt->step); }

fa_status fa_optimizer_step(fa_optimizer *opt, float lr) {
  if (!(lr >= 0.0f && isfinite(lr)))
    return fa_error_set(FA_ERR_INVALID, "the learning rate must be finite and >= 0, not %g", lr);
  float steps = fa_tensor_item(opt->step);
  if (!(steps >= 0.0f && steps < STEP_LIMIT && steps == floorf(steps)))
    return fa_error_set(FA_ERR_INVALID,
                        "the optimiser's step count %g is not a whole number in [0, 2^24): "
                        "was its state restored from a damaged checkpoint?", steps);
  double step = steps + 1.0;
  /* PyTorch computes the bias corrections in double from the float step */
  double step_size = lr / (1.0 - pow(opt->beta1, step));
  double bc2_sqrt = sqrt(1.0 - pow(opt->beta2, step));
  slot whole;
  fa_tensor *grads;
  const bool one_pass = opt->n_slots > 0 && whole_slabs(opt, &whole, &grads);
  for (int i = 0; i < (one_pass ? 1 : opt->n_slots); i++) {
    const slot *sl = one_pass ? &whole : &opt->slots[i];
    fa_tensor *g = one_pass ? grads : fa_tensor_grad(sl->p);
    if (opt->kind == OPT_SGD)
      fa_sgd_update(sl->p, g, sl->s1, lr, opt->momentum, opt->weight_decay);
    else
      fa_adam_update(sl->p, g, sl->s1, sl->s2, opt->beta1, opt->beta2, opt->eps, opt->weight_decay,
                     (float)step_size, (float)bc2_sqrt);
  }
  float next = (float)step;
  return fa_tensor_write(opt->step, 0, 1, &next);
}
