/* ref's memory (ref.h): aligned heap buffers, or mappings for large ones,
 * behind tagged device addresses (tag.h), and the copies between them and
 * the host. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "backend/ref/loops.h"
#include "backend/ref/ref.h"
#include "backend/ref/tag.h"

enum { ALIGN = 64 };
/* From this size on a buffer is mapped (MAP_NORESERVE), not taken from the
 * heap: a step arena's data slab is one allocation of up to tens of GiB
 * (core/arena.h), of which only the pages touched cost memory. Smaller
 * buffers come from the heap, where the sanitizers check them. */
#define MAP_FROM ((size_t)1 << 24)

bool fa_ref_is_device(const void *p) { return ((uintptr_t)p & FA_REF_TAG) == FA_REF_TAG; }

void *fa_ref_untag(const void *p, const char *what) {
  if (!p) return NULL;
  if (!fa_ref_is_device(p)) {
    fprintf(stderr, "fastadv: the ref backend's %s was given host address %p, not one of ref's device "
                    "addresses (fa_ref_mem_alloc): a caller reads or writes tensor memory on the wrong device\n",
            what, p);
    abort();
  }
  return (void *)((uintptr_t)p & ~FA_REF_TAG);
}

void *fa_ref_mem_alloc(size_t bytes) {
  const size_t rounded = bytes ? (bytes + ALIGN - 1) / ALIGN * ALIGN : ALIGN; /* aligned_alloc: a multiple */
  if (rounded < bytes) return NULL; /* overflow */
  void *host;
  if (bytes >= MAP_FROM) {
    host = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (host == MAP_FAILED) return NULL;
  } else if (!(host = aligned_alloc(ALIGN, rounded))) {
    return NULL;
  }
  if ((uintptr_t)host & FA_REF_TAG) {
    fprintf(stderr, "fastadv: the ref backend cannot tag heap address %p: it already uses the tag's bits\n", host);
    abort();
  }
  return (void *)((uintptr_t)host | FA_REF_TAG);
}

void fa_ref_mem_free(void *device, size_t bytes) {
  void *host = fa_ref_untag(device, "free");
  if (host && bytes >= MAP_FROM)
    munmap(host, bytes);
  else
    free(host);
}

void fa_ref_mem_to_device(void *device_dst, const void *host_src, size_t bytes) {
  if (bytes) memcpy(fa_ref_untag(device_dst, "copy to device"), host_src, bytes);
}

void fa_ref_mem_to_host(void *host_dst, const void *device_src, size_t bytes) {
  if (bytes) memcpy(host_dst, fa_ref_untag(device_src, "copy to host"), bytes);
}

void fa_ref_mem_copy(void *device_dst, const void *device_src, size_t bytes) {
  if (bytes) memmove(fa_ref_untag(device_dst, "device copy"), fa_ref_untag(device_src, "device copy"), bytes);
}

void fa_ref_mem_fill(void *device_dst, float value, size_t n) { fa_ref_fill(n, value, fa_ref_untag(device_dst, "fill")); }

void fa_ref_mem_sync(void) {}
