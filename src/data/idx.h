/* IDX files (MNIST, Fashion-MNIST), plain or gzip-compressed (recognised
 * by the gzip magic bytes 1f 8b, whatever the file's name).
 *
 * Layout: 00 00 <type> <ndim>, then ndim big-endian uint32 dimensions, then
 * the values in row-major order. Only type 0x08 (unsigned byte), the type of
 * the published files, is read. */
#ifndef FA_DATA_IDX_H
#define FA_DATA_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define FA_IDX_MAX_DIMS 4

typedef struct {
  int ndim;
  uint32_t dims[FA_IDX_MAX_DIMS];
  uint8_t *data;  /* dims[0] * ... * dims[ndim-1] bytes, owned */
} fa_idx_array;

/* Parses the bytes of a whole IDX file; `source` names it in errors. The
 * file must hold exactly the data its header declares. */
fa_status fa_idx_parse(const uint8_t *bytes, size_t len, const char *source, fa_idx_array *out);
fa_status fa_idx_read(const char *path, fa_idx_array *out);
void fa_idx_free(fa_idx_array *a);

#endif
