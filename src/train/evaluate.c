#include "train/evaluate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "adv/attack.h"
#include "core/arena.h"
#include "core/autograd.h"
#include "data/loader.h"
#include "io/progress.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

#define FA_EVAL_TEXT_MAX 9216 /* a log header: a checkpoint path and the settings */

/* s as a JSON string's contents into out: '"' and '\\' escaped, control
 * characters as \\u00XX (cut short where out is too small). */
static void json_escape(const char *s, char *out, size_t len) {
  size_t at = 0;
  for (; *s && at + 7 < len; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') at += (size_t)snprintf(out + at, len - at, "\\%c", c);
    else if (c < 0x20) at += (size_t)snprintf(out + at, len - at, "\\u%04x", c);
    else out[at++] = (char)c;
  }
  out[at] = '\0';
}

/* What the evaluation has counted so far. */
typedef struct {
  long seen, clean, robust;
  long stage_robust[FA_EVAL_MAX_STAGES];
  int n_values;   /* robust values per example in the log: the stages, or 1 */
} tally;

/* One line of the log, parsed: example index, clean, robust after each stage. */
static bool parse_line(const char *line, long *index, int *clean, int *robust, int *n) {
  int used = -1; /* stays -1 when the line ends before the list (a torn line) */
  if (sscanf(line, "{\"index\": %ld, \"clean\": %d, \"robust\": [%n", index, clean, &used) != 2 || used < 0)
    return false;
  const char *at = line + used;
  for (*n = 0; *n < FA_EVAL_MAX_STAGES; (*n)++) {
    int k = -1;
    if (sscanf(at, "%d%n", &robust[*n], &k) != 1 || k < 0) return false;
    at += k;
    if (strncmp(at, "]}", 2) == 0) return (*n)++, at[2] == '\n';
    if (strncmp(at, ", ", 2) != 0) return false;
    at += 2;
  }
  return false;
}

static int write_header(FILE *f, const char *header) {
  char text[2 * FA_EVAL_TEXT_MAX];
  json_escape(header, text, sizeof text);
  return fprintf(f, "{\"evaluation\": \"%s\"}\n", text);
}

/* Reads a log of the same header into t, truncating a torn last line;
 * returns the file open for appending, NULL and a message on failure. */
static FILE *open_log(const fa_eval_log *log, tally *t) {
  FILE *f = fopen(log->path, "r");
  if (f && !log->resume) {
    fclose(f);
    fa_error_set(FA_ERR_IO, "the per-example log %s exists: pass --resume_eval to continue that evaluation, or "
                 "remove it (or give another --results_json) to start again", log->path);
    return NULL;
  }
  long keep = 0;
  if (f) {
    char line[2 * FA_EVAL_TEXT_MAX + 32], header[sizeof line], text[2 * FA_EVAL_TEXT_MAX];
    json_escape(log->header, text, sizeof text);
    snprintf(header, sizeof header, "{\"evaluation\": \"%s\"}\n", text);
    bool read = fgets(line, sizeof line, f) != NULL;
    /* killed before its first line was whole: nothing was done */
    bool torn_header = !read || (!strchr(line, '\n') && strncmp(line, header, strlen(line)) == 0);
    if (!torn_header && strcmp(line, header) != 0) {
      fclose(f);
      fa_error_set(FA_ERR_INVALID, "--resume_eval: %s is the log of another evaluation (its first line is not "
                   "%.*s): give the same command as the stopped one, or remove the file", log->path,
                   (int)strlen(header) - 1, header);
      return NULL;
    }
    keep = torn_header ? 0 : ftell(f);
    long index;
    int clean, robust[FA_EVAL_MAX_STAGES], n;
    while (!torn_header && fgets(line, sizeof line, f) && parse_line(line, &index, &clean, robust, &n) &&
           index == t->seen && n == t->n_values) {
      t->seen++;
      t->clean += clean;
      t->robust += robust[n - 1];
      for (int s = 0; s < n; s++) t->stage_robust[s] += robust[s];
      keep = ftell(f);
    }
    fclose(f);
    if (truncate(log->path, keep) != 0) {
      fa_error_set(FA_ERR_IO, "cannot truncate the per-example log %s to its whole lines", log->path);
      return NULL;
    }
  }
  f = fopen(log->path, "a");
  if (!f) fa_error_set(FA_ERR_IO, "cannot write the per-example log %s: check the directory exists and is "
                       "writable", log->path);
  else if (keep == 0 && (write_header(f, log->header) < 0 || fflush(f) != 0)) {
    fclose(f);
    fa_error_set(FA_ERR_IO, "cannot write the per-example log %s", log->path);
    return NULL;
  }
  return f;
}

/* The batch's examples into the log, flushed. */
static fa_status append_log(FILE *f, const char *path, long first, int n, const bool *clean, const bool *robust,
                            const fa_eval_stages *stages) {
  for (int i = 0; i < n; i++) {
    fprintf(f, "{\"index\": %ld, \"clean\": %d, \"robust\": [", first + i, clean[i]);
    for (int s = 0; s < (stages->n ? stages->n : 1); s++)
      fprintf(f, "%s%d", s ? ", " : "", stages->n ? stages->robust[(size_t)s * n + i] : robust[i]);
    fprintf(f, "]}\n");
  }
  if (fflush(f) != 0 || ferror(f)) return fa_error_set(FA_ERR_IO, "cannot write the per-example log %s", path);
  return FA_OK;
}

fa_status fa_evaluate(fa_model *model, const fa_dataset *ds, int n, int batch_size, float eps,
                      const fa_eval_attack *attack, const fa_attack_options *options, int seed,
                      const fa_eval_log *log, fa_eval_result *out) {
  memset(out, 0, sizeof *out);
  tally t = {0};
  int n_stages = attack->stage_titles ? attack->stage_titles(options, out->stage_titles) : 0;
  if (n_stages < 0) return fa_error_code();
  t.n_values = n_stages ? n_stages : 1;
  FILE *log_file = log ? open_log(log, &t) : NULL;
  if (log && !log_file) return fa_error_code();
  long resumed = t.seen;
  fa_loader_config cfg = {.mode = FA_LOADER_EVAL, .batch_size = batch_size, .n_examples = n};
  fa_loader *loader = fa_loader_create(ds, &cfg, fa_rng_stream(0, FA_STREAM_SHUFFLE),
                                       fa_rng_stream(0, FA_STREAM_AUGMENT));
  if (!loader) {
    if (log_file) fclose(log_file);
    return fa_error_code();
  }
  fa_rng rng = fa_rng_stream((uint64_t)seed, FA_STREAM_EVAL);
  size_t image = (size_t)ds->c * ds->h * ds->w;
  float *x = malloc((size_t)batch_size * image * sizeof *x);
  int *y = malloc((size_t)batch_size * sizeof *y);
  bool *clean_ok = malloc((size_t)batch_size * sizeof *clean_ok), *robust = malloc((size_t)batch_size);
  bool *stage_robust = malloc((size_t)batch_size * FA_EVAL_MAX_STAGES);
  fa_status status = x && y && clean_ok && robust && stage_robust
                         ? FA_OK : fa_error_set(FA_ERR_NOMEM, "out of memory for evaluation batches");
  fa_arena *arena = fa_arena_current();
  fa_progress *progress = fa_progress_create(stderr, "eval", fa_loader_batches_per_epoch(loader), 1.0);
  fa_eval_stages stages = {.robust = stage_robust};
  double start = now_s();
  long at = 0, done = 0; /* the data set index of the batch's first example */
  fa_loader_begin_epoch(loader);
  int count;
  while (status == FA_OK && (count = fa_loader_next(loader, x, y)) > 0) {
    long skip = t.seen > at ? (t.seen - at < count ? t.seen - at : count) : 0; /* done before a resume */
    int m = count - (int)skip;
    fa_arena_mark mark = fa_arena_get_mark(arena);
    fa_tensor *xb = m > 0 ? fa_tensor_from(4, (int[]){m, ds->c, ds->h, ds->w}, x + skip * image) : NULL;
    fa_tensor *yb = xb ? fa_labels_from(m, y + skip, fa_model_get_config(model)->n_classes) : NULL;
    fa_eval_attack_input in = {.model = model, .x = xb, .y = yb, .eps = eps, .options = options, .rng = &rng,
                               .first_example = at + skip, .stages = &stages};
    stages.n = 0;
    int robust_now = yb ? fa_eval_attack_robust(attack, &in, robust) : m > 0 ? -1 : 0;
    bool was = fa_set_grad_enabled(false);
    fa_tensor *clean_logits = robust_now >= 0 && m > 0 ? fa_model_forward(model, xb, false) : NULL;
    fa_set_grad_enabled(was);
    int clean = clean_logits ? fa_mark_correct(clean_logits, yb, clean_ok) : -1;
    if (m > 0 && clean < 0) status = fa_error_code();
    if (status == FA_OK && m > 0) {
      t.clean += clean;
      t.robust += robust_now;
      t.seen += m;
      for (int s = 0; s < stages.n; s++) {
        for (int i = 0; i < m; i++) t.stage_robust[s] += stages.robust[(size_t)s * m + i];
        out->stage_seconds[s] += stages.seconds[s];
      }
      if (log_file) status = append_log(log_file, log->path, at + skip, m, clean_ok, robust, &stages);
    }
    at += count;
    if (status == FA_OK) fa_progress_update(progress, ++done, at);
    fa_arena_release(arena, mark);
  }
  fa_progress_finish(progress);
  fa_loader_free(loader);
  free(x);
  free(y);
  free(clean_ok);
  free(robust);
  free(stage_robust);
  if (log_file && fclose(log_file) != 0 && status == FA_OK)
    status = fa_error_set(FA_ERR_IO, "cannot write the per-example log %s", log->path);
  if (status != FA_OK) return status;
  out->n = (int)t.seen;
  out->clean_acc = t.seen ? (double)t.clean / t.seen : 0;
  out->robust_acc = t.seen ? (double)t.robust / t.seen : 0;
  out->seconds = now_s() - start;
  out->n_stages = n_stages;
  out->n_resumed = (int)resumed;
  for (int s = 0; s < n_stages; s++) out->stage_acc[s] = t.seen ? (double)t.stage_robust[s] / t.seen : 0;
  return FA_OK;
}

fa_status fa_eval_write_results(const char *path, const fa_eval_result *r, const char *model, float eps,
                                const char *label) {
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f)
    return fa_error_set(FA_ERR_IO, "cannot write the results file %s: check the directory exists and is writable",
                        tmp);
  char text[2 * FA_EVAL_TEXT_MAX];
  json_escape(model, text, sizeof text);
  fprintf(f, "{\n  \"model\": \"%s\",\n  \"attack\": \"%s\",\n  \"eps\": %.9g,\n  \"n_examples\": %d,\n"
          "  \"clean_acc\": %.6f,\n  \"%s\": %.6f,\n  \"stages\": [", text, label, eps, r->n, 100 * r->clean_acc,
          r->n_stages ? "autoattack_acc" : "robust_acc", 100 * r->robust_acc);
  for (int s = 0; s < r->n_stages; s++)
    fprintf(f, "%s\n    {\"name\": \"%s\", \"robust_acc\": %.6f, \"seconds\": %.3f}", s ? "," : "",
            r->stage_titles[s], 100 * r->stage_acc[s], r->stage_seconds[s]);
  fprintf(f, "%s],\n  \"seconds\": %.3f\n}\n", r->n_stages ? "\n  " : "", r->seconds);
  bool ok = fflush(f) == 0 && !ferror(f) && fsync(fileno(f)) == 0;
  ok = fclose(f) == 0 && ok;
  if (!ok || rename(tmp, path) != 0) {
    unlink(tmp);
    return fa_error_set(FA_ERR_IO, "cannot write the results file %s (disk full, or not writable)", path);
  }
  return FA_OK;
}
