/* The files of a training run under --out_dir, and the lock that keeps two
 * processes from writing them at once (docs/RELIABILITY.md, "Crash-safe
 * runs"):
 *
 *   models/<run>.safetensors, models/<run>_best.safetensors   last and best models
 *   logs/<run>.log, logs/<run>.jsonl                          log and metrics
 *   checkpoints/<run>.safetensors                              resume checkpoint
 *   checkpoints/<run>.lock                                     while a process trains the run
 *
 * The lock (io/lock_file.h) is held from before the run's first file is
 * written until the process exits. A new run takes the paper's name
 * (train/run_name.h) or, when that name is taken (its lock or one of its
 * files exists), the first free one of <name>_2, <name>_3, ... A resumed
 * run takes over the lock of a run whose process has ended and is refused
 * while that process still runs. */
#ifndef FA_TRAIN_RUN_FILES_H
#define FA_TRAIN_RUN_FILES_H

#include <stddef.h>

#include "core/error.h"
#include "train/config.h"
#include "train/resume.h"

#define FA_RUN_DIR_MAX (FA_PATH_MAX + 16)
#define FA_RUN_FILE_MAX (FA_RUN_DIR_MAX + FA_RUN_NAME_MAX + 32)

typedef struct {
  char models[FA_RUN_DIR_MAX], logs[FA_RUN_DIR_MAX], checkpoints[FA_RUN_DIR_MAX];
  char lock[FA_RUN_FILE_MAX];  /* the lock this process holds, "" when none */
} fa_run_files;

/* Creates out_dir, models/, logs/ and checkpoints/ as needed and checks
 * that each is a directory this process can write into. FA_ERR_IO and a
 * message naming the path and the system's reason (strerror) if not. */
fa_status fa_run_files_prepare(fa_run_files *f, const char *out_dir);

/* Claims a name for a new run: `name`, or name_2, name_3, ... when taken,
 * into claimed (len bytes), holding its lock. */
fa_status fa_run_files_claim_new(fa_run_files *f, const char *name, char *claimed, size_t len);

/* Takes the lock of the run `name` to resume it. A lock left by a process
 * of this host that has ended is taken over, and `note` (len bytes) says
 * so; else note is "". FA_ERR_IO when the run is still being trained (or
 * its lock's holder cannot be checked), with what to do. */
fa_status fa_run_files_claim_resumed(fa_run_files *f, const char *name, char *note, size_t len);

/* Removes the lock, when held. */
void fa_run_files_release(fa_run_files *f);

#endif
