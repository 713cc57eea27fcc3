/* Compares the float32 tensors of two model files (safetensors) of one
 * architecture, for tests/check_mpi_train.sh:
 *
 *   mpi_model_diff A B          prints "max |a - b| D (relative R) over N
 *                               values; identical: yes|no" where R is D over
 *                               the largest |a| of the file
 *
 * Exit 0 when both files hold the same tensors (names, shapes), 1 otherwise
 * (with a message); the caller judges the numbers. */
#include <stdio.h>

#include "core/error.h"
#include "testlib.h"

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: mpi_model_diff A.safetensors B.safetensors\n");
    return 2;
  }
  fa_test_model_diff d;
  if (!fa_test_compare_models(argv[1], argv[2], &d)) {
    fprintf(stderr, "mpi_model_diff: the files cannot be compared: %s\n", fa_error_message());
    return 1;
  }
  printf("max |a - b| %.3g (relative %.3g) over %zu values; identical: %s\n", d.max_diff,
         d.max_abs > 0 ? d.max_diff / d.max_abs : 0.0, d.n, d.identical ? "yes" : "no");
  return 0;
}
