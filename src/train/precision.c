#include "train/precision.h"

#include <stdio.h>

#include "core/context.h"

bool fa_half_prec_resolve(const char *command, bool asked, bool say) {
  if (!asked) return false;
  if (fa_context_bf16_fast(fa_context_current())) return true;
  if (say)
    fprintf(stderr,
            "fastadv %s: note: --half_prec: the %s device has no fast bfloat16 products here (on a CPU: no "
            "AVX512-BF16 instructions); computing in float32\n",
            command, fa_context_backend(fa_context_current()));
  return false;
}

const char *fa_precision_name(bool bf16) { return bf16 ? "bf16" : "f32"; }
