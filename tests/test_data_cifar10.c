/* CIFAR-10 binary reader on batch files written here: the five training
 * files in order, the derived two-class and grey sets, damaged files, and
 * batches of fewer records than the published 10000 (refused unless
 * FASTADV_CIFAR10_SUBSET=1). */
#include "data/cifar10.h"
#include "test_data_files.h"

enum { REC = FA_CIFAR10_RECORD_BYTES, IMG = REC - 1, PER_FILE = 6 };

static uint8_t pixel(int i, int p) { return (uint8_t)(i * 37 + p * 5 + p / 1024 * 11); }
/* labels cycle through 0..9 so that every batch file holds a 4 and an 8 */
static uint8_t label(int i) { return (uint8_t)((i * 7 + 4) % 10); }

/* Writes the five training files (global examples 0..29) and the test file. */
static void write_batches(const char *dir) {
  uint8_t rec[PER_FILE * REC];
  for (int f = 0; f <= 5; f++) {
    for (int r = 0; r < PER_FILE; r++) {
      int i = f * PER_FILE + r;
      rec[r * REC] = label(i);
      for (int p = 0; p < IMG; p++) rec[r * REC + 1 + p] = pixel(i, p);
    }
    char path[8192];
    snprintf(path, sizeof path, f < 5 ? "%s/data_batch_%d.bin" : "%s/test_batch.bin", dir, f + 1);
    write_bytes(path, rec, sizeof rec);
  }
}

static void test_read(const char *dir) {
  fa_dataset ds;
  fa_status st = fa_cifar10_read(dir, "train", FA_CIFAR10_ANY_BATCHES, &ds);
  FA_CHECK(st == FA_OK, "train: %s", fa_error_message());
  if (st) return;
  int same = ds.n == 5 * PER_FILE && ds.c == 3 && ds.h == 32 && ds.w == 32 && ds.n_classes == 10;
  for (int i = 0; i < ds.n && same; i++) {
    same &= ds.labels[i] == label(i);
    for (int p = 0; p < IMG; p++) same &= ds.images[(size_t)i * IMG + p] == pixel(i, p);
  }
  FA_CHECK(same, "five batch files read in order, records split into label and (3, 32, 32)");
  fa_dataset_free(&ds);

  st = fa_cifar10_read(dir, "test", FA_CIFAR10_ANY_BATCHES, &ds);
  FA_CHECK(st == FA_OK && ds.n == PER_FILE && ds.labels[0] == label(5 * PER_FILE) &&
               ds.images[IMG - 1] == pixel(5 * PER_FILE, IMG - 1),
           "test batch: %s", fa_error_message());
  fa_dataset_free(&ds);

  /* the derived sets, through the public loader (dir as --data_dir), of the small batches written here */
  setenv("FASTADV_CIFAR10_SUBSET", "1", 1);
  fa_dataset bin, grey;
  st = fa_dataset_load("cifar10_binary", "train", dir, &bin);
  FA_CHECK(st == FA_OK, "cifar10_binary: %s", fa_error_message());
  st = fa_dataset_load("cifar10_binary_gs", "train", dir, &grey);
  FA_CHECK(st == FA_OK, "cifar10_binary_gs: %s", fa_error_message());
  int k = 0, ok = bin.n_classes == 2 && grey.n_classes == 2 && grey.c == 1 && bin.c == 3 &&
                  bin.train_augment == FA_AUGMENT_CROP_FLIP && grey.train_augment == FA_AUGMENT_CROP_FLIP;
  for (int i = 0; i < 5 * PER_FILE && ok; i++) {
    if (label(i) != 4 && label(i) != 8) continue;
    ok &= k < bin.n && bin.labels[k] == (label(i) == 8) && grey.labels[k] == bin.labels[k];
    for (int p = 0; p < 1024 && ok; p++) {
      ok &= bin.images[(size_t)k * IMG + p] == pixel(i, p) && bin.images[(size_t)k * IMG + 2048 + p] == pixel(i, 2048 + p);
      ok &= grey.images[(size_t)k * 1024 + p] == (pixel(i, p) + pixel(i, 1024 + p) + pixel(i, 2048 + p)) / 3;
    }
    k++;
  }
  FA_CHECK(ok && bin.n == k && grey.n == k && k == 6, "deer and ship kept in order as 0 and 1 (%d), grey = "
           "channel mean truncated", k);
  fa_dataset_free(&bin);
  fa_dataset_free(&grey);
}

static void test_bad(const char *dir) {
  fa_dataset ds;
  char path[8192];
  uint8_t rec[2 * REC] = {0};
  snprintf(path, sizeof path, "%s/data_batch_3.bin", dir);
  write_bytes(path, rec, 2 * REC - 5);
  CHECK_ERROR(fa_cifar10_read(dir, "train", FA_CIFAR10_ANY_BATCHES, &ds), "data_batch_3.bin", "not a whole number of 3073-byte");
  write_bytes(path, rec, 0);
  CHECK_ERROR(fa_cifar10_read(dir, "train", FA_CIFAR10_ANY_BATCHES, &ds), "data_batch_3.bin", "empty");
  rec[REC] = 10;
  write_bytes(path, rec, 2 * REC);
  CHECK_ERROR(fa_cifar10_read(dir, "train", FA_CIFAR10_ANY_BATCHES, &ds), "data_batch_3.bin", "record 1 has label 10");
  remove(path);
  CHECK_ERROR(fa_cifar10_read(dir, "train", FA_CIFAR10_ANY_BATCHES, &ds), "data_batch_3.bin", "No such file");
  FA_CHECK(ds.images == NULL && ds.n == 0, "a failed read leaves an empty data set");
  CHECK_ERROR(fa_cifar10_parse(rec, 100, "in-memory", &ds), "in-memory", "truncated");
}

/* Batches of 6 records: refused, naming the file and both counts, unless asked for. */
static void test_subset(const char *dir) {
  fa_dataset ds;
  unsetenv("FASTADV_CIFAR10_SUBSET");
  CHECK_ERROR(fa_dataset_load("cifar10", "train", dir, &ds), "data_batch_1.bin: 6 records", "holds 10000");
  FA_CHECK(strstr(fa_error_message(), "FASTADV_CIFAR10_SUBSET=1"), "the message says how to use a subset: %s",
           fa_error_message());
  CHECK_ERROR(fa_dataset_load("cifar10_binary", "test", dir, &ds), "test_batch.bin: 6 records", "holds 10000");
  CHECK_ERROR(fa_cifar10_read(dir, "test", FA_CIFAR10_PUBLISHED_BATCHES, &ds), "test_batch.bin", "holds 10000");
  setenv("FASTADV_CIFAR10_SUBSET", "0", 1);
  CHECK_ERROR(fa_dataset_load("cifar10", "test", dir, &ds), "test_batch.bin", "holds 10000");
  setenv("FASTADV_CIFAR10_SUBSET", "1", 1);
  fa_status st = fa_dataset_load("cifar10", "test", dir, &ds);
  FA_CHECK(st == FA_OK && ds.n == PER_FILE, "FASTADV_CIFAR10_SUBSET=1 reads the subset: %s", fa_error_message());
  if (st == FA_OK) fa_dataset_free(&ds);
}

int main(void) {
  const char *dir = fa_test_tmpdir("test_data_cifar10");
  write_batches(dir);
  test_subset(dir);
  test_read(dir);
  test_bad(dir);
  return fa_test_exit();
}
