#include "core/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "core/device.h"
#include "core/error.h"

#define FA_ARENA_ALIGN 64
/* The host part is this fraction of the data slab: headers and nodes are a
 * few hundred bytes per tensor, the layers' scratch arrays a few values per
 * example. */
#define FA_ARENA_HOST_SHARE 4

/* One part: a block of `capacity` bytes, bump-allocated. */
typedef struct {
  unsigned char *base;
  size_t capacity, used;
} part;

struct fa_arena {
  fa_context *ctx;
  part host, data; /* host memory (mapped here); the device's data slab */
  size_t high_water;
};

fa_arena *fa_arena_create(size_t capacity) {
  fa_context *ctx = fa_context_current();
  if (!ctx) {
    fa_error_set(FA_ERR_INVALID, "no current context: create one (fa_context_create) before an arena");
    return NULL;
  }
  fa_arena *arena = calloc(1, sizeof *arena);
  if (!arena) {
    fa_error_set(FA_ERR_NOMEM, "out of memory creating an arena");
    return NULL;
  }
  const size_t host_capacity = capacity / FA_ARENA_HOST_SHARE;
  void *host = mmap(NULL, host_capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  void *data = host == MAP_FAILED ? NULL : ctx->backend->alloc(ctx->state, capacity);
  if (!data) {
    if (host != MAP_FAILED) munmap(host, host_capacity);
    free(arena);
    fa_error_set(FA_ERR_NOMEM, "cannot reserve %zu bytes for an arena", capacity);
    return NULL;
  }
  *arena = (fa_arena){.ctx = ctx, .host = {host, host_capacity, 0}, .data = {data, capacity, 0}};
  return arena;
}

fa_arena *fa_arena_create_largest(size_t max_bytes, size_t min_bytes) {
  fa_arena *arena = NULL;
  for (size_t bytes = max_bytes; !arena && bytes >= min_bytes; bytes /= 2) arena = fa_arena_create(bytes);
  return arena;
}

void fa_arena_destroy(fa_arena *arena) {
  if (!arena) return;
  if (arena->ctx->arena == arena) arena->ctx->arena = NULL;
  munmap(arena->host.base, arena->host.capacity);
  fa_device_free(arena->ctx, arena->data.base, arena->data.capacity);
  free(arena);
}

static void *bump(fa_arena *arena, part *p, size_t bytes) {
  size_t start = (p->used + FA_ARENA_ALIGN - 1) & ~(size_t)(FA_ARENA_ALIGN - 1);
  if (bytes > p->capacity || start > p->capacity - bytes) {
    fa_error_set(FA_ERR_NOMEM,
                 "arena overflow: %zu bytes requested with %zu of %zu in use; "
                 "give the step a larger arena or a smaller batch",
                 bytes, p->used, p->capacity);
    return NULL;
  }
  p->used = start + bytes;
  size_t used = arena->host.used + arena->data.used;
  if (used > arena->high_water) arena->high_water = used;
  return p->base + start;
}

static bool present(const fa_arena *arena) {
  if (arena) return true;
  fa_error_set(FA_ERR_INVALID, "no current arena: call fa_arena_set_current() before running ops");
  return false;
}

void *fa_arena_alloc(fa_arena *arena, size_t bytes) { return present(arena) ? bump(arena, &arena->host, bytes) : NULL; }

void *fa_arena_alloc_data(fa_arena *arena, size_t bytes) {
  return present(arena) ? bump(arena, &arena->data, bytes) : NULL;
}

fa_arena_mark fa_arena_get_mark(const fa_arena *arena) { return (fa_arena_mark){arena->host.used, arena->data.used}; }

void fa_arena_release(fa_arena *arena, fa_arena_mark mark) {
  if (mark.host < arena->host.used) arena->host.used = mark.host;
  if (mark.data < arena->data.used) arena->data.used = mark.data;
}

size_t fa_arena_used(const fa_arena *arena) { return arena->host.used + arena->data.used; }
size_t fa_arena_high_water(const fa_arena *arena) { return arena->high_water; }

void fa_arena_set_current(fa_arena *arena) {
  fa_context *ctx = arena ? arena->ctx : fa_context_current();
  if (ctx) ctx->arena = arena;
}

fa_arena *fa_arena_current(void) {
  fa_context *ctx = fa_context_current();
  return ctx ? ctx->arena : NULL;
}
