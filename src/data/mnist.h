/* MNIST and Fashion-MNIST: a pair of IDX files per split,
 * {train,t10k}-images-idx3-ubyte (n, 28, 28) and {train,t10k}-labels-idx1-ubyte
 * (n, labels 0..9), each plain or gzip-compressed (the name then ends in .gz). */
#ifndef FA_DATA_MNIST_H
#define FA_DATA_MNIST_H

#include <stddef.h>

#include "data/dataset.h"

/* The images and labels file names of a split (without .gz). */
const char *fa_mnist_images_file(const char *split);
const char *fa_mnist_labels_file(const char *split);

/* The path of `name` in `dir`, plain or with .gz appended: a regular file
 * (plain first), else whatever is there under one of the names (a
 * directory, a FIFO, a link to nothing, for the reader to name); 0 when
 * neither name exists. */
int fa_mnist_find_file(const char *dir, const char *name, char *path, size_t size);

/* Reads a split from the directory holding its two files. */
fa_status fa_mnist_read(const char *dir, const char *split, fa_dataset *out);

#endif
