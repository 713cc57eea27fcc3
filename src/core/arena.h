/* Step arenas: bump allocators released in one call.
 *
 * Everything made during one training step (activations, autograd nodes,
 * gradients) is allocated from the current arena and released together at
 * the end of the step. Marks nest: an inner loop (a PGD iteration) takes a
 * mark and releases back to it. No per-object free, no reference counts.
 * The high-water mark is the step's memory footprint. */
#ifndef FA_CORE_ARENA_H
#define FA_CORE_ARENA_H

#include <stddef.h>

typedef struct fa_arena fa_arena;
typedef size_t fa_arena_mark;

/* An arena of `capacity` bytes (reserved lazily by the OS: untouched pages
 * cost nothing). NULL and an error message when it cannot be reserved. */
fa_arena *fa_arena_create(size_t capacity);
/* An arena of max_bytes, or half as much, and so on down to min_bytes,
 * where address space is limited (ulimit -v, valgrind): the largest that
 * can be reserved. NULL and a message when even min_bytes cannot. */
fa_arena *fa_arena_create_largest(size_t max_bytes, size_t min_bytes);
void fa_arena_destroy(fa_arena *arena);

/* 64-byte aligned, uninitialised; NULL and FA_ERR_NOMEM on overflow. */
void *fa_arena_alloc(fa_arena *arena, size_t bytes);

fa_arena_mark fa_arena_get_mark(const fa_arena *arena);
/* Frees everything allocated since `mark`. */
void fa_arena_release(fa_arena *arena, fa_arena_mark mark);

size_t fa_arena_used(const fa_arena *arena);
/* The most bytes ever in use at once since creation. */
size_t fa_arena_high_water(const fa_arena *arena);

/* The arena that ops allocate their results from (per thread). */
void fa_arena_set_current(fa_arena *arena);
fa_arena *fa_arena_current(void);

#endif
