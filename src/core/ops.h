/* The op set: every computation on tensors, closed under differentiation.
 *
 * Each op checks its shapes, computes eagerly through the backend and, when
 * grad mode is on and an input requires a gradient, records a node whose
 * backward is written with these same ops (so it can be differentiated
 * again). Results live in the current arena. On a shape error or arena
 * overflow an op returns NULL with a message (fa_error_message()); an op
 * given a NULL input returns NULL too, so errors flow through compositions
 * and are checked once at the end. */
#ifndef FA_CORE_OPS_H
#define FA_CORE_OPS_H

#include "core/tensor.h"

/* ---- elementwise, with broadcasting: each dim of a and b (right-aligned)
 *      is equal or 1, e.g. (N,C,H,W) with (1,C,1,1), (N,1,1,1) or () ---- */
fa_tensor *fa_add(fa_tensor *a, fa_tensor *b);
fa_tensor *fa_sub(fa_tensor *a, fa_tensor *b);
fa_tensor *fa_mul(fa_tensor *a, fa_tensor *b);
fa_tensor *fa_div(fa_tensor *a, fa_tensor *b);
/* a + b (same shapes) written over a's buffer, to save a tensor: a's value
 * is gone afterwards, so a must be used by nothing else (now or later). a is
 * a constant or the output of an op whose backward does not read its output
 * (checked), e.g. a convolution's. */
fa_tensor *fa_add_into(fa_tensor *a, fa_tensor *b);
/* scale * x + shift, with constants */
fa_tensor *fa_affine(fa_tensor *x, float scale, float shift);
fa_tensor *fa_scale(fa_tensor *x, float scale);
fa_tensor *fa_relu(fa_tensor *x);
fa_tensor *fa_sqrt(fa_tensor *x);
fa_tensor *fa_exp(fa_tensor *x);
/* min(max(x, lo), hi); the gradient passes where lo <= x <= hi */
fa_tensor *fa_clamp(fa_tensor *x, float lo, float hi);
/* clamp(a + b, lo, hi) in one pass (a and b of one shape: the model input clip(x + delta)) */
fa_tensor *fa_add_clamp(fa_tensor *a, fa_tensor *b, float lo, float hi);
/* Not differentiable (their gradient is zero almost everywhere): results
 * never require a gradient. */
fa_tensor *fa_sign(fa_tensor *x);
fa_tensor *fa_step(fa_tensor *x);                            /* x > 0 ? 1 : 0 */

/* ---- reductions and shapes ---- */
/* Sums x down to `shape` (same rank as x or fewer dims, right-aligned),
 * over every dim where shape has 1: (N,C,H,W) -> (1,C,1,1) per channel. */
fa_tensor *fa_sum_to(fa_tensor *x, int ndim, const int *shape);
fa_tensor *fa_mean_to(fa_tensor *x, int ndim, const int *shape);
/* Repeats x along its size-1 dims up to `shape`. */
fa_tensor *fa_expand(fa_tensor *x, int ndim, const int *shape);
fa_tensor *fa_sum(fa_tensor *x);   /* a scalar (0 dims) */
fa_tensor *fa_mean(fa_tensor *x);
/* Same data, new shape of the same size. */
fa_tensor *fa_reshape(fa_tensor *x, int ndim, const int *shape);
fa_tensor *fa_flatten(fa_tensor *x); /* (N, ...) -> (N, rest) */
/* Rows of x (its first dim): out row r = x row idx[r]; and the adjoint,
 * out (n_rows, ...) zero but row idx[r] += x row r. idx is copied. */
fa_tensor *fa_select_rows(fa_tensor *x, int n_idx, const int *idx);
fa_tensor *fa_scatter_rows(fa_tensor *x, int n_rows, int n_idx, const int *idx);

/* ---- linear algebra and convolution ---- */
/* op(a) @ op(b) of 2-D tensors, op transposing when asked. */
fa_tensor *fa_matmul(fa_tensor *a, fa_tensor *b, bool trans_a, bool trans_b);
/* x (N,Ci,H,W), w (Co,Ci,k,k), b (Co) or NULL -> (N,Co,Ho,Wo); zero padding. */
fa_tensor *fa_conv2d(fa_tensor *x, fa_tensor *w, fa_tensor *b, int stride, int pad);
/* The same with the output stored as out_dtype: FA_F32, or FA_BF16 without a bias (a model's
 * activations under --half_prec, backend/bf16.h). x may be bfloat16 in both; gradients are float32. */
fa_tensor *fa_conv2d_as(fa_tensor *x, fa_tensor *w, fa_tensor *b, int stride, int pad, fa_dtype out_dtype);
/* The gradient of conv2d with respect to its input: gy (N,Co,Ho,Wo) with w
 * -> (N,Ci,h_in,w_in). */
fa_tensor *fa_conv2d_grad_input(fa_tensor *gy, fa_tensor *w, int h_in, int w_in, int stride, int pad);
/* The gradient with respect to the filters: gy with x -> (Co,Ci,k,k). */
fa_tensor *fa_conv2d_grad_weight(fa_tensor *gy, fa_tensor *x, int k, int stride, int pad);

/* ---- pooling ---- */
fa_tensor *fa_avg_pool(fa_tensor *x, int k);          /* (N,C,H,W) -> (N,C,H/k,W/k) */
fa_tensor *fa_avg_pool_adjoint(fa_tensor *g, int k);  /* (N,C,h,w) -> (N,C,h*k,w*k), / k^2 */
fa_tensor *fa_max_pool(fa_tensor *x, int k);          /* window k, stride k */

/* ---- softmax and losses ---- */
fa_tensor *fa_log_softmax(fa_tensor *x);   /* rows of (N, K) */
fa_tensor *fa_softmax(fa_tensor *x);
/* (N, K) constant rows, 1 at labels[i], from (N) int32 labels (a label
 * outside [0, K) gives a zero row: labels are checked where they are made,
 * fa_labels_from) */
fa_tensor *fa_one_hot(const fa_tensor *labels, int k);
/* -log softmax(logits)[i, labels[i]] per example: (N) */
fa_tensor *fa_cross_entropy_per_example(fa_tensor *logits, const fa_tensor *labels);
/* Its mean over the batch: a scalar. */
fa_tensor *fa_cross_entropy(fa_tensor *logits, const fa_tensor *labels);

/* ---- per channel, for batch norm: x (N,C,H,W), s, b, m (1,C,1,1) ---- */
fa_tensor *fa_channel_affine(fa_tensor *x, fa_tensor *s, fa_tensor *b);       /* x * s + b */
fa_tensor *fa_channel_affine_relu(fa_tensor *x, fa_tensor *s, fa_tensor *b);  /* max(x * s + b, 0) */
/* The mean over N, H, W of (x - m)^2: (1,C,1,1) (the biased variance when m is the mean) */
fa_tensor *fa_channel_variance(fa_tensor *x, fa_tensor *m);

/* s * a * [mask > 0] + t * x + b, with a, x, mask (N,C,H,W) and s, t, b per
 * channel. Optional (NULL): a (then 1), mask (then 1), s (no first term), x
 * and t together (no second), b. The shape is a's, else x's, else mask's.
 * The mask is a constant: no gradient flows to it. */
fa_tensor *fa_channel_fma(fa_tensor *a, fa_tensor *s, fa_tensor *x, fa_tensor *t, fa_tensor *b, fa_tensor *mask);
/* The sum over N, H, W of a * b * [mask > 0]: (1,C,1,1); b, mask optional (then 1). */
fa_tensor *fa_channel_dot(fa_tensor *a, fa_tensor *b, fa_tensor *mask);
fa_tensor *fa_channel_sum(fa_tensor *a, fa_tensor *mask);  /* fa_channel_dot(a, NULL, mask) */
/* Both, from one pass over a and mask: returns fa_channel_dot(a, b, mask), *sum = fa_channel_sum(a, mask)
 * (the same values, each recorded as its own op); NULL (and *sum NULL or not) on failure. */
fa_tensor *fa_channel_sum_dot(fa_tensor *a, fa_tensor *b, fa_tensor *mask, fa_tensor **sum);

/* ---- layers composed of the ops above ---- */
/* x (N, in) w (out, in) b (out) or NULL -> (N, out) */
fa_tensor *fa_linear(fa_tensor *x, fa_tensor *w, fa_tensor *b);
/* Batch norm of x (N,C,H,W) with scale gamma and shift beta (C). Training:
 * batch statistics, and running_mean/var (C, persistent) updated in place
 * with `momentum` and the unbiased batch variance. Evaluation: the running
 * statistics. */
fa_tensor *fa_batch_norm(fa_tensor *x, fa_tensor *gamma, fa_tensor *beta, fa_tensor *running_mean,
                         fa_tensor *running_var, bool training, float momentum, float eps);
/* relu(batch_norm(...)) in one pass (the pre-activation of ResNet blocks). */
fa_tensor *fa_batch_norm_relu(fa_tensor *x, fa_tensor *gamma, fa_tensor *beta, fa_tensor *running_mean,
                              fa_tensor *running_var, bool training, float momentum, float eps);
/* Per-example cosine similarity of a and b (N, ...): (N). Rows must be
 * non-zero (leave zero rows out first, e.g. with fa_select_rows). */
fa_tensor *fa_cosine_per_example(fa_tensor *a, fa_tensor *b);
/* The same given the squared row norms aa = <a_r, a_r> and bb (N): each row
 * divided by its own norm, then <a_r / |a_r|, b_r / |b_r|> (the GradAlign
 * paper's form). The backward divides by |a_r|^2 and |b_r|^2, never by
 * (|a_r| |b_r|)^2, which underflows in float32 for norms near 1e-17. */
fa_tensor *fa_cosine_of_rows(fa_tensor *a, fa_tensor *b, fa_tensor *aa, fa_tensor *bb);
/* Per example r (rows of a and b (N, ...) of one shape): <a_r, b_r>, (N),
 * summed in double. */
fa_tensor *fa_row_dot(fa_tensor *a, fa_tensor *b);
/* a_r alpha_r + b_r beta_r per example r, alpha and beta (N); b and beta
 * NULL for the first term alone. One pass. */
fa_tensor *fa_row_combine(fa_tensor *a, fa_tensor *alpha, fa_tensor *b, fa_tensor *beta);

#endif
