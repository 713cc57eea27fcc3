/* --half_prec (docs/PERFORMANCE.md "bfloat16"): the convolutions and matrix
 * products of training steps (train) or of the whole evaluation (eval) in
 * bfloat16 with float32 sums (core/context.h), where the device runs them
 * fast; everything else, the master weights, checkpoints and train's final
 * evaluation stay float32. */
#ifndef FA_TRAIN_PRECISION_H
#define FA_TRAIN_PRECISION_H

#include <stdbool.h>

/* Whether `command` ("train", "eval") computes in bfloat16 on the current
 * context: `asked` (--half_prec), unless the device lacks fast bfloat16
 * products, which a note on stderr says once (when `say`: rank 0 of the
 * processes), naming float32 as what runs. */
bool fa_half_prec_resolve(const char *command, bool asked, bool say);
/* "bf16" or "f32": the precision of the run's record. */
const char *fa_precision_name(bool bf16);

#endif
