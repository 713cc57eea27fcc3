/* In-place updates of constant tensors, and constants made by kernels:
 * what the layers above core once did by hand on tensor memory, each one
 * kernel pass (or a fixed sequence of them) on the device. None is an op:
 * nothing is recorded for autograd, and the tensors updated must be
 * constants (no autograd node) that nothing else still reads, as an
 * attack's delta or an optimiser's state. A NULL tensor does nothing (an
 * update) or returns NULL (a constant). Radii and steps are in [0, 1] units
 * (core/units.h). */
#ifndef FA_CORE_UPDATE_H
#define FA_CORE_UPDATE_H

#include "core/rng.h"
#include "core/tensor.h"

/* ---- the attacks' perturbations: x, delta (N, C, H, W) of one shape ---- */
/* delta <- clip(x + delta, 0, 1) - x */
void fa_project_box(const fa_tensor *x, fa_tensor *delta);
/* One step of the sign-gradient attacks: delta += step * sign(g), then into
 * the eps-ball and the [0, 1] box, the ball first (FGSM) or the box first
 * (PGD, box_first): the kernel table's attack_step. */
void fa_attack_step(const fa_tensor *x, const fa_tensor *g, fa_tensor *delta, float step, float eps, bool box_first);
/* t <- scale * sign(t) (a corner of the ball) */
void fa_sign_scale(fa_tensor *t, float scale);
/* Each example's strongest perturbation: for each row i of loss (N) with
 * loss[i] >= best_loss[i], best_loss[i] = loss[i] and best's row i = src's
 * row i (src, best (N, ...)). */
void fa_keep_best_rows(const fa_tensor *loss, fa_tensor *best_loss, const fa_tensor *src, fa_tensor *best);

/* ---- random fills ---- */
/* Elements [offset, offset + n) of t uniform in [lo, hi), drawn from rng as
 * fa_rng_fill_uniform draws them (the same values, counter advanced by
 * ceil(n / 4)), on the device. */
fa_status fa_fill_uniform(fa_tensor *t, size_t offset, size_t n, fa_rng *rng, float lo, float hi);
/* A step tensor of that shape, uniform in [lo, hi) from rng: the whole
 * fill, or rows of it when rng is a rank's slice (core/rng.h: first_row,
 * total_rows), the same values as those rows of the whole fill. */
fa_tensor *fa_uniform(int ndim, const int *shape, fa_rng *rng, float lo, float hi);

/* ---- ELLE's points (adv/elle.h): x, a, b (N, C, H, W), wa, wb (N) ---- */
/* (3N, C, H, W): [x + a; x + b; wa_i (x + a) + wb_i (x + b)] (each sum
 * rounded to float, the third block as the kernel table's row_combine), a
 * constant. */
fa_tensor *fa_lerp_points(const fa_tensor *x, const fa_tensor *a, const fa_tensor *b, const fa_tensor *wa,
                          const fa_tensor *wb);

/* ---- optimiser updates (the kernel table's sgd_update, adam_update):
 *      p a parameter, g its gradient, the state tensors of p's shape ---- */
void fa_sgd_update(fa_tensor *p, const fa_tensor *g, fa_tensor *buf, float lr, float momentum, float wd);
void fa_adam_update(fa_tensor *p, const fa_tensor *g, fa_tensor *m, fa_tensor *v, float beta1, float beta2, float eps,
                    float wd, float step_size, float bc2_sqrt);

#endif
