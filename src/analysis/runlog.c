#include "analysis/runlog.h"

#include <cjson/cJSON.h>
#include <math.h>
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
    if (!cJSON_IsObject(obj) || !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(obj, "iteration")))
      st = fa_error_set(FA_ERR_FORMAT, "%s, line %d: not a metrics report (a JSON object with an \"iteration\")", path,
                        line_no);
    else
      st = add_report(t, obj, &capacity);
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

int fa_run_name_value(const char *name, const char *key, char *out, size_t len) {
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
  return fa_run_name_value(name, key, v, sizeof v) ? strtod(v, NULL) : fallback;
}

/* The method's label, by the training attack's registry entry. */
static void method_of(fa_run_info *info) {
  char attack[32] = "", init[32] = "", pgd[32] = "";
  fa_run_name_value(info->name, "attack", attack, sizeof attack);
  fa_run_name_value(info->name, "attack_init", init, sizeof init);
  fa_run_name_value(info->name, "pgd", pgd, sizeof pgd);
  const fa_train_attack *a = fa_train_attack_find(attack);
  if (!a) {
    snprintf(info->method, sizeof info->method, "%s", attack);
    return;
  }
  const char *steps = strchr(pgd, '-');
  fa_run_method run = {.init = strcmp(init, "random") == 0 ? FA_INIT_RANDOM : FA_INIT_ZERO,
                       .minibatch_replay = (int)name_number(info->name, "m", 1),
                       .n_iters = steps && steps[1] ? atoi(steps + 1) : -1,
                       .grad_align_lambda = info->lambda};
  fa_train_attack_method(a, &run, info->method, sizeof info->method);
}

fa_status fa_run_info_read(const char *path, fa_run_info *info) {
  *info = (fa_run_info){.clean_acc = NAN, .pgd_acc = NAN};
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
  fa_run_name_value(info->name, "dataset", info->dataset, sizeof info->dataset);
  info->eps = name_number(info->name, "eps", NAN);
  info->seed = (int)name_number(info->name, "seed", 0);
  info->lambda = name_number(info->name, "grad_align_cos_lambda", 0);
  method_of(info);
  return FA_OK;
}
