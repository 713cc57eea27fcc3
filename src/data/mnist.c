#include "data/mnist.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "data/idx.h"

#define SIDE 28
#define CLASSES 10

static int is_test(const char *split) { return strcmp(split, "test") == 0; }

const char *fa_mnist_images_file(const char *split) {
  return is_test(split) ? "t10k-images-idx3-ubyte" : "train-images-idx3-ubyte";
}
const char *fa_mnist_labels_file(const char *split) {
  return is_test(split) ? "t10k-labels-idx1-ubyte" : "train-labels-idx1-ubyte";
}

int fa_mnist_find_file(const char *dir, const char *name, char *path, size_t size) {
  static const char *const suffixes[] = {"", ".gz"};
  for (int regular = 1; regular >= 0; regular--)  /* a regular file first, else whatever is there */
    for (int i = 0; i < 2; i++) {
      snprintf(path, size, "%s/%s%s", dir, name, suffixes[i]);
      struct stat st;
      if (regular ? stat(path, &st) == 0 && S_ISREG(st.st_mode) : lstat(path, &st) == 0) return 1;
    }
  return 0;
}

static fa_status read_file(const char *dir, const char *name, char *path, size_t size, fa_idx_array *a) {
  if (!fa_mnist_find_file(dir, name, path, size))
    return fa_error_set(FA_ERR_IO, "%s/%s: no such file (plain or .gz)", dir, name);
  return fa_idx_read(path, a);
}

/* Images (n, 28, 28) and labels (n) of 0..9, of the same n. */
static fa_status check_pair(const fa_idx_array *images, const char *images_path,
                            const fa_idx_array *labels, const char *labels_path) {
  if (images->ndim != 3 || images->dims[1] != SIDE || images->dims[2] != SIDE)
    return fa_error_set(FA_ERR_FORMAT, "%s: an IDX array of %d dimensions (%u x %u x %u ...); MNIST-like "
                        "images are n x 28 x 28: this is not an images file of MNIST or Fashion-MNIST",
                        images_path, images->ndim, images->dims[0], images->dims[1], images->dims[2]);
  if (labels->ndim != 1)
    return fa_error_set(FA_ERR_FORMAT, "%s: labels of %d dimensions; a labels file is one vector: this "
                        "is not a labels file of MNIST or Fashion-MNIST", labels_path, labels->ndim);
  if (labels->dims[0] != images->dims[0])
    return fa_error_set(FA_ERR_FORMAT, "%s: %u labels for the %u images of %s: the files do not belong "
                        "together; download both again", labels_path, labels->dims[0], images->dims[0], images_path);
  for (uint32_t i = 0; i < labels->dims[0]; i++)
    if (labels->data[i] >= CLASSES)
      return fa_error_set(FA_ERR_FORMAT, "%s: label %u is %d; labels are 0..9: the file is corrupt; "
                          "download it again", labels_path, i, labels->data[i]);
  return FA_OK;
}

fa_status fa_mnist_read(const char *dir, const char *split, fa_dataset *out) {
  memset(out, 0, sizeof *out);
  fa_idx_array images = {0}, labels = {0};
  char images_path[4096], labels_path[4096];
  fa_status st = read_file(dir, fa_mnist_images_file(split), images_path, sizeof images_path, &images);
  if (!st) st = read_file(dir, fa_mnist_labels_file(split), labels_path, sizeof labels_path, &labels);
  if (!st) st = check_pair(&images, images_path, &labels, labels_path);
  if (!st) {  /* the IDX arrays are already (n, 1, 28, 28) and (n): taken over, not copied */
    *out = (fa_dataset){.n = (int)images.dims[0], .c = 1, .h = SIDE, .w = SIDE, .n_classes = CLASSES,
                        .images = images.data, .labels = labels.data};
    images.data = labels.data = NULL;
  }
  fa_idx_free(&images);
  fa_idx_free(&labels);
  return st;
}
