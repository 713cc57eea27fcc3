/* FAB-T, the targeted Fast Adaptive Boundary attack (Croce & Hein, ICML
 * 2020), in the L-infinity norm: the third attack of AutoAttack. Where it
 * follows the paper and where the official code (and why):
 * docs/AUTOATTACK.md.
 *
 * A minimum-norm attack: from the current point it projects onto the
 * linearised decision hyperplane between the true class y and the target t
 * (f = z_t - z_y, w = grad f), within the [0, 1] box, from the current point
 * and from the original one; it steps to a mix of the two, extrapolated by
 * eta, and once a point is adversarial it steps back toward the original by
 * beta; each example keeps its smallest adversarial perturbation, which a
 * final search along the segment to the original shrinks further. An
 * example counts broken when that point is misclassified and within eps.
 * The model runs in evaluation mode; eps is in [0, 1] units. */
#ifndef FA_ADV_FAB_H
#define FA_ADV_FAB_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "nn/model.h"

/* The paper's defaults. */
#define FA_FAB_ALPHA_MAX 0.1f   /* the largest weight of the step from the original point */
#define FA_FAB_ETA 1.05f        /* the extrapolation (overshoot) of both projections */
#define FA_FAB_BETA 0.9f        /* the backward step once a point is adversarial */
#define FA_FAB_FINAL_STEPS 3    /* steps of the final search */

/* The L-infinity projection of the point t (n coordinates, in the box
 * [lo, hi]^n) onto the hyperplane <w, z> = b within the box: the d of least
 * max |d_i| with <w, t + d> = b and t + d in the box, into d; where the
 * hyperplane misses the box, the corner of the box nearest to it (the d
 * that moves <w, t + d> furthest toward b). Exact, by sorting the
 * coordinates by the room the box leaves them (docs/AUTOATTACK.md); in
 * double precision. FA_ERR_NOMEM when its scratch does not fit the arena. */
fa_status fa_fab_project_linf(size_t n, const float *t, const float *w, double b, float lo, float hi, float *d);

typedef struct {
  float eps;              /* the radius, [0, 1] units: the success criterion and the restarts' radius */
  int n_iter;             /* iterations of one run (>= 1) */
  int n_restarts;         /* fa_fab: runs per target, the first from the original point, the others from
                             random starts at L-infinity distance eps / 2 */
  int n_target_classes;   /* fa_fab: the classes of the largest clean logits after the top one (at most
                             classes - 1), one after the other */
} fa_fab_config;

/* What one run gives, per example, in the current arena. */
typedef struct {
  bool *found;            /* (N) some iterate was misclassified */
  float *norm;            /* (N) max |adv| where found (after the final search), else +inf */
  fa_tensor *adv;         /* (N, C, H, W) the smallest adversarial perturbation found, after the final
                             search; 0 where none */
} fa_fab_result;

/* A window on a run (a test's): after iteration `it` (0-based) stepped to
 * delta (N, C, H, W), before the backward step of the examples it made
 * adversarial; best_norm (N) the smallest adversarial perturbations' norms
 * so far (+inf where none). */
typedef struct {
  void (*iterate)(void *ctx, int it, const fa_tensor *delta, const float *best_norm);
  void *ctx;
} fa_fab_trace;

/* One run of c->n_iter iterations on the batch x (N, C, H, W), labels y
 * (each classified correctly at x), target classes target (N), from x +
 * start (start NULL: from x itself; put into the box here), then the final
 * search; trace optional. c->n_restarts and c->n_target_classes are not
 * read. */
fa_status fa_fab_run(fa_model *model, const fa_fab_config *c, fa_tensor *x, const fa_tensor *y, const int *target,
                     fa_tensor *start, const fa_fab_trace *trace, fa_fab_result *out);

/* The attack on a batch, as AutoAttack runs FAB-T: examples misclassified
 * clean are not attacked; per target class, per restart, one run on the
 * examples still robust; random starts drawn from example
 * fa_example_index(examples, i)'s own stream within `stream` (fa_rng_item_stream), so that an example's
 * result depends on neither its batch nor the batch size. Returns the
 * perturbation (N, C, H, W): for an example broken, the misclassified point
 * within eps its run found; 0 elsewhere. robust (N, optional) gets whether
 * each example withstood it. NULL and a message on failure (too many target
 * classes, memory). */
fa_tensor *fa_fab(fa_model *model, const fa_fab_config *c, fa_tensor *x, const fa_tensor *y, const fa_rng *stream,
                  const long *examples, bool *robust);

#endif
