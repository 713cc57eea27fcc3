/* Writing an 8-bit RGB image as a PNG file (zlib's deflate and CRC). */
#ifndef FA_ANALYSIS_PNG_H
#define FA_ANALYSIS_PNG_H

#include <stdint.h>

#include "core/error.h"

/* rgb: height rows of width pixels, 3 bytes each. FA_ERR_IO with a message
 * naming the file when it cannot be written. */
fa_status fa_png_write(const char *path, int width, int height, const uint8_t *rgb);

#endif
