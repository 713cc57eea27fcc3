/* Compares the float32 tensors of two model files (safetensors) of one
 * architecture, for tests/check_mpi_train.sh:
 *
 *   mpi_model_diff A B          prints "max |a - b| D (relative R) over N
 *                               values; identical: yes|no" where R is D over
 *                               the largest |a| of the file
 *
 * Exit 0 when both files hold the same tensors (names, shapes), 1 otherwise
 * (with a message); the caller judges the numbers. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "io/safetensors.h"

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: mpi_model_diff A.safetensors B.safetensors\n");
    return 2;
  }
  fa_st_file *a = fa_st_open(argv[1]), *b = fa_st_open(argv[2]);
  if (!a || !b || fa_st_count(a) != fa_st_count(b)) {
    fprintf(stderr, "mpi_model_diff: cannot read both files, or they hold different numbers of tensors: %s\n",
            fa_error_message());
    return 1;
  }
  double max_diff = 0, max_abs = 0;
  size_t n = 0;
  int identical = 1;
  for (int i = 0; i < fa_st_count(a); i++) {
    const fa_st_tensor *ta = fa_st_get(a, i), *tb = fa_st_find(b, ta->name);
    if (!tb || tb->nbytes != ta->nbytes || ta->dtype != FA_DTYPE_F32 || tb->dtype != FA_DTYPE_F32) {
      fprintf(stderr, "mpi_model_diff: tensor %s differs in name, size or dtype\n", ta->name);
      return 1;
    }
    const float *x = ta->data, *y = tb->data;
    size_t m = ta->nbytes / sizeof(float);
    identical &= memcmp(x, y, ta->nbytes) == 0;
    for (size_t j = 0; j < m; j++) {
      max_diff = fmax(max_diff, fabs((double)x[j] - y[j]));
      max_abs = fmax(max_abs, fabs((double)x[j]));
    }
    n += m;
  }
  printf("max |a - b| %.3g (relative %.3g) over %zu values; identical: %s\n", max_diff,
         max_abs > 0 ? max_diff / max_abs : 0.0, n, identical ? "yes" : "no");
  fa_st_close(a);
  fa_st_close(b);
  return 0;
}
