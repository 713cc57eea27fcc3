/* ref's memory (ref.h): aligned heap buffers behind tagged device addresses
 * (tag.h), and the copies between them and the host. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/ref/ref.h"
#include "backend/ref/tag.h"

enum { ALIGN = 64 };

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
  void *host = aligned_alloc(ALIGN, rounded);
  if (!host) return NULL;
  if ((uintptr_t)host & FA_REF_TAG) {
    fprintf(stderr, "fastadv: the ref backend cannot tag heap address %p: it already uses the tag's bits\n", host);
    abort();
  }
  return (void *)((uintptr_t)host | FA_REF_TAG);
}

void fa_ref_mem_free(void *device) { free(fa_ref_untag(device, "free")); }

void fa_ref_mem_to_device(void *device_dst, const void *host_src, size_t bytes) {
  if (bytes) memcpy(fa_ref_untag(device_dst, "copy to device"), host_src, bytes);
}

void fa_ref_mem_to_host(void *host_dst, const void *device_src, size_t bytes) {
  if (bytes) memcpy(host_dst, fa_ref_untag(device_src, "copy to host"), bytes);
}

void fa_ref_mem_copy(void *device_dst, const void *device_src, size_t bytes) {
  if (bytes) memcpy(fa_ref_untag(device_dst, "device copy"), fa_ref_untag(device_src, "device copy"), bytes);
}

void fa_ref_mem_fill(void *device_dst, float value, size_t n) {
  float *y = fa_ref_untag(device_dst, "fill");
  for (size_t i = 0; i < n; i++) y[i] = value;
}

void fa_ref_mem_sync(void) {}
