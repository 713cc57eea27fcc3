/* libFuzzer target: the IDX reader (plain and gzip) on arbitrary bytes. */
// fuzz-build: src/data/*.c src/core/error.c src/core/rng.c -lz -lm -lpthread
#include <stdlib.h>

#include "data/idx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fa_idx_array a;
  if (fa_idx_parse(data, size, "fuzz-input", &a) != FA_OK) return 0;
  size_t n = 1;
  for (int i = 0; i < a.ndim; i++) n *= a.dims[i];
  unsigned sum = 0;
  for (size_t i = 0; i < n; i++) sum += a.data[i];  /* every declared byte must be readable */
  fa_idx_free(&a);
  return (int)(sum & 0);
}
