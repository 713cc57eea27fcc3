/* libFuzzer target: the CIFAR-10 batch reader on arbitrary bytes. */
// fuzz-build: src/data/*.c src/core/error.c src/core/rng.c -lz -lm -lpthread
#include <stdlib.h>

#include "data/cifar10.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fa_dataset ds;
  if (fa_cifar10_parse(data, size, "fuzz-input", &ds) != FA_OK) return 0;
  volatile unsigned sum = 0;
  for (size_t i = 0; i < (size_t)ds.n * ds.c * ds.h * ds.w; i++) sum += ds.images[i];
  (void)sum;
  for (int i = 0; i < ds.n; i++)
    if (ds.labels[i] >= ds.n_classes) abort();  /* a label out of range got through */
  fa_dataset_free(&ds);
  return 0;
}
