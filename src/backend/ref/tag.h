/* ref's device addresses: a real heap address with FA_REF_TAG or'ed into
 * its high bits. Internal to src/backend/ref (memory.c and kernels.c).
 *
 * Why these bits, so that a host dereference faults on both 64-bit targets:
 * - x86-64: an address is canonical only when bits 63..47 are all equal;
 *   user-space heap addresses have them all 0, so bit 63 set is a general
 *   protection fault (SIGSEGV). Bit 63 also faults under Intel LAM (the
 *   opt-in tagged-address mode), which never ignores bit 63, and under
 *   5-level paging, where bit 47 alone would be a valid user address.
 * - AArch64: Linux enables top-byte-ignore for user space, so bits 63..56
 *   (bit 63 included) are dropped before translation and cannot make an
 *   address fault. Bit 55 then selects the kernel's half of the address
 *   space (TTBR1), which EL0 code cannot access: a fault (SIGSEGV).
 * Together: (1 << 63) | (1 << 55). A heap address that already has either
 * bit set (none does with 48-bit user address spaces) is refused when it is
 * allocated, so untagging is exact. */
#ifndef FA_BACKEND_REF_TAG_H
#define FA_BACKEND_REF_TAG_H

#include <stdint.h>

_Static_assert(sizeof(uintptr_t) == 8, "ref's tagged device addresses need 64-bit pointers");

#define FA_REF_TAG (((uintptr_t)1 << 63) | ((uintptr_t)1 << 55))

/* The host address behind device address p; NULL stays NULL (the kernels'
 * optional arguments). A non-NULL address without the tag is host memory
 * handed to a ref kernel: a bug of the caller, which a GPU would not
 * survive either, so ref stops there with a message naming `what`. */
void *fa_ref_untag(const void *p, const char *what);

#endif
