/* SVHN cropped digits as published: train_32x32.mat and test_32x32.mat,
 * MATLAB 5.0 MAT-files (little-endian) holding
 *   X: uint8, 32x32x3xN, column-major (row fastest, then column, channel, example)
 *   y: N labels 1..10 (double, or any integer storage MATLAB chose), 10 meaning digit 0.
 * Top-level elements may be miMATRIX or miCOMPRESSED (a zlib stream holding
 * one miMATRIX); other variables are skipped. The result is (N, 3, 32, 32)
 * with labels 0..9. */
#ifndef FA_DATA_SVHN_MAT_H
#define FA_DATA_SVHN_MAT_H

#include <stddef.h>
#include <stdint.h>

#include "data/dataset.h"

/* Parses the bytes of a whole MAT-file; `source` names it in errors. */
fa_status fa_svhn_mat_parse(const uint8_t *bytes, size_t len, const char *source, fa_dataset *out);
fa_status fa_svhn_mat_read(const char *path, fa_dataset *out);

#endif
