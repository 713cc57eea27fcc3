/* CIFAR-10, binary version: files of records of 1 label byte (0..9) and
 * 3072 pixel bytes (1024 red, 1024 green, 1024 blue, each 32x32 row-major),
 * which is already (c, h, w). Training: data_batch_1.bin .. data_batch_5.bin;
 * test: test_batch.bin. */
#ifndef FA_DATA_CIFAR10_H
#define FA_DATA_CIFAR10_H

#include <stddef.h>
#include <stdint.h>

#include "data/dataset.h"

#define FA_CIFAR10_RECORD_BYTES 3073
#define FA_CIFAR10_TRAIN_FILES 5

/* Parses the bytes of one batch file; `source` names it in errors. */
fa_status fa_cifar10_parse(const uint8_t *bytes, size_t len, const char *source, fa_dataset *out);
/* The records of each published batch file. */
#define FA_CIFAR10_BATCH_RECORDS 10000

/* Which batch files are read: the published ones only (10000 records
 * each; another count is an error naming the file and both counts), or any
 * number of records (a subset made on purpose). */
typedef enum { FA_CIFAR10_PUBLISHED_BATCHES, FA_CIFAR10_ANY_BATCHES } fa_cifar10_batches;

/* Reads the split ("train" or "test") from the directory holding the files. */
fa_status fa_cifar10_read(const char *dir, const char *split, fa_cifar10_batches batches, fa_dataset *out);
/* The file names of a split, NULL-terminated. */
const char *const *fa_cifar10_files(const char *split);

#endif
