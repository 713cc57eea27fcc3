/* Metrics and progress (src/io/metrics.h, src/io/progress.h): the JSON-lines
 * file parses with cJSON and holds the reported values (NaN and Inf as
 * null, exact doubles, escaped keys); the log line has the paper's layout
 * and goes to the log file and the echo stream; reopening appends; bad keys
 * and bad run names are refused with a message; records ({"name": {...}})
 * go to the JSON file only, their strings escaped (quotes, backslashes,
 * control characters; bytes that are not UTF-8 as U+FFFD) and their numbers
 * exact; progress writes plain lines
 * when not on a terminal and a redrawn bar on one (a pseudo-terminal). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/metrics.h"
#include "io/progress.h"
#include "testlib.h"

static const char *tmpdir;

/* Lines of `text` (modified in place) into lines[], returns the count. */
static int split_lines(char *text, char **lines, int max) {
  int n = 0;
  for (char *s = strtok(text, "\n"); s && n < max; s = strtok(NULL, "\n")) lines[n++] = s;
  return n;
}

/* A human line: "[YYYY-MM-DD HH:MM:SS] " then the text. */
static const char *after_stamp(const char *line) {
  int y, mo, d, h, mi, s, end = 0;
  if (sscanf(line, "[%4d-%2d-%2d %2d:%2d:%2d] %n", &y, &mo, &d, &h, &mi, &s, &end) != 6 || end != 22) return NULL;
  return line + end;
}

static double number(const cJSON *obj, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  return cJSON_IsNumber(v) ? v->valuedouble : -12345;
}

static const char *const keys[] = {"lr",          "train.loss",     "train.reg",      "train.acc",
                                   "train.acc_pgd", "test.acc_clean", "test.cos_x_eta", "filter_norm.0"};
static const double values[] = {0.1, 2.30258509299, 0, 0.1, 0.09765625, 0.1015625, 0.81234, 3.5};
static const char *const expected_line =
    "0-0: lr 0.1  [train] loss 2.303, reg 0, acc 10.00%, acc_pgd 9.77%  [test] acc_clean 10.16%, cos_x_eta 0.8123";

static void check_line(const char *line, const char *want, const char *where) {
  const char *text = line ? after_stamp(line) : NULL;
  FA_CHECK(text, "%s: no time stamp: %s", where, line ? line : "(none)");
  if (!text) return;
  size_t n = strlen(want);
  double minutes = -1;
  char tail[8] = "";
  FA_CHECK(strncmp(text, want, n) == 0, "%s:\n  got  %s\n  want %s", where, text, want);
  FA_CHECK(sscanf(text + n, " (%lfm%1[)]", &minutes, tail) == 2 && minutes >= 0, "%s: time: %s", where, text + n);
}

static void check_reports(void) {
  char dir[4200], echo_path[4200];
  snprintf(dir, sizeof dir, "%s/logs", tmpdir); /* created by fa_metrics_open */
  snprintf(echo_path, sizeof echo_path, "%s/stdout.txt", tmpdir);
  FILE *echo = fopen(echo_path, "w");
  const char *run = "2024-01-01 dataset=cifar10 model=cnn4 eps=10.0";
  fa_metrics *m = fa_metrics_open(dir, run, echo);
  FA_CHECK(m, "%s", fa_error_message());
  if (!m) return;
  FA_CHECK(fa_metrics_report(m, 0, 0, 8, keys, values, 7) == FA_OK, "%s", fa_error_message());
  const char *const odd_keys[] = {"test.acc_pgd", "train.loss", "grad_norm", "delta_l2", "exact", "tiny",
                                  "quote\"back\\slash"};
  const double odd_values[] = {NAN, INFINITY, -INFINITY, 0.1 + 0.2, 1.0 / 3.0, 1e-300, -7};
  FA_CHECK(fa_metrics_report(m, 200, 1, 7, odd_keys, odd_values, 7) == FA_OK, "%s", fa_error_message());
  FA_CHECK(fa_metrics_log(m, "[last: test on %d points] acc_clean %.2f%%, pgd_rr %.2f%%", 1000, 80.5, 43.25) == FA_OK,
           "%s", fa_error_message());

  /* refused reports write nothing */
  const char *const dup[] = {"a", "a"}, *const reserved[] = {"epoch"}, *const empty[] = {""};
  const double two[] = {1, 2};
  FA_CHECK(fa_metrics_report(m, 1, 1, 2, dup, two, 2) == FA_ERR_INVALID && strstr(fa_error_message(), "twice"), "%s",
           fa_error_message());
  FA_CHECK(fa_metrics_report(m, 1, 1, 1, reserved, two, 1) == FA_ERR_INVALID &&
               strstr(fa_error_message(), "\"epoch\" is written by the metrics file"),
           "%s", fa_error_message());
  FA_CHECK(fa_metrics_report(m, 1, 1, 1, empty, two, 1) == FA_ERR_INVALID, "empty key");
  FA_CHECK(fa_metrics_report(m, 1, 1, 2, keys, two, 3) == FA_ERR_INVALID, "n_shown > n");
  FA_CHECK(fa_metrics_close(m) == FA_OK, "%s", fa_error_message());

  /* reopening appends */
  m = fa_metrics_open(dir, run, NULL);
  FA_CHECK(m && fa_metrics_report(m, 400, 2, 1, keys, values, 1) == FA_OK, "%s", fa_error_message());
  FA_CHECK(fa_metrics_close(m) == FA_OK, "%s", fa_error_message());
  fclose(echo);

  char path[4400];
  snprintf(path, sizeof path, "%s/%s.jsonl", dir, run);
  char *jsonl = fa_test_read_file(path), *lines[8];
  FA_CHECK(jsonl, "no %s", path);
  if (!jsonl) return;
  int n = split_lines(jsonl, lines, 8);
  FA_CHECK(n == 3, "%d JSON lines, want 3", n);
  cJSON *obj[3] = {NULL};
  for (int i = 0; i < n && i < 3; i++) {
    obj[i] = cJSON_Parse(lines[i]);
    FA_CHECK(cJSON_IsObject(obj[i]), "line %d is not a JSON object: %s", i, lines[i]);
  }
  if (obj[0] && obj[1] && obj[2]) {
    FA_CHECK(number(obj[0], "iteration") == 0 && number(obj[0], "epoch") == 0 && number(obj[0], "time_s") >= 0,
             "line 0 header: %s", lines[0]);
    FA_CHECK(cJSON_GetArraySize(obj[0]) == 3 + 8, "line 0 holds every key, shown or not: %s", lines[0]);
    for (int i = 0; i < 8; i++) FA_CHECK(number(obj[0], keys[i]) == values[i], "%s: %s", keys[i], lines[0]);
    FA_CHECK(number(obj[1], "iteration") == 200 && number(obj[1], "epoch") == 1, "line 1: %s", lines[1]);
    for (int i = 0; i < 3; i++)
      FA_CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(obj[1], odd_keys[i])), "%s is null: %s", odd_keys[i],
               lines[1]);
    for (int i = 3; i < 7; i++)
      FA_CHECK(number(obj[1], odd_keys[i]) == odd_values[i], "%s read back exactly: %s", odd_keys[i], lines[1]);
    FA_CHECK(strstr(lines[1], "\"delta_l2\": 0.30000000000000004") && strstr(lines[1], "\"grad_norm\": null"),
             "number format: %s", lines[1]);
    FA_CHECK(number(obj[2], "iteration") == 400 && number(obj[2], "lr") == 0.1, "appended line: %s", lines[2]);
  }
  for (int i = 0; i < 3; i++) cJSON_Delete(obj[i]);
  free(jsonl);

  /* the human log, and the same lines on the echo stream */
  snprintf(path, sizeof path, "%s/%s.log", dir, run);
  const char *sources[2] = {path, echo_path};
  for (int s = 0; s < 2; s++) {
    char *log = fa_test_read_file(sources[s]);
    n = log ? split_lines(log, lines, 8) : 0;
    FA_CHECK(n == (s == 0 ? 4 : 3), "%s: %d lines", sources[s], n);
    if (n >= 3) {
      check_line(lines[0], expected_line, sources[s]);
      check_line(lines[1], "1-200: [test] acc_pgd nan  [train] loss inf  grad_norm -inf, delta_l2 0.3, exact 0.3333, "
                           "tiny 1e-300, quote\"back\\slash -7", sources[s]);
      const char *free_line = after_stamp(lines[2]);
      FA_CHECK(free_line && strcmp(free_line, "[last: test on 1000 points] acc_clean 80.50%, pgd_rr 43.25%") == 0,
               "free line: %s", lines[2]);
    }
    if (n == 4) check_line(lines[3], "2-400: lr 0.1", sources[s]);
    free(log);
  }
}

/* A record with every kind of member, a hostile string among them. */
static void check_records(void) {
  char dir[4200];
  snprintf(dir, sizeof dir, "%s/records", tmpdir);
  fa_metrics *m = fa_metrics_open(dir, "run", NULL);
  FA_CHECK(m, "%s", fa_error_message());
  if (!m) return;
  /* quote, backslash, newline, tab, \x01, e acute (2 bytes), a 4-byte character; then bytes that are not
   * UTF-8: a lone 0xff, an overlong '/' (c0 af), a surrogate (ed a0 80), a cut sequence (e2 82) */
  const char *hostile = "a\"b\\c\nd\te\x01 \xc3\xa9 \xf0\x9d\x9b\xbf|\xff|\xc0\xaf|\xed\xa0\x80|\xe2\x82";
  const char *readable = "a\"b\\c\nd\te\x01 \xc3\xa9 \xf0\x9d\x9b\xbf|\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|"
                         "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd";
  fa_json *inner = fa_json_create(), *o = fa_json_create(), *more = fa_json_create();
  fa_json_add_number(inner, "acc", 0.1 + 0.2);
  fa_json_add_string(o, "path", hostile);
  fa_json_add_float(o, "lr", 0.2f);
  fa_json_add_int(o, "n", -1);
  fa_json_add_bool(o, "on", true);
  fa_json_add_number(o, "nan", NAN);
  fa_json_add_null(o, "none");
  fa_json_add_object(o, "last", inner);
  fa_json_add_int(more, "k", 7);
  fa_json_add_members(o, more);
  FA_CHECK(fa_metrics_record(m, "config", o) == FA_OK, "%s", fa_error_message());
  FA_CHECK(fa_metrics_report(m, 0, 0, 1, keys, values, 1) == FA_OK, "%s", fa_error_message());
  FA_CHECK(fa_metrics_close(m) == FA_OK, "%s", fa_error_message());
  fa_json_destroy(inner);
  fa_json_destroy(o);
  fa_json_destroy(more);

  char path[4400];
  snprintf(path, sizeof path, "%s/run.jsonl", dir);
  char *text = fa_test_read_file(path), *lines[4];
  int n = text ? split_lines(text, lines, 4) : 0;
  FA_CHECK(n == 2, "%d lines, want the record and a report", n);
  if (n < 1) return free(text);
  const char *start = "{\"config\": {\"path\": \"a\\\"b\\\\c\\u000ad\\u0009e\\u0001 ";
  FA_CHECK(!strncmp(lines[0], start, strlen(start)) &&
               strstr(lines[0], "\"lr\": 0.2, \"n\": -1, \"on\": true, \"nan\": null, \"none\": null, "
                                "\"last\": {\"acc\": 0.30000000000000004}, \"k\": 7}}"),
           "record line: %s", lines[0]);
  cJSON *j = cJSON_Parse(lines[0]);
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "config");
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(c, "path");
  FA_CHECK(cJSON_IsString(p) && !strcmp(p->valuestring, readable), "the string reads back (U+FFFD for non-UTF-8): %s",
           lines[0]);
  cJSON_Delete(j);
  free(text);
  snprintf(path, sizeof path, "%s/run.log", dir);
  text = fa_test_read_file(path);
  n = text ? split_lines(text, lines, 4) : 0;
  FA_CHECK(n == 1, "the log has the report's line only: %d lines", n);
  free(text);
}

static void check_open_errors(void) {
  FA_CHECK(!fa_metrics_open(tmpdir, "a/b", NULL) && strstr(fa_error_message(), "no '/'"), "%s", fa_error_message());
  FA_CHECK(!fa_metrics_open(tmpdir, "", NULL), "empty run name");
  char file[4200], below[4300];
  snprintf(file, sizeof file, "%s/plain_file", tmpdir);
  fclose(fopen(file, "w"));
  snprintf(below, sizeof below, "%s/logs", file);
  FA_CHECK(!fa_metrics_open(below, "run", NULL) && strstr(fa_error_message(), "cannot create the log directory"),
           "%s", fa_error_message());
}

/* A new run's files are created, never opened if they exist (another run's). */
static void check_create_is_exclusive(void) {
  char dir[4200], path[4400];
  snprintf(dir, sizeof dir, "%s/exclusive", tmpdir);
  fa_metrics *m = fa_metrics_create(dir, "run", NULL);
  FA_CHECK(m && fa_metrics_log(m, "the first run") == FA_OK, "create: %s", fa_error_message());
  FA_CHECK(!fa_metrics_create(dir, "run", NULL) && strstr(fa_error_message(), "cannot create") &&
               strstr(fa_error_message(), strerror(EEXIST)),
           "a second create of the same run: %s", fa_error_message());
  FA_CHECK(fa_metrics_close(m) == FA_OK, "%s", fa_error_message());
  snprintf(path, sizeof path, "%s/run.log", dir);
  char *log = fa_test_read_file(path);
  FA_CHECK(log && strstr(log, "the first run") && !strchr(strchr(log, '\n') + 1, '\n'), "the first run's log: %s",
           log ? log : "");
  free(log);
  snprintf(path, sizeof path, "%s/other.log", dir);
  fclose(fopen(path, "w"));  /* only the log exists: the metrics file must not be left behind either */
  FA_CHECK(!fa_metrics_create(dir, "other", NULL), "create over an existing log");
  snprintf(path, sizeof path, "%s/other.jsonl", dir);
  FA_CHECK(access(path, F_OK) != 0, "a refused create left %s", path);
}

/* ---------------------------------------------------------------- progress */

static void check_progress_plain(void) {
  char path[4200];
  snprintf(path, sizeof path, "%s/progress.txt", tmpdir);
  FILE *fp = fopen(path, "w");
  FA_CHECK(!fa_progress_is_terminal(fp), "a file is not a terminal");
  fa_progress *p = fa_progress_create(fp, "train", 10, 0); /* a line at every update */
  for (long i = 1; i <= 3; i++) fa_progress_update(p, i, 128 * i);
  fa_progress_finish(p);
  p = fa_progress_create(fp, "eval", 1000, 3600); /* the first update and the end only */
  for (long i = 1; i <= 1000; i++) fa_progress_update(p, i, i);
  fa_progress_finish(p);
  fa_progress_update(NULL, 1, 1); /* a display that could not be made is a no-op */
  fa_progress_finish(NULL);
  fclose(fp);

  char *text = fa_test_read_file(path), *lines[16];
  int n = text ? split_lines(text, lines, 16) : 0;
  FA_CHECK(n == 6, "%d progress lines, want 6", n);
  const char *labels[6] = {"train", "train", "train", "train", "eval", "eval"};
  const long done[6] = {1, 2, 3, 3, 1, 1000}, total[6] = {10, 10, 10, 10, 1000, 1000};
  for (int i = 0; i < n && i < 6; i++) {
    char label[16], left[16];
    long d, t;
    double pct, rate;
    int k = sscanf(lines[i], "%15[^:]: %ld/%ld (%lf%%), %lf images/s, %15s left", label, &d, &t, &pct, &rate, left);
    FA_CHECK(k == 6 && strcmp(label, labels[i]) == 0 && d == done[i] && t == total[i] &&
                 fabs(pct - 100.0 * d / t) < 0.06 && rate >= 0,
             "progress line %d: %s", i, lines[i]);
  }
  if (n == 6) FA_CHECK(strstr(lines[5], ", 0s left"), "nothing left at the end: %s", lines[5]);
  free(text);
}

static void check_progress_terminal(void) {
  int master = posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0 || grantpt(master) || unlockpt(master)) {
    printf("SKIP terminal progress check: no pseudo-terminal here\n");
    if (master >= 0) close(master);
    return;
  }
  FILE *tty = fopen(ptsname(master), "w");
  FA_CHECK(tty && fa_progress_is_terminal(tty), "a pseudo-terminal is a terminal");
  if (!tty) {
    close(master);
    return;
  }
  fa_progress *p = fa_progress_create(tty, "train", 20, 30);
  fa_progress_update(p, 5, 640);
  fa_progress_update(p, 20, 2560); /* within 0.1 s of the last draw: not drawn */
  fa_progress_finish(p);
  fclose(tty);
  fcntl(master, F_SETFL, O_NONBLOCK);
  /* a pseudo-terminal hands the output over in pieces: read until it is drained */
  char buf[4096];
  size_t have = 0;
  for (ssize_t got; have < sizeof buf - 1 && (got = read(master, buf + have, sizeof buf - 1 - have)) > 0;)
    have += (size_t)got;
  buf[have] = '\0';
  FA_CHECK(strstr(buf, "\r\033[Ktrain [#####---------------]      5/20  25.0%"), "first bar: %s", buf);
  FA_CHECK(strstr(buf, "\r\033[Ktrain [####################]     20/20 100.0%"), "final bar: %s", buf);
  FA_CHECK(strstr(buf, "img/s") && strstr(buf, "left"), "rate and time left: %s", buf);
  close(master);
}

int main(void) {
  tmpdir = fa_test_tmpdir("test_metrics");
  check_reports();
  check_records();
  check_open_errors();
  check_create_is_exclusive();
  check_progress_plain();
  check_progress_terminal();
  return fa_test_exit();
}
