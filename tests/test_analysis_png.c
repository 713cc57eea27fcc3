/* The PNG writer and the image canvas: a drawn image written, read back
 * (signature, IHDR, every pixel through zlib) and compared. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "analysis/image.h"
#include "analysis/png.h"
#include "testlib.h"

static unsigned get_u32(const unsigned char *p) { return (unsigned)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }

/* the pixels of an RGB PNG written by fa_png_write (one IDAT, filter 0 rows) */
static int read_back(const char *path, int w, int h, unsigned char *rgb) {
  FILE *f = fopen(path, "rb");
  static unsigned char file[1 << 16];
  size_t n = f ? fread(file, 1, sizeof file, f) : 0;
  if (f) fclose(f);
  size_t at = 8 + 25;  /* signature, IHDR */
  if (n < at + 12 || memcmp(file + at + 4, "IDAT", 4) != 0) return 0;
  unsigned len = get_u32(file + at);
  uLongf raw_len = (uLongf)(1 + 3 * w) * h;
  unsigned char *raw = malloc(raw_len);
  int ok = raw && uncompress(raw, &raw_len, file + at + 8, len) == Z_OK && raw_len == (uLongf)(1 + 3 * w) * h;
  for (int y = 0; ok && y < h; y++) {
    ok = raw[y * (1 + 3 * w)] == 0;
    memcpy(rgb + 3 * y * w, raw + y * (1 + 3 * w) + 1, 3 * w);
  }
  uLong crc = crc32(crc32(0L, Z_NULL, 0), file + at + 4, len + 4);
  ok = ok && crc == get_u32(file + at + 8 + len) && memcmp(file + at + 12 + len + 4, "IEND", 4) == 0;
  free(raw);
  return ok;
}

int main(void) {
  const char *dir = fa_test_tmpdir("test_analysis_png");
  char path[4200];
  snprintf(path, sizeof path, "%s/image.png", dir);

  fa_image img;
  FA_CHECK(fa_image_create(&img, 7, 5) == FA_OK, "canvas");
  const float weights[2] = {-1.0f, 1.0f}, grey[1] = {0.5f};
  fa_image_draw_diverging(&img, 0, 0, weights, 1, 2, 2, 1.0f);  /* two 2x2 squares: dark blue, dark red */
  fa_image_draw_picture(&img, 5, 3, grey, 1, 1, 1, 3);          /* a grey square, clipped at the border */
  FA_CHECK(fa_png_write(path, img.width, img.height, img.rgb) == FA_OK, "write: %s", fa_error_message());

  int w = 0, h = 0;
  long bytes = 0;
  FA_CHECK(fa_test_png_size(path, &w, &h, &bytes) && w == 7 && h == 5, "PNG header says %d x %d", w, h);
  unsigned char back[7 * 5 * 3];
  FA_CHECK(read_back(path, 7, 5, back), "IDAT inflates to 5 filtered rows, CRC and IEND right");
  FA_CHECK(memcmp(back, img.rgb, sizeof back) == 0, "pixels read back as drawn");
  const unsigned char *p = back;
  FA_CHECK(p[0] == 0 && p[1] == 0 && p[2] == 77, "-vmax is dark blue (0, 0, 77), got (%d, %d, %d)", p[0], p[1], p[2]);
  p = back + 3 * 3;
  FA_CHECK(p[0] == 128 && p[1] == 0 && p[2] == 0, "+vmax is dark red (128, 0, 0), got (%d, %d, %d)", p[0], p[1], p[2]);
  p = back + 3 * (4 * 7 + 6);
  FA_CHECK(p[0] == 128 && p[1] == 128 && p[2] == 128, "the grey square reaches (6, 4)");
  p = back + 3 * (4 * 7 + 0);
  FA_CHECK(p[0] == 255 && p[1] == 255 && p[2] == 255, "the rest stays white");
  fa_image_free(&img);

  FA_CHECK(fa_png_write("/nonexistent-dir/x.png", 2, 2, back) == FA_ERR_IO &&
               strstr(fa_error_message(), "/nonexistent-dir/x.png"),
           "an unwritable path is an error naming it");
  FA_CHECK(fa_png_write(path, 0, 2, back) == FA_ERR_INVALID, "an empty image is refused");
  return fa_test_exit();
}
