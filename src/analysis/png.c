#include "analysis/png.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static void put_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* length, type, data, CRC of type + data */
static int write_chunk(FILE *f, const char *type, const uint8_t *data, size_t len) {
  uint8_t head[8], crc[4];
  put_u32(head, (uint32_t)len);
  memcpy(head + 4, type, 4);
  uLong c = crc32(0L, (const Bytef *)type, 4);
  if (len) c = crc32(c, data, (uInt)len);
  put_u32(crc, (uint32_t)c);
  return fwrite(head, 1, 8, f) == 8 && (len == 0 || fwrite(data, 1, len, f) == len) && fwrite(crc, 1, 4, f) == 4;
}

fa_status fa_png_write(const char *path, int width, int height, const uint8_t *rgb) {
  if (width <= 0 || height <= 0 || width > (1 << 14) || height > (1 << 14))
    return fa_error_set(FA_ERR_INVALID, "image of %d x %d pixels: each side must be in 1..16384", width, height);
  size_t row = 1 + 3 * (size_t)width, raw_len = row * (size_t)height;
  uLongf packed_len = compressBound((uLong)raw_len);
  uint8_t *raw = malloc(raw_len), *packed = malloc(packed_len);
  if (!raw || !packed) {
    free(raw);
    free(packed);
    return fa_error_set(FA_ERR_NOMEM, "out of memory for a %d x %d image", width, height);
  }
  for (int y = 0; y < height; y++) {  /* filter type 0 (none) before each row */
    raw[y * row] = 0;
    memcpy(raw + y * row + 1, rgb + (size_t)y * 3 * width, 3 * (size_t)width);
  }
  int zst = compress2(packed, &packed_len, raw, (uLong)raw_len, 9);
  free(raw);
  if (zst != Z_OK) {
    free(packed);
    return fa_error_set(FA_ERR_NOMEM, "zlib could not compress the image (%d)", zst);
  }
  uint8_t ihdr[13];
  put_u32(ihdr, (uint32_t)width);
  put_u32(ihdr + 4, (uint32_t)height);
  ihdr[8] = 8;   /* bits per sample */
  ihdr[9] = 2;   /* colour type: RGB */
  ihdr[10] = ihdr[11] = ihdr[12] = 0;  /* deflate, adaptive filtering, no interlace */
  static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  FILE *f = fopen(path, "wb");
  int ok = f && fwrite(signature, 1, 8, f) == 8 && write_chunk(f, "IHDR", ihdr, sizeof ihdr) &&
           write_chunk(f, "IDAT", packed, packed_len) && write_chunk(f, "IEND", NULL, 0);
  free(packed);
  if (f && fclose(f) != 0) ok = 0;
  if (!ok) return fa_error_set(FA_ERR_IO, "cannot write the image %s", path);
  return FA_OK;
}
