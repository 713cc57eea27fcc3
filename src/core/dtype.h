/* The element types of tensors. float32 everywhere but labels (int32);
 * bfloat16 and int64 are named for what comes (half precision, int64
 * indices) and not yet made by any constructor. */
#ifndef FA_CORE_DTYPE_H
#define FA_CORE_DTYPE_H

#include <stddef.h>

typedef enum { FA_F32, FA_BF16, FA_I32, FA_I64 } fa_dtype;

/* Bytes per element: 4, 2, 4, 8. */
size_t fa_dtype_size(fa_dtype dtype);
/* "f32", "bf16", "i32", "i64" */
const char *fa_dtype_name(fa_dtype dtype);

#endif
