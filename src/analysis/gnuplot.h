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

/* `text` as a gnuplot string literal (single-quoted, quotes doubled). */
void fa_gnuplot_put_string(FILE *f, const char *text);

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
