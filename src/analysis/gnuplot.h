/* Running gnuplot (Debian's gnuplot-nox: its pngcairo and svg terminals)
 * on a script that draws one figure, once into <out>.png and once into
 * <out>.svg. */
#ifndef FA_ANALYSIS_GNUPLOT_H
#define FA_ANALYSIS_GNUPLOT_H

#include <stdio.h>

#include "core/error.h"

/* `setup` (data blocks, styles) then `plot` (the commands after
 * "set output") for each of the two terminals, at width x height pixels.
 * FA_ERR_IO with a message when gnuplot is missing or fails. */
fa_status fa_gnuplot_render(const char *setup, const char *plot, const char *out_prefix, int width, int height);

/* Every string from outside (flags, file names, logs) reaches gnuplot only
 * through the two writers below, which make it inert: inside single quotes,
 * quotes doubled, and control characters written as '?', since a newline or
 * carriage return would end the command and run what follows
 * (docs/RELIABILITY.md, "Bad inputs tried"). Callers refuse such text first,
 * with this: the first control character (below 0x20, or 0x7f) of text, or
 * NULL. */
const char *fa_gnuplot_control_char(const char *text);

/* `text` as a gnuplot string literal (single-quoted), shown as it is. */
void fa_gnuplot_put_string(FILE *f, const char *text);
/* The characters of `text` for inside a single-quoted string in enhanced
 * text mode (the caller writes the quotes): its markup characters
 * _ ^ { } @ & ~ \ escaped, so that it shows as it is. */
void fa_gnuplot_put_enhanced_chars(FILE *f, const char *text);

/* A growing text buffer for scripts (open_memstream). */
typedef struct {
  FILE *f;
  char *text;
  size_t len;
} fa_script;

fa_status fa_script_open(fa_script *s);
/* Ends writing: s->text holds the script (NULL and a message on failure). */
fa_status fa_script_finish(fa_script *s);
void fa_script_free(fa_script *s);

#endif
