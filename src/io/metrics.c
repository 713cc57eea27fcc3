#include "io/metrics.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io/json.h"
#include "io/progress.h"

struct fa_metrics {
  FILE *jsonl, *log, *echo;
  char *jsonl_path, *log_path;
  struct timespec start;
  double elapsed_before;  /* seconds of the run before this process (resumed runs) */
  bool write_failed;
};

static const char *const reserved_keys[] = {"iteration", "epoch", "time_s"};

static double seconds_since(const struct timespec *start) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - start->tv_sec) + 1e-9 * (double)(now.tv_nsec - start->tv_nsec);
}

static char *path_join(const char *dir, const char *name, const char *ext) {
  size_t len = strlen(dir) + strlen(name) + strlen(ext) + 2;
  char *s = malloc(len);
  if (s) snprintf(s, len, "%s/%s%s", dir, name, ext);
  return s;
}

/* mode: "a" appends, "wx" creates a new file (fails if it exists) */
static FILE *open_file(const char *path, const char *mode) {
  FILE *fp = fopen(path, mode);
  if (!fp) fa_error_set(FA_ERR_IO, "cannot %s %s: %s; check that the directory is writable",
                        mode[0] == 'a' ? "open for writing" : "create", path, strerror(errno));
  return fp;
}

static fa_metrics *open_files(const char *dir, const char *run_name, FILE *echo, const char *mode) {
  if (!*run_name || strchr(run_name, '/')) {
    fa_error_set(FA_ERR_INVALID, "run name \"%s\" cannot name a file: it must be non-empty and have no '/'",
                 run_name);
    return NULL;
  }
  if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
    fa_error_set(FA_ERR_IO, "cannot create the log directory %s: %s", dir, strerror(errno));
    return NULL;
  }
  fa_metrics *m = calloc(1, sizeof *m);
  if (!m || !(m->jsonl_path = path_join(dir, run_name, ".jsonl")) ||
      !(m->log_path = path_join(dir, run_name, ".log"))) {
    fa_error_set(FA_ERR_NOMEM, "out of memory opening the metrics of run %s", run_name);
    fa_metrics_close(m);
    return NULL;
  }
  m->echo = echo;
  clock_gettime(CLOCK_MONOTONIC, &m->start);
  if (!(m->jsonl = open_file(m->jsonl_path, mode)) || !(m->log = open_file(m->log_path, mode))) {
    if (m->jsonl && mode[0] == 'w') unlink(m->jsonl_path); /* a new run's failed start leaves nothing */
    fa_metrics_close(m);
    return NULL;
  }
  return m;
}

fa_metrics *fa_metrics_open(const char *dir, const char *run_name, FILE *echo) {
  return open_files(dir, run_name, echo, "a");
}

fa_metrics *fa_metrics_create(const char *dir, const char *run_name, FILE *echo) {
  return open_files(dir, run_name, echo, "wx");
}

static long long file_size(FILE *fp) {
  struct stat st;
  return fstat(fileno(fp), &st) == 0 ? (long long)st.st_size : -1;
}

fa_metrics_position fa_metrics_tell(const fa_metrics *m) {
  if (!m) return (fa_metrics_position){0};
  return (fa_metrics_position){file_size(m->jsonl), file_size(m->log), m->elapsed_before + seconds_since(&m->start)};
}

/* Cuts `name` + ext in dir back to `bytes` when it is longer. */
static fa_status cut_back(const char *dir, const char *run_name, const char *ext, long long bytes) {
  char *path = path_join(dir, run_name, ext);
  if (!path) return fa_error_set(FA_ERR_NOMEM, "out of memory reopening the metrics of run %s", run_name);
  struct stat st;
  fa_status status = FA_OK;
  if (stat(path, &st) == 0 && st.st_size > bytes && truncate(path, bytes) != 0)
    status = fa_error_set(FA_ERR_IO, "cannot cut %s back to its %lld bytes at the checkpoint: %s", path, bytes,
                          strerror(errno));
  free(path);
  return status;
}

fa_metrics *fa_metrics_reopen(const char *dir, const char *run_name, FILE *echo, const fa_metrics_position *at) {
  if (!*run_name || strchr(run_name, '/')) {
    fa_error_set(FA_ERR_INVALID, "run name \"%s\" cannot name a file: it must be non-empty and have no '/'",
                 run_name);
    return NULL;
  }
  if (cut_back(dir, run_name, ".jsonl", at->jsonl_bytes) != FA_OK ||
      cut_back(dir, run_name, ".log", at->log_bytes) != FA_OK)
    return NULL;
  fa_metrics *m = fa_metrics_open(dir, run_name, echo);
  if (m) m->elapsed_before = at->elapsed_s;
  return m;
}

fa_status fa_metrics_close(fa_metrics *m) {
  if (!m) return FA_OK;
  bool failed = m->write_failed;
  if (m->jsonl && fclose(m->jsonl) != 0) failed = true;
  if (m->log && fclose(m->log) != 0) failed = true;
  fa_status st = failed ? fa_error_set(FA_ERR_IO, "could not write all metrics to %s and %s (disk full?)",
                                       m->jsonl_path, m->log_path)
                        : FA_OK;
  free(m->jsonl_path);
  free(m->log_path);
  free(m);
  return st;
}

/* Flushes a file after a report; remembers and reports a failure. */
static fa_status finish_write(fa_metrics *m, FILE *fp, const char *path) {
  if (fflush(fp) == 0 && !ferror(fp)) return FA_OK;
  m->write_failed = true;
  return fa_error_set(FA_ERR_IO, "cannot write to %s: %s; check the free disk space", path, strerror(errno));
}

/* ------------------------------------------------------------- log lines */

/* Writes "[YYYY-MM-DD HH:MM:SS] <text>\n" to the log and the echo. */
static fa_status log_line(fa_metrics *m, const char *text) {
  char stamp[32];
  time_t now = time(NULL);
  struct tm tm;
  localtime_r(&now, &tm);
  strftime(stamp, sizeof stamp, "[%Y-%m-%d %H:%M:%S] ", &tm);
  fprintf(m->log, "%s%s\n", stamp, text);
  fa_status st = finish_write(m, m->log, m->log_path);
  if (m->echo) {
    /* on a terminal, clear a progress bar drawn on the current line */
    fprintf(m->echo, "%s%s%s\n", fa_progress_is_terminal(m->echo) ? "\r\033[K" : "", stamp, text);
    fflush(m->echo);
  }
  return st;
}

static void append(char *buf, size_t len, size_t *at, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t len, size_t *at, const char *fmt, ...) {
  if (*at >= len) return;
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(buf + *at, len - *at, fmt, ap);
  va_end(ap);
  if (k > 0) *at += (size_t)k;
}

/* "1-200: [train] loss 2.303, acc 10.00%  [test] acc_clean 10.16% (0.21m)" */
static void format_report(char *buf, size_t len, long iteration, int epoch, int n, const char *const *keys,
                          const double *values, double minutes) {
  size_t at = 0;
  append(buf, len, &at, "%d-%ld:", epoch, iteration);
  const char *section = NULL;
  size_t section_len = 0;
  for (int i = 0; i < n; i++) {
    const char *dot = strchr(keys[i], '.');
    size_t slen = dot ? (size_t)(dot - keys[i]) : 0;
    const char *name = dot ? dot + 1 : keys[i];
    bool same = i > 0 && slen == section_len && (slen == 0 || strncmp(keys[i], section, slen) == 0);
    if (same) append(buf, len, &at, ",");
    else if (i) append(buf, len, &at, " "); /* two spaces between groups */
    if (!same && slen) append(buf, len, &at, " [%.*s]", (int)slen, keys[i]);
    section = keys[i];
    section_len = slen;
    if (strstr(name, "acc") && isfinite(values[i])) append(buf, len, &at, " %s %.2f%%", name, 100 * values[i]);
    else append(buf, len, &at, " %s %.4g", name, values[i]);
  }
  append(buf, len, &at, " (%.2fm)", minutes);
}

static fa_status check_keys(int n, const char *const *keys, int n_shown) {
  if (n < 0 || n_shown < 0 || n_shown > n)
    return fa_error_set(FA_ERR_INVALID, "metrics report: %d values with %d shown; need 0 <= shown <= values", n,
                        n_shown);
  for (int i = 0; i < n; i++) {
    if (!keys[i] || !*keys[i]) return fa_error_set(FA_ERR_INVALID, "metrics report: key %d is empty", i);
    for (size_t r = 0; r < sizeof reserved_keys / sizeof *reserved_keys; r++)
      if (strcmp(keys[i], reserved_keys[r]) == 0)
        return fa_error_set(FA_ERR_INVALID, "metrics report: \"%s\" is written by the metrics file itself", keys[i]);
    for (int j = 0; j < i; j++)
      if (strcmp(keys[i], keys[j]) == 0)
        return fa_error_set(FA_ERR_INVALID, "metrics report: key \"%s\" appears twice", keys[i]);
  }
  return FA_OK;
}

fa_status fa_metrics_report(fa_metrics *m, long iteration, int epoch, int n, const char *const *keys,
                            const double *values, int n_shown) {
  if (!m) return FA_OK;
  fa_status st = check_keys(n, keys, n_shown);
  if (st) return st;
  double elapsed = m->elapsed_before + seconds_since(&m->start);
  fprintf(m->jsonl, "{\"iteration\": %ld, \"epoch\": %d, \"time_s\": ", iteration, epoch);
  fa_json_put_number(m->jsonl, round(elapsed * 1000) / 1000);
  for (int i = 0; i < n; i++) {
    fputs(", ", m->jsonl);
    fa_json_put_string(m->jsonl, keys[i]);
    fputs(": ", m->jsonl);
    fa_json_put_number(m->jsonl, values[i]);
  }
  fputs("}\n", m->jsonl);
  st = finish_write(m, m->jsonl, m->jsonl_path);
  char line[2048];
  format_report(line, sizeof line, iteration, epoch, n_shown, keys, values, elapsed / 60);
  fa_status st_log = log_line(m, line);
  return st ? st : st_log;
}

fa_status fa_metrics_log(fa_metrics *m, const char *fmt, ...) {
  if (!m) return FA_OK;
  char line[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  return log_line(m, line);
}

fa_status fa_metrics_record(fa_metrics *m, const char *name, fa_json *object) {
  if (!m) return FA_OK;
  const char *text = fa_json_text(object);
  if (!text) return fa_error_code();
  fputc('{', m->jsonl);
  fa_json_put_string(m->jsonl, name);
  fprintf(m->jsonl, ": %s}\n", text);
  return finish_write(m, m->jsonl, m->jsonl_path);
}
