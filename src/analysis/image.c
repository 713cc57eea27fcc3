#include "analysis/image.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

fa_status fa_image_create(fa_image *img, int width, int height) {
  img->width = width;
  img->height = height;
  img->rgb = width > 0 && height > 0 ? malloc(3 * (size_t)width * height) : NULL;
  if (!img->rgb) return fa_error_set(FA_ERR_NOMEM, "no memory for a %d x %d image", width, height);
  memset(img->rgb, 255, 3 * (size_t)width * height);
  return FA_OK;
}

void fa_image_free(fa_image *img) {
  free(img->rgb);
  img->rgb = NULL;
}

/* [0, 1] to 0..255; NaN to 0 */
static uint8_t byte_of(float v) { return (uint8_t)(v >= 1 ? 255 : v > 0 ? v * 255.0f + 0.5f : 0); }

static void fill_square(fa_image *img, int x0, int y0, int px, const float rgb[3]) {
  for (int y = y0; y < y0 + px; y++)
    for (int x = x0; x < x0 + px; x++) {
      if (x < 0 || y < 0 || x >= img->width || y >= img->height) continue;
      uint8_t *p = img->rgb + 3 * ((size_t)y * img->width + x);
      for (int c = 0; c < 3; c++) p[c] = byte_of(rgb[c]);
    }
}

/* seismic: -1 (0, 0, 0.3), -0.5 (0, 0, 1), 0 (1, 1, 1), 0.5 (1, 0, 0), 1 (0.5, 0, 0);
 * beyond +-1 the end colours, NaN white (0) rather than an index out of the map */
static void seismic(float t, float rgb[3]) {
  static const float stops[5][3] = {{0, 0, 0.3f}, {0, 0, 1}, {1, 1, 1}, {1, 0, 0}, {0.5f, 0, 0}};
  t = isnan(t) ? 0 : t < -1 ? -1 : t > 1 ? 1 : t;
  float s = (t + 1) * 2;  /* 0..4 */
  int i = s >= 4 ? 3 : (int)s;
  float f = s - i;
  for (int c = 0; c < 3; c++) rgb[c] = stops[i][c] + f * (stops[i + 1][c] - stops[i][c]);
}

void fa_image_draw_diverging(fa_image *img, int x0, int y0, const float *v, int rows, int cols, int px, float vmax) {
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < cols; c++) {
      float rgb[3];
      seismic(vmax > 0 ? v[r * cols + c] / vmax : 0, rgb);
      fill_square(img, x0 + c * px, y0 + r * px, px, rgb);
    }
}

void fa_image_draw_picture(fa_image *img, int x0, int y0, const float *v, int channels, int rows, int cols, int px) {
  size_t plane = (size_t)rows * cols;
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < cols; c++) {
      float rgb[3];
      for (int k = 0; k < 3; k++) rgb[k] = v[(channels == 3 ? k : 0) * plane + (size_t)r * cols + c];
      fill_square(img, x0 + c * px, y0 + r * px, px, rgb);
    }
}
