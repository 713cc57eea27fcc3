/* Helpers for the data tests: write bytes to files, gzip and zlib them in
 * memory, and check that an error names the file and the problem. */
#ifndef FA_TESTS_TEST_DATA_FILES_H
#define FA_TESTS_TEST_DATA_FILES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/error.h"
#include "testlib.h"

static inline void write_bytes(const char *path, const void *bytes, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(bytes, 1, len, f) != len || fclose(f) != 0) {
    fprintf(stderr, "cannot write %s\n", path);
    exit(1);
  }
}

/* Deflates `len` bytes into a fresh buffer, gzip- or zlib-wrapped. */
static inline uint8_t *deflate_bytes(const void *bytes, size_t len, int gzip, size_t *out_len) {
  z_stream z;
  memset(&z, 0, sizeof z);
  if (deflateInit2(&z, 6, Z_DEFLATED, gzip ? 15 + 16 : 15, 8, Z_DEFAULT_STRATEGY) != Z_OK) exit(1);
  size_t cap = deflateBound(&z, (uLong)len);
  uint8_t *out = malloc(cap);
  z.next_in = (Bytef *)bytes;
  z.avail_in = (uInt)len;
  z.next_out = out;
  z.avail_out = (uInt)cap;
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) exit(1);
  *out_len = cap - z.avail_out;
  deflateEnd(&z);
  return out;
}

static inline void write_gzip(const char *path, const void *bytes, size_t len) {
  size_t n;
  uint8_t *gz = deflate_bytes(bytes, len, 1, &n);
  write_bytes(path, gz, n);
  free(gz);
}

/* The call failed with a message naming `file` and containing `problem`.
 * SHOW_ERRORS=1 in the environment prints every message checked. */
#define CHECK_ERROR(call, file, problem)                                                         \
  do {                                                                                           \
    fa_error_clear();                                                                            \
    fa_status st_ = (call);                                                                      \
    if (getenv("SHOW_ERRORS")) printf("%s\n", fa_error_message());                                                                                                  \
    FA_CHECK(st_ != FA_OK && strstr(fa_error_message(), file) && strstr(fa_error_message(), problem), \
             "%s: expected an error naming %s with '%s', got %d: %s", #call, file, problem, st_,  \
             fa_error_message());                                                                \
  } while (0)

#endif
