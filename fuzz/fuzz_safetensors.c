/* libFuzzer target for the safetensors reader: any input must either be
 * refused with a message or give tensors that lie inside their data,
 * aligned to their element size, findable by name and convertible.
 * fuzz-build: src/io/safetensors.c src/core/error.c -lcjson */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"

#define REQUIRE(cond) \
  do {                \
    if (!(cond)) abort(); \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t size) {
  fa_error_clear();
  fa_st_file *f = fa_st_parse(bytes, size, "fuzz input");
  if (!f) {
    REQUIRE(fa_error_code() != FA_OK && strstr(fa_error_message(), "fuzz input"));
    return 0;
  }
  size_t total = 0;
  for (int i = 0; i < fa_st_count(f); i++) {
    const fa_st_tensor *t = fa_st_get(f, i);
    REQUIRE(fa_st_find(f, t->name) == t && t->ndim >= 0 && t->ndim <= FA_ST_MAX_DIMS);
    REQUIRE((uintptr_t)t->data % fa_st_dtype_size(t->dtype) == 0);
    total += t->nbytes;
    unsigned sum = 0; /* touches every byte, so ASan sees any out-of-bounds pointer */
    for (size_t k = 0; k < t->nbytes; k++) sum += ((const unsigned char *)t->data)[k];
    size_t n = t->nbytes / fa_st_dtype_size(t->dtype);
    double *out = malloc(n * sizeof *out + 1);
    fa_status st = fa_st_copy(f, t->name, FA_DTYPE_F64, t->ndim, t->shape, out);
    REQUIRE(st == FA_OK || t->dtype == FA_DTYPE_F16 || t->dtype == FA_DTYPE_BF16 || t->dtype == FA_DTYPE_I16 ||
            t->dtype == FA_DTYPE_I8 || t->dtype == FA_DTYPE_U64 || t->dtype == FA_DTYPE_U32 ||
            t->dtype == FA_DTYPE_U16 || t->dtype == FA_DTYPE_BOOL);
    free(out);
    (void)sum;
  }
  REQUIRE(total <= size); /* the tensors tile the data, which lies inside the input */
  for (int i = 0; i < fa_st_meta_count(f); i++) REQUIRE(fa_st_meta(f, fa_st_meta_key(f, i)) != NULL);
  fa_st_close(f);
  return 0;
}
