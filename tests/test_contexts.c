/* Two contexts in one process (core/context.h): the same GradAlign
 * parameter gradient of a 2-layer cnn (oneDNN convolutions, whose caches
 * and workspace are each context's), computed in two contexts with their
 * stages interleaved: each stage of one runs while the other has grad mode
 * off and an arena mark taken, which it then releases after a forward pass
 * without a graph. Every number must equal, bit for bit, the one computed
 * in a context alone. Shared
 * state (one grad mode, one current arena, one gradient pool, one convolution
 * cache) would record no graph, overwrite live tensors or mix workspaces.
 * Also: a tensor's ops run in its own context whichever is current, and an
 * op on tensors of two contexts is an error. */
#include <stdlib.h>
#include <string.h>

#include "adv/gradalign.h"
#include "core/arena.h"
#include "core/autograd.h"
#include "core/context.h"
#include "core/ops.h"
#include "nn/model.h"
#include "testlib.h"

enum { N = 4, C = 3, H = 16, STAGES = 3 };

typedef struct {
  fa_context *ctx;
  fa_arena *arena;
  fa_model *model;
  fa_tensor *x, *delta, *eta, *g1, *g2;
  int labels[N];
} job;

/* A context of its own with the model (seed 0), an arena and the inputs. */
static void job_start(job *j) {
  j->ctx = fa_context_create("cpu");
  FA_CHECK(j->ctx != NULL, "context: %s", fa_error_message());
  fa_context_set_current(j->ctx);
  fa_model_config cfg = {.arch = FA_ARCH_CNN, .in_channels = C, .height = H, .width = H, .n_classes = 10,
                         .n_layers = 2, .n_filters = 16};
  j->model = fa_model_create(&cfg);
  fa_rng init = fa_rng_stream(0, FA_STREAM_INIT), data = fa_rng_stream(1, FA_STREAM_INIT);
  fa_model_init(j->model, &init);
  j->arena = fa_arena_create((size_t)256 << 20);
  fa_arena_set_current(j->arena);
  float host[N * C * H * H];
  const int shape[4] = {N, C, H, H};
  fa_rng_fill_uniform(&data, host, N * C * H * H, 0.0f, 1.0f);
  j->x = fa_tensor_from(4, shape, host);
  fa_rng_fill_uniform(&data, host, N * C * H * H, -0.1f, 0.1f);
  j->delta = fa_tensor_from(4, shape, host);
  fa_rng_fill_uniform(&data, host, N * C * H * H, -0.1f, 0.1f);
  j->eta = fa_tensor_from(4, shape, host);
  for (int i = 0; i < N; i++) j->labels[i] = (3 * i + 1) % 10;
}

/* grad_delta CE(model(x + delta)) at delta = 0, recorded for double backprop */
static fa_tensor *input_grad(job *j, fa_tensor *x) {
  fa_tensor *d = fa_zeros(4, fa_tensor_shape(x)), *g = NULL;
  fa_tensor_set_requires_grad(d, true);
  fa_tensor *loss = fa_cross_entropy(fa_model_forward(j->model, fa_add(x, d), true), fa_labels_from(N, j->labels, 10));
  FA_CHECK(fa_grad(loss, &d, 1, true, &g) == FA_OK, "input grad: %s", fa_error_message());
  return g;
}

static void stage(job *j, int s) {
  fa_context_set_current(j->ctx);
  if (s == 0) j->g1 = input_grad(j, j->x);
  if (s == 1) j->g2 = input_grad(j, fa_add(j->x, j->eta));
  if (s == 2) {
    fa_tensor *ce = fa_cross_entropy(fa_model_forward(j->model, fa_add(j->x, j->delta), true),
                                     fa_labels_from(N, j->labels, 10));
    fa_store_zero_grad(fa_model_store(j->model));
    FA_CHECK(fa_backward(fa_add(ce, fa_grad_align_reg(j->g1, j->g2, 0.5f))) == FA_OK, "backward: %s",
             fa_error_message());
  }
}

/* Stage s of `j` run inside a window of `other`: grad mode off there, an
 * arena mark taken, then a forward pass without a graph, released. */
static void stage_amid(job *j, int s, job *other) {
  fa_context_set_current(other->ctx);
  bool was = fa_set_grad_enabled(false);
  fa_arena_mark mark = fa_arena_get_mark(other->arena);
  stage(j, s);
  fa_context_set_current(other->ctx);
  FA_CHECK(fa_model_forward(other->model, fa_add(other->x, other->eta), false) != NULL, "forward: %s",
           fa_error_message());
  fa_arena_release(other->arena, mark);
  fa_set_grad_enabled(was);
}

/* The parameter gradients and both input gradients, as host floats. */
static float *result(job *j, size_t *n) {
  fa_store *s = fa_model_store(j->model);
  fa_tensor *grads = fa_store_slab_tensor(s, FA_SLAB_GRADS);
  const size_t ng = fa_tensor_numel(grads), n1 = fa_tensor_numel(j->g1), n2 = fa_tensor_numel(j->g2);
  *n = ng + n1 + n2;
  float *out = malloc(*n * sizeof *out);
  fa_tensor_read(grads, 0, ng, out);
  fa_tensor_read(j->g1, 0, n1, out + ng);
  fa_tensor_read(j->g2, 0, n2, out + ng + n1);
  return out;
}

static void job_end(job *j) {
  fa_arena_destroy(j->arena);
  fa_model_destroy(j->model);
  fa_context_destroy(j->ctx);
}

int main(void) {
  fa_context *outer = fa_context_current(); /* the test library's: left as it was */
  job alone;
  job_start(&alone);
  for (int s = 0; s < STAGES; s++) stage(&alone, s);
  size_t n;
  float *expect = result(&alone, &n);
  job_end(&alone);

  job a, b;
  job_start(&a);
  job_start(&b);
  for (int s = 0; s < STAGES; s++) {
    stage_amid(&a, s, &b);
    stage_amid(&b, s, &a);
  }
  size_t na, nb;
  float *got_a = result(&a, &na), *got_b = result(&b, &nb);
  FA_CHECK(na == n && !memcmp(got_a, expect, n * sizeof *expect), "the first of two contexts differs from one alone");
  FA_CHECK(nb == n && !memcmp(got_b, expect, n * sizeof *expect), "the second of two contexts differs from one alone");

  /* ops take their device from their inputs: a's tensors, b current */
  fa_context_set_current(b.ctx);
  size_t used_a = fa_arena_used(a.arena), used_b = fa_arena_used(b.arena);
  fa_tensor *sum = fa_add(a.x, a.eta);
  FA_CHECK(sum && fa_tensor_context(sum) == a.ctx && fa_arena_used(a.arena) > used_a && fa_arena_used(b.arena) == used_b,
           "an op on a's tensors ran in b's context");
  /* inputs of two contexts: an error, not a kernel of one on the other's memory */
  FA_CHECK(fa_add(a.x, b.x) == NULL && strstr(fa_error_message(), "add: its inputs are in different contexts"),
           "add across contexts: %s", fa_error_message());
  FA_CHECK(fa_matmul(fa_flatten(a.x), fa_flatten(b.x), false, true) == NULL &&
               strstr(fa_error_message(), "matmul: its inputs are in different contexts (cpu and cpu)"),
           "matmul across contexts: %s", fa_error_message());
  free(expect), free(got_a), free(got_b);
  job_end(&a);
  job_end(&b);
  fa_context_set_current(outer);
  return fa_test_exit();
}
