/* `fastadv plot`: the paper's figures from runs' outputs, drawn by gnuplot
 * into <out>.png and <out>.svg.
 *   curves   training curves of one or more runs (the paper's Figures 4, 11):
 *            FGSM and PGD accuracy, FGSM and PGD loss, cos(grad at x, grad at
 *            x + eta) and cos(delta_FGSM, delta_PGD) against epochs, from .jsonl
 *   filters  per-filter norms of the single-layer cnn and of their outgoing
 *            weights against epochs (Figure 6), one run's .jsonl
 *   eps      PGD-50-10 and clean accuracy against eps (Figures 1, 8), mean and
 *            standard deviation over seeds per method, from the runs' .jsonl
 *            records (config and final; an older run without records: its
 *            .log, analysis/runlog.h), and AutoAttack's when runs have it (a
 *            third panel); the numbers, the seeds that collapsed and the
 *            monitor's record are printed as Markdown (analysis/sweep_tables.h)
 *   lemma2   gradient alignment at initialisation against eps per number of
 *            filters, and Lemma 2's lower bound, from `fastadv align_init`'s table
 * --runs lists files or directories (searched recursively for the kind's
 * files: .jsonl or .tsv), comma-separated. */
#ifndef FA_ANALYSIS_PLOT_H
#define FA_ANALYSIS_PLOT_H

#include "analysis/config.h"

/* 0 done, 1 failed, 2 a bad flag value (message on stderr). */
int fa_run_plot(const fa_plot_config *c);

#endif
