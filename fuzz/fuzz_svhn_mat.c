/* libFuzzer target: the SVHN MAT-file reader on arbitrary bytes. An input
 * starting with 'Z' is, after that byte, the content of one miCOMPRESSED
 * element: it is zlib-compressed and placed behind a valid MAT header, so
 * that the fuzzer also explores the variables inside compressed elements. */
// fuzz-build: src/data/*.c src/core/error.c src/core/rng.c -lz -lm -lpthread
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data/svhn_mat.h"

/* A MAT-file: header, then one miCOMPRESSED element holding zlib(data). */
static uint8_t *compressed_mat(const uint8_t *data, size_t size, size_t *out_len) {
  uLong cap = compressBound((uLong)size);
  uint8_t *out = malloc(128 + 8 + cap);
  memset(out, ' ', 116);
  memset(out + 116, 0, 8);
  memcpy(out + 124, "\x00\x01IM", 4);
  uLongf z_len = cap;
  if (compress2(out + 136, &z_len, data, (uLong)size, 6) != Z_OK) abort();
  uint32_t tag[2] = {15, (uint32_t)z_len};  /* miCOMPRESSED, little-endian hosts */
  memcpy(out + 128, tag, 8);
  *out_len = 136 + z_len;
  return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t *mat = NULL;
  if (size > 0 && data[0] == 'Z') {
    data = mat = compressed_mat(data + 1, size - 1, &size);
  }
  fa_dataset ds;
  if (fa_svhn_mat_parse(data, size, "fuzz-input", &ds) == FA_OK) {
    volatile unsigned sum = 0;
    for (size_t i = 0; i < (size_t)ds.n * ds.c * ds.h * ds.w; i++) sum += ds.images[i];
    (void)sum;
    for (int i = 0; i < ds.n; i++)
      if (ds.labels[i] >= ds.n_classes) abort();  /* a label out of range got through */
    fa_dataset_free(&ds);
  }
  free(mat);
  return 0;
}
