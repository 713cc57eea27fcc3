/* Step arenas: bump allocators released in one call.
 *
 * Everything made during one training step (activations, autograd nodes,
 * gradients) is allocated from the current arena and released together at
 * the end of the step. Marks nest: an inner loop (a PGD iteration) takes a
 * mark and releases back to it. No per-object free, no reference counts.
 *
 * An arena has two parts, bump-allocated side by side: the data slab, one
 * allocation of its context's device memory, where tensor data lives; and
 * host memory for what the host reads (tensor headers, autograd nodes, row
 * indices, scratch arrays of the layers above). The high-water mark of the
 * two is the step's memory footprint. Each context has its current arena
 * (core/context.h). */
#ifndef FA_CORE_ARENA_H
#define FA_CORE_ARENA_H

#include <stddef.h>

typedef struct fa_arena fa_arena;
/* Where both parts stood: release to it to free what came after. */
typedef struct {
  size_t host, data;
} fa_arena_mark;

/* An arena of `capacity` bytes of device memory for data and a quarter as
 * many of host memory, in the current context (reserved lazily where the
 * device can: untouched pages of the CPU's cost nothing). NULL and an error message when
 * they cannot be had or there is no current context. */
fa_arena *fa_arena_create(size_t capacity);
/* An arena of max_bytes, or half as much, and so on down to min_bytes,
 * where address space is limited (ulimit -v, valgrind): the largest that
 * can be reserved. NULL and a message when even min_bytes cannot. */
fa_arena *fa_arena_create_largest(size_t max_bytes, size_t min_bytes);
/* Frees both parts; when it is its context's current arena, the context has none afterwards. */
void fa_arena_destroy(fa_arena *arena);

/* Host memory: 64-byte aligned, uninitialised; NULL and FA_ERR_NOMEM on overflow. */
void *fa_arena_alloc(fa_arena *arena, size_t bytes);
/* Device memory from the data slab (tensor data; core only): the same. */
void *fa_arena_alloc_data(fa_arena *arena, size_t bytes);

fa_arena_mark fa_arena_get_mark(const fa_arena *arena);
/* Frees everything allocated since `mark`. */
void fa_arena_release(fa_arena *arena, fa_arena_mark mark);

/* Bytes in use, both parts together. */
size_t fa_arena_used(const fa_arena *arena);
/* The most bytes ever in use at once since creation. */
size_t fa_arena_high_water(const fa_arena *arena);

/* The arena that ops allocate their results from: its context's current
 * arena (set_current makes `arena` its context's; NULL clears the current
 * context's); current gives the current context's (NULL: none). */
void fa_arena_set_current(fa_arena *arena);
fa_arena *fa_arena_current(void);

#endif
