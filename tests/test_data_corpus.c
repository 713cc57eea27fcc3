/* Replays the fuzz corpora (fuzz/corpus/<target>/) through the readers, so
 * that every input the fuzzers kept is re-checked by the plain and the
 * ASan+UBSan builds without clang. The seeds of fuzz/make_corpus.py
 * (valid files) must parse; any other input may parse or fail, but a
 * failure's message must name the input, and ASan must see nothing.
 * Inputs are replayed as they are: the targets' 'Z' mode (compress first) is
 * left to the fuzzers. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "data/bytes.h"
#include "data/cifar10.h"
#include "data/idx.h"
#include "data/svhn_mat.h"
#include "testlib.h"

typedef enum { IDX, CIFAR10, SVHN_MAT } reader;

static fa_status parse(reader r, const uint8_t *bytes, size_t len, const char *path) {
  fa_dataset ds;
  fa_idx_array a;
  fa_status st;
  if (r == IDX) {
    if ((st = fa_idx_parse(bytes, len, path, &a)) == FA_OK) fa_idx_free(&a);
    return st;
  }
  st = r == CIFAR10 ? fa_cifar10_parse(bytes, len, path, &ds) : fa_svhn_mat_parse(bytes, len, path, &ds);
  if (st == FA_OK) {
    for (int i = 0; i < ds.n; i++) FA_CHECK(ds.labels[i] < ds.n_classes, "%s: label %d", path, ds.labels[i]);
    fa_dataset_free(&ds);
  } else {
    FA_CHECK(strstr(fa_error_message(), path) != NULL, "the error names the input: %s", fa_error_message());
  }
  return st;
}

/* Replays a corpus; the seeds are the inputs named in `seeds`. */
static void replay(const char *target, reader r, const char *const *seeds) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", fa_test_source_path("fuzz/corpus"));
  snprintf(dir + strlen(dir), sizeof dir - strlen(dir), "/%s", target);
  DIR *d = opendir(dir);
  FA_CHECK(d != NULL, "no corpus %s", dir);
  if (!d) return;
  int inputs = 0, seeds_ok = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    uint8_t *bytes;
    size_t len;
    if (fa_file_read_all(path, FA_DATA_MAX_BYTES, &bytes, &len) != FA_OK) continue;
    fa_status st = parse(r, bytes, len, path);
    free(bytes);
    inputs++;
    for (const char *const *s = seeds; *s; s++)
      if (strcmp(*s, e->d_name) == 0) {
        FA_CHECK(st == FA_OK, "seed %s: %s", path, fa_error_message());
        seeds_ok++;
      }
  }
  closedir(d);
  int n_seeds = 0;
  while (seeds[n_seeds]) n_seeds++;
  FA_CHECK(seeds_ok == n_seeds, "%s: %d of %d seeds present", target, seeds_ok, n_seeds);
  printf("%s: %d inputs replayed\n", target, inputs);
}

int main(void) {
  static const char *const idx_seeds[] = {"images_plain", "images_gzip", "labels_plain", "labels_gzip",
                                          "small_4d", NULL};
  static const char *const cifar_seeds[] = {"one_record", "two_records", NULL};
  static const char *const mat_seeds[] = {"xy_double_plain", "xy_double_compressed", "yx_uint8_other_plain",
                                          "yx_uint8_other_compressed", NULL};
  replay("fuzz_idx", IDX, idx_seeds);
  replay("fuzz_cifar10", CIFAR10, cifar_seeds);
  replay("fuzz_svhn_mat", SVHN_MAT, mat_seeds);
  return fa_test_exit();
}
