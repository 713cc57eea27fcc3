#include "data/cifar10.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/bytes.h"

#define PIXELS (FA_CIFAR10_RECORD_BYTES - 1)
#define CLASSES 10

static const char *const train_files[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                          "data_batch_4.bin", "data_batch_5.bin", NULL};
static const char *const test_files[] = {"test_batch.bin", NULL};

const char *const *fa_cifar10_files(const char *split) {
  return strcmp(split, "test") == 0 ? test_files : train_files;
}

/* The number of records in a file of `len` bytes, or an error. */
static fa_status count_records(size_t len, const char *source, int *n) {
  if (len == 0 || len % FA_CIFAR10_RECORD_BYTES != 0)
    return fa_error_set(FA_ERR_FORMAT, "%s: %zu bytes, not a whole number of %d-byte CIFAR-10 records "
                        "(1 label + 3x32x32 pixels): the file is %s; use the binary version "
                        "(cifar-10-binary.tar.gz) and download it again", source, len,
                        FA_CIFAR10_RECORD_BYTES, len == 0 ? "empty" : "truncated or not a CIFAR-10 batch");
  *n = (int)(len / FA_CIFAR10_RECORD_BYTES);
  return FA_OK;
}

/* Splits n records into images (n, 3, 32, 32) and labels (n). */
static fa_status unpack(const uint8_t *bytes, int n, const char *source, uint8_t *images, uint8_t *labels) {
  for (int i = 0; i < n; i++) {
    const uint8_t *record = bytes + (size_t)i * FA_CIFAR10_RECORD_BYTES;
    if (record[0] >= CLASSES)
      return fa_error_set(FA_ERR_FORMAT, "%s: record %d has label %d; CIFAR-10 labels are 0..9: the "
                          "file is corrupt or is CIFAR-100; download CIFAR-10 again", source, i, record[0]);
    labels[i] = record[0];
    memcpy(images + (size_t)i * PIXELS, record + 1, PIXELS);
  }
  return FA_OK;
}

fa_status fa_cifar10_parse(const uint8_t *bytes, size_t len, const char *source, fa_dataset *out) {
  memset(out, 0, sizeof *out);
  int n = 0;
  fa_status st = count_records(len, source, &n);
  if (!st) st = fa_dataset_alloc(out, n, 3, 32, 32, CLASSES, source);
  if (!st) st = unpack(bytes, n, source, out->images, out->labels);
  if (st) fa_dataset_free(out);
  return st;
}

/* Reads one batch file of `n` records (counted before) into the slices. */
static fa_status read_batch(const char *path, int n, uint8_t *images, uint8_t *labels) {
  uint8_t *bytes;
  size_t len;
  fa_status st = fa_file_read_all(path, FA_DATA_MAX_BYTES, &bytes, &len);
  if (st) return st;
  if (len != (size_t)n * FA_CIFAR10_RECORD_BYTES)
    st = fa_error_set(FA_ERR_IO, "%s: the file changed while it was read", path);
  else
    st = unpack(bytes, n, path, images, labels);
  free(bytes);
  return st;
}

static fa_status check_published(const char *path, int n) {
  if (n == FA_CIFAR10_BATCH_RECORDS) return FA_OK;
  return fa_error_set(FA_ERR_FORMAT, "%s: %d records, but a published CIFAR-10 batch holds %d: the file is cut "
                      "short (at a record boundary) or a subset; download it again, or set FASTADV_CIFAR10_SUBSET=1 "
                      "to use it as it is", path, n, FA_CIFAR10_BATCH_RECORDS);
}

fa_status fa_cifar10_read(const char *dir, const char *split, fa_cifar10_batches batches, fa_dataset *out) {
  memset(out, 0, sizeof *out);
  const char *const *files = fa_cifar10_files(split);
  char paths[FA_CIFAR10_TRAIN_FILES][4096];
  int counts[FA_CIFAR10_TRAIN_FILES] = {0}, total = 0, n_files = 0;
  fa_status st = FA_OK;
  /* sizes first, so that the images are allocated once */
  for (; files[n_files] && !st; n_files++) {
    snprintf(paths[n_files], sizeof paths[0], "%s/%s", dir, files[n_files]);
    uint64_t len;
    st = fa_file_size(paths[n_files], FA_DATA_MAX_BYTES, &len);
    if (!st) st = count_records((size_t)len, paths[n_files], &counts[n_files]);
    if (!st && batches == FA_CIFAR10_PUBLISHED_BATCHES) st = check_published(paths[n_files], counts[n_files]);
    if (!st) total += counts[n_files];
  }
  if (!st) st = fa_dataset_alloc(out, total, 3, 32, 32, CLASSES, dir);
  for (int f = 0, first = 0; f < n_files && !st; first += counts[f], f++)
    st = read_batch(paths[f], counts[f], out->images + (size_t)first * PIXELS, out->labels + first);
  if (st) fa_dataset_free(out);
  return st;
}
