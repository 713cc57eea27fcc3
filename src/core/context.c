#include "core/context.h"

#include <stdlib.h>

#include "core/device.h"
#include "core/error.h"

static _Thread_local fa_context *current;

fa_context *fa_context_create(const char *backend) {
  const fa_backend *b = fa_backend_find(backend);
  if (!b) {
    char names[256];
    fa_error_set(FA_ERR_INVALID, "no backend named '%.64s'; the built-in ones are: %s", backend,
                 fa_backend_names(names, sizeof names));
    return NULL;
  }
  fa_context *ctx = calloc(1, sizeof *ctx);
  void *state = ctx ? b->create() : NULL;
  if (!state) {
    free(ctx);
    fa_error_set(FA_ERR_NOMEM, "cannot set up the %s backend (out of memory)", b->name);
    return NULL;
  }
  *ctx = (fa_context){.backend = b, .k = b->kernels, .state = state, .grad_enabled = true, .next_seq = 1,
                      .next_pass = 1};
  return ctx;
}

void fa_context_destroy(fa_context *ctx) {
  if (!ctx) return;
  if (current == ctx) current = NULL;
  fa_grad_pool_release(ctx);
  ctx->backend->destroy(ctx->state);
  free(ctx);
}

void fa_context_set_current(fa_context *ctx) { current = ctx; }
fa_context *fa_context_current(void) { return current; }

const char *fa_context_backend(const fa_context *ctx) { return ctx->backend->name; }
const fa_kernel_table *fa_context_kernels(const fa_context *ctx) { return ctx->k; }
void *fa_context_backend_state(const fa_context *ctx) { return ctx->state; }
void fa_context_synchronize(fa_context *ctx) { ctx->backend->synchronize(ctx->state); }

bool fa_context_set_bf16(fa_context *ctx, bool on) {
  bool was = ctx->bf16;
  ctx->bf16 = on;
  return was;
}
bool fa_context_bf16(const fa_context *ctx) { return ctx->bf16; }
bool fa_context_bf16_fast(const fa_context *ctx) { return ctx->backend->bf16_fast(ctx->state); }

const char *fa_backend_name_at(size_t i, const char **description) {
  const fa_backend *b = fa_backend_at(i);
  if (description) *description = b ? b->description : NULL;
  return b ? b->name : NULL;
}

const char *fa_backend_list(char *buf, size_t len) { return fa_backend_names(buf, len); }

void *fa_device_alloc(fa_context *ctx, size_t bytes, const char *what) {
  void *p = ctx->backend->alloc(ctx->state, bytes);
  if (!p) fa_error_set(FA_ERR_NOMEM, "out of %s memory: %zu bytes for %s", ctx->backend->name, bytes, what);
  return p;
}
