/* libFuzzer target: the IDX reader (plain and gzip) on arbitrary bytes.
 * An input starting with 'Z' is gzip-compressed (after that byte) before
 * parsing, so that the fuzzer also explores the headers and sizes behind a
 * valid gzip stream, which mutating compressed bytes rarely reaches. */
// fuzz-build: src/data/*.c src/core/error.c src/core/rng.c -lz -lm -lpthread
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data/idx.h"

/* gzip of data[0, size) into a fresh buffer. */
static uint8_t *gzip_of(const uint8_t *data, size_t size, size_t *out_len) {
  z_stream z;
  memset(&z, 0, sizeof z);
  if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
  size_t cap = deflateBound(&z, (uLong)size);
  uint8_t *out = malloc(cap);
  z.next_in = (Bytef *)data;
  z.avail_in = (uInt)size;
  z.next_out = out;
  z.avail_out = (uInt)cap;
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) abort();
  *out_len = cap - z.avail_out;
  deflateEnd(&z);
  return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t *gz = NULL;
  if (size > 0 && data[0] == 'Z') {
    data = gz = gzip_of(data + 1, size - 1, &size);
  }
  fa_idx_array a;
  if (fa_idx_parse(data, size, "fuzz-input", &a) == FA_OK) {
    size_t n = 1;
    for (int i = 0; i < a.ndim; i++) n *= a.dims[i];
    volatile unsigned sum = 0;
    for (size_t i = 0; i < n; i++) sum += a.data[i];  /* every declared byte must be readable */
    (void)sum;
    fa_idx_free(&a);
  }
  free(gz);
  return 0;
}
