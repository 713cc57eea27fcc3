#include "data/augment.h"

#include <string.h>

#include "core/rng.h"

/* byte -> byte / 255, exactly as the division gives it */
static float unit_of_byte(uint8_t v) { return (float)v / 255.0f; }

fa_augment_draw fa_augment_draw_at(uint64_t key, uint64_t counter, fa_augment kind) {
  fa_augment_draw d = {FA_AUGMENT_PAD, FA_AUGMENT_PAD, 0};  /* no crop: the image in place */
  if (kind == FA_AUGMENT_NONE) return d;
  uint32_t w[4];
  fa_philox4x32(key, counter, w);
  const uint64_t offsets = 2 * FA_AUGMENT_PAD + 1;
  d.dy = (int)(((uint64_t)w[0] * offsets) >> 32);
  d.dx = (int)(((uint64_t)w[1] * offsets) >> 32);
  d.flip = kind == FA_AUGMENT_CROP_FLIP ? (int)(w[2] >> 31) : 0;
  return d;
}

void fa_augment_image(const uint8_t *in, int c, int h, int w, fa_augment kind, fa_augment_draw draw,
                      float *out) {
  if (kind == FA_AUGMENT_NONE) draw = (fa_augment_draw){FA_AUGMENT_PAD, FA_AUGMENT_PAD, 0};
  int shift_y = draw.dy - FA_AUGMENT_PAD, shift_x = draw.dx - FA_AUGMENT_PAD;
  /* output columns [x0, x1) read input columns x + shift_x inside the image */
  int x0 = shift_x < 0 ? -shift_x : 0, x1 = shift_x > 0 ? w - shift_x : w;
  for (int ch = 0; ch < c; ch++)
    for (int y = 0; y < h; y++) {
      float *row = out + ((size_t)ch * h + y) * w;
      int src_y = y + shift_y;
      if (src_y < 0 || src_y >= h) {
        memset(row, 0, (size_t)w * sizeof *row);
        continue;
      }
      const uint8_t *src = in + ((size_t)ch * h + src_y) * w;
      for (int x = 0; x < x0; x++) row[draw.flip ? w - 1 - x : x] = 0.0f;
      for (int x = x1; x < w; x++) row[draw.flip ? w - 1 - x : x] = 0.0f;
      if (draw.flip)
        for (int x = x0; x < x1; x++) row[w - 1 - x] = unit_of_byte(src[x + shift_x]);
      else
        for (int x = x0; x < x1; x++) row[x] = unit_of_byte(src[x + shift_x]);
    }
}
