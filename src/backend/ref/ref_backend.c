/* The ref device (backend/backend.h): ref's tagged memory (memory.c) and
 * its kernel table (kernels.c). It keeps no per-context state: create hands
 * out a marker that the other functions ignore. */
#include "backend/backend.h"
#include "backend/ref/ref.h"

static const char no_state; /* create must not return NULL, which means failure */

static void *ref_create(void) { return (void *)&no_state; }
static void ref_destroy(void *state) { (void)state; }

static void *ref_alloc(void *state, size_t bytes) {
  (void)state;
  return fa_ref_mem_alloc(bytes);
}

static void ref_free(void *state, void *ptr, size_t bytes) {
  (void)state;
  fa_ref_mem_free(ptr, bytes);
}

static void ref_to_device(void *state, void *dst, const void *host_src, size_t bytes) {
  (void)state;
  fa_ref_mem_to_device(dst, host_src, bytes);
}

static void ref_to_host(void *state, void *host_dst, const void *src, size_t bytes) {
  (void)state;
  fa_ref_mem_to_host(host_dst, src, bytes);
}

static void ref_copy(void *state, void *dst, const void *src, size_t bytes) {
  (void)state;
  fa_ref_mem_copy(dst, src, bytes);
}

static void ref_fill(void *state, float *dst, float value, size_t n) {
  (void)state;
  fa_ref_mem_fill(dst, value, n);
}

static void ref_synchronize(void *state) {
  (void)state;
  fa_ref_mem_sync();
}

/* The oracle computes bfloat16 products as backend/bf16.h defines them, as slowly as the rest:
 * --half_prec keeps its meaning here. */
static bool ref_bf16_fast(void *state) {
  (void)state;
  return true;
}

const fa_backend fa_backend_ref = {
    .name = "ref",
    .description = "plain single-threaded loops on memory the host cannot read: the oracle, slow",
    .create = ref_create,
    .destroy = ref_destroy,
    .alloc = ref_alloc,
    .free = ref_free,
    .to_device = ref_to_device,
    .to_host = ref_to_host,
    .copy = ref_copy,
    .fill = ref_fill,
    .synchronize = ref_synchronize,
    .bf16_fast = ref_bf16_fast,
    .kernels = &fa_ref_kernel_table,
};
