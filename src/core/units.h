/* Radii and step sizes: the command line gives them in pixel units of 1/255
 * (the paper's --eps=8); the attacks work in [0, 1] units (images are in
 * [0, 1]). The conversion is written here once and done where a value is
 * read (a flag, a checkpoint's metadata); both forms are kept, the pixel
 * one for run names, records and messages. */
#ifndef FA_CORE_UNITS_H
#define FA_CORE_UNITS_H

typedef struct {
  float pixels;  /* as given: 8 means 8/255 */
  float value;   /* pixels / 255 in float: what the attacks use */
} fa_pixels;

/* An initialiser, for tables of defaults: fa_pixels d = FA_PIXELS(2); */
#define FA_PIXELS(pixels) {(pixels), (float)(pixels) / 255.0f}

static inline fa_pixels fa_pixels_of(float pixels) { return (fa_pixels)FA_PIXELS(pixels); }

/* The same conversion for a radius read in double (align_init's --eps_list). */
static inline double fa_pixels_to_unit(double pixels) { return pixels / 255; }

#endif
