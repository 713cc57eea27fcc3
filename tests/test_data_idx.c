/* IDX reader and the MNIST-like pair on files written here: plain and gzip
 * round trips with known contents, and every kind of damaged file. */
#include "data/idx.h"
#include "data/mnist.h"
#include "test_data_files.h"

enum { N = 7, SIDE = 28, IMG = SIDE * SIDE };

static void test_round_trip(const char *dir, int gzip) {
  write_mnist_split(dir, "train", N, gzip, 9);
  fa_dataset ds;
  fa_status st = fa_mnist_read(dir, "train", &ds);
  FA_CHECK(st == FA_OK, "read %s: %s", gzip ? "gzip" : "plain", fa_error_message());
  if (st) return;
  int same = ds.n == N && ds.c == 1 && ds.h == SIDE && ds.w == SIDE && ds.n_classes == 10;
  for (int i = 0; i < N && same; i++) {
    same &= ds.labels[i] == (i == N - 1 ? 9 : mnist_label(i));
    for (int p = 0; p < IMG; p++) same &= ds.images[i * IMG + p] == mnist_pixel(i, p);
  }
  FA_CHECK(same, "%s IDX pair read back exactly", gzip ? "gzip" : "plain");
  fa_dataset_free(&ds);
}

static void test_hostile(const char *dir) {
  char path[8192];
  static uint8_t file[16 + 2 * N * IMG], data[2 * N * IMG];
  fa_idx_array a;
  uint32_t dims[3] = {N, SIDE, SIDE};
  size_t len = make_idx(file, 3, dims, data, N * IMG);

  snprintf(path, sizeof path, "%s/empty-idx", dir);
  write_bytes(path, file, 0);
  CHECK_ERROR(fa_idx_read(path, &a), "empty-idx", "empty or truncated");

  snprintf(path, sizeof path, "%s/truncated-idx", dir);
  write_bytes(path, file, len - 100);
  CHECK_ERROR(fa_idx_read(path, &a), "truncated-idx", "truncated");
  write_bytes(path, file, 10);
  CHECK_ERROR(fa_idx_read(path, &a), "truncated-idx", "truncated in the IDX header");

  snprintf(path, sizeof path, "%s/long-idx", dir);
  write_bytes(path, file, len + 1);
  CHECK_ERROR(fa_idx_read(path, &a), "long-idx", "trailing data");

  snprintf(path, sizeof path, "%s/zip-file", dir);
  write_bytes(path, "PK\x03\x04 a zip archive", 19);
  CHECK_ERROR(fa_idx_read(path, &a), "zip-file", "not an IDX file");

  file[2] = 0x0d;  /* float values */
  snprintf(path, sizeof path, "%s/float-idx", dir);
  write_bytes(path, file, len);
  CHECK_ERROR(fa_idx_read(path, &a), "float-idx", "value type 0x0d");
  file[2] = 0x08;

  uint32_t huge[3] = {0xffffffffu, 0xffffffffu, 0xffffffffu};
  size_t huge_len = make_idx(file, 3, huge, data, 64);
  snprintf(path, sizeof path, "%s/huge-idx", dir);
  write_bytes(path, file, huge_len);
  CHECK_ERROR(fa_idx_read(path, &a), "huge-idx", "header is corrupt");

  /* gzip: truncated, corrupt, a bomb that claims more than it can hold, one
   * beyond the limit, and one longer than its header says */
  size_t gz_len;
  uint8_t *gz = deflate_bytes(file, make_idx(file, 3, dims, data, N * IMG), 1, &gz_len);
  snprintf(path, sizeof path, "%s/cut.gz", dir);
  write_bytes(path, gz, gz_len / 2);
  CHECK_ERROR(fa_idx_read(path, &a), "cut.gz", "truncated");
  write_bytes(path, gz, gz_len - 4);  /* all data, the length field of the trailer missing */
  CHECK_ERROR(fa_idx_read(path, &a), "cut.gz", "truncated");
  gz[gz_len - 6] ^= 0x55;  /* the CRC */
  snprintf(path, sizeof path, "%s/crc.gz", dir);
  write_bytes(path, gz, gz_len);
  CHECK_ERROR(fa_idx_read(path, &a), "crc.gz", "corrupt");
  free(gz);

  uint32_t claim[3] = {60000, SIDE, SIDE};  /* 47 MB announced in a few hundred bytes */
  gz = deflate_bytes(file, make_idx(file, 3, claim, data, 64), 1, &gz_len);
  snprintf(path, sizeof path, "%s/bomb.gz", dir);
  write_bytes(path, gz, gz_len);
  CHECK_ERROR(fa_idx_read(path, &a), "bomb.gz", "can hold at most");
  free(gz);

  gz = deflate_bytes(file, make_idx(file, 3, huge, data, 64), 1, &gz_len);
  snprintf(path, sizeof path, "%s/huge.gz", dir);
  write_bytes(path, gz, gz_len);
  CHECK_ERROR(fa_idx_read(path, &a), "huge.gz", "header is corrupt");
  free(gz);

  /* 8 MB of zeros after a header of 7 images: only 7 images are inflated */
  size_t zeros_len = 8u << 20;
  uint8_t *zeros = calloc(1, zeros_len);
  make_idx(zeros, 3, dims, data, 0);
  gz = deflate_bytes(zeros, zeros_len, 1, &gz_len);
  snprintf(path, sizeof path, "%s/zeros.gz", dir);
  write_bytes(path, gz, gz_len);
  CHECK_ERROR(fa_idx_read(path, &a), "zeros.gz", "holds more than its header declares");
  free(gz);
  free(zeros);

  snprintf(path, sizeof path, "%s/no-such-file", dir);
  CHECK_ERROR(fa_idx_read(path, &a), "no-such-file", "cannot open");
}

/* Files that parse as IDX but are not an MNIST pair. */
static void test_wrong_pairs(const char *dir) {
  fa_dataset ds;
  write_mnist_split(dir, "test", N, 0, 10);
  CHECK_ERROR(fa_mnist_read(dir, "test", &ds), "t10k-labels-idx1-ubyte", "label 6 is 10");

  static uint8_t file[16 + N * 32 * 32], data[N * 32 * 32];
  char path[8192];
  write_mnist_split(dir, "test", N, 0, 1);
  uint32_t dims32[3] = {N, 32, 32};
  snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte", dir);
  write_bytes(path, file, make_idx(file, 3, dims32, data, sizeof data));
  CHECK_ERROR(fa_mnist_read(dir, "test", &ds), "t10k-images-idx3-ubyte", "(7 x 32 x 32 ...); MNIST-like images are n x 28 x 28");

  write_mnist_split(dir, "test", N, 0, 1);
  uint32_t fewer[1] = {N - 1};
  snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte", dir);
  write_bytes(path, file, make_idx(file, 1, fewer, data, N - 1));
  CHECK_ERROR(fa_mnist_read(dir, "test", &ds), "t10k-labels-idx1-ubyte", "6 labels for the 7 images");

  uint32_t image_dims[3] = {N, SIDE, SIDE};
  write_bytes(path, file, make_idx(file, 3, image_dims, data, N * IMG));
  CHECK_ERROR(fa_mnist_read(dir, "test", &ds), "t10k-labels-idx1-ubyte", "labels of 3 dimensions");

  remove(path);
  CHECK_ERROR(fa_mnist_read(dir, "test", &ds), "t10k-labels-idx1-ubyte", "no such file");
  FA_CHECK(ds.images == NULL && ds.n == 0, "a failed read leaves an empty data set");
}

int main(void) {
  const char *dir = fa_test_tmpdir("test_data_idx");
  char plain[4096], gz[4096];
  snprintf(plain, sizeof plain, "%s/plain", dir);
  snprintf(gz, sizeof gz, "%s/gz", dir);
  char cmd[9000];
  snprintf(cmd, sizeof cmd, "mkdir -p '%s' '%s'", plain, gz);
  if (system(cmd) != 0) return 1;
  test_round_trip(plain, 0);
  test_round_trip(gz, 1);
  test_hostile(dir);
  test_wrong_pairs(plain);
  return fa_test_exit();
}
