/* Safetensors files: model checkpoints and test fixtures.
 *
 * Format (https://github.com/huggingface/safetensors): an 8-byte
 * little-endian header length N, N bytes of UTF-8 JSON mapping each tensor
 * name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative
 * to the first byte after the header) plus an optional "__metadata__" object
 * of string -> string, then the little-endian, C-contiguous data.
 *
 * The reader trusts nothing in the file. It refuses, naming the file and the
 * problem: a file shorter than 8 bytes; a header longer than the file or
 * than FA_ST_MAX_HEADER; a header that is not UTF-8 or not a JSON object,
 * or that holds a NUL character (\u0000); an entry that is not an object
 * with exactly the keys dtype, shape and data_offsets; an unknown dtype; a
 * shape that is not an array of at most FA_ST_MAX_DIMS non-negative integers;
 * offsets that are not two non-negative integers with begin <= end <= the
 * data size; a byte count (shape product times dtype size) that overflows or
 * differs from end - begin; duplicate names (or metadata keys); metadata
 * values that are not strings; tensors that overlap, or bytes of the data
 * buffer that no tensor covers (the buffer must be fully indexed, as the
 * specification requires). Numbers are integers when their value is: "4.0"
 * or "4e0" are read as 4, as a double-based JSON parser cannot tell.
 *
 * Memory: the reader allocates the data size (no more than the file holds)
 * plus the parsed header (linear in the header size, itself bounded by the
 * file size and FA_ST_MAX_HEADER). Every tensor's data pointer is aligned to at least its element
 * size: the data buffer is 64-byte aligned, and a file whose offsets are not
 * multiples of their element size (fa_st_write never makes one) is copied
 * into a realigned buffer at open.
 *
 * The writer places tensors in decreasing order of element size so that each
 * begins at a multiple of its element size, pads the header with spaces to a
 * multiple of 8 bytes, and replaces the destination atomically. */
#ifndef FA_IO_SAFETENSORS_H
#define FA_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define FA_ST_MAX_DIMS 8
/* Header limit: 16 MiB holds ~150,000 tensor entries (ResNet-18 needs ~120
 * and 12 KiB); the reference implementation allows 100 MB, but a hostile
 * header of tiny JSON values can make the parsed tree ~45 times its size,
 * so this bounds what one file can make the reader allocate (~0.7 GiB). */
#define FA_ST_MAX_HEADER ((uint64_t)16 << 20)

typedef enum {
  FA_DTYPE_F64,
  FA_DTYPE_F32,
  FA_DTYPE_F16,
  FA_DTYPE_BF16,
  FA_DTYPE_I64,
  FA_DTYPE_I32,
  FA_DTYPE_I16,
  FA_DTYPE_I8,
  FA_DTYPE_U64,
  FA_DTYPE_U32,
  FA_DTYPE_U16,
  FA_DTYPE_U8,
  FA_DTYPE_BOOL,
  FA_DTYPE_COUNT
} fa_st_dtype;

/* The safetensors name ("F32") and the size in bytes of one element. */
const char *fa_st_dtype_name(fa_st_dtype dtype);
size_t fa_st_dtype_size(fa_st_dtype dtype);

typedef struct {
  const char *name;
  fa_st_dtype dtype;
  int ndim; /* 0 for a scalar */
  int64_t shape[FA_ST_MAX_DIMS];
  size_t nbytes; /* product of shape times fa_st_dtype_size(dtype) */
  const void *data;
} fa_st_tensor;

/* An opened file; it owns the tensors' names, data and the metadata. */
typedef struct fa_st_file fa_st_file;

/* Reads and checks the whole file. NULL with fa_error_set on any problem. */
fa_st_file *fa_st_open(const char *path);
/* The same from bytes in memory (copied); `what` names them in messages. */
fa_st_file *fa_st_parse(const void *bytes, size_t len, const char *what);
void fa_st_close(fa_st_file *f);

/* Tensors in the order of the file's header. */
int fa_st_count(const fa_st_file *f);
const fa_st_tensor *fa_st_get(const fa_st_file *f, int i);
const fa_st_tensor *fa_st_find(const fa_st_file *f, const char *name); /* NULL if absent */

/* Metadata, in the order of the file's header. */
int fa_st_meta_count(const fa_st_file *f);
const char *fa_st_meta_key(const fa_st_file *f, int i);
const char *fa_st_meta(const fa_st_file *f, const char *key); /* NULL if absent */

/* Copies tensor `name` into `out`, converting to `to`, after checking that
 * its shape is exactly shape[0..ndim). Same-dtype copies work for every
 * dtype; conversions go to F32 or F64 from F32, F64, I64, I32 or U8. */
fa_status fa_st_copy(const fa_st_file *f, const char *name, fa_st_dtype to, int ndim,
                     const int64_t *shape, void *out);

/* Writes n tensors and n_meta metadata pairs to `path`, atomically: a
 * temporary file in the same directory, written, flushed and synced, then
 * renamed over `path`, then the directory synced. On any failure before the
 * rename (disk full, file-size limit with SIGXFSZ ignored, read-only
 * directory) `path` is untouched and the temporary file removed. Names and
 * metadata must be UTF-8 and unique; each tensor's nbytes must match its
 * shape and dtype; "__metadata__" is not a tensor name. */
fa_status fa_st_write(const char *path, const fa_st_tensor *tensors, int n,
                      const char *const *meta_keys, const char *const *meta_values, int n_meta);

#endif
