#include "io/lock_file.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"

/* A lock found empty is read again this many times, 50 ms apart: its
 * creator may be between creating and writing it (microseconds). Still
 * empty after that, its creator died in between: the lock is stale. */
#define EMPTY_LOCK_READS 10
#define HOST_MAX 256

typedef struct {
  char host[HOST_MAX], pid_ns[64];
  long pid;           /* -1 when the file does not name one */
  bool empty;
  dev_t dev;          /* the file read, to notice that it was replaced */
  ino_t ino;
} lock_holder;

static void this_host(char host[HOST_MAX]) {
  if (gethostname(host, HOST_MAX) != 0) snprintf(host, HOST_MAX, "unknown");
  host[HOST_MAX - 1] = '\0';
  for (char *c = host; *c; c++)
    if ((unsigned char)*c <= ' ') *c = '_';  /* one word in the file */
}

static void this_pid_namespace(char ns[64]) {
  ssize_t n = readlink("/proc/self/ns/pid", ns, 63);
  ns[n > 0 ? n : 0] = '\0';
}

/* Creates path exclusively, naming this process. BUSY when it exists. */
static fa_lock_result create(const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (errno == EEXIST) return FA_LOCK_BUSY;
    fa_error_set(FA_ERR_IO, "cannot create the lock file %s: %s", path, strerror(errno));
    return FA_LOCK_FAILED;
  }
  char host[HOST_MAX], ns[64], text[HOST_MAX + 128];
  this_host(host);
  this_pid_namespace(ns);
  int n = snprintf(text, sizeof text, "host %s\npid %ld\npid_ns %s\n", host, (long)getpid(), ns);
  bool written = write(fd, text, (size_t)n) == (ssize_t)n;
  int error = errno;
  if (close(fd) != 0 && written) {
    written = false;
    error = errno;
  }
  if (!written) {
    unlink(path);
    fa_error_set(FA_ERR_IO, "cannot write the lock file %s: %s", path, strerror(error));
    return FA_LOCK_FAILED;
  }
  return FA_LOCK_ACQUIRED;
}

/* Reads the holder of the lock at path: 1, or 0 when the file is gone,
 * -1 (and a message) when it cannot be read. */
static int read_holder(const char *path, lock_holder *h) {
  for (int attempt = 0;; attempt++) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return 0;
      fa_error_set(FA_ERR_IO, "cannot read the lock file %s: %s", path, strerror(errno));
      return -1;
    }
    struct stat st = {0};
    char text[HOST_MAX + 128];
    ssize_t n = fstat(fd, &st) == 0 ? read(fd, text, sizeof text - 1) : -1;
    close(fd);
    text[n > 0 ? n : 0] = '\0';
    *h = (lock_holder){.pid = -1, .empty = n == 0, .dev = st.st_dev, .ino = st.st_ino};
    if (n > 0 && sscanf(text, "host %255s pid %ld pid_ns %63s", h->host, &h->pid, h->pid_ns) < 2) h->pid = -1;
    if (!h->empty || attempt + 1 == EMPTY_LOCK_READS) return 1;
    nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
  }
}

typedef enum { HOLDER_RUNNING, HOLDER_ENDED, HOLDER_UNKNOWN } holder_state;

static holder_state state_of(const lock_holder *h) {
  if (h->empty) return HOLDER_ENDED;  /* it died between creating and writing the file */
  char host[HOST_MAX], ns[64];
  this_host(host);
  this_pid_namespace(ns);
  if (h->pid <= 0 || strcmp(h->host, host) != 0 || (ns[0] && h->pid_ns[0] && strcmp(ns, h->pid_ns) != 0))
    return HOLDER_UNKNOWN;
  return kill((pid_t)h->pid, 0) != 0 && errno == ESRCH ? HOLDER_ENDED : HOLDER_RUNNING;
}

static void describe(const lock_holder *h, holder_state state, char *out, size_t len) {
  if (!out || !len) return;
  if (h->empty)
    snprintf(out, len, "a process that ended before writing its name into the file");
  else if (h->pid <= 0)
    snprintf(out, len, "an unknown holder (the file does not name a host and process)");
  else if (state == HOLDER_UNKNOWN)
    snprintf(out, len, "process %ld on host %s (another machine or container: whether it still runs cannot be "
             "checked from here)", h->pid, h->host);
  else
    snprintf(out, len, "process %ld on this host, %s", h->pid,
             state == HOLDER_RUNNING ? "still running" : "which has ended");
}

/* Removes the stale lock read into h. False when the file at path is no
 * longer that one (another process took the lock over first): its lock is
 * put back. The file is renamed aside first so that only one process can
 * remove a given file. */
static bool remove_stale(const char *path, const lock_holder *h) {
  char aside[8192];
  snprintf(aside, sizeof aside, "%s.stale.%ld", path, (long)getpid());
  if (rename(path, aside) != 0) return errno == ENOENT;  /* removed already: create it again */
  struct stat st;
  bool same = stat(aside, &st) == 0 && st.st_dev == h->dev && st.st_ino == h->ino;
  if (!same) (void)link(aside, path); /* put back (a lock a third process created meanwhile stays) */
  unlink(aside);
  return same;
}

fa_lock_result fa_lock_acquire(const char *path, fa_lock_stale_policy stale, char *holder, size_t len) {
  if (holder && len) holder[0] = '\0';
  for (int attempt = 0; attempt < 3; attempt++) { /* another process may remove or take it meanwhile */
    fa_lock_result result = create(path);
    if (result != FA_LOCK_BUSY || stale == FA_LOCK_KEEP_STALE) return result;
    lock_holder h;
    int found = read_holder(path, &h);
    if (found < 0) return FA_LOCK_FAILED;
    if (found == 0) continue;
    holder_state state = state_of(&h);
    describe(&h, state, holder, len);
    if (state != HOLDER_ENDED) return FA_LOCK_BUSY;
    if (!remove_stale(path, &h)) continue;
    if ((result = create(path)) == FA_LOCK_ACQUIRED) return FA_LOCK_TAKEN_OVER;
    if (result == FA_LOCK_FAILED) return result;
  }
  return FA_LOCK_BUSY;
}

void fa_lock_release(const char *path) { unlink(path); }
