#include "analysis/gnuplot.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define FA_GNUPLOT_MISSING "gnuplot was not found: install Debian's gnuplot-nox (scripts/setup.sh does)"

fa_status fa_script_open(fa_script *s) {
  *s = (fa_script){0};
  s->f = open_memstream(&s->text, &s->len);
  return s->f ? FA_OK : fa_error_set(FA_ERR_NOMEM, "no memory for a gnuplot script");
}

fa_status fa_script_finish(fa_script *s) {
  int bad = ferror(s->f);
  if (fclose(s->f) != 0) bad = 1;
  s->f = NULL;
  return bad ? fa_error_set(FA_ERR_NOMEM, "no memory for a gnuplot script") : FA_OK;
}

void fa_script_free(fa_script *s) {
  if (s->f) fclose(s->f);
  free(s->text);
  *s = (fa_script){0};
}

static int gnuplot_present(void) {
  FILE *p = popen("gnuplot --version 2>/dev/null", "r");
  if (!p) return 0;
  char v[128] = "";
  int got = fgets(v, sizeof v, p) != NULL && strncmp(v, "gnuplot", 7) == 0;
  return pclose(p) == 0 && got;
}

static int is_control(char c) { return (unsigned char)c < 0x20 || c == 0x7f; }

const char *fa_gnuplot_control_char(const char *text) {
  for (const char *p = text; *p; p++)
    if (is_control(*p)) return p;
  return NULL;
}

/* text inside a single-quoted string: the quote doubled (gnuplot's only
 * escape there: a backslash is literal and backquotes are not substituted),
 * the characters of `escaped` behind a backslash, and a control character,
 * which would end the command and let what follows run, as '?' */
static void put_chars(FILE *f, const char *text, const char *escaped) {
  for (const char *p = text; *p; p++) {
    if (is_control(*p)) {
      fputc('?', f);
      continue;
    }
    if (*p == '\'') fputc('\'', f);
    else if (strchr(escaped, *p)) fputc('\\', f);
    fputc(*p, f);
  }
}

void fa_gnuplot_put_string(FILE *f, const char *text) {
  fputc('\'', f);
  put_chars(f, text, "");
  fputc('\'', f);
}

void fa_gnuplot_put_enhanced_chars(FILE *f, const char *text) { put_chars(f, text, "_^{}@&~\\"); }

fa_status fa_gnuplot_render(const char *setup, const char *plot, const char *out_prefix, int width, int height) {
  if (!gnuplot_present()) return fa_error_set(FA_ERR_IO, FA_GNUPLOT_MISSING);
  FILE *gp = popen("gnuplot", "w");
  if (!gp) return fa_error_set(FA_ERR_IO, FA_GNUPLOT_MISSING);
  fputs(setup, gp);
  static const char *const terminals[2][2] = {{"pngcairo enhanced font 'Sans,11'", "png"},
                                              {"svg enhanced font 'Sans,11' background rgb 'white'", "svg"}};
  for (int t = 0; t < 2; t++) {
    fprintf(gp, "set terminal %s size %d,%d\nset output ", terminals[t][0], width, height);
    size_t len = strlen(out_prefix) + 8;
    char *path = malloc(len);
    if (path) {
      snprintf(path, len, "%s.%s", out_prefix, terminals[t][1]);
      fa_gnuplot_put_string(gp, path);
      free(path);
    }
    fprintf(gp, "\n%s\nunset output\n", plot);
  }
  int status = pclose(gp);
  if (status != 0)
    return fa_error_set(FA_ERR_IO, "gnuplot failed (exit status %d) drawing %s.png/.svg; its message is above",
                        WIFEXITED(status) ? WEXITSTATUS(status) : -1, out_prefix);
  return FA_OK;
}
