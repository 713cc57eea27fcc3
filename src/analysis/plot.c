#include "analysis/plot.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analysis/gnuplot.h"
#include "analysis/runlog.h"
#include "analysis/sweep_tables.h"

enum { MAX_FILES = 4096, MAX_SERIES = 16 };
static const char *const colours[] = {"#000000", "#1f4fd8", "#d62728", "#ff8c00", "#2ca02c",
                                      "#4f7aa8", "#9467bd", "#8c564b", "#e377c2", "#17becf"};
enum { N_COLOURS = sizeof colours / sizeof *colours };

/* ---- the input files ---- */

typedef struct {
  int n;
  char *paths[MAX_FILES];
} file_list;

static void files_free(file_list *l) {
  for (int i = 0; i < l->n; i++) free(l->paths[i]);
  l->n = 0;
}

static int ends_with(const char *s, const char *ext) {
  size_t n = strlen(s), e = strlen(ext);
  return n >= e && strcmp(s + n - e, ext) == 0;
}

static fa_status add_file(file_list *l, const char *path) {
  if (l->n == MAX_FILES) return fa_error_set(FA_ERR_INVALID, "more than %d input files", MAX_FILES);
  if (!(l->paths[l->n] = strdup(path))) return fa_error_set(FA_ERR_NOMEM, "out of memory");
  l->n++;
  return FA_OK;
}

/* `text` on stderr with its control characters as \xNN */
static void put_escaped(const char *text) {
  for (const char *p = text, *c; *p; p = c + 1) {
    if (!(c = fa_gnuplot_control_char(p))) {
      fputs(p, stderr);
      return;
    }
    fprintf(stderr, "%.*s\\x%02x", (int)(c - p), p, (unsigned char)*c);
  }
}

/* A name found in a run directory with a control character could end a
 * gnuplot command (a legend is made of it): skipped, with a warning. */
static int skipped_for_control_char(const char *dir, const char *name) {
  if (!fa_gnuplot_control_char(name)) return 0;
  fprintf(stderr, "fastadv plot: skipping %s/", dir);
  put_escaped(name);
  fprintf(stderr, ": its name holds a control character, which a gnuplot script cannot carry safely; rename it\n");
  return 1;
}

/* a file as given; a directory searched recursively (in name order) for files ending in ext, leaving out
 * the per-example logs of `fastadv eval --results_json=FILE` (FILE.examples.jsonl, not metrics) */
static fa_status collect(const char *path, const char *ext, int given, file_list *l) {
  struct stat sb;
  if (stat(path, &sb) != 0) return fa_error_set(FA_ERR_IO, "--runs: %s does not exist", path);
  if (!S_ISDIR(sb.st_mode))
    return given || (ends_with(path, ext) && !ends_with(path, ".examples.jsonl")) ? add_file(l, path) : FA_OK;
  struct dirent **entries;
  int n = scandir(path, &entries, NULL, alphasort);
  if (n < 0) return fa_error_set(FA_ERR_IO, "cannot read the directory %s", path);
  fa_status st = FA_OK;
  for (int i = 0; i < n; i++) {
    if (st == FA_OK && entries[i]->d_name[0] != '.' && !skipped_for_control_char(path, entries[i]->d_name)) {
      size_t len = strlen(path) + strlen(entries[i]->d_name) + 2;
      char *child = malloc(len);
      if (!child) st = fa_error_set(FA_ERR_NOMEM, "out of memory");
      else {
        snprintf(child, len, "%s/%s", path, entries[i]->d_name);
        st = collect(child, ext, 0, l);
        free(child);
      }
    }
    free(entries[i]);
  }
  free(entries);
  return st;
}

static fa_status collect_all(const char *list, const char *ext, file_list *l) {
  char *copy = strdup(list), *save = NULL;
  if (!copy) return fa_error_set(FA_ERR_NOMEM, "out of memory");
  fa_status st = FA_OK;
  for (char *item = strtok_r(copy, ",", &save); item && st == FA_OK; item = strtok_r(NULL, ",", &save))
    st = collect(item, ext, 1, l);
  free(copy);
  if (st == FA_OK && l->n == 0) st = fa_error_set(FA_ERR_INVALID, "--runs=%s holds no %s files", list, ext);
  return st;
}

/* item i of a comma-separated list into out; 0 when the list is shorter */
static int list_item(const char *list, int i, char *out, size_t len) {
  const char *p = list;
  for (int k = 0; k < i && p; k++) p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL;
  if (!p || !*list) return 0;
  snprintf(out, len, "%.*s", (int)strcspn(p, ","), p);
  return 1;
}

/* ---- script pieces ---- */

/* what a kind draws: the data and styles, the plot commands, the canvas in pixels */
typedef struct {
  fa_script setup, plot;
  int width, height;
} figure;

static void put_number(FILE *f, double v) {
  if (isfinite(v))
    fprintf(f, " %.6g", v);
  else
    fputs(" NaN", f);
}

static void put_common(FILE *f, const fa_plot_config *c) {
  fputs("set grid lc rgb '#d0d0d0' lw 1\nset border lw 1.2\nset tics nomirror\nset key box samplen 2.5 "
        "spacing 1.1 font ',10'\nset datafile missing 'NaN'\n",
        f);
  if (c->mark_epoch >= 0)
    fprintf(f, "set arrow 1 from %g, graph 0 to %g, graph 1 nohead dt 2 lw 1.5 lc rgb 'gray40' front\n",
            c->mark_epoch, c->mark_epoch);
}

static void put_multiplot(FILE *f, const fa_plot_config *c, int panels) {
  fprintf(f, "set multiplot layout 1,%d", panels);
  if (c->title[0]) {
    fputs(" title ", f);
    fa_gnuplot_put_string(f, c->title);
    fputs(" noenhanced font ',13'", f);
  }
  fputs("\n", f);
}

/* ---- curves and filters: metrics against epochs ---- */

/* a legend name: --labels, else "<method> seed <s>" from the run's records, else the file name */
static void run_label(const fa_plot_config *c, const char *jsonl, int i, char *out, size_t len) {
  if (list_item(c->labels, i, out, len)) return;
  fa_run_info info;
  if (fa_run_info_read(jsonl, &info) == FA_OK)
    snprintf(out, len, "%s, seed %d", info.method, info.seed);
  else {
    const char *base = strrchr(jsonl, '/');
    snprintf(out, len, "%s", base ? base + 1 : jsonl);
  }
  fa_error_clear();
}

/* data block $run<i>: epoch then the named columns (scaled) */
static void put_block(FILE *f, int i, const fa_metrics_table *t, int n, const char *const *keys, const double *scale) {
  fprintf(f, "$run%d << EOD\n", i);
  for (int r = 0; r < t->n_reports; r++) {
    put_number(f, fa_metrics_epoch(t, r));
    for (int k = 0; k < n; k++) {
      const double *col = fa_metrics_column(t, keys[k]);
      put_number(f, col ? col[r] * scale[k] : NAN);
    }
    fputc('\n', f);
  }
  fputs("EOD\n", f);
}

static const char *const curve_keys[] = {"test.acc_fgsm", "test.acc_pgd", "test.loss_fgsm", "test.loss_pgd",
                                         "test.cos_x_eta", "test.cos_fgsm_pgd"};
static const double curve_scale[] = {100, 100, 1, 1, 1, 1};
static const struct {
  const char *ylabel, *key_pos, *what[2];
} curve_panels[3] = {
    {"Adversarial accuracy (%)", "below Left reverse", {"FGSM acc.", "PGD acc."}},
    {"Adversarial loss", "below Left reverse", {"FGSM loss", "PGD loss"}},
    {"Cosine", "below Left reverse", {"cos(∇ℓ(x), ∇ℓ(x+η))", "cos(δ_{FGSM}, δ_{PGD})"}},
};

static fa_status plot_curves(const fa_plot_config *c, const file_list *files, figure *fig) {
  if (files->n > N_COLOURS) return fa_error_set(FA_ERR_INVALID, "curves: at most %d runs in one figure", N_COLOURS);
  char labels[N_COLOURS][256];
  for (int i = 0; i < files->n; i++) {
    fa_metrics_table t;
    fa_status st = fa_metrics_read(files->paths[i], &t);
    if (st != FA_OK) return st;
    put_block(fig->setup.f, i, &t, 6, curve_keys, curve_scale);
    fa_metrics_free(&t);
    run_label(c, files->paths[i], i, labels[i], sizeof labels[i]);
  }
  put_common(fig->setup.f, c);
  FILE *f = fig->plot.f;
  put_multiplot(f, c, 3);
  /* the legends below the panels: two lines a run */
  fprintf(f, "set xlabel 'Epoch' offset 0,0.4\nset yrange [0:*]\nset bmargin %d\n", 5 + 2 * files->n);
  fig->height = 400 + 36 * files->n;
  for (int p = 0; p < 3; p++) {
    fprintf(f, "set ylabel '%s'\nset key %s\n%s", curve_panels[p].ylabel, curve_panels[p].key_pos,
            p == 2 ? "set yrange [*:1.02]\n" : "");
    fputs("plot ", f);
    for (int i = 0; i < files->n; i++)
      for (int s = 0; s < 2; s++) {
        fprintf(f, "%s$run%d using 1:%d with lines lw 1.6 dt %d lc rgb '%s' title '", i || s ? ", " : "", i,
                2 + 2 * p + s, s == 0 ? 2 : 1, colours[i]);
        fa_gnuplot_put_enhanced_chars(f, labels[i]);
        fprintf(f, ": %s'", curve_panels[p].what[s]);
      }
    fputs("\n", f);
  }
  fputs("unset multiplot\n", f);
  return FA_OK;
}

static fa_status plot_filters(const fa_plot_config *c, const file_list *files, figure *fig) {
  if (files->n != 1) return fa_error_set(FA_ERR_INVALID, "filters draws one run; --runs gave %d metrics files", files->n);
  fa_metrics_table t;
  fa_status st = fa_metrics_read(files->paths[0], &t);
  if (st != FA_OK) return st;
  enum { MAX_F = 32 };
  char names[2 * MAX_F][48];
  const char *keys[2 * MAX_F];
  double scale[2 * MAX_F];
  int f = 0;
  while (f < MAX_F) {
    snprintf(names[f], sizeof names[f], "cnn.filter_norm_%d", f);
    if (!fa_metrics_column(&t, names[f])) break;
    f++;
  }
  if (f == 0) {
    fa_metrics_free(&t);
    return fa_error_set(FA_ERR_INVALID, "%s has no per-filter norms (cnn.filter_norm_0): they are reported for the cnn",
                        files->paths[0]);
  }
  for (int i = 0; i < f; i++) {
    snprintf(names[f + i], sizeof names[f + i], "cnn.outgoing_norm_%d", i);
    keys[i] = names[i];
    keys[f + i] = names[f + i];
    scale[i] = scale[f + i] = 1;
  }
  put_block(fig->setup.f, 0, &t, 2 * f, keys, scale);
  fa_metrics_free(&t);
  put_common(fig->setup.f, c);
  FILE *o = fig->plot.f;
  put_multiplot(o, c, 2);
  fputs("set xlabel 'Epoch'\nset yrange [0:*]\nset key outside right\n", o);
  for (int p = 0; p < 2; p++) {
    fprintf(o, "set ylabel '%s'\nplot ", p == 0 ? "Norm of the filters" : "Norm of the outgoing weights");
    for (int i = 0; i < f; i++)
      fprintf(o, "%s$run0 using 1:%d with lines lw 1.8 lc rgb '%s' title 'Filter %d'", i ? ", " : "",
              2 + p * f + i, colours[(i + 1) % N_COLOURS], i + 1);
    fputs("\n", o);
  }
  fputs("unset multiplot\n", o);
  return FA_OK;
}

/* ---- eps and lemma2: a mean and a spread over seeds ---- */

enum { N_Y = 3 }; /* eps: PGD-50-10, clean, AutoAttack; lemma2: the measured cosine, the bound */
typedef struct {
  char series[64];
  double rank, x, y[N_Y];
} point;

static int point_order(const void *a, const void *b) {
  const point *p = a, *q = b;
  if (p->rank != q->rank) return p->rank < q->rank ? -1 : 1;
  int s = strcmp(p->series, q->series);
  if (s) return s;
  return (p->x > q->x) - (p->x < q->x);
}

typedef struct {
  double x, mean[N_Y], sd[N_Y];
  int n;
} summary;

/* the points of one (series, x), sorted: mean and sample standard deviation of each y[k] over its finite
 * values (NaN when it has none) */
static summary summarise(const point *p, int n) {
  summary s = {.x = p[0].x, .n = n};
  for (int k = 0; k < N_Y; k++) {
    double sum = 0, sq = 0;
    int m = 0;
    for (int i = 0; i < n; i++)
      if (isfinite(p[i].y[k])) sum += p[i].y[k], m++;
    s.mean[k] = m ? sum / m : NAN;
    for (int i = 0; i < n; i++)
      if (isfinite(p[i].y[k])) sq += (p[i].y[k] - s.mean[k]) * (p[i].y[k] - s.mean[k]);
    s.sd[k] = m > 1 ? sqrt(sq / (m - 1)) : 0;
  }
  return s;
}

typedef struct {
  char name[64];
  const char *colour;
} series;

/* One data block per series: x, mean0, sd0, mean1, sd1, mean2, sd2, n. The colour of a
 * series: colour_of(rank), or the palette in order when colour_of is NULL.
 * Returns the number of series. */
static int put_series(FILE *f, point *pts, int n, series out[MAX_SERIES], const char *(*colour_of)(double rank)) {
  qsort(pts, n, sizeof *pts, point_order);
  int n_series = 0;
  for (int i = 0; i < n && n_series < MAX_SERIES;) {
    snprintf(out[n_series].name, sizeof out[n_series].name, "%s", pts[i].series);
    out[n_series].colour = colour_of ? colour_of(pts[i].rank) : colours[n_series % N_COLOURS];
    fprintf(f, "$s%d << EOD\n", n_series);
    while (i < n && strcmp(pts[i].series, out[n_series].name) == 0) {
      int j = i;
      while (j < n && strcmp(pts[j].series, pts[i].series) == 0 && pts[j].x == pts[i].x) j++;
      summary s = summarise(pts + i, j - i);
      fprintf(f, "%g", s.x);
      for (int k = 0; k < N_Y; k++) {
        put_number(f, s.mean[k]);
        put_number(f, s.sd[k]);
      }
      fprintf(f, " %d\n", s.n);
      i = j;
    }
    fputs("EOD\n", f);
    n_series++;
  }
  return n_series;
}

/* mean line with a +-sd band of column group k (columns 2 + 2k, 3 + 2k); the plot command is left open */
static void put_band_plot(FILE *f, int n_series, const series sr[MAX_SERIES], int k, const char *point_style) {
  fputs("plot ", f);
  for (int s = 0; s < n_series; s++)
    fprintf(f, "%s$s%d using 1:($%d-$%d):($%d+$%d) with filledcurves fs transparent solid 0.18 noborder lc rgb '%s' notitle",
            s ? ", " : "", s, 2 + 2 * k, 3 + 2 * k, 2 + 2 * k, 3 + 2 * k, sr[s].colour);
  for (int s = 0; s < n_series; s++) {
    fprintf(f, ", $s%d using 1:%d with linespoints %s lw 1.6 lc rgb '%s' title '", s, 2 + 2 * k, point_style,
            sr[s].colour);
    fa_gnuplot_put_enhanced_chars(f, sr[s].name);
    fputc('\'', f);
  }
}

/* the paper's colours: FGSM black, FGSM-RS red, GradAlign blue, Free orange, PGD steel blue; then N-FGSM
 * green, ELLE-A purple, PGD-10 dark blue */
static const char *const method_order[] = {"Standard", "FGSM", "FGSM-RS", "N-FGSM", "FGSM + GradAlign",
                                           "FGSM + ELLE", "AT for Free", "PGD-2", "PGD"};
static const char *method_colour(double rank) {
  static const char *const by_rank[] = {"#7f7f7f", "#000000", "#d62728", "#2ca02c", "#1f4fd8",
                                        "#9467bd", "#ff8c00", "#4f7aa8", "#17324d"};
  return rank >= 0 && rank < (int)(sizeof by_rank / sizeof *by_rank) ? by_rank[(int)rank] : "#8c564b";
}

/* the index of the longest entry of method_order that begins the method's name ("PGD-2" for PGD-2, "PGD"
 * for PGD-10): the order of the table and the legend */
static double method_rank(const char *method) {
  int rank = 100;
  size_t longest = 0;
  for (int i = 0; i < (int)(sizeof method_order / sizeof *method_order); i++) {
    size_t len = strlen(method_order[i]);
    if (len > longest && strncmp(method, method_order[i], len) == 0) rank = i, longest = len;
  }
  return rank;
}

static int sweep_run_order(const void *a, const void *b) {
  const fa_run_info *p = &((const fa_sweep_run *)a)->info, *q = &((const fa_sweep_run *)b)->info;
  double rp = method_rank(p->method), rq = method_rank(q->method);
  if (rp != rq) return rp < rq ? -1 : 1;
  int s = strcmp(p->method, q->method);
  if (s) return s;
  if (p->eps != q->eps) return p->eps < q->eps ? -1 : 1;
  return (p->seed > q->seed) - (p->seed < q->seed);
}

/* a finished run's description and its monitor's score ({0}: its reports cannot be read, e.g. a .log) */
static fa_status read_sweep_run(const char *path, fa_sweep_run *out) {
  fa_status st = fa_run_info_read(path, &out->info);
  if (st != FA_OK || !out->info.finished) return st;
  fa_metrics_table t;
  out->co = (fa_co_score){.onset = -1, .fired = -1};
  if (ends_with(path, ".jsonl") && fa_metrics_read(path, &t) == FA_OK) {
    st = fa_co_score_run(&t, out->info.pgd_acc, &out->co);
    fa_metrics_free(&t);
  }
  if (st == FA_OK) fa_error_clear();
  return st;
}

static fa_status plot_eps(const fa_plot_config *c, const file_list *files, figure *fig) {
  fa_sweep_run *runs = calloc(files->n, sizeof *runs);
  point *pts = calloc(files->n, sizeof *pts);
  fa_status st = runs && pts ? FA_OK : fa_error_set(FA_ERR_NOMEM, "out of memory");
  int n = 0, with_aa = 0;
  for (int i = 0; i < files->n && st == FA_OK; i++) {
    st = read_sweep_run(files->paths[i], &runs[n]);
    if (st != FA_OK) break;
    if (runs[n].info.legacy)
      fprintf(stderr, "fastadv plot: note: %s has no records (written before fastadv 0.2): read from the run's .log\n",
              files->paths[i]);
    if (!runs[n].info.finished) {
      fprintf(stderr, "fastadv plot: skipping %s: the run has not finished\n", files->paths[i]);
      continue;
    }
    with_aa |= isfinite(runs[n].info.aa_acc);
    n++;
  }
  if (st == FA_OK && n == 0)
    st = fa_error_set(FA_ERR_INVALID, "no finished runs among the %d metrics files of --runs", files->n);
  if (st != FA_OK) {
    free(runs);
    free(pts);
    return st;
  }
  qsort(runs, n, sizeof *runs, sweep_run_order);
  fa_sweep_tables_print(stdout, runs, n);
  for (int i = 0; i < n; i++) {
    const fa_run_info *r = &runs[i].info;
    pts[i] = (point){.rank = method_rank(r->method), .x = r->eps,
                     .y = {100 * r->pgd_acc, 100 * r->clean_acc, 100 * r->aa_acc}};
    snprintf(pts[i].series, sizeof pts[i].series, "%s", r->method);
  }
  free(runs);
  series sr[MAX_SERIES];
  int n_series = put_series(fig->setup.f, pts, n, sr, method_colour);
  free(pts);
  put_common(fig->setup.f, c);
  FILE *f = fig->plot.f;
  put_multiplot(f, c, with_aa ? 3 : 2);
  if (with_aa) fig->width = fig->width * 3 / 2;
  fputs("set xlabel 'ℓ_∞ ε used for training and evaluation (/255)'\nset yrange [0:100]\nset key top right\n", f);
  fputs("set ylabel 'PGD-50-10 accuracy (%)'\n", f);
  put_band_plot(f, n_series, sr, 0, "pt 7 ps 0.7");
  if (with_aa) {
    fputs("\nset ylabel 'AutoAttack accuracy (%)'\n", f);
    put_band_plot(f, n_series, sr, 2, "pt 7 ps 0.7");
  }
  fputs("\nset ylabel 'Clean accuracy (%)'\nset key bottom left\n", f);
  put_band_plot(f, n_series, sr, 1, "pt 7 ps 0.7");
  fputs("\nunset multiplot\n", f);
  return FA_OK;
}

/* fastadv align_init's table: n_filters eps seed cos bound */
static fa_status read_alignment(const char *path, point **pts, int *n) {
  FILE *f = fopen(path, "r");
  if (!f) return fa_error_set(FA_ERR_IO, "cannot open %s", path);
  char line[512];
  int line_no = 0;
  fa_status st = FA_OK;
  while (st == FA_OK && fgets(line, sizeof line, f)) {
    line_no++;
    int filters, seed;
    double eps, cos, bound;
    if (line[0] == '#' || line[0] == '\n') continue;
    if (sscanf(line, "%d %lf %d %lf %lf", &filters, &eps, &seed, &cos, &bound) != 5) {
      st = fa_error_set(FA_ERR_FORMAT, "%s, line %d: expected n_filters eps seed cos bound", path, line_no);
      break;
    }
    point *grown = realloc(*pts, (*n + 1) * sizeof **pts);
    if (!grown) {
      st = fa_error_set(FA_ERR_NOMEM, "out of memory");
      break;
    }
    *pts = grown;
    (*pts)[*n] = (point){.rank = filters, .x = eps, .y = {cos, bound}};
    snprintf((*pts)[*n].series, sizeof(*pts)[*n].series, "%d filter%s", filters, filters == 1 ? "" : "s");
    (*n)++;
  }
  fclose(f);
  return st;
}

static fa_status plot_lemma2(const fa_plot_config *c, const file_list *files, figure *fig) {
  point *pts = NULL;
  int n = 0;
  fa_status st = FA_OK;
  for (int i = 0; i < files->n && st == FA_OK; i++) st = read_alignment(files->paths[i], &pts, &n);
  if (st == FA_OK && n == 0) st = fa_error_set(FA_ERR_INVALID, "no measurements in --runs");
  if (st != FA_OK) {
    free(pts);
    return st;
  }
  series sr[MAX_SERIES];
  int n_series = put_series(fig->setup.f, pts, n, sr, NULL);
  free(pts);
  put_common(fig->setup.f, c);
  FILE *f = fig->plot.f;
  if (c->title[0]) {
    fputs("set title ", f);
    fa_gnuplot_put_string(f, c->title);
    fputs(" noenhanced\n", f);
  }
  fputs("set xlabel 'ℓ_∞ ε of η (/255)'\nset ylabel 'cos(∇ℓ(x), ∇ℓ(x+η)) at initialisation'\n"
        "set yrange [0.5:1.01]\nset key bottom left\n", f);
  put_band_plot(f, n_series, sr, 0, "pt 7 ps 0.7");
  fprintf(f, ", $s%d using 1:4 with lines lw 2.2 dt 2 lc rgb 'black' title 'Lemma 2 lower bound'\n",
          n_series - 1);
  return FA_OK;
}

/* ---- the command ---- */

static const struct {
  const char *kind, *ext;
  fa_status (*draw)(const fa_plot_config *, const file_list *, figure *);
  int width, height; /* the canvas; curves sets its height from the number of runs */
} kinds[] = {
    {"curves", ".jsonl", plot_curves, 1600, 0},
    {"filters", ".jsonl", plot_filters, 1100, 400},
    {"eps", ".jsonl", plot_eps, 1200, 450},
    {"lemma2", ".tsv", plot_lemma2, 640, 460},
};

/* The flags whose text reaches the gnuplot script: a control character
 * there is refused (exit 2) rather than replaced, so that the figure shows
 * what was asked for. */
static int flags_hold_control_char(const fa_plot_config *c) {
  const struct {
    const char *name, *value;
  } texts[] = {{"runs", c->runs}, {"labels", c->labels}, {"out", c->out}, {"title", c->title}};
  for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
    const char *bad = fa_gnuplot_control_char(texts[i].value);
    if (bad) {
      fprintf(stderr, "fastadv plot: --%s holds a control character (0x%02x at byte %d), which would end a gnuplot "
              "command and run what follows: remove it\n", texts[i].name, (unsigned char)*bad, (int)(bad - texts[i].value));
      return 1;
    }
  }
  return 0;
}

/* The prefix of the two files from --out: an --out that is a directory, or
 * ends in '/', "/." or "/..", gets the kind's name inside it (figs/ ->
 * figs/curves). The directory the files go to must exist and be writable,
 * since gnuplot, unable to open its output, would draw onto stdout. */
static fa_status output_prefix(const char *out, const char *kind, char *prefix, size_t size) {
  const char *base = strrchr(out, '/') ? strrchr(out, '/') + 1 : out;
  struct stat sb;
  int is_dir = !*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0 || (stat(out, &sb) == 0 && S_ISDIR(sb.st_mode));
  if (is_dir)
    snprintf(prefix, size, "%s%s%s", out, *base ? "/" : "", kind);
  else
    snprintf(prefix, size, "%s", out);
  char dir[FA_PATH_MAX + 2];
  const char *slash = strrchr(prefix, '/');
  snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - prefix) + 1 : 1, slash ? prefix : ".");
  if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
    return fa_error_set(FA_ERR_IO, "--out=%s: the directory %s does not exist; create it first", out, dir);
  if (access(dir, W_OK) != 0)
    return fa_error_set(FA_ERR_IO, "--out=%s: cannot write into %s: %s", out, dir, strerror(errno));
  return FA_OK;
}

int fa_run_plot(const fa_plot_config *c) {
  if (!c->runs[0] || !c->out[0]) {
    fprintf(stderr, "fastadv plot: give the inputs and the output: --runs=FILE_OR_DIR,... --out=PREFIX\n");
    return 2;
  }
  int k = 0, n_kinds = sizeof kinds / sizeof *kinds;
  while (k < n_kinds && strcmp(kinds[k].kind, c->kind) != 0) k++;
  if (k == n_kinds) {
    fprintf(stderr, "fastadv plot: unknown --kind=%s (curves, filters, eps, lemma2)\n", c->kind);
    return 2;
  }
  if (flags_hold_control_char(c)) return 2;
  char prefix[FA_PATH_MAX + FA_NAME_MAX + 2];
  if (output_prefix(c->out, c->kind, prefix, sizeof prefix) != FA_OK) {
    fprintf(stderr, "fastadv plot: %s\n", fa_error_message());
    return 1;
  }
  file_list *files = calloc(1, sizeof *files);
  figure fig = {.width = kinds[k].width, .height = kinds[k].height};
  fa_status st = files ? FA_OK : fa_error_set(FA_ERR_NOMEM, "out of memory");
  if (st == FA_OK) st = fa_script_open(&fig.setup);
  if (st == FA_OK && (st = fa_script_open(&fig.plot)) != FA_OK) fa_script_free(&fig.setup);
  if (st == FA_OK) {
    st = collect_all(c->runs, kinds[k].ext, files);
    if (st == FA_OK) st = kinds[k].draw(c, files, &fig);
    if (st == FA_OK) st = fa_script_finish(&fig.setup);
    if (st == FA_OK) st = fa_script_finish(&fig.plot);
    if (st == FA_OK) st = fa_gnuplot_render(fig.setup.text, fig.plot.text, prefix, fig.width, fig.height);
    if (st == FA_OK) printf("wrote %s.png and %s.svg from %d file%s\n", prefix, prefix, files->n, files->n == 1 ? "" : "s");
    fa_script_free(&fig.setup);
    fa_script_free(&fig.plot);
  }
  if (files) files_free(files);
  free(files);
  if (st != FA_OK) fprintf(stderr, "fastadv plot: %s\n", fa_error_message());
  return st == FA_OK ? 0 : 1;
}
