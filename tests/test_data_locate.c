/* Where data sets are found: --data_dir alone when given, else
 * $FASTADV_DATA before ./data before the system location; the per-data-set
 * subdirectories; the message when nothing is found; and a data file that
 * is a directory, a FIFO or a link to nothing, named with the reason. */
#include <stdlib.h>
#include <sys/stat.h>
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

/* In the place of a data file: a directory (mnist), a FIFO (svhn: never
 * waited on), a symbolic link to nothing (cifar10): the file and the reason
 * are named, instead of "not found". */
static void not_files(const char *root) {
  char dir[8300], path[8400];
  snprintf(dir, sizeof dir, "%s/kinds", root);
  make_dir(dir);
  write_mnist_split(dir, "test", 3, 0, 1);
  snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte", dir);
  remove(path);
  make_dir(path);
  snprintf(path, sizeof path, "%s/test_32x32.mat", dir);
  FA_CHECK(mkfifo(path, 0600) == 0, "a FIFO");
  const char *cifar[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
                         "data_batch_5.bin"};
  for (int i = 0; i < 5; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, cifar[i]);
    FA_CHECK(symlink("nowhere.bin", path) == 0, "a link to nothing");
  }
  alarm(20); /* a read that waits on the FIFO ends the test */
  fa_dataset ds;
  CHECK_ERROR(fa_dataset_load("mnist", "test", dir, &ds), "t10k-images-idx3-ubyte", "a directory, not a regular file");
  CHECK_ERROR(fa_dataset_load("svhn", "test", dir, &ds), "test_32x32.mat", "a FIFO (named pipe), not a regular file");
  CHECK_ERROR(fa_dataset_load("cifar10", "train", dir, &ds), "data_batch_1.bin",
              "a symbolic link to nowhere.bin, which does not exist");
  alarm(0);
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
  FA_CHECK(loaded_n("fmnist", empty) == -1, "an empty --data_dir is the only place looked in");
  FA_CHECK(loaded_n("mnist", a) == 4, "mnist in the root itself");
  FA_CHECK(loaded_n("mnist", NULL) == 6, "./data/mnist when --data_dir and $FASTADV_DATA lack it");
  unsetenv("FASTADV_DATA");
  if (access("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", R_OK) == 0)
    FA_CHECK(loaded_n("fmnist", NULL) == 60000, "the system location last (Debian's dataset-fashion-mnist)");

  fa_dataset ds;
  setenv("FASTADV_DATA", b, 1);
  CHECK_ERROR(fa_dataset_load("svhn", "test", NULL, &ds), "test_32x32.mat", "not found");
  const char *msg = fa_error_message();
  FA_CHECK(strstr(msg, "$FASTADV_DATA ") && strstr(msg, "/b") && strstr(msg, "./data") &&
               strstr(msg, "/usr/share/datasets") && strstr(msg, "svhn/") && strstr(msg, "ufldl.stanford.edu"),
           "the message names the directories searched and where SVHN is published: %s", msg);
  CHECK_ERROR(fa_dataset_load("svhn", "test", empty, &ds), "test_32x32.mat", "not found");
  msg = fa_error_message();
  FA_CHECK(strstr(msg, "--data_dir ") && strstr(msg, "/empty") && !strstr(msg, "$FASTADV_DATA") &&
               !strstr(msg, "./data") && strstr(msg, "ufldl.stanford.edu"),
           "with --data_dir, the message names it alone: %s", msg);
  /* a --data_dir that does not exist, or is a file, does not fall back on $FASTADV_DATA */
  char missing[8300], file[8300];
  snprintf(missing, sizeof missing, "%s/missing", root);
  CHECK_ERROR(fa_dataset_load("fmnist", "train", missing, &ds), "--data_dir=", "/missing: No such file or directory");
  snprintf(file, sizeof file, "%s/train-images-idx3-ubyte", a);
  CHECK_ERROR(fa_dataset_load("mnist", "train", file, &ds), "train-images-idx3-ubyte", "is not a directory");
  not_files(root);
  CHECK_ERROR(fa_dataset_load("cifar10", "train", empty, &ds), "data_batch_5.bin", "cifar-10-binary.tar.gz");
  CHECK_ERROR(fa_dataset_load("mnist", "test", empty, &ds), "t10k-labels-idx1-ubyte[.gz]", "yann.lecun.com");
  CHECK_ERROR(fa_dataset_load("imagenet", "train", NULL, &ds), "imagenet", "unknown data set");
  CHECK_ERROR(fa_dataset_load("mnist", "valid", NULL, &ds), "valid", "use train or test");
  return fa_test_exit();
}
