/* The CPU kernel table. */
#include "backend/backend.h"
#include "backend/cpu/conv.h"
#include "backend/cpu/conv_impl.h"
#include "backend/cpu/elementwise.h"
#include "backend/cpu/updates.h"

/* The op layer's GEMMs, counted (the convolutions' own GEMMs are counted as convolutions). */
static void counted_sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a,
                          const float *b, float beta, float *c) {
  fa_cpu_count_flops(2.0 * m * n * k);
  fa_cpu_sgemm(trans_a, trans_b, m, n, k, alpha, a, b, beta, c);
}

static const fa_kernel_table cpu_kernels = {
    .name = "cpu",
    .unary = fa_cpu_unary,
    .binary = fa_cpu_binary,
    .sum_to = fa_cpu_sum_to,
    .expand = fa_cpu_expand,
    .channel_affine = fa_cpu_channel_affine,
    .channel_fma = fa_cpu_channel_fma,
    .channel_dot = fa_cpu_channel_dot,
    .channel_sq_dev = fa_cpu_channel_sq_dev,
    .fill = fa_cpu_fill,
    .axpy = fa_cpu_axpy,
    .row_dot = fa_cpu_row_dot,
    .row_combine = fa_cpu_row_combine,
    .add_clamp = fa_cpu_add_clamp,
    .mul_in_range = fa_cpu_mul_in_range,
    .attack_step = fa_cpu_attack_step,
    .log_softmax = fa_cpu_log_softmax,
    .avg_pool = fa_cpu_avg_pool,
    .avg_pool_adjoint = fa_cpu_avg_pool_adjoint,
    .max_pool = fa_cpu_max_pool,
    .gather_rows = fa_cpu_gather_rows,
    .scatter_add_rows = fa_cpu_scatter_add_rows,
    .sgemm = counted_sgemm,
    .conv2d_forward = fa_cpu_conv2d_forward,
    .conv2d_grad_input = fa_cpu_conv2d_grad_input,
    .conv2d_grad_weight = fa_cpu_conv2d_grad_weight,
    .one_hot = fa_cpu_one_hot,
    .gather_labels = fa_cpu_gather_labels,
    .argmax_rows = fa_cpu_argmax_rows,
    .count_correct = fa_cpu_count_correct,
    .count_nonzero_pairs = fa_cpu_count_nonzero_pairs,
    .mean_row_norm = fa_cpu_mean_row_norm,
    .mean_row_cosine = fa_cpu_mean_row_cosine,
    .keep_best_rows = fa_cpu_keep_best_rows,
    .fill_uniform = fa_cpu_fill_uniform,
    .sgd_update = fa_cpu_sgd_update,
    .adam_update = fa_cpu_adam_update,
};

const fa_kernel_table *fa_kernels(void) { return &cpu_kernels; }
