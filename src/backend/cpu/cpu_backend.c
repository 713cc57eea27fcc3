/* The CPU kernel table. */
#include "backend/backend.h"
#include "backend/cpu/conv.h"
#include "backend/cpu/elementwise.h"

static const fa_kernel_table cpu_kernels = {
    .name = "cpu",
    .unary = fa_cpu_unary,
    .binary = fa_cpu_binary,
    .sum_to = fa_cpu_sum_to,
    .expand = fa_cpu_expand,
    .fill = fa_cpu_fill,
    .axpy = fa_cpu_axpy,
    .log_softmax = fa_cpu_log_softmax,
    .avg_pool = fa_cpu_avg_pool,
    .avg_pool_adjoint = fa_cpu_avg_pool_adjoint,
    .max_pool = fa_cpu_max_pool,
    .gather_rows = fa_cpu_gather_rows,
    .scatter_add_rows = fa_cpu_scatter_add_rows,
    .sgemm = fa_cpu_sgemm,
    .conv2d_forward = fa_cpu_conv2d_forward,
    .conv2d_grad_input = fa_cpu_conv2d_grad_input,
    .conv2d_grad_weight = fa_cpu_conv2d_grad_weight,
};

const fa_kernel_table *fa_kernels(void) { return &cpu_kernels; }
