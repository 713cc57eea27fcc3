/* `fastadv inspect`: pictures of a checkpoint's first convolution.
 *   filters       every first-layer filter as a row of its input channels
 *                 (the paper's Figure 5), in the diverging colour map
 *   feature_maps  one test image x and x + eta (eta uniform in the eps-ball),
 *                 and the maps x * w_f + b_f and (x + eta) * w_f + b_f of each
 *                 filter f before the ReLU (the paper's Figure 7)
 * The numbers behind the colours (norms, colour scales, the noise gain of
 * each filter) are printed. */
#ifndef FA_ANALYSIS_INSPECT_H
#define FA_ANALYSIS_INSPECT_H

#include <stdbool.h>

#include "analysis/config.h"

/* 0 done, 1 failed (message on stderr). */
int fa_run_inspect(const fa_inspect_config *c);

#endif
