/* Adversarial perturbations in the L-infinity ball (docs/METHOD.md sections 4, 5).
 *
 * x is a clean batch (N, C, H, W) in [0, 1], y its labels, delta a
 * perturbation of x's shape; eps and step sizes are in [0, 1] units
 * (core/units.h). The model runs in training mode
 * (batch statistics, updating the running ones) when `training`, as the
 * paper's training step does for its attacks, else in evaluation mode.
 * Attack iterations record nothing for autograd and release their
 * intermediates; the results live in the current arena. */
#ifndef FA_ADV_ATTACK_H
#define FA_ADV_ATTACK_H

#include "core/measure.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "core/update.h"
#include "nn/model.h"

/* g = d CE(model(x + delta), y) / d delta (mean cross-entropy over the
 * batch), the model seeing clip(x + delta) to [0, 1] when `clip`. With
 * create_graph, g stays differentiable with respect to the parameters
 * (double backpropagation). logits_out, when not NULL, gets the logits. */
fa_tensor *fa_input_grad(fa_model *model, bool training, fa_tensor *x, fa_tensor *delta, const fa_tensor *y, bool clip,
                         bool create_graph, fa_tensor **logits_out);

/* Uniform in [-eps, eps], from the attack stream. */
fa_tensor *fa_uniform_delta(const fa_tensor *x, float eps, fa_rng *rng);

/* One FGSM step from delta: g at clip(x + delta);
 * delta <- clamp(delta + step * sign(g), -eps, eps), then into the box, in
 * place (g's graph does not read delta), and returned. grad_out (optional)
 * gets g, recorded for double backprop when create_graph (GradAlign reuses
 * it as g1). */
fa_tensor *fa_fgsm(fa_model *model, bool training, fa_tensor *x, const fa_tensor *y, fa_tensor *delta, float eps,
                   float step, bool create_graph, fa_tensor **grad_out);

/* n_iter PGD steps from delta, in place (returned): delta += alpha * sign(g),
 * into the box, into the ball; g of CE(model(x + delta)). */
fa_tensor *fa_pgd(fa_model *model, bool training, fa_tensor *x, const fa_tensor *y, fa_tensor *delta, float eps,
                  float alpha, int n_iter);

/* The evaluation PGD: n_restarts runs of fa_pgd from uniform random starts
 * (put into the box), in evaluation mode; each example keeps the delta of
 * highest cross-entropy, a later restart winning a tie. Restart r's start
 * of row i is run r of example fa_example_index(examples, i)'s own stream
 * within `stream` (fa_uniform_per_example; examples NULL: first_example + i),
 * so that an example's result depends neither on its batch nor on the batch
 * size. loss_out (optional, (N)) gets those losses. */
fa_tensor *fa_pgd_restarts(fa_model *model, fa_tensor *x, const fa_tensor *y, float eps, float alpha, int n_iter,
                           int n_restarts, const fa_rng *stream, long first_example, const long *examples,
                           fa_tensor **loss_out);
/* Row i's data set index as fa_uniform_per_example's idx: i when examples
 * is given, else first_example + i; n ints in the current arena, NULL and a
 * message when it is full. */
int *fa_example_rows(int n, long first_example, const long *examples);

/* For the examples idx[0..m-1] of x (N, C, H, W): an (m, C, H, W) tensor
 * uniform in [lo, hi], row j drawn from example fa_example_index(examples,
 * idx[j])'s own stream within `stream` (fa_rng_item_stream), `run` ceil(C H W / 4)
 * blocks into it: an example's draws depend neither on its batch nor on the
 * batch size, and run r of an attack gets its own. */
fa_tensor *fa_uniform_per_example(const fa_tensor *x, int m, const int *idx, const fa_rng *stream,
                                  const long *examples, int run, float lo, float hi);

/* The data set index of a batch's row i: examples[i], or i where examples
 * is NULL (an attack's own tests). */
static inline long fa_example_index(const long *examples, int i) { return examples ? examples[i] : i; }

/* The target classes of a targeted attack: the classes of example i's
 * ranks 1..n_targets by its logits (N, K) (rank 0 is the top one, ties to
 * the lower class), into targets[i * n_targets + r - 1]; taken is K flags
 * of scratch. The logits come to the host (evaluation only). */
fa_status fa_rank_targets(const fa_tensor *logits, int n_targets, int *targets, bool *taken);

/* One run of an attack that AutoAttack runs per target and restart
 * (fa_attack_targets_restarts): on the m rows xs (m, C, H, W) of the batch
 * (their batch rows idx, labels y_sub, target classes t_sub), for target
 * rank t and restart r; sets broken[j] for the rows it broke and *adv to the
 * points (m, C, H, W) in the current arena. */
typedef fa_status (*fa_targeted_run)(void *ctx, fa_tensor *xs, const int *idx, int m, const fa_tensor *y_sub,
                                     const int *t_sub, int t, int r, bool *broken, fa_tensor **adv);

/* AutoAttack's loop over a batch x (N, C, H, W): examples misclassified
 * clean are not attacked; per target class (ranks 1..n_targets of the clean
 * logits, fa_rank_targets) and per restart, one `run` on the examples still
 * robust. Returns the perturbation (N, C, H, W): the point the run found
 * minus x for an example broken, 0 elsewhere; robust (N, optional) gets
 * whether each example withstood every run. NULL and a message on failure. */
fa_tensor *fa_attack_targets_restarts(fa_model *model, fa_tensor *x, const fa_tensor *y, int n_targets, int n_restarts,
                                      fa_targeted_run run, void *ctx, bool *robust);

/* Number of rows of logits (N, K) whose argmax is the label (fa_count_correct,
 * core/measure.h), and correct[i] whether row i's is; -1 on failure. */
int fa_mark_correct(const fa_tensor *logits, const fa_tensor *y, bool *correct);

#endif
