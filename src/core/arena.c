#include "core/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "core/error.h"

#define FA_ARENA_ALIGN 64

struct fa_arena {
  unsigned char *base;
  size_t capacity, used, high_water;
};

static _Thread_local fa_arena *fa_current_arena = NULL;

fa_arena *fa_arena_create(size_t capacity) {
  fa_arena *arena = calloc(1, sizeof *arena);
  if (!arena) {
    fa_error_set(FA_ERR_NOMEM, "out of memory creating an arena");
    return NULL;
  }
  void *base = mmap(NULL, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) {
    free(arena);
    fa_error_set(FA_ERR_NOMEM, "cannot reserve %zu bytes for an arena", capacity);
    return NULL;
  }
  arena->base = base;
  arena->capacity = capacity;
  return arena;
}

fa_arena *fa_arena_create_largest(size_t max_bytes, size_t min_bytes) {
  fa_arena *arena = NULL;
  for (size_t bytes = max_bytes; !arena && bytes >= min_bytes; bytes /= 2) arena = fa_arena_create(bytes);
  return arena;
}

void fa_arena_destroy(fa_arena *arena) {
  if (!arena) return;
  if (fa_current_arena == arena) fa_current_arena = NULL;
  munmap(arena->base, arena->capacity);
  free(arena);
}

void *fa_arena_alloc(fa_arena *arena, size_t bytes) {
  if (!arena) {
    fa_error_set(FA_ERR_INVALID, "no current arena: call fa_arena_set_current() before running ops");
    return NULL;
  }
  size_t start = (arena->used + FA_ARENA_ALIGN - 1) & ~(size_t)(FA_ARENA_ALIGN - 1);
  if (bytes > arena->capacity || start > arena->capacity - bytes) {
    fa_error_set(FA_ERR_NOMEM,
                 "arena overflow: %zu bytes requested with %zu of %zu in use; "
                 "give the step a larger arena or a smaller batch",
                 bytes, arena->used, arena->capacity);
    return NULL;
  }
  arena->used = start + bytes;
  if (arena->used > arena->high_water) arena->high_water = arena->used;
  return arena->base + start;
}

fa_arena_mark fa_arena_get_mark(const fa_arena *arena) { return arena->used; }

void fa_arena_release(fa_arena *arena, fa_arena_mark mark) {
  if (mark < arena->used) arena->used = mark;
}

size_t fa_arena_used(const fa_arena *arena) { return arena->used; }
size_t fa_arena_high_water(const fa_arena *arena) { return arena->high_water; }

void fa_arena_set_current(fa_arena *arena) { fa_current_arena = arena; }
fa_arena *fa_arena_current(void) { return fa_current_arena; }
