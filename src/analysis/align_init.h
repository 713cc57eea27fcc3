/* `fastadv align_init`: the paper's Lemma 2 measured. For the single-layer
 * cnn at its initialisation (seeds 0..n_seeds-1) and each number of filters
 * and eps: the mean over the first test examples of
 * cos(grad_x l(x, y), grad_x l(x + eta, y)), eta uniform in [-eps, eps]^d
 * and x + eta not clipped (as in the lemma and GradAlign), next to the
 * lemma's lower bound for k, m -> infinity:
 *   max{ 1 - sqrt(2) E_{w,z}[ exp(-<w/||w||, z>^2 / eps^2) ]^(1/2), 0.5 },
 * w ~ N(0, I_p), z ~ U([0, 1]^p), p = channels x 3 x 3 (a patch), the
 * expectation by Monte Carlo. Writes a table (n_filters eps seed cos bound)
 * for `fastadv plot --kind=lemma2`. */
#ifndef FA_ANALYSIS_ALIGN_INIT_H
#define FA_ANALYSIS_ALIGN_INIT_H

#include "analysis/config.h"

/* The bound of Lemma 2 for patches of p values and radius eps in [0, 1]
 * units, from n draws of the generator seeded with seed. */
double fa_lemma2_bound(int p, double eps, int n, int seed);

/* 0 done, 1 failed, 2 a bad flag value (message on stderr). */
int fa_run_align_init(const fa_align_init_config *c);

#endif
