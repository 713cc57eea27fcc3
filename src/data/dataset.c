#include "data/dataset.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/cifar10.h"
#include "data/mnist.h"
#include "data/svhn_mat.h"

#define SYSTEM_DATA_ROOT "/usr/share/datasets"
#define MAX_SUBDIRS 4

/* A family of data sets published in one format. */
typedef struct {
  const char *subdirs[MAX_SUBDIRS + 1];  /* tried inside each root; "" is the root itself */
  const char *published;                 /* where to get the files, for the not-found message */
  /* 1 when dir holds every file of the split; `expected` then or else lists them */
  int (*has_split)(const char *dir, const char *split, char *expected, size_t size);
  fa_status (*read)(const char *dir, const char *split, fa_dataset *out);
} family;

typedef struct {
  const char *name;
  const family *family;
  fa_augment train_augment;
  int two_classes;  /* keep CIFAR-10's deer (4) and ship (8) as 0 and 1 */
  int grey;         /* and average the channels */
  fa_dataset_format format;  /* what the readers check and the derivations make */
} dataset_info;

/* Appends to the string in buf, cutting at its size. */
static void appendf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void appendf(char *buf, size_t size, const char *fmt, ...) {
  size_t used = strlen(buf);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf + used, size - used, fmt, ap);
  va_end(ap);
}

/* Something under that name, even a directory, a FIFO or a link to
 * nothing: the directory is then chosen and the reader says what is wrong
 * with the file, rather than the search going on as if it were absent. */
static int is_present(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0;
}

static int cifar10_has_split(const char *dir, const char *split, char *expected, size_t size) {
  int all = 1;
  expected[0] = '\0';
  for (const char *const *f = fa_cifar10_files(split); *f; f++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, *f);
    all &= is_present(path);
    appendf(expected, size, "%s%s", *expected ? ", " : "", *f);
  }
  return all;
}

static const char *svhn_file(const char *split) {
  return strcmp(split, "test") == 0 ? "test_32x32.mat" : "train_32x32.mat";
}

static int svhn_has_split(const char *dir, const char *split, char *expected, size_t size) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, svhn_file(split));
  snprintf(expected, size, "%s", svhn_file(split));
  return is_present(path);
}

static fa_status svhn_read(const char *dir, const char *split, fa_dataset *out) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, svhn_file(split));
  return fa_svhn_mat_read(path, out);
}

static int mnist_has_split(const char *dir, const char *split, char *expected, size_t size) {
  char path[4096];
  const char *images = fa_mnist_images_file(split), *labels = fa_mnist_labels_file(split);
  snprintf(expected, size, "%s[.gz], %s[.gz]", images, labels);
  return fa_mnist_find_file(dir, images, path, sizeof path) && fa_mnist_find_file(dir, labels, path, sizeof path);
}

/* FASTADV_CIFAR10_SUBSET=1: batch files of any number of records, for a
 * subset made on purpose; otherwise the published 10000 each */
static fa_status cifar10_read(const char *dir, const char *split, fa_dataset *out) {
  const char *subset = getenv("FASTADV_CIFAR10_SUBSET");
  int any = subset && strcmp(subset, "1") == 0;
  return fa_cifar10_read(dir, split, any ? FA_CIFAR10_ANY_BATCHES : FA_CIFAR10_PUBLISHED_BATCHES, out);
}

static const family cifar10_family = {
    {"cifar10/cifar-10-batches-bin", "cifar-10-batches-bin", "cifar10", ""},
    "https://www.cs.toronto.edu/~kriz/cifar.html (the binary version, cifar-10-binary.tar.gz, unpacked)",
    cifar10_has_split, cifar10_read};
static const family svhn_family = {
    {"svhn", ""}, "http://ufldl.stanford.edu/housenumbers/ (format 2, cropped digits)",
    svhn_has_split, svhn_read};
static const family mnist_family = {
    {"mnist", "MNIST/raw", ""}, "http://yann.lecun.com/exdb/mnist/", mnist_has_split, fa_mnist_read};
static const family fmnist_family = {
    {"fashion-mnist", "fmnist", "FashionMNIST/raw", ""},
    "https://github.com/zalandoresearch/fashion-mnist (on Debian: apt install dataset-fashion-mnist)",
    mnist_has_split, fa_mnist_read};

static const dataset_info datasets[] = {
    {"cifar10", &cifar10_family, FA_AUGMENT_CROP_FLIP, 0, 0, {3, 32, 32, 10}},
    {"svhn", &svhn_family, FA_AUGMENT_CROP, 0, 0, {3, 32, 32, 10}},
    {"mnist", &mnist_family, FA_AUGMENT_NONE, 0, 0, {1, 28, 28, 10}},
    {"fmnist", &fmnist_family, FA_AUGMENT_NONE, 0, 0, {1, 28, 28, 10}},
    {"cifar10_binary", &cifar10_family, FA_AUGMENT_CROP_FLIP, 1, 0, {3, 32, 32, 2}},
    {"cifar10_binary_gs", &cifar10_family, FA_AUGMENT_CROP_FLIP, 1, 1, {1, 32, 32, 2}},
};
#define N_DATASETS (sizeof datasets / sizeof datasets[0])

/* The roots searched, in order, and how each was chosen; returns their
 * count. A --data_dir is the only root: the user named where the files are. */
static int data_roots(const char *data_dir, const char *roots[4], const char *origins[4]) {
  int n = 0;
  const char *env = getenv("FASTADV_DATA");
  if (data_dir && *data_dir) {
    origins[n] = "--data_dir ", roots[n++] = data_dir;
    return n;
  }
  if (env && *env) origins[n] = "$FASTADV_DATA ", roots[n++] = env;
  origins[n] = "", roots[n++] = "./data";
  origins[n] = "system ", roots[n++] = SYSTEM_DATA_ROOT;
  return n;
}

/* Finds the first directory holding the split's files, or explains. */
static fa_status locate(const dataset_info *info, const char *split, const char *data_dir, char *dir,
                        size_t size) {
  struct stat sb;
  if (data_dir && *data_dir && stat(data_dir, &sb) != 0)
    return fa_error_set(FA_ERR_IO, "--data_dir=%s: %s; give the directory that holds the %s files", data_dir,
                        strerror(errno), info->name);
  if (data_dir && *data_dir && !S_ISDIR(sb.st_mode))
    return fa_error_set(FA_ERR_IO, "--data_dir=%s is not a directory; give the directory that holds the %s files",
                        data_dir, info->name);
  const char *roots[4], *origins[4];
  int n_roots = data_roots(data_dir, roots, origins);
  char expected[512];
  for (int r = 0; r < n_roots; r++)
    for (const char *const *sub = info->family->subdirs; *sub; sub++) {
      snprintf(dir, size, "%s%s%s", roots[r], **sub ? "/" : "", *sub);
      if (info->family->has_split(dir, split, expected, sizeof expected)) return FA_OK;
    }
  char searched[512] = "", subdirs[256] = "";
  for (int r = 0; r < n_roots; r++)
    appendf(searched, sizeof searched, "%s%s%s", r ? ", " : "", origins[r], roots[r]);
  for (const char *const *sub = info->family->subdirs; *sub; sub++)
    appendf(subdirs, sizeof subdirs, "%s%s/", *subdirs ? ", " : "", **sub ? *sub : ".");
  int named = data_dir && *data_dir;
  return fa_error_set(FA_ERR_IO, "data set %s (%s split) not found: expected the files %s in one "
                      "directory. Searched the root%s %s, in each the subdirectories %s. %s is published at %s; put its files %s.",
                      info->name, split, expected, named ? "" : "s", searched, subdirs, info->name, info->family->published,
                      named ? "in --data_dir or one of these subdirectories of it"
                            : "in one of these directories or pass --data_dir");
}

/* The data set of that name; NULL and a message for an unknown name. */
static const dataset_info *find_dataset(const char *name) {
  for (size_t i = 0; i < N_DATASETS; i++)
    if (strcmp(datasets[i].name, name) == 0) return &datasets[i];
  fa_error_set(FA_ERR_INVALID, "unknown data set '%s': use cifar10, svhn, mnist, fmnist, "
               "cifar10_binary or cifar10_binary_gs", name);
  return NULL;
}

fa_status fa_dataset_format_of(const char *name, fa_dataset_format *out) {
  const dataset_info *info = find_dataset(name);
  if (!info) return FA_ERR_INVALID;
  *out = info->format;
  return FA_OK;
}

fa_status fa_dataset_load(const char *name, const char *split, const char *data_dir, fa_dataset *out) {
  memset(out, 0, sizeof *out);
  const dataset_info *info = find_dataset(name);
  if (!info) return FA_ERR_INVALID;
  if (strcmp(split, "train") != 0 && strcmp(split, "test") != 0)
    return fa_error_set(FA_ERR_INVALID, "unknown split '%s': use train or test", split);
  char dir[4096];
  fa_status st = locate(info, split, data_dir, dir, sizeof dir);
  if (!st) st = info->family->read(dir, split, out);
  if (!st && info->two_classes) st = fa_dataset_keep_two_classes(out, 4, 8);
  if (!st && info->grey) st = fa_dataset_to_grey(out);
  if (st) fa_dataset_free(out);
  else out->train_augment = info->train_augment;
  return st;
}

fa_status fa_dataset_alloc(fa_dataset *ds, int n, int c, int h, int w, int n_classes, const char *source) {
  size_t bytes = (size_t)n * c * h * w;
  *ds = (fa_dataset){.n = n, .c = c, .h = h, .w = w, .n_classes = n_classes,
                     .images = malloc(bytes ? bytes : 1), .labels = malloc(n ? (size_t)n : 1)};
  if (!ds->images || !ds->labels) {
    fa_dataset_free(ds);
    return fa_error_set(FA_ERR_NOMEM, "%s: cannot allocate %zu bytes for %d images", source, bytes, n);
  }
  return FA_OK;
}

void fa_dataset_free(fa_dataset *ds) {
  free(ds->images);
  free(ds->labels);
  memset(ds, 0, sizeof *ds);
}

fa_status fa_dataset_keep_two_classes(fa_dataset *ds, int a, int b) {
  size_t image = (size_t)ds->c * ds->h * ds->w;
  int kept = 0;
  for (int i = 0; i < ds->n; i++) {  /* in place: kept <= i */
    int label = ds->labels[i];
    if (label != a && label != b) continue;
    memmove(ds->images + (size_t)kept * image, ds->images + (size_t)i * image, image);
    ds->labels[kept++] = label == b;
  }
  if (kept == 0)
    return fa_error_set(FA_ERR_FORMAT, "no examples of classes %d and %d among the %d read", a, b, ds->n);
  ds->n = kept;
  ds->n_classes = 2;
  return FA_OK;
}

fa_status fa_dataset_to_grey(fa_dataset *ds) {
  size_t plane = (size_t)ds->h * ds->w;
  for (int i = 0; i < ds->n; i++) {  /* in place: image i's grey plane ends before its colour planes */
    const uint8_t *src = ds->images + (size_t)i * ds->c * plane;
    uint8_t *dst = ds->images + (size_t)i * plane;
    for (size_t p = 0; p < plane; p++) {
      unsigned sum = 0;
      for (int ch = 0; ch < ds->c; ch++) sum += src[ch * plane + p];
      dst[p] = (uint8_t)(sum / (unsigned)ds->c);
    }
  }
  ds->c = 1;
  return FA_OK;
}
