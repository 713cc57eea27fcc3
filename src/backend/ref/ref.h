/* The ref backend: every kernel of the table (backend/backend.h) as plain,
 * single-threaded C11 loops, and memory the host cannot read by accident.
 *
 * What it is for: the oracle the fast kernels are tested against, and a
 * second device that proves the seam (docs/ARCHITECTURE.md, "The ref
 * backend"). Slow on purpose: no BLAS, no oneDNN, no OpenMP, no intrinsics;
 * long sums (GEMM, convolutions, reductions) accumulate in double.
 *
 * Its memory: fa_ref_mem_alloc hands out *device addresses*, the real heap
 * address with a tag in its high bits that makes it non-canonical (x86-64)
 * or a kernel-half address (AArch64), so any host load or store through it
 * faults (SIGSEGV) as a stray host access to GPU memory would. Only ref's
 * kernels and the copy functions below remove the tag. Pointer arithmetic
 * on device addresses (a row's offset) is fine; dereferencing is not.
 *
 * As a device (fa_backend_ref, backend/backend.h; backend/registry.c lists
 * it) it keeps no per-context state: every function here is synchronous
 * and fa_ref_mem_sync does nothing. Sizes are bytes unless said. */
#ifndef FA_BACKEND_REF_REF_H
#define FA_BACKEND_REF_REF_H

#include <stdbool.h>
#include <stddef.h>

#include "backend/backend.h"

/* A device buffer of `bytes` (64-byte aligned, contents unspecified); NULL
 * when out of memory. Free it with fa_ref_mem_free and the same bytes (NULL
 * is a no-op). Large buffers are reserved and committed as they are used. */
void *fa_ref_mem_alloc(size_t bytes);
void fa_ref_mem_free(void *device, size_t bytes);
/* device <- host, host <- device, device <- device (the two may overlap) */
void fa_ref_mem_to_device(void *device_dst, const void *host_src, size_t bytes);
void fa_ref_mem_to_host(void *host_dst, const void *device_src, size_t bytes);
void fa_ref_mem_copy(void *device_dst, const void *device_src, size_t bytes);
/* n floats of device memory set to value */
void fa_ref_mem_fill(void *device_dst, float value, size_t n);
/* waits for the device's work: ref runs each call to completion, so nothing */
void fa_ref_mem_sync(void);
/* true when p is a device address of ref (tagged), false for a host address */
bool fa_ref_is_device(const void *p);

/* ref's kernel table: the entries take device addresses (from
 * fa_ref_mem_alloc, plus offsets) for every tensor argument; the row
 * indices of gather_rows / scatter_add_rows and the shape and geometry
 * arguments are host memory, as the table's callers pass them today. */
extern const fa_kernel_table fa_ref_kernel_table;

#endif
