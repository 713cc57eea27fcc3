#include "analysis/sweep_tables.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static bool same_method(const fa_sweep_run *a, const fa_sweep_run *b) {
  return strcmp(a->info.method, b->info.method) == 0;
}

/* " mean ± sd (v1, v2, ...) |" of value(runs[i].info), in %: the mean and sample standard deviation of the
 * finite values, each run's value ("—" where it has none, e.g. AutoAttack not run yet); " — |" when none is */
static void put_cell(FILE *f, const fa_sweep_run *runs, int n, double (*value)(const fa_run_info *)) {
  double sum = 0, sq = 0;
  int k = 0;
  for (int i = 0; i < n; i++)
    if (isfinite(value(&runs[i].info))) sum += 100 * value(&runs[i].info), k++;
  if (k == 0) {
    fputs(" — |", f);
    return;
  }
  double mean = sum / k;
  for (int i = 0; i < n; i++) {
    double v = 100 * value(&runs[i].info);
    if (isfinite(v)) sq += (v - mean) * (v - mean);
  }
  fprintf(f, " %.1f ± %.1f (", mean, k > 1 ? sqrt(sq / (k - 1)) : 0.0);
  for (int i = 0; i < n; i++) {
    double v = 100 * value(&runs[i].info);
    if (isfinite(v)) fprintf(f, "%s%.1f", i ? ", " : "", v);
    else fprintf(f, "%s—", i ? ", " : "");
  }
  fputs(") |", f);
}

static double clean_of(const fa_run_info *r) { return r->clean_acc; }
static double pgd_of(const fa_run_info *r) { return r->pgd_acc; }
static double aa_of(const fa_run_info *r) { return r->aa_acc; }

static void accuracy_table(FILE *f, const fa_sweep_run *runs, int n) {
  fputs("| method | eps (/255) | clean (%) | PGD-50-10 (%) | AutoAttack (%) | collapsed |\n"
        "|---|---:|---|---|---|---:|\n", f);
  for (int i = 0, j; i < n; i = j) {
    int collapsed = 0, never = 0;
    for (j = i; j < n && same_method(&runs[j], &runs[i]) && runs[j].info.eps == runs[i].info.eps; j++) {
      collapsed += runs[j].co.collapsed;
      never += runs[j].co.never_robust;
    }
    fprintf(f, "| %s | %g |", runs[i].info.method, runs[i].info.eps);
    put_cell(f, runs + i, j - i, clean_of);
    put_cell(f, runs + i, j - i, pgd_of);
    put_cell(f, runs + i, j - i, aa_of);
    fprintf(f, " %d of %d", collapsed, j - i);
    if (never) fprintf(f, " (%d never robust)", never);
    fputs(" |\n", f);
  }
}

static int compare_long(const void *a, const void *b) {
  long x = *(const long *)a, y = *(const long *)b;
  return (x > y) - (x < y);
}

static void monitor_table(FILE *f, const fa_sweep_run *runs, int n) {
  fputs("\n| method | runs | never robust | collapsed | hits | iterations from onset to alarm (hits: median, range) "
        "| misses | false alarms |\n|---|---:|---:|---:|---:|---|---:|---:|\n", f);
  long *delays = malloc((size_t)(n > 0 ? n : 1) * sizeof *delays);
  int totals[6] = {0};
  for (int i = 0, j; i < n; i = j) {
    int count[4] = {0}, n_delays = 0, collapsed = 0, never = 0, no_onset = 0;
    for (j = i; j < n && same_method(&runs[j], &runs[i]); j++) {
      count[runs[j].co.verdict]++;
      collapsed += runs[j].co.collapsed;
      never += runs[j].co.never_robust;
      if (delays && runs[j].co.verdict == FA_CO_HIT && runs[j].co.onset >= 0)
        delays[n_delays++] = runs[j].co.fired - runs[j].co.onset;
      no_onset += runs[j].co.verdict == FA_CO_HIT && runs[j].co.onset < 0;
    }
    fprintf(f, "| %s | %d | %d | %d | %d |", runs[i].info.method, j - i, never, collapsed, count[FA_CO_HIT]);
    if (n_delays) {
      qsort(delays, n_delays, sizeof *delays, compare_long);
      long median2 = delays[(n_delays - 1) / 2] + delays[n_delays / 2]; /* twice the median */
      fprintf(f, " %g (%ld to %ld)", median2 / 2.0, delays[0], delays[n_delays - 1]);
    } else {
      fputs(" —", f);
    }
    if (no_onset) fprintf(f, "; %d with no onset in the reports", no_onset);
    fputs(" |", f);
    fprintf(f, " %d | %d |\n", count[FA_CO_MISS], count[FA_CO_FALSE_ALARM]);
    totals[0] += j - i, totals[1] += never, totals[2] += collapsed, totals[3] += count[FA_CO_HIT];
    totals[4] += count[FA_CO_MISS], totals[5] += count[FA_CO_FALSE_ALARM];
  }
  free(delays);
  fprintf(f, "| all | %d | %d | %d | %d | | %d | %d |\n", totals[0], totals[1], totals[2], totals[3], totals[4],
          totals[5]);
  for (int i = 0, first = 1; i < n; i++) {
    const fa_sweep_run *r = &runs[i];
    static const char *const verdicts[] = {[FA_CO_HIT] = "hit", [FA_CO_MISS] = "miss",
                                           [FA_CO_FALSE_ALARM] = "false alarm"};
    if (r->co.verdict == FA_CO_QUIET) continue;
    fprintf(f, "%s- %s: %s, eps %g, seed %d: best periodic PGD accuracy %.1f%%, final PGD-50-10 %.1f%%",
            first ? "\n" : "", verdicts[r->co.verdict], r->info.method, r->info.eps, r->info.seed,
            100 * r->co.best_pgd, 100 * r->info.pgd_acc);
    if (r->co.fired >= 0) fprintf(f, ", alarm at iteration %ld", r->co.fired);
    if (r->co.onset >= 0) fprintf(f, ", onset at iteration %ld", r->co.onset);
    fputc('\n', f);
    first = 0;
  }
  for (int i = 0; i < n; i++)
    if (runs[i].info.monitored && runs[i].info.co_detected != runs[i].co.fired)
      fprintf(f, "\nnote: %s, eps %g, seed %d: the run's co_detected record says %ld, the monitor as built fires at "
              "%ld (-1: never): its rule has changed since the run\n", runs[i].info.method, runs[i].info.eps,
              runs[i].info.seed, runs[i].info.co_detected, runs[i].co.fired);
}

void fa_sweep_tables_print(FILE *f, const fa_sweep_run *runs, int n) {
  accuracy_table(f, runs, n);
  fa_sweep_run *scored = malloc((size_t)(n > 0 ? n : 1) * sizeof *scored);
  int n_scored = 0;
  for (int i = 0; scored && i < n; i++)
    if (runs[i].co.scored) scored[n_scored++] = runs[i];
  if (n_scored) monitor_table(f, scored, n_scored);
  free(scored);
}
