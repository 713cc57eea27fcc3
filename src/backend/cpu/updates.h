/* CPU implementations of the kernels at the end of backend/backend.h's
 * table: labels, in-place updates, statistics, random fills. */
#ifndef FA_BACKEND_CPU_UPDATES_H
#define FA_BACKEND_CPU_UPDATES_H

#include "backend/backend.h"

/* labels.c */
void fa_cpu_one_hot(int n, int k, const int32_t *labels, float *y);
void fa_cpu_gather_labels(int n_idx, const int *idx, const int32_t *labels, int32_t *out);
void fa_cpu_argmax_rows(int rows, int cols, const float *x, int32_t *out);
void fa_cpu_count_correct(int rows, int cols, const float *x, const int32_t *labels, float *count);
/* row_stats.c */
void fa_cpu_count_nonzero_pairs(size_t n, const float *a, const float *b, float *count);
void fa_cpu_mean_row_norm(int rows, size_t cols, const float *a, double *out);
void fa_cpu_mean_row_cosine(int rows, size_t cols, const float *a, const float *b, double *out);
void fa_cpu_keep_best_rows(int rows, size_t cols, const float *loss, float *best_loss, const float *src, float *best);
void fa_cpu_fill_uniform(size_t n, uint64_t key, uint64_t counter, float lo, float hi, float *y);
void fa_cpu_first_nonfinite(size_t n, const float *x, double *out);
/* optim_update.c */
void fa_cpu_sgd_update(size_t n, float *p, const float *g, float *buf, float lr, float momentum, float wd);
void fa_cpu_adam_update(size_t n, float *p, const float *g, float *m, float *v, float beta1, float beta2, float eps,
                        float wd, float step_size, float bc2_sqrt);

#endif
