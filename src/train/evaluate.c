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

/* One evaluation batch's results, as the ranks exchange them: a header,
 * then clean[batch], robust[batch] and the stages' robust[FA_EVAL_MAX_STAGES
 * * batch] flags (bytes). */
typedef struct {
  int64_t first;  /* the data set index of its first example evaluated */
  int32_t m;      /* examples evaluated (0: no batch) */
  int32_t n_stages;
  double seconds[FA_EVAL_MAX_STAGES];
} batch_head;

typedef struct {
  size_t bytes, batch;
  unsigned char *mine, *all; /* this rank's record; every rank's, in rank order */
} batch_records;

static bool *clean_of(unsigned char *rec) { return (bool *)(rec + sizeof(batch_head)); }
static bool *robust_of(unsigned char *rec, size_t batch) { return clean_of(rec) + batch; }
static bool *stages_of(unsigned char *rec, size_t batch) { return clean_of(rec) + 2 * batch; }

/* Evaluates x, y (count examples from data set index at; those before
 * t->seen were done before a resume) into this rank's record. */
static fa_status evaluate_batch(fa_model *model, const fa_dataset *ds, const float *x, const int *y, int count,
                                long at, long seen, float eps, const fa_eval_attack *attack,
                                const fa_attack_options *options, fa_rng *rng, batch_records *rec) {
  batch_head *head = (batch_head *)rec->mine;
  memset(head, 0, sizeof *head);
  size_t image = (size_t)ds->c * ds->h * ds->w;
  long skip = seen > at ? (seen - at < count ? seen - at : count) : 0; /* done before a resume */
  int m = count - (int)skip;
  if (m <= 0) return FA_OK;
  fa_eval_stages stages = {.robust = stages_of(rec->mine, rec->batch)};
  bool *clean_ok = clean_of(rec->mine), *robust = robust_of(rec->mine, rec->batch);
  fa_tensor *xb = fa_tensor_from(4, (int[]){m, ds->c, ds->h, ds->w}, x + skip * image);
  fa_tensor *yb = xb ? fa_labels_from(m, y + skip, fa_model_get_config(model)->n_classes) : NULL;
  fa_eval_attack_input in = {.model = model, .x = xb, .y = yb, .eps = eps, .options = options, .rng = rng,
                             .first_example = at + skip, .stages = &stages};
  int robust_now = yb ? fa_eval_attack_robust(attack, &in, robust) : -1;
  bool was = fa_set_grad_enabled(false);
  fa_tensor *clean_logits = robust_now >= 0 ? fa_model_forward(model, xb, false) : NULL;
  fa_set_grad_enabled(was);
  if (!clean_logits || fa_mark_correct(clean_logits, yb, clean_ok) < 0) return fa_error_code();
  *head = (batch_head){.first = at + skip, .m = m, .n_stages = stages.n};
  for (int s = 0; s < stages.n; s++) head->seconds[s] = stages.seconds[s];
  return FA_OK;
}

/* Reads past another rank's batch: its size. */
static int skip_batch(fa_loader *loader, float *x, int *y) {
  int count = fa_loader_next(loader, x, y);
  return count > 0 ? count : 0;
}

/* Every rank's record of a round into the tally (and rank 0's log), in rank order: batch order. */
static fa_status count_round(const batch_records *rec, int size, tally *t, FILE *log_file, const char *path,
                             fa_eval_result *out) {
  fa_status status = FA_OK;
  for (int k = 0; k < size && status == FA_OK; k++) {
    unsigned char *r = rec->all + (size_t)k * rec->bytes;
    const batch_head *head = (const batch_head *)r;
    int m = head->m;
    const bool *clean = clean_of(r), *robust = robust_of(r, rec->batch);
    fa_eval_stages stages = {.n = head->n_stages, .robust = stages_of(r, rec->batch)};
    for (int i = 0; i < m; i++) {
      t->clean += clean[i];
      t->robust += robust[i];
    }
    t->seen += m;
    for (int s = 0; s < stages.n; s++) {
      for (int i = 0; i < m; i++) t->stage_robust[s] += stages.robust[(size_t)s * m + i];
      out->stage_seconds[s] += head->seconds[s];
    }
    if (log_file && m > 0) status = append_log(log_file, path, head->first, m, clean, robust, &stages);
  }
  return status;
}

fa_status fa_evaluate(fa_model *model, const fa_dataset *ds, int n, int batch_size, float eps,
                      const fa_eval_attack *attack, const fa_attack_options *options, int seed, fa_comm *comm,
                      const fa_eval_log *log, fa_eval_result *out) {
  memset(out, 0, sizeof *out);
  tally t = {0};
  int n_stages = attack->stage_titles ? attack->stage_titles(options, out->stage_titles) : 0;
  if (n_stages < 0) return fa_error_code();
  t.n_values = n_stages ? n_stages : 1;
  bool writes = comm->rank == 0;
  FILE *log_file = log && writes ? open_log(log, &t) : NULL;
  fa_status status = fa_comm_agree(comm, log && writes && !log_file ? fa_error_code() : FA_OK);
  if (status != FA_OK) return status;
  fa_comm_broadcast(comm, &t, sizeof t, 0); /* what a resumed log holds */
  long resumed = t.seen;
  fa_loader_config cfg = {.mode = FA_LOADER_EVAL, .batch_size = batch_size, .n_examples = n};
  fa_loader *loader = fa_loader_create(ds, &cfg, fa_rng_stream(0, FA_STREAM_SHUFFLE),
                                       fa_rng_stream(0, FA_STREAM_AUGMENT));
  size_t image = (size_t)ds->c * ds->h * ds->w;
  /* records of a whole number of 8-byte words: every rank's header stays aligned in rec.all */
  batch_records rec = {.bytes = (sizeof(batch_head) + (2 + FA_EVAL_MAX_STAGES) * (size_t)batch_size + 7) / 8 * 8,
                       .batch = (size_t)batch_size};
  rec.mine = calloc(1, rec.bytes);
  rec.all = calloc((size_t)comm->size, rec.bytes);
  float *x = malloc((size_t)batch_size * image * sizeof *x);
  int *y = malloc((size_t)batch_size * sizeof *y);
  status = loader && x && y && rec.mine && rec.all
               ? FA_OK : loader ? fa_error_set(FA_ERR_NOMEM, "out of memory for evaluation batches") : fa_error_code();
  int batches = loader ? fa_loader_batches_per_epoch(loader) : 0;
  fa_rng rng = fa_rng_stream((uint64_t)seed, FA_STREAM_EVAL);
  fa_arena *arena = fa_arena_current();
  fa_progress *progress = writes ? fa_progress_create(stderr, "eval", batches, 1.0) : NULL;
  double start = now_s();
  long at = 0; /* the data set index of the next batch's first example */
  if (loader) fa_loader_begin_epoch(loader);
  status = fa_comm_agree(comm, status);
  /* rounds of comm->size batches, the k-th of a round on rank k: every rank reads every batch and keeps its own */
  for (int b = 0; b < batches && status == FA_OK; b += comm->size) {
    int k = 0, mine = 0;
    long mine_at = at;
    for (; k < comm->rank && b + k < batches; k++) at += skip_batch(loader, x, y);
    if (k == comm->rank && b + k < batches) {
      mine_at = at;
      mine = fa_loader_next(loader, x, y);
      at += mine > 0 ? mine : 0;
      k++;
    }
    fa_arena_mark mark = fa_arena_get_mark(arena);
    memset(rec.mine, 0, sizeof(batch_head));
    if (mine > 0) status = evaluate_batch(model, ds, x, y, mine, mine_at, t.seen, eps, attack, options, &rng, &rec);
    fa_arena_release(arena, mark);
    for (; k < comm->size && b + k < batches; k++) at += skip_batch(loader, x, y);
    if ((status = fa_comm_agree(comm, status)) != FA_OK) break;
    fa_comm_allgather(comm, rec.mine, rec.bytes, rec.all);
    status = count_round(&rec, comm->size, &t, log_file, log ? log->path : NULL, out);
    fa_progress_update(progress, b + comm->size < batches ? b + comm->size : batches, at);
  }
  fa_progress_finish(progress);
  fa_loader_free(loader);
  free(x);
  free(y);
  free(rec.mine);
  free(rec.all);
  if (log_file && fclose(log_file) != 0 && status == FA_OK)
    status = fa_error_set(FA_ERR_IO, "cannot write the per-example log %s", log->path);
  if ((status = fa_comm_agree(comm, status)) != FA_OK) return status;
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
