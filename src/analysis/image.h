/* An RGB canvas for the inspect figures: weight maps in a diverging colour
 * map (matplotlib's "seismic": dark blue < 0, white 0, dark red > 0, as in
 * the paper's Figures 5 and 7) and input images, each value drawn as a
 * square of px x px pixels. */
#ifndef FA_ANALYSIS_IMAGE_H
#define FA_ANALYSIS_IMAGE_H

#include <stdint.h>

#include "core/error.h"

typedef struct {
  int width, height;
  uint8_t *rgb;  /* height rows of width pixels, 3 bytes each */
} fa_image;

/* A white canvas; FA_ERR_NOMEM on failure. */
fa_status fa_image_create(fa_image *img, int width, int height);
void fa_image_free(fa_image *img);

/* rows x cols values (row-major) at pixel (x0, y0); v / vmax in [-1, 1]
 * goes through the diverging map (clamped; vmax <= 0 draws white, and so
 * does a NaN ratio: NaN or Inf values never index outside the map). */
void fa_image_draw_diverging(fa_image *img, int x0, int y0, const float *v, int rows, int cols, int px, float vmax);

/* An input image at (x0, y0): channels planes of rows x cols values in
 * [0, 1] (clamped, NaN as 0), grey for 1 channel, RGB for 3. */
void fa_image_draw_picture(fa_image *img, int x0, int y0, const float *v, int channels, int rows, int cols, int px);

#endif
