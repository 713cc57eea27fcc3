#include "train/run_files.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/lock_file.h"

#define SUFFIX_MAX 1000  /* name_2 .. name_1000 are tried after the name */

/* Creates dir unless it exists; fails unless it is a directory this
 * process can write into. */
static fa_status make_writable_dir(const char *dir) {
  if (mkdir(dir, 0777) != 0 && errno != EEXIST)
    return fa_error_set(FA_ERR_IO, "cannot create the directory %s: %s; check --out_dir", dir, strerror(errno));
  struct stat st;
  if (stat(dir, &st) != 0)
    return fa_error_set(FA_ERR_IO, "cannot use the directory %s: %s; check --out_dir", dir, strerror(errno));
  if (!S_ISDIR(st.st_mode))
    return fa_error_set(FA_ERR_IO, "%s is not a directory (a file of that name is in the way): move the file "
                        "away or choose another --out_dir", dir);
  if (access(dir, W_OK | X_OK) != 0)
    return fa_error_set(FA_ERR_IO, "cannot write into the directory %s: %s; make it writable or choose another "
                        "--out_dir", dir, strerror(errno));
  return FA_OK;
}

fa_status fa_run_files_prepare(fa_run_files *f, const char *out_dir) {
  *f = (fa_run_files){0};
  char parent[FA_RUN_DIR_MAX];
  snprintf(parent, sizeof parent, "%s", out_dir);
  for (char *p = parent + 1; *p; p++)  /* the parents of out_dir; make_writable_dir reports a failure */
    if (*p == '/') {
      *p = '\0';
      mkdir(parent, 0777);
      *p = '/';
    }
  snprintf(f->models, sizeof f->models, "%s/models", out_dir);
  snprintf(f->logs, sizeof f->logs, "%s/logs", out_dir);
  snprintf(f->checkpoints, sizeof f->checkpoints, "%s/checkpoints", out_dir);
  fa_status st = make_writable_dir(out_dir);
  if (st == FA_OK) st = make_writable_dir(f->models);
  if (st == FA_OK) st = make_writable_dir(f->logs);
  if (st == FA_OK) st = make_writable_dir(f->checkpoints);
  return st;
}

static void lock_path(const fa_run_files *f, const char *name, char path[FA_RUN_FILE_MAX]) {
  snprintf(path, FA_RUN_FILE_MAX, "%s/%s.lock", f->checkpoints, name);
}

/* Whether any file of the run `name` exists (a dangling link counts). */
static bool has_files(const fa_run_files *f, const char *name) {
  const char *const dirs[] = {f->logs, f->logs, f->models, f->models, f->checkpoints};
  const char *const endings[] = {".log", ".jsonl", ".safetensors", "_best.safetensors", ".safetensors"};
  for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
    char path[FA_RUN_FILE_MAX];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s%s", dirs[i], name, endings[i]);
    if (lstat(path, &st) == 0) return true;
  }
  return false;
}

fa_status fa_run_files_claim_new(fa_run_files *f, const char *name, char *claimed, size_t len) {
  for (int k = 1; k <= SUFFIX_MAX; k++) {
    int n = k == 1 ? snprintf(claimed, len, "%s", name) : snprintf(claimed, len, "%s_%d", name, k);
    if (n < 0 || (size_t)n >= len) return fa_error_set(FA_ERR_INVALID, "the run name %s is too long", name);
    char lock[FA_RUN_FILE_MAX];
    lock_path(f, claimed, lock);
    fa_lock_result result = fa_lock_acquire(lock, FA_LOCK_KEEP_STALE, NULL, 0);
    if (result == FA_LOCK_FAILED) return fa_error_code();
    if (result == FA_LOCK_BUSY) continue;  /* another process has it, or had it and may be resumed */
    if (!has_files(f, claimed)) {
      snprintf(f->lock, sizeof f->lock, "%s", lock);
      return FA_OK;
    }
    fa_lock_release(lock);
  }
  return fa_error_set(FA_ERR_IO, "the run name %s and its variants up to _%d are all taken in %s: choose "
                      "another --out_dir", name, SUFFIX_MAX, f->logs);
}

fa_status fa_run_files_claim_resumed(fa_run_files *f, const char *name, char *note, size_t len) {
  char lock[FA_RUN_FILE_MAX], holder[512];
  lock_path(f, name, lock);
  switch (fa_lock_acquire(lock, FA_LOCK_TAKE_OVER_STALE, holder, sizeof holder)) {
    case FA_LOCK_FAILED: return fa_error_code();
    case FA_LOCK_BUSY:
      return fa_error_set(FA_ERR_IO, "--resume: the run is being trained by %s, which holds its lock %s: wait until "
                          "that process ends (or stop it); if you are sure it no longer runs, remove the lock file "
                          "and resume again", holder, lock);
    case FA_LOCK_TAKEN_OVER:
      snprintf(note, len, "the lock %s was left by %s; this process holds it now", lock, holder);
      break;
    case FA_LOCK_ACQUIRED:
      snprintf(note, len, "%s", "");
      break;
  }
  snprintf(f->lock, sizeof f->lock, "%s", lock);
  return FA_OK;
}

void fa_run_files_release(fa_run_files *f) {
  if (f->lock[0]) fa_lock_release(f->lock);
  f->lock[0] = '\0';
}
