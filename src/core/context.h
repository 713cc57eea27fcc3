/* Contexts: where computations run and what they keep between ops.
 *
 * A context is one device (a backend, backend/backend.h, and the state it
 * keeps: convolution caches, workspaces, operation counts) together with
 * the state of the computations on it: the current step arena
 * (core/arena.h), the autograd counters and grad mode (core/autograd.h)
 * and the gradient pool (core/grad_pool.h). Nothing of this is
 * process-wide: two contexts, of one backend or two, coexist in a process
 * and their results do not depend on each other.
 *
 * Tensors carry their context: an op computes on its inputs' device and
 * allocates its result there. What has no input (fa_zeros, fa_tensor_from,
 * arenas, stores) is made in the current context, a per-thread pointer the
 * program sets once (fa_context_set_current). Destroy a context's arenas and
 * stores before the context. */
#ifndef FA_CORE_CONTEXT_H
#define FA_CORE_CONTEXT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct fa_context fa_context;

/* The backend everything runs on unless told otherwise. */
#define FA_DEFAULT_BACKEND "cpu"

/* A context on the built-in backend `backend` (fa_backend_name_at). NULL
 * and an error on failure: FA_ERR_INVALID for a name that is no backend
 * (the message lists the built-in ones), FA_ERR_NOMEM when the device's
 * state cannot be made. */
fa_context *fa_context_create(const char *backend);
/* Frees the context's device state and gradient buffers; NULL is a no-op.
 * When it is current, no context is current afterwards. */
void fa_context_destroy(fa_context *ctx);

/* This thread's current context (NULL: none). */
void fa_context_set_current(fa_context *ctx);
fa_context *fa_context_current(void);

/* The name of ctx's backend ("cpu"). */
const char *fa_context_backend(const fa_context *ctx);
/* ctx's kernel table (backend/backend.h), for the few kernel calls outside
 * core's ops (src/adv). */
struct fa_kernel_table;
const struct fa_kernel_table *fa_context_kernels(const fa_context *ctx);
/* The state ctx's backend keeps (its create's result), for benchmarks and
 * tests of one backend (backend/cpu/conv.h: fa_cpu_flops_done). */
void *fa_context_backend_state(const fa_context *ctx);
/* Waits until everything asked of ctx's device so far is done (for timing). */
void fa_context_synchronize(fa_context *ctx);

/* Precision of ctx's products (--half_prec, docs/PERFORMANCE.md "bfloat16"):
 * when on, the convolutions (forward, grad-input, grad-weight, so also the
 * backward passes recorded for double backpropagation) and matrix products
 * round their two factors to bfloat16 and sum in float32
 * (backend/bf16.h), and the convolution layers that ask for it keep their
 * outputs in bfloat16 (nn/layers.h); every other tensor, op and the
 * optimiser stay float32. Off when a context is made. Returns the previous
 * setting. */
bool fa_context_set_bf16(fa_context *ctx, bool on);
bool fa_context_bf16(const fa_context *ctx);
/* Whether ctx's device runs those bfloat16 products at least as fast as
 * float32 ones (the CPU: AVX512-BF16, backend/cpu/cpu_backend.c). */
bool fa_context_bf16_fast(const fa_context *ctx);

/* The built-in backends: the i-th one's name and one-line description,
 * NULL past the last; 0 is FA_DEFAULT_BACKEND. */
const char *fa_backend_name_at(size_t i, const char **description);
/* "cpu, ref": the built-in names, comma-separated, into buf; returns buf. */
const char *fa_backend_list(char *buf, size_t len);

#endif
