#include "analysis/runlog.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adv/registry.h"

static int key_index(fa_metrics_table *t, const char *key) {
  for (int k = 0; k < t->n_keys; k++)
    if (strcmp(t->keys[k], key) == 0) return k;
  return -1;
}

/* a new column for `key`, NAN for the reports before this one */
static int add_key(fa_metrics_table *t, const char *key, int capacity) {
  char **keys = realloc(t->keys, (t->n_keys + 1) * sizeof *keys);
  if (!keys) return -1;
  t->keys = keys;
  double **values = realloc(t->values, (t->n_keys + 1) * sizeof *values);
  if (!values) return -1;
  t->values = values;
  t->keys[t->n_keys] = strdup(key);
  t->values[t->n_keys] = malloc(capacity * sizeof(double));
  if (!t->keys[t->n_keys] || !t->values[t->n_keys]) {
    free(t->keys[t->n_keys]);
    free(t->values[t->n_keys]);
    return -1;
  }
  for (int r = 0; r < capacity; r++) t->values[t->n_keys][r] = NAN;
  return t->n_keys++;
}

static int grow(fa_metrics_table *t, int capacity) {
  for (int k = 0; k < t->n_keys; k++) {
    double *v = realloc(t->values[k], capacity * sizeof *v);
    if (!v) return 0;
    for (int r = t->n_reports; r < capacity; r++) v[r] = NAN;
    t->values[k] = v;
  }
  return 1;
}

static fa_status add_report(fa_metrics_table *t, const cJSON *obj, int *capacity) {
  if (t->n_reports == *capacity) {
    int next = *capacity ? 2 * *capacity : 64;
    if (!grow(t, next)) return fa_error_set(FA_ERR_NOMEM, "out of memory reading metrics");
    *capacity = next;
  }
  for (const cJSON *item = obj->child; item; item = item->next) {
    int k = key_index(t, item->string);
    if (k < 0 && (k = add_key(t, item->string, *capacity)) < 0)
      return fa_error_set(FA_ERR_NOMEM, "out of memory reading metrics");
    t->values[k][t->n_reports] = cJSON_IsNumber(item) ? item->valuedouble : NAN;  /* null: NaN */
  }
  t->n_reports++;
  return FA_OK;
}

static void estimate_iters_per_epoch(fa_metrics_table *t) {
  const double *it = fa_metrics_column(t, "iteration"), *ep = fa_metrics_column(t, "epoch");
  double lo = 1;
  for (int r = 0; it && ep && r < t->n_reports; r++)
    if (ep[r] >= 1 && ceil(it[r] / ep[r]) > lo) lo = ceil(it[r] / ep[r]);
  t->iters_per_epoch = (int)lo;
}

/* A record line: {"<name>": {...}}, one member, an object (README, "Outputs"). */
static bool is_record(const cJSON *obj) {
  return cJSON_IsObject(obj) && obj->child && !obj->child->next && cJSON_IsObject(obj->child);
}

fa_status fa_metrics_read(const char *path, fa_metrics_table *t) {
  *t = (fa_metrics_table){0};
  FILE *f = fopen(path, "r");
  if (!f) return fa_error_set(FA_ERR_IO, "cannot open the metrics file %s", path);
  char *line = NULL;
  size_t cap = 0;
  int capacity = 0, line_no = 0;
  fa_status st = FA_OK;
  while (st == FA_OK && getline(&line, &cap, f) != -1) {
    line_no++;
    if (strspn(line, " \t\r\n") == strlen(line)) continue;
    cJSON *obj = cJSON_Parse(line);
    if (cJSON_IsObject(obj) && cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(obj, "iteration")))
      st = add_report(t, obj, &capacity);
    else if (!is_record(obj))
      st = fa_error_set(FA_ERR_FORMAT, "%s, line %d: neither a metrics report (a JSON object with an \"iteration\") "
                        "nor a record ({\"name\": {...}})", path, line_no);
    cJSON_Delete(obj);
  }
  free(line);
  fclose(f);
  if (st == FA_OK && t->n_reports == 0) st = fa_error_set(FA_ERR_FORMAT, "%s holds no reports", path);
  if (st != FA_OK) {
    fa_metrics_free(t);
    return st;
  }
  estimate_iters_per_epoch(t);
  return FA_OK;
}

void fa_metrics_free(fa_metrics_table *t) {
  for (int k = 0; k < t->n_keys; k++) {
    free(t->keys[k]);
    free(t->values[k]);
  }
  free(t->keys);
  free(t->values);
  *t = (fa_metrics_table){0};
}

const double *fa_metrics_column(const fa_metrics_table *t, const char *key) {
  for (int k = 0; k < t->n_keys; k++)
    if (strcmp(t->keys[k], key) == 0) return t->values[k];
  return NULL;
}

double fa_metrics_epoch(const fa_metrics_table *t, int r) {
  const double *it = fa_metrics_column(t, "iteration");
  return it[r] / t->iters_per_epoch;
}

/* ---- a run's description ---- */

/* The method's label, by the training attack's registry entry (plot's legends), then " + ELLE-A" for
 * --elle_adaptive or " + ELLE" for --elle_lambda > 0 (docs/LATER_METHODS.md). */
static void method_of(const char *attack, const char *init, fa_run_method run, bool elle_a, double elle_lambda,
                      char *method, size_t len) {
  const fa_train_attack *a = fa_train_attack_find(attack);
  if (!a)
    snprintf(method, len, "%s", attack);
  else {
    run.init = strcmp(init, "random") == 0 ? FA_INIT_RANDOM : FA_INIT_ZERO;
    fa_train_attack_method(a, &run, method, len);
  }
  size_t used = strlen(method);
  if (elle_a || elle_lambda > 0) snprintf(method + used, len - used, " + %s", elle_a ? "ELLE-A" : "ELLE");
}

static const char *json_text(const cJSON *obj, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  return cJSON_IsString(v) ? v->valuestring : "";
}

static double json_number(const cJSON *obj, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* The description from a configuration record and the final record (NULL before the run's end). */
static void info_from_records(const cJSON *config, const cJSON *final, fa_run_info *info) {
  snprintf(info->name, sizeof info->name, "%s", json_text(config, "run"));
  snprintf(info->dataset, sizeof info->dataset, "%s", json_text(config, "dataset"));
  info->eps = json_number(config, "eps");
  info->seed = (int)json_number(config, "seed");
  info->lambda = json_number(config, "grad_align_cos_lambda");
  info->monitored = cJSON_GetObjectItemCaseSensitive(config, "on_co") != NULL;
  double n_iters = json_number(config, "pgd_train_n_iters");
  fa_run_method run = {.minibatch_replay = (int)json_number(config, "minibatch_replay"),
                       .n_iters = isfinite(n_iters) ? (int)n_iters : -1, .grad_align_lambda = info->lambda};
  method_of(json_text(config, "attack"), json_text(config, "attack_init"), run,
            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(config, "elle_adaptive")), json_number(config, "elle_lambda"),
            info->method, sizeof info->method);
  const cJSON *last = final ? cJSON_GetObjectItemCaseSensitive(final, "last") : NULL;
  if (cJSON_IsObject(last)) {
    info->finished = 1;
    info->clean_acc = json_number(last, "clean_acc");
    info->pgd_acc = json_number(last, "robust_acc");
  }
}

/* ---- legacy: the .log of a run written before the records ---- */

/* The value of `key` in a run name "... key=value ..." into out; 0 if absent. */
static int run_name_value(const char *name, const char *key, char *out, size_t len) {
  size_t klen = strlen(key);
  for (const char *p = name; (p = strstr(p, key)) != NULL; p += klen) {
    if ((p != name && p[-1] != ' ') || p[klen] != '=') continue;
    const char *v = p + klen + 1;
    size_t n = strcspn(v, " \r\n");
    snprintf(out, len, "%.*s", (int)n, v);
    return 1;
  }
  return 0;
}

static double name_number(const char *name, const char *key, double fallback) {
  char v[64];
  return run_name_value(name, key, v, sizeof v) ? strtod(v, NULL) : fallback;
}

/* The hyper-parameters from the run name, the accuracies from the line
 * "[final: last model] clean acc X%, <attack> acc Y%". */
static fa_status legacy_info_read(const char *path, fa_run_info *info) {
  FILE *f = fopen(path, "r");
  if (!f) return fa_error_set(FA_ERR_IO, "cannot open the run log %s", path);
  char line[4096];
  while (fgets(line, sizeof line, f)) {
    const char *p;
    double clean, pgd;
    if (!info->name[0] && (p = strstr(line, "] run: ")) != NULL)
      snprintf(info->name, sizeof info->name, "%.*s", (int)strcspn(p + 7, "\r\n"), p + 7);
    else if ((p = strstr(line, "[final: last model] clean acc ")) != NULL &&
             sscanf(p, "[final: last model] clean acc %lf%%, %*s acc %lf%%", &clean, &pgd) == 2) {
      info->finished = 1;
      info->clean_acc = clean / 100;
      info->pgd_acc = pgd / 100;
    }
  }
  fclose(f);
  if (!info->name[0]) return fa_error_set(FA_ERR_FORMAT, "%s is not a fastadv run log (no \"run:\" line)", path);
  info->legacy = 1;
  run_name_value(info->name, "dataset", info->dataset, sizeof info->dataset);
  info->eps = name_number(info->name, "eps", NAN);
  info->seed = (int)name_number(info->name, "seed", 0);
  info->lambda = name_number(info->name, "grad_align_cos_lambda", 0);
  char attack[32] = "", init[32] = "", pgd[32] = "";
  run_name_value(info->name, "attack", attack, sizeof attack);
  run_name_value(info->name, "attack_init", init, sizeof init);
  run_name_value(info->name, "pgd", pgd, sizeof pgd);  /* "<alpha>-<steps>" */
  const char *steps = strchr(pgd, '-');
  fa_run_method run = {.minibatch_replay = (int)name_number(info->name, "m", 1),
                       .n_iters = steps && steps[1] ? atoi(steps + 1) : -1, .grad_align_lambda = info->lambda};
  char elle_a[32] = "";
  method_of(attack, init, run, run_name_value(info->name, "elle_a", elle_a, sizeof elle_a),
            name_number(info->name, "elle", 0), info->method, sizeof info->method);
  return FA_OK;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The legacy path of a .jsonl without records: its .log. */
static fa_status legacy_info_beside(const char *jsonl, fa_run_info *info) {
  size_t len = strlen(jsonl) - strlen(".jsonl");
  char *log = malloc(len + sizeof ".log");
  if (!log) return fa_error_set(FA_ERR_NOMEM, "out of memory");
  snprintf(log, len + sizeof ".log", "%.*s.log", (int)len, jsonl);
  fa_status st = legacy_info_read(log, info);
  free(log);
  return st;
}

/* AutoAttack's accuracy from autoattack.json beside logs/, the directory of `path`; NAN when there is none. */
static fa_status autoattack_beside(const char *path, double *acc) {
  *acc = NAN;
  const char *slash = strrchr(path, '/');
  const char *logs = path;
  for (const char *p = path; slash && p < slash; p++)
    if (*p == '/') logs = p + 1;
  if (!slash || slash - logs != 4 || strncmp(logs, "logs", 4) != 0) return FA_OK;
  size_t len = (size_t)(logs - path) + sizeof "autoattack.json";
  char *json = malloc(len);
  if (!json) return fa_error_set(FA_ERR_NOMEM, "out of memory");
  snprintf(json, len, "%.*sautoattack.json", (int)(logs - path), path);
  FILE *f = fopen(json, "r");
  fa_status st = FA_OK;
  if (f) {
    char text[65536]; /* the results file is a few hundred bytes; a longer one is not one */
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = 0;
    fclose(f);
    cJSON *obj = cJSON_Parse(text);
    double v = json_number(obj, "autoattack_acc");
    if (isfinite(v) && v >= 0 && v <= 100) *acc = v / 100;
    else st = fa_error_set(FA_ERR_FORMAT, "%s is not the results file of fastadv eval --attack=autoattack (no "
                           "autoattack_acc in [0, 100]): remove it or evaluate again", json);
    cJSON_Delete(obj);
  }
  free(json);
  return st;
}

fa_status fa_run_info_read(const char *path, fa_run_info *info) {
  *info = (fa_run_info){.clean_acc = NAN, .pgd_acc = NAN, .aa_acc = NAN, .co_detected = -1};
  if (ends_with(path, ".log")) return legacy_info_read(path, info);
  FILE *f = fopen(path, "r");
  if (!f) return fa_error_set(FA_ERR_IO, "cannot open the metrics file %s", path);
  cJSON *config = NULL, *final = NULL;
  char *line = NULL;
  size_t cap = 0;
  int line_no = 0;
  fa_status st = FA_OK;
  while (st == FA_OK && getline(&line, &cap, f) != -1) {
    line_no++;
    if (strspn(line, " \t\r\n") == strlen(line)) continue;
    cJSON *obj = cJSON_Parse(line);
    if (!cJSON_IsObject(obj)) {
      st = fa_error_set(FA_ERR_FORMAT, "%s, line %d: not JSON; give fastadv metrics files (logs/<run>.jsonl)", path,
                        line_no);
    } else if (is_record(obj)) {
      /* the last of each kind; a resume record holds the config's members, as the later process had them */
      const char *name = obj->child->string;
      cJSON **keep = strcmp(name, "final") == 0                                   ? &final
                     : strcmp(name, "config") == 0 || strcmp(name, "resume") == 0 ? &config
                                                                                  : NULL;
      if (keep) {
        cJSON_Delete(*keep);
        *keep = cJSON_DetachItemViaPointer(obj, obj->child);
      } else if (strcmp(name, "co_detected") == 0) {
        double at = json_number(obj->child, "iteration");
        info->co_detected = isfinite(at) ? (long)at : -1;
      }
    }
    cJSON_Delete(obj);
  }
  free(line);
  fclose(f);
  if (st == FA_OK && config) info_from_records(config, final, info);
  else if (st == FA_OK && ends_with(path, ".jsonl")) st = legacy_info_beside(path, info);
  else if (st == FA_OK)
    st = fa_error_set(FA_ERR_FORMAT, "%s has no configuration record: give fastadv metrics files (logs/<run>.jsonl)",
                      path);
  cJSON_Delete(config);
  cJSON_Delete(final);
  if (st == FA_OK) st = autoattack_beside(path, &info->aa_acc);
  return st;
}
