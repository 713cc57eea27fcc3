/* Bounded reading of data files: a whole file into memory, and zlib / gzip
 * streams inflated into buffers whose size the caller justified first.
 *
 * No reader allocates more than its file justifies: a file is read only
 * when its size is at most FA_DATA_MAX_BYTES, and a compressed stream is
 * inflated only into a buffer the header's dimensions ask for, after
 * checking that size against FA_DATA_MAX_BYTES and against the most that
 * deflate can produce from the compressed bytes at hand (1032:1). */
#ifndef FA_DATA_BYTES_H
#define FA_DATA_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#include "core/error.h"

/* The largest file, or decompressed array, that a reader accepts: 1 GiB,
 * about five times the largest published file fastadv reads (SVHN train). */
#define FA_DATA_MAX_BYTES ((uint64_t)1 << 30)

/* Reads the file at `path` into a fresh buffer (*bytes, *len); the caller
 * frees it. Errors name the file and the reason: missing, a symbolic link
 * to nothing, a directory, a FIFO (refused without waiting on it) or other
 * non-regular file, larger than max_bytes. */
fa_status fa_file_read_all(const char *path, uint64_t max_bytes, uint8_t **bytes, size_t *len);

/* The size of the regular file at `path`, at most max_bytes; errors as
 * fa_file_read_all's. */
fa_status fa_file_size(const char *path, uint64_t max_bytes, uint64_t *size);

/* The most bytes a deflate stream of `compressed_len` bytes can inflate to. */
uint64_t fa_inflate_bound(size_t compressed_len);

typedef enum { FA_ZLIB_STREAM, FA_GZIP_STREAM } fa_zformat;

/* One compressed stream read in pieces. `source` names the file in errors. */
typedef struct {
  z_stream z;
  const char *source;
  size_t compressed_len;
  int ended;  /* the stream's end marker was reached */
} fa_inflater;

fa_status fa_inflate_begin(fa_inflater *in, const uint8_t *src, size_t len, fa_zformat format,
                           const char *source);
/* Inflates exactly `n` bytes into dst; fewer is an error naming `what`
 * ("the image data") and the source: the file is truncated or corrupt. */
fa_status fa_inflate_exact(fa_inflater *in, uint8_t *dst, size_t n, const char *what);
/* Checks that the stream ends here, its checksum included: more data, a
 * missing end or a checksum mismatch is an error naming `what` came before. */
fa_status fa_inflate_expect_end(fa_inflater *in, const char *what);
void fa_inflate_end(fa_inflater *in);

/* Checks that an array of `want` bytes, announced by a header inside a
 * compressed stream of `compressed_len` bytes, is possible and not too
 * large; the error names the source and the announced size. */
fa_status fa_check_inflated_size(uint64_t want, size_t compressed_len, const char *source,
                                 const char *what);

/* Little- and big-endian loads from unaligned bytes. */
static inline uint32_t fa_load_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint32_t fa_load_be32(const uint8_t *p) {
  return (uint32_t)p[3] | (uint32_t)p[2] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[0] << 24;
}

#endif
