/* Training augmentation of one image (docs/METHOD.md section 1), fused with the
 * conversion to float in [0, 1].
 *
 * Random crop with 4 px zero padding: the image is placed in a zero frame
 * 4 px wide and a window of the image's size is cut at offset (dy, dx),
 * dy, dx in 0..8, so out[y][x] = in[y + dy - 4][x + dx - 4], or 0 outside
 * the image. Then, for FA_AUGMENT_CROP_FLIP, a horizontal flip when `flip`.
 *
 * The draws of one image come from one Philox block of the augment stream
 * (words w[0..3], see fa_augment_draw): dy = (w[0] * 9) >> 32,
 * dx = (w[1] * 9) >> 32, flip = w[2] >> 31 (the multiply-shift maps a
 * 32-bit word to 0..8 with a bias below 1e-8). */
#ifndef FA_DATA_AUGMENT_H
#define FA_DATA_AUGMENT_H

#include <stdint.h>

#include "data/dataset.h"

#define FA_AUGMENT_PAD 4

typedef struct {
  int dy, dx;  /* crop offset in the padded image, 0..2*FA_AUGMENT_PAD */
  int flip;    /* 1: mirror left-right */
} fa_augment_draw;

/* The draw for the image that uses block `counter` of the stream `key`. */
fa_augment_draw fa_augment_draw_at(uint64_t key, uint64_t counter, fa_augment kind);

/* in: (c, h, w) bytes; out: (c, h, w) floats = in / 255, cropped and flipped
 * as `draw` says (FA_AUGMENT_NONE: draw is ignored). */
void fa_augment_image(const uint8_t *in, int c, int h, int w, fa_augment kind, fa_augment_draw draw,
                      float *out);

#endif
