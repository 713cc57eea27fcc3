/* Where data sets are found: --data_dir before $FASTADV_DATA before ./data
 * before the system location, the per-data-set subdirectories, and the
 * message when nothing is found. */
#include <stdlib.h>
#include <unistd.h>

#include "data/dataset.h"
#include "test_data_files.h"

static void make_dir(const char *path) {
  char cmd[9000];
  snprintf(cmd, sizeof cmd, "mkdir -p '%s'", path);
  if (system(cmd) != 0) exit(1);
}

/* Loads `name` and returns its size, or -1 with the message printed. */
static int loaded_n(const char *name, const char *data_dir) {
  fa_dataset ds;
  if (fa_dataset_load(name, "train", data_dir, &ds) != FA_OK) {
    fprintf(stderr, "%s: %s\n", name, fa_error_message());
    return -1;
  }
  int n = ds.n;
  fa_dataset_free(&ds);
  return n;
}

int main(void) {
  char root[4096], a[8192], b[8192], cwd_data[8192], empty[8192];
  snprintf(root, sizeof root, "%s", fa_test_tmpdir("test_data_locate"));
  snprintf(a, sizeof a, "%s/a", root);
  snprintf(b, sizeof b, "%s/b", root);
  snprintf(empty, sizeof empty, "%s/empty", root);
  snprintf(cwd_data, sizeof cwd_data, "%s/data/mnist", root);
  char a_sub[8300], b_sub[8300];
  snprintf(a_sub, sizeof a_sub, "%s/fashion-mnist", a);      /* a subdirectory of the root */
  snprintf(b_sub, sizeof b_sub, "%s/FashionMNIST/raw", b);   /* torchvision's layout */
  make_dir(a_sub);
  make_dir(b_sub);
  make_dir(cwd_data);
  make_dir(empty);
  write_mnist_split(a_sub, "train", 7, 1, 3);
  write_mnist_split(b_sub, "train", 5, 0, 3);
  write_mnist_split(a, "train", 4, 0, 3);                   /* the root itself, for mnist */
  write_mnist_split(cwd_data, "train", 6, 1, 3);
  if (chdir(root) != 0) return 1;

  unsetenv("FASTADV_DATA");
  FA_CHECK(loaded_n("fmnist", a) == 7, "--data_dir first, its fashion-mnist/ subdirectory");
  setenv("FASTADV_DATA", b, 1);
  FA_CHECK(loaded_n("fmnist", a) == 7, "--data_dir before $FASTADV_DATA");
  FA_CHECK(loaded_n("fmnist", NULL) == 5, "$FASTADV_DATA without --data_dir (FashionMNIST/raw/)");
  FA_CHECK(loaded_n("fmnist", empty) == 5, "an empty --data_dir falls through to $FASTADV_DATA");
  FA_CHECK(loaded_n("mnist", a) == 4, "mnist in the root itself");
  FA_CHECK(loaded_n("mnist", NULL) == 6, "./data/mnist when --data_dir and $FASTADV_DATA lack it");
  unsetenv("FASTADV_DATA");
  if (access("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", R_OK) == 0)
    FA_CHECK(loaded_n("fmnist", empty) == 60000, "the system location last (Debian's dataset-fashion-mnist)");

  fa_dataset ds;
  setenv("FASTADV_DATA", b, 1);
  CHECK_ERROR(fa_dataset_load("svhn", "test", empty, &ds), "test_32x32.mat", "not found");
  const char *msg = fa_error_message();
  FA_CHECK(strstr(msg, "--data_dir ") && strstr(msg, "/empty") && strstr(msg, "$FASTADV_DATA ") &&
               strstr(msg, "/b") && strstr(msg, "./data") && strstr(msg, "/usr/share/datasets") &&
               strstr(msg, "svhn/") && strstr(msg, "ufldl.stanford.edu"),
           "the message names the directories searched and where SVHN is published: %s", msg);
  CHECK_ERROR(fa_dataset_load("cifar10", "train", empty, &ds), "data_batch_5.bin", "cifar-10-binary.tar.gz");
  CHECK_ERROR(fa_dataset_load("mnist", "test", empty, &ds), "t10k-labels-idx1-ubyte[.gz]", "yann.lecun.com");
  CHECK_ERROR(fa_dataset_load("imagenet", "train", NULL, &ds), "imagenet", "unknown data set");
  CHECK_ERROR(fa_dataset_load("mnist", "valid", NULL, &ds), "valid", "use train or test");
  return fa_test_exit();
}
