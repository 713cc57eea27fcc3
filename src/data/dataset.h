/* The paper's data sets (docs/METHOD.md section 1), read from the files their
 * authors publish: uint8 images (n, c, h, w) and labels in [0, n_classes).
 *
 * Where the files are looked for: in data_dir (the --data_dir flag) alone
 * when it is given (a data_dir that is not a directory is an error), else in
 * this order (the first directory that holds every file of the split wins,
 * a file counting as there whatever it is, so that a directory, a FIFO or a
 * link to nothing in its place is named by the reader):
 *   1. $FASTADV_DATA
 *   2. ./data (relative to the working directory)
 *   3. /usr/share/datasets (Debian's dataset-* packages)
 * Inside each of these roots, per data set:
 *   cifar10*: cifar10/cifar-10-batches-bin/, cifar-10-batches-bin/, cifar10/, the root itself
 *             (data_batch_1.bin .. data_batch_5.bin, test_batch.bin, 10000 records each
 *             unless $FASTADV_CIFAR10_SUBSET is 1)
 *   svhn:     svhn/, the root itself (train_32x32.mat, test_32x32.mat)
 *   mnist:    mnist/, MNIST/raw/, the root itself
 *   fmnist:   fashion-mnist/, fmnist/, FashionMNIST/raw/, the root itself
 *             ({train,t10k}-images-idx3-ubyte and -labels-idx1-ubyte, each plain or .gz) */
#ifndef FA_DATA_DATASET_H
#define FA_DATA_DATASET_H

#include <stdint.h>

#include "core/error.h"

/* The training augmentation of a data set (docs/METHOD.md section 1). */
typedef enum {
  FA_AUGMENT_NONE,       /* mnist, fmnist */
  FA_AUGMENT_CROP,       /* svhn: random crop with 4 px zero padding */
  FA_AUGMENT_CROP_FLIP,  /* cifar10*: the crop, then a random horizontal flip */
} fa_augment;

typedef struct {
  int n, c, h, w, n_classes;
  fa_augment train_augment;  /* set by fa_dataset_load from the name */
  uint8_t *images;  /* (n, c, h, w) */
  uint8_t *labels;  /* (n), each < n_classes */
} fa_dataset;

/* A data set's images (c, h, w) and classes, as published. */
typedef struct {
  int c, h, w, n_classes;
} fa_dataset_format;

/* The format of the data set `name` without reading a file (to check a
 * model against it before loading); FA_ERR_INVALID for an unknown name. */
fa_status fa_dataset_format_of(const char *name, fa_dataset_format *out);

/* name: cifar10 | svhn | mnist | fmnist | cifar10_binary | cifar10_binary_gs;
 * split: train | test; data_dir may be NULL. On failure *out is empty and
 * the message names the file and the problem, or, when no directory holds
 * the files, the files expected, the directories searched and where the
 * data set is published. */
fa_status fa_dataset_load(const char *name, const char *split, const char *data_dir, fa_dataset *out);
void fa_dataset_free(fa_dataset *ds);

/* Allocates images and labels for n examples of (c, h, w); sets the rest.
 * For readers. */
fa_status fa_dataset_alloc(fa_dataset *ds, int n, int c, int h, int w, int n_classes, const char *source);

/* Keeps the examples of classes `a` and `b`, in file order, relabelled 0 and
 * 1 (cifar10_binary: a = 4 deer, b = 8 ship). */
fa_status fa_dataset_keep_two_classes(fa_dataset *ds, int a, int b);
/* One channel, the mean over channels truncated to uint8 (cifar10_binary_gs). */
fa_status fa_dataset_to_grey(fa_dataset *ds);

#endif
