/* A small test harness: checks that count failures, and helpers to compare
 * float arrays against references. A test program returns fa_test_exit().
 * Linking it makes a context current before main (core/context.h): the
 * backend $FASTADV_BACKEND names, else cpu. */
#ifndef FA_TESTS_TESTLIB_H
#define FA_TESTS_TESTLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "nn/model.h"

extern int fa_test_failures;
extern int fa_test_checks;

#define FA_CHECK(cond, ...)                                              \
  do {                                                                   \
    fa_test_checks++;                                                    \
    if (!(cond)) {                                                       \
      fa_test_failures++;                                                \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);    \
      fprintf(stderr, __VA_ARGS__);                                      \
      fprintf(stderr, "\n");                                             \
    }                                                                    \
  } while (0)

/* ||a - b||_2 / ||b||_2 with a float result against a double reference;
 * 0 when both are zero, and when only the reference is zero the norm of a. */
double fa_test_rel_err(const float *a, const double *b, size_t n);
double fa_test_rel_err_ff(const float *a, const float *b, size_t n);
/* fa_test_rel_err of got (n values) against a fixture: the sum of the
 * float64 values of the tensors keys[0..n_keys) of f (one key: its values).
 * INFINITY, and a failed check, when one is missing or not of n values. */
struct fa_st_file;
double fa_test_fixture_err(struct fa_st_file *f, int n_keys, const char *const keys[], const float *got, size_t n);

/* Path of a file under the repository (FA_SOURCE_DIR) or shared data. */
const char *fa_test_source_path(const char *rel);
const char *fa_test_shared_path(const char *rel);
/* A fresh empty directory for the test's files, under the build tree. */
const char *fa_test_tmpdir(const char *test_name);

/* Runs the built `fastadv ARGS` (ARGS as a shell reads them) with its
 * output captured in files of `dir`; returns the exit status (-1 when it
 * did not exit) and the start of stdout and stderr in out and err. */
int fa_test_run_fastadv(const char *args, const char *dir, char *out, char *err, size_t size);

/* The fixtures' weights (scripts/fixture_common.py, hashed_value): values
 * from an integer hash of the tensor's name and index, at the scale of the
 * paper's init, identical to what the fixture scripts compute. */
struct fa_tensor;
void fa_test_fill_hashed(struct fa_tensor *t);
/* A model of mc, initialised (running statistics 0 and 1) with hashed weights
 * in every trainable tensor: the fixtures' model. */
fa_model *fa_test_hashed_model(const fa_model_config *mc);

/* A tensor's values copied to the host (through core's transfers: the test
 * reads what the device holds), valid until fa_test_exit; NULL for a NULL
 * tensor. And one value, NaN for a NULL tensor. */
const float *fa_test_values(const struct fa_tensor *t);
float fa_test_value(const struct fa_tensor *t, size_t i);

/* Width and height from a PNG file's signature and IHDR chunk; 0 when the
 * file is not a PNG. Its size in bytes goes to *bytes when not NULL. */
int fa_test_png_size(const char *path, int *width, int *height, long *bytes);

/* Flips one bit (0x10 of the middle byte) of tensor `name`'s data in the
 * safetensors file at path, in place, as a failing disk would. False when
 * the file or the tensor cannot be read (or the tensor is empty). */
bool fa_test_flip_bit(const char *path, const char *name);

/* How the float32 tensors of two model files (safetensors) differ: the
 * largest |a - b|, the largest |a| of the first, the values compared, and
 * whether every byte is equal. False (with fa_error_set) when a file cannot
 * be read or they differ in tensors' names, sizes or dtypes. */
typedef struct {
  double max_diff, max_abs;
  size_t n;
  bool identical;
} fa_test_model_diff;
bool fa_test_compare_models(const char *path_a, const char *path_b, fa_test_model_diff *out);

/* The whole file as a NUL-terminated string (free it); NULL when it cannot be read. */
char *fa_test_read_file(const char *path);

int fa_test_exit(void);

#endif
