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
#include "data/mnist.h"
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

/* An IDX ubyte file: header for `dims` then `data_len` bytes of `data`. */
static inline size_t make_idx(uint8_t *out, int ndim, const uint32_t *dims, const uint8_t *data,
                              size_t data_len) {
  out[0] = out[1] = 0;
  out[2] = 0x08;
  out[3] = (uint8_t)ndim;
  for (int i = 0; i < ndim; i++)
    for (int b = 0; b < 4; b++) out[4 + 4 * i + b] = (uint8_t)(dims[i] >> (24 - 8 * b));
  memcpy(out + 4 + 4 * ndim, data, data_len);
  return 4 + 4 * (size_t)ndim + data_len;
}

/* Pixel p of image i, and label i, of the MNIST-like files written here. */
static inline uint8_t mnist_pixel(int i, int p) { return (uint8_t)(i * 31 + p * 7 + p / 28); }
static inline uint8_t mnist_label(int i) { return (uint8_t)((i * 3) % 10); }

/* Writes a split of n 28x28 images and labels into dir, plain or gzip; the
 * last label is `label_of_last`. */
static inline void write_mnist_split(const char *dir, const char *split, int n, int gzip, uint8_t label_of_last) {
  enum { IMG = 28 * 28 };
  uint8_t *pixels = malloc((size_t)n * IMG), *labels = malloc((size_t)n), *file = malloc(16 + (size_t)n * IMG);
  for (int i = 0; i < n; i++) {
    for (int p = 0; p < IMG; p++) pixels[i * IMG + p] = mnist_pixel(i, p);
    labels[i] = mnist_label(i);
  }
  labels[n - 1] = label_of_last;
  char path[8192];
  uint32_t image_dims[3] = {(uint32_t)n, 28, 28}, label_dims[1] = {(uint32_t)n};
  const char *names[2] = {fa_mnist_images_file(split), fa_mnist_labels_file(split)};
  for (int k = 0; k < 2; k++) {
    size_t len = k == 0 ? make_idx(file, 3, image_dims, pixels, (size_t)n * IMG) : make_idx(file, 1, label_dims, labels, (size_t)n);
    snprintf(path, sizeof path, "%s/%s%s", dir, names[k], gzip ? ".gz" : "");
    if (gzip) write_gzip(path, file, len);
    else write_bytes(path, file, len);
  }
  free(pixels);
  free(labels);
  free(file);
}

/* The call failed with a message naming `file` and containing `problem`.
 * SHOW_ERRORS=1 in the environment prints every message checked. */
#define CHECK_ERROR(call, file, problem)                                                         \
  do {                                                                                           \
    fa_error_clear();                                                                            \
    fa_status st_ = (call);                                                                      \
    if (getenv("SHOW_ERRORS")) printf("%s\n", fa_error_message()); \
    FA_CHECK(st_ != FA_OK && strstr(fa_error_message(), file) && strstr(fa_error_message(), problem), \
             "%s: expected an error naming %s with '%s', got %d: %s", #call, file, problem, st_,  \
             fa_error_message());                                                                \
  } while (0)

#endif
