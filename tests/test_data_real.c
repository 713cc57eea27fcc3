/* The published data sets, read by the full path (location, reader,
 * derivation), against the counts and pixels of
 * tests/fixtures/data_checks.txt, which scripts/gen_data_fixtures.py computed
 * independently with Python's gzip and struct. Fashion-MNIST comes from
 * Debian's dataset-fashion-mnist (scripts/setup.sh); CIFAR-10 from
 * ../shared/data, and its checks are skipped when it is absent. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/dataset.h"
#include "testlib.h"

/* Checks every fixture line of `name` against the loaded data set. */
static void check_against_fixture(const char *name, const char *split, const fa_dataset *ds) {
  FILE *f = fopen(fa_test_source_path("tests/fixtures/data_checks.txt"), "r");
  FA_CHECK(f != NULL, "fixture file missing");
  if (!f) return;
  char line[1024], kind[16], set[32], sp[16];
  int lines = 0;
  while (fgets(line, sizeof line, f)) {
    int used;
    if (sscanf(line, "%15s %31s %15s%n", kind, set, sp, &used) != 3 || strcmp(set, name) || strcmp(sp, split))
      continue;
    const char *rest = line + used;
    lines++;
    if (strcmp(kind, "count") == 0) {
      int n, got = 0;
      sscanf(rest, "%d%n", &n, &got);
      rest += got;
      FA_CHECK(ds->n == n, "%s %s: %d examples, expected %d", name, split, ds->n, n);
      for (int k = 0; k < ds->n_classes; k++) {
        int want, have = 0;
        sscanf(rest, "%d%n", &want, &got);
        rest += got;
        for (int i = 0; i < ds->n; i++) have += ds->labels[i] == k;
        FA_CHECK(have == want, "%s %s: %d examples of class %d, expected %d", name, split, have, k, want);
      }
    } else {
      int index, label, spots, got;
      long sum;
      sscanf(rest, "%d %d %ld %d%n", &index, &label, &sum, &spots, &got);
      rest += got;
      if (index >= ds->n) {
        FA_CHECK(0, "%s %s: image %d beyond %d", name, split, index, ds->n);
        continue;
      }
      size_t size = (size_t)ds->c * ds->h * ds->w;
      const uint8_t *img = ds->images + (size_t)index * size;
      long have = 0;
      for (size_t p = 0; p < size; p++) have += img[p];
      FA_CHECK(ds->labels[index] == label && have == sum, "%s %s image %d: label %d sum %ld, expected %d %ld",
               name, split, index, ds->labels[index], have, label, sum);
      for (int s = 0; s < spots; s++) {
        int c, y, x, v;
        sscanf(rest, "%d %d %d %d%n", &c, &y, &x, &v, &got);
        rest += got;
        int at = img[(c * ds->h + y) * ds->w + x];
        FA_CHECK(at == v, "%s %s image %d pixel (%d,%d,%d) = %d, expected %d", name, split, index, c, y, x, at, v);
      }
    }
  }
  fclose(f);
  FA_CHECK(lines >= 3, "%s %s: %d fixture lines", name, split, lines);
}

static void check_dataset(const char *name, const char *split, const char *data_dir, int c, int side,
                          fa_augment augment) {
  fa_dataset ds;
  fa_status st = fa_dataset_load(name, split, data_dir, &ds);
  FA_CHECK(st == FA_OK, "%s %s: %s", name, split, fa_error_message());
  if (st) return;
  FA_CHECK(ds.c == c && ds.h == side && ds.w == side && ds.train_augment == augment, "%s shape %dx%dx%d", name,
           ds.c, ds.h, ds.w);
  check_against_fixture(name, split, &ds);
  fa_dataset_free(&ds);
}

int main(void) {
  unsetenv("FASTADV_DATA");  /* Fashion-MNIST from the system location */
  check_dataset("fmnist", "train", NULL, 1, 28, FA_AUGMENT_NONE);
  check_dataset("fmnist", "test", NULL, 1, 28, FA_AUGMENT_NONE);

  char cifar[4096];
  snprintf(cifar, sizeof cifar, "%s", fa_test_shared_path("data/cifar10/cifar-10-batches-bin"));
  struct stat st;
  if (stat(cifar, &st) != 0) {
    printf("SKIP the CIFAR-10 checks: %s is absent\n", cifar);
    return fa_test_exit();
  }
  const char *splits[2] = {"train", "test"};
  for (int s = 0; s < 2; s++) {
    check_dataset("cifar10", splits[s], cifar, 3, 32, FA_AUGMENT_CROP_FLIP);
    check_dataset("cifar10_binary", splits[s], cifar, 3, 32, FA_AUGMENT_CROP_FLIP);
    check_dataset("cifar10_binary_gs", splits[s], cifar, 1, 32, FA_AUGMENT_CROP_FLIP);
  }
  return fa_test_exit();
}
