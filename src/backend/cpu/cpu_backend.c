/* The CPU backend: host memory, the kernels of backend/cpu, and per
 * context the convolutions' caches, workspace and operation count. */
#include <string.h>
#include <sys/mman.h>

#include <oneapi/dnnl/dnnl.h>

#include "backend/backend.h"
#include "backend/cpu/conv.h"
#include "backend/cpu/elementwise.h"
#include "backend/cpu/updates.h"

static void *state_create(void) { return fa_cpu_state_create(); }
static void state_destroy(void *state) { fa_cpu_state_destroy(state); }

/* Memory is mapped, not malloc'd: a step arena's data slab (tens of GiB,
 * core/arena.h) is reserved and committed page by page as it is touched. */
static void *cpu_alloc(void *state, size_t bytes) {
  (void)state;
  void *p = mmap(NULL, bytes ? bytes : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

static void cpu_free(void *state, void *ptr, size_t bytes) {
  (void)state;
  if (ptr) munmap(ptr, bytes ? bytes : 1);
}

static void cpu_copy_in(void *state, void *dst, const void *src, size_t bytes) {
  (void)state;
  if (bytes) memcpy(dst, src, bytes);
}

static void cpu_copy_within(void *state, void *dst, const void *src, size_t bytes) {
  (void)state;
  if (bytes) memmove(dst, src, bytes);
}

static void cpu_fill(void *state, float *dst, float value, size_t n) {
  (void)state;
  fa_cpu_fill(n, value, dst);
}

static void cpu_synchronize(void *state) { (void)state; } /* every kernel returns when it is done */

/* The op layer's GEMMs, counted (the convolutions' own GEMMs are counted as convolutions). */
static void counted_sgemm(void *state, bool bf16, bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                          const float *a, const float *b, float beta, float *c) {
  fa_cpu_count_flops(state, 2.0 * m * n * k);
  if (bf16)
    fa_cpu_sgemm_bf16(state, trans_a, trans_b, m, n, k, alpha, a, b, beta, c);
  else
    fa_cpu_sgemm(trans_a, trans_b, m, n, k, alpha, a, b, beta, c);
}

/* oneDNN's bfloat16 convolutions run on AVX512-BF16 (or AMX); below that it emulates them, slower than
 * float32. oneDNN's effective ISA honours $ONEDNN_MAX_CPU_ISA. */
static bool cpu_bf16_fast(void *state) {
  (void)state;
  return (dnnl_get_effective_cpu_isa() & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16;
}

static void conv2d_forward(void *state, const fa_conv_geom *g, const void *x, const float *w, const float *bias,
                           void *y) {
  fa_cpu_conv2d_forward(state, g, x, w, bias, y);
}

static void conv2d_grad_input(void *state, const fa_conv_geom *g, const float *gy, const float *w, float *gx) {
  fa_cpu_conv2d_grad_input(state, g, gy, w, gx);
}

static void conv2d_grad_weight(void *state, const fa_conv_geom *g, const float *gy, const void *x, float *gw) {
  fa_cpu_conv2d_grad_weight(state, g, gy, x, gw);
}

static void conv2d_backward(void *state, const fa_conv_geom *g, const float *gy, const void *x, const float *w,
                            float *gx, float *gw) {
  fa_cpu_conv2d_backward(state, g, gy, x, w, gx, gw);
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
    .axpy = fa_cpu_axpy,
    .add_to_bf16 = fa_cpu_add_to_bf16,
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
    .conv2d_forward = conv2d_forward,
    .conv2d_grad_input = conv2d_grad_input,
    .conv2d_grad_weight = conv2d_grad_weight,
    .conv2d_backward = conv2d_backward,
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
    .first_nonfinite = fa_cpu_first_nonfinite,
};

const fa_backend fa_backend_cpu = {
    .name = "cpu",
    .description = "host memory; OpenBLAS GEMMs, oneDNN and hand-written convolutions, OpenMP threads",
    .create = state_create,
    .destroy = state_destroy,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .to_device = cpu_copy_in,
    .to_host = cpu_copy_in,
    .copy = cpu_copy_within,
    .fill = cpu_fill,
    .synchronize = cpu_synchronize,
    .bf16_fast = cpu_bf16_fast,
    .kernels = &cpu_kernels,
};
