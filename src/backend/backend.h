/* A backend is a device: its memory (allocate, free, copies to, from and
 * within it, fill, synchronise), the state it keeps per context (caches,
 * workspaces, queues) and its kernel table: every computation the op layer
 * asks of it. Backends are built in and chosen at run time by name
 * (fa_backend_find; `--backend`, docs/ARCHITECTURE.md "Adding a backend").
 *
 * Kernels work on raw float32 arrays in the device's memory (device
 * addresses: host code never reads them) and know nothing of autograd or
 * tensors. The few that a model's activations reach under --half_prec also
 * take full operands stored in bfloat16 (backend/bf16.h): a bit of their
 * `bf16` argument per operand says which (fa_bf16_operand), and those
 * operands are `void *`. Shapes are right-aligned to 4 dims (leading 1s). A kernel that
 * needs the context's state (the convolutions' caches and workspace, the
 * operation counters) takes it first; the others need none. Nothing here
 * belongs to one backend: backend/cpu fills this table with host memory,
 * a CUDA backend would fill it with cudaMalloc'd memory and its launches. */
#ifndef FA_BACKEND_BACKEND_H
#define FA_BACKEND_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/conv_geom.h"

typedef enum {
  FA_UNARY_RELU,        /* max(x, 0) */
  FA_UNARY_STEP,        /* x > 0 ? 1 : 0 */
  FA_UNARY_SIGN,        /* -1, 0, 1 */
  FA_UNARY_SQRT,
  FA_UNARY_EXP,
  FA_UNARY_CLAMP,       /* min(max(x, p0), p1) */
  FA_UNARY_AFFINE,      /* p0 * x + p1 */
} fa_unary_kind;

typedef enum {
  FA_BINARY_ADD,
  FA_BINARY_SUB,
  FA_BINARY_MUL,
  FA_BINARY_DIV,
  FA_BINARY_MUL_POSITIVE, /* a * (b > 0 ? 1 : 0) */
} fa_binary_kind;

/* Which full operands of a kernel are stored in bfloat16 (backend/bf16.h), one bit each; the others
 * are float32. Each kernel says which bits it takes. */
typedef enum {
  FA_BF16_A = 1u << 0,
  FA_BF16_B = 1u << 1,
  FA_BF16_X = 1u << 2,
  FA_BF16_MASK = 1u << 3,
} fa_bf16_operand;

typedef struct fa_kernel_table {
  const char *name;
  /* y[i] = f(x[i]; p0, p1); y may be x */
  void (*unary)(fa_unary_kind kind, size_t n, const float *x, float *y, float p0, float p1);
  /* out = a (op) b with broadcasting: each dim of a and b is out's or 1 */
  void (*binary)(fa_binary_kind kind, const int out_shape[4], const float *a, const int a_shape[4],
                 const float *b, const int b_shape[4], float *out);
  /* y = x summed over the dims where y_shape is 1 and x_shape is not */
  void (*sum_to)(const int x_shape[4], const float *x, const int y_shape[4], float *y);
  /* y = x repeated along the dims where x_shape is 1 */
  void (*expand)(const int x_shape[4], const float *x, const int y_shape[4], float *y);
  /* y = x * scale[c] + shift[c] per channel c of x (n, c, h, w), then max(y, 0) when relu;
   * bf16 FA_BF16_X: x and y both bfloat16 (y rounded) */
  void (*channel_affine)(const int x_shape[4], const void *x, const float *scale, const float *shift, bool relu,
                         void *y, unsigned bf16);
  /* y = s[c] * a * m + t[c] * x + b[c] per channel c of y (n, c, h, w), m = mask > 0 ? 1 : 0.
   * Optional (NULL): a (then 1), mask (then 1), the s term, the t term (x and t), b.
   * bf16: FA_BF16_A, FA_BF16_X, FA_BF16_MASK; y float32 */
  void (*channel_fma)(const int y_shape[4], const void *a, const float *s, const void *x, const float *t,
                      const float *b, const void *mask, float *y, unsigned bf16);
  /* y[c] = sum over n, h, w of a * b * m, m = mask > 0 ? 1 : 0; b and mask optional (then 1);
   * y_a optional: y_a[c] = sum of a * m as well, in the same pass over a and mask (batch norm's backward
   * wants both), with the bits a call without b would give; bf16: FA_BF16_A, FA_BF16_B, FA_BF16_MASK */
  void (*channel_dot)(const int x_shape[4], const void *a, const void *b, const void *mask, float *y, float *y_a,
                      unsigned bf16);
  /* y[c] = sum over n, h, w of (x - mean[c])^2, x (n, c, h, w); bf16: FA_BF16_X */
  void (*channel_sq_dev)(const int x_shape[4], const void *x, const float *mean, float *y, unsigned bf16);
  /* y += alpha * x */
  void (*axpy)(size_t n, float alpha, const float *x, float *y);
  /* y = y + x, y bfloat16 (rounded); bf16 FA_BF16_X: x bfloat16 too, else float32 */
  void (*add_to_bf16)(size_t n, const void *x, void *y, unsigned bf16);
  /* y[r] = sum_j a[r][j] b[r][j] for rows x cols, summed in double */
  void (*row_dot)(int rows, size_t cols, const float *a, const float *b, float *y);
  /* y[r][j] = a[r][j] alpha[r] + b[r][j] beta[r]; b NULL: the first term alone */
  void (*row_combine)(int rows, size_t cols, const float *a, const float *alpha, const float *b, const float *beta,
                      float *y);
  /* y = clamp(a + b, lo, hi); b NULL: clamp(a, lo, hi) (the model's input clip(x + delta)) */
  void (*add_clamp)(size_t n, const float *a, const float *b, float lo, float hi, float *y);
  /* y = g * (lo <= a + b <= hi ? 1 : 0); b NULL: a alone (clamp's backward) */
  void (*mul_in_range)(size_t n, const float *g, const float *a, const float *b, float lo, float hi, float *y);
  /* one step of the sign-gradient attacks, in place on delta (x, g, delta: n floats each):
   * delta += step * sign(g), then both projections, ball: delta = clamp(delta, -eps, eps),
   * box: delta = clamp(x + delta, 0, 1) - x; ball first (FGSM) or box first (PGD) */
  void (*attack_step)(size_t n, const float *x, const float *g, float *delta, float step, float eps,
                      bool box_first);
  /* row-wise log-softmax of a (rows, cols) matrix */
  void (*log_softmax)(int rows, int cols, const float *x, float *y);
  /* x (n, c, h, w) -> y (n, c, h/k, w/k): window means; bf16: FA_BF16_X, y float32 */
  void (*avg_pool)(const int x_shape[4], int k, const void *x, float *y, unsigned bf16);
  /* the adjoint: g (n, c, h/k, w/k) -> x (n, c, h, w), each value / k^2 */
  void (*avg_pool_adjoint)(const int x_shape[4], int k, const float *g, float *x);
  /* y = window maxima, mask (x's shape) = 1 at the first maximum of each window */
  void (*max_pool)(const int x_shape[4], int k, const float *x, float *y, float *mask);
  /* dst row r = src row idx[r] (rows of row_len floats) */
  void (*gather_rows)(size_t row_len, int n_idx, const int *idx, const float *src, float *dst);
  /* dst row idx[r] += src row r */
  void (*scatter_add_rows)(size_t row_len, int n_idx, const int *idx, const float *src, float *dst);
  /* C (m x n) = alpha op(A) op(B) + beta C, row-major, packed; A is (m x k) or, when trans_a, (k x m);
   * bf16: the elements of A and B rounded to bfloat16 first (backend/bf16.h) */
  void (*sgemm)(void *state, bool bf16, bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                const float *a, const float *b, float beta, float *c);
  /* The convolutions: the two factors rounded to bfloat16 first when g->bf16 (backend/bf16.h), the
   * bias float32. x is stored in bfloat16 when g->x_bf16 (forward and grad-weight), y when g->y_bf16
   * (forward); every other operand is float32.
   * y = conv2d(x, w) (cross-correlation) plus bias (c_out) per output channel, or NULL */
  void (*conv2d_forward)(void *state, const fa_conv_geom *g, const void *x, const float *w, const float *bias,
                         void *y);
  /* gx = d<gy, conv2d(x, w)>/dx (the transposed convolution of gy with w) */
  void (*conv2d_grad_input)(void *state, const fa_conv_geom *g, const float *gy, const float *w, float *gx);
  /* gw = d<gy, conv2d(x, w)>/dw */
  void (*conv2d_grad_weight)(void *state, const fa_conv_geom *g, const float *gy, const void *x, float *gw);
  /* both of one convolution's gradients (its backward pass): the same values as conv2d_grad_input into
   * gx and conv2d_grad_weight into gw, in one call, so that a backend may prepare gy once for the two */
  void (*conv2d_backward)(void *state, const fa_conv_geom *g, const float *gy, const void *x, const float *w,
                          float *gx, float *gw);

  /* ---- labels (int32), in-place updates and statistics: what the layers
   * above core did by hand on tensor memory (docs/ARCHITECTURE.md). Every
   * output here may be read back to the host after one call. ---- */
  /* y (n, k) = 0 but y[i][labels[i]] = 1; a row whose label is outside [0, k) stays 0 (labels are
   * checked on the host where they are made, core/tensor.h) */
  void (*one_hot)(int n, int k, const int32_t *labels, float *y);
  /* out[r] = labels[idx[r]] for r < n_idx (idx a host array, each in range) */
  void (*gather_labels)(int n_idx, const int *idx, const int32_t *labels, int32_t *out);
  /* out[r] = the column of row r's largest value, x (rows, cols), cols >= 1: a = 0, then for j = 1 ..
   * cols - 1, a = j where x[r][j] > x[r][a] (the first of equal values; a NaN never wins, nor loses at 0) */
  void (*argmax_rows)(int rows, int cols, const float *x, int32_t *out);
  /* count[0] = the number of rows r whose argmax (as argmax_rows) equals labels[r], as a float */
  void (*count_correct)(int rows, int cols, const float *x, const int32_t *labels, float *count);
  /* count[0] = the number of i < n with a[i] != 0 and b[i] != 0 (a NaN counts as non-zero), as a float */
  void (*count_nonzero_pairs)(size_t n, const float *a, const float *b, float *count);
  /* out[0] = (sum over r in order of sqrt((double)aa_r)) / rows, in double, aa_r = row_dot of a's row r
   * with itself (rounded to float, as row_dot gives it); rows >= 1 */
  void (*mean_row_norm)(int rows, size_t cols, const float *a, double *out);
  /* out[0] = (sum over r in order of c_r) / rows, in double: with ab_r, aa_r, bb_r the row_dots (floats)
   * of a_r b_r, a_r a_r, b_r b_r and m_r = sqrt((double)aa_r * (double)bb_r), c_r = 1 where m_r == 0,
   * else (double)ab_r / m_r; rows >= 1 */
  void (*mean_row_cosine)(int rows, size_t cols, const float *a, const float *b, double *out);
  /* for each row r with loss[r] >= best_loss[r] (in row order): best_loss[r] = loss[r] and best's row r =
   * src's row r (rows of cols floats): keeps each example's strongest perturbation, a later one winning
   * a tie */
  void (*keep_best_rows)(int rows, size_t cols, const float *loss, float *best_loss, const float *src,
                         float *best);
  /* y[i] = lo + (hi - lo) * u, u = (w >> 8) / 2^24 with w word i % 4 of the Philox4x32-10 block
   * (key, counter + i / 4) (backend/philox.h): core/rng.h's fa_rng_fill_uniform, on the device */
  void (*fill_uniform)(size_t n, uint64_t key, uint64_t counter, float lo, float hi, float *y);
  /* SGD with momentum, PyTorch's, per element i < n in float: d = g + wd * p; buf = momentum * buf + d;
   * p -= lr * buf (each element alone; no fused multiply-add) */
  void (*sgd_update)(size_t n, float *p, const float *g, float *buf, float lr, float momentum, float wd);
  /* Adam, PyTorch's, per element in float: d = g + wd * p; m = beta1 * m + (1 - beta1) * d;
   * v = beta2 * v + (1 - beta2) * d * d; p -= step_size * (m / (sqrt(v) / bc2_sqrt + eps)), with
   * 1 - beta1 and 1 - beta2 computed in double and rounded to float, and step_size and bc2_sqrt the
   * caller's bias corrections (each element alone; no fused multiply-add) */
  void (*adam_update)(size_t n, float *p, const float *g, float *m, float *v, float beta1, float beta2, float eps,
                      float wd, float step_size, float bc2_sqrt);
  /* out[0] = the index of the first NaN or Inf of x[0..n), n when every value is finite, as a double
   * (exact: n < 2^53) (the training loop's numerical guard, core/finite.h) */
  void (*first_nonfinite)(size_t n, const float *x, double *out);
} fa_kernel_table;

/* A device. Every function but create takes the state that create made for
 * one context (core/context.h); a context's calls come from one thread at a
 * time. Sizes are in bytes unless said. */
typedef struct fa_backend {
  const char *name;        /* as --backend and $FASTADV_BACKEND take it */
  const char *description; /* one line, for --help */
  /* ---- per-context state ---- */
  void *(*create)(void);            /* NULL when it cannot be made (out of memory, no device) */
  void (*destroy)(void *state);     /* frees what the state holds; NULL is a no-op */
  /* ---- memory ---- */
  /* `bytes` of device memory, 64-byte aligned, contents undefined; NULL when there
   * is not enough. Large blocks may be reserved and committed as they are used. */
  void *(*alloc)(void *state, size_t bytes);
  void (*free)(void *state, void *ptr, size_t bytes); /* ptr from alloc with these bytes, or NULL */
  void (*to_device)(void *state, void *dst, const void *host_src, size_t bytes);
  void (*to_host)(void *state, void *host_dst, const void *src, size_t bytes); /* done when it returns */
  void (*copy)(void *state, void *dst, const void *src, size_t bytes);         /* the two may overlap */
  void (*fill)(void *state, float *dst, float value, size_t n);              /* n floats */
  void (*synchronize)(void *state); /* returns when every kernel and copy asked for so far is done */
  /* Whether the bfloat16 products (backend/bf16.h) run here at least as fast as float32 ones (bfloat16
   * instructions); where not, --half_prec trains in float32 and says so */
  bool (*bf16_fast)(void *state);
  const fa_kernel_table *kernels;
} fa_backend;

/* ---- the built-in backends (backend/registry.c) ---- */
/* The backend named `name`, NULL if none. */
const fa_backend *fa_backend_find(const char *name);
/* The i-th built-in backend, NULL past the last; 0 is the default (cpu). */
const fa_backend *fa_backend_at(size_t i);
/* "cpu, ref": the built-in names, comma-separated, into buf; returns buf. */
const char *fa_backend_names(char *buf, size_t len);

#endif
