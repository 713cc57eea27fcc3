/* Square attack (Andriushchenko et al., ECCV 2020), L-infinity: the
 * score-based attack of AutoAttack. Forward passes only: random search on
 * the margin z_y - max_{j != y} z_j, from vertical stripes of +-eps, each
 * step moving one square window of side s to +-eps (one sign per channel)
 * and keeping it when the margin falls (or the example is misclassified).
 * The window's share of the image, p(i), follows the paper's schedule from
 * p_init. Where fastadv follows the paper and where the official code:
 * docs/AUTOATTACK.md. eps is in [0, 1] units; x + delta stays in the
 * eps-ball and the [0, 1] box; the model sees x + delta (fa_add). */
#ifndef FA_ADV_SQUARE_H
#define FA_ADV_SQUARE_H

#include <stdbool.h>

#include "core/error.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "nn/model.h"

typedef struct {
  float eps;        /* the radius, [0, 1] units */
  int n_queries;    /* iterations of a run (each one forward pass per example still robust) */
  float p_init;     /* the window's share of the image at first, in (0, 1] */
  int n_restarts;   /* runs, each on the examples still robust */
  bool rescale;     /* the schedule's halvings rescaled from 10,000 iterations to n_queries (the paper's and
                       the official code's default); false: at the iterations themselves (AutoAttack's stage) */
  bool official_windows; /* a window's top row drawn in 0 .. h - s - 1 (and its column in 0 .. w - s - 1), as the
                            official code's random_int(0, h - s) does, so that a window covers the last row or
                            column only when s = h (AutoAttack's stage); false: in 0 .. h - s, the paper's */
} fa_square_config;

/* p(it) of a schedule of `length` iterations: p_init, halved each time it
 * (rescaled to 10,000 iterations, int(it / length * 10000)) passes 10, 50,
 * 200, 500, 1000, 2000, 4000, 6000 and 8000. length is n_queries where the
 * schedule is rescaled, 10,000 where not. */
double fa_square_p(double p_init, int it, int length);

/* The window's side at iteration it of an image (c, h, w):
 * max(round(sqrt(p(it) h w)), 1) (round half to even, as Python), at most
 * min(h, w). */
int fa_square_side(double p_init, int it, int length, int h, int w);

/* Square works on the host (its windows and margins per example); its
 * labels y are host arrays but for fa_square's. */

/* The margins z_y - max_{j != y} z_j of logits (N, K) into margin (N). */
fa_status fa_square_margins(const fa_tensor *logits, const int *y, float *margin);

/* The start: delta[i, ch, r, col] = eps signs[(i * C + ch) * W + col]
 * (vertical stripes; signs +-1), put into the box. delta has x's shape. */
fa_status fa_square_stripes(const fa_tensor *x, float eps, const float *signs, fa_tensor *delta);

#define FA_SQUARE_MAX_CHANNELS 4

/* One step's noise per example: the window's top row and left column, and
 * its signs (C of them, +-1), one per channel. */
typedef struct {
  int row, col;
  float signs[FA_SQUARE_MAX_CHANNELS];
} fa_square_window;

/* One step on every example of x (N, C, H, W), labels y: the candidate is
 * delta with window i (side s) of example i moved to
 * clamp(delta + 2 eps sign, -eps, eps), into the box; one forward pass at
 * x + candidate; example i takes its candidate (delta and margin[i]) when
 * the candidate's margin is below margin[i] or at most 0. */
fa_status fa_square_step(fa_model *model, fa_tensor *x, const int *y, float eps, int s,
                         const fa_square_window *windows, fa_tensor *delta, float *margin);

/* The attack on a batch, as AutoAttack runs it: examples misclassified clean
 * are not attacked; per restart, one run on the examples still robust: the
 * stripes start, then c->n_queries steps while the margin is positive, each
 * example's noise drawn from its own stream (fa_rng_item_stream of its
 * index examples[i] within `stream`, i when examples is NULL; restart r from block r * 2^40), so that
 * an example's result depends neither on its batch nor on the batch size.
 * Returns delta (N, C, H, W): the misclassified point's perturbation for a
 * broken example, 0 for the others. robust (N) and queries (N, forward
 * passes of the example, the clean one not counted) are optional outputs.
 * NULL and a message on failure. */
fa_tensor *fa_square(fa_model *model, const fa_square_config *c, fa_tensor *x, const fa_tensor *labels,
                     const fa_rng *stream, const long *examples, bool *robust, int *queries);

#endif
