#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char fa_error_text[1024];
static _Thread_local fa_status fa_error_last = FA_OK;

fa_status fa_error_set(fa_status code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(fa_error_text, sizeof fa_error_text, fmt, ap);
  va_end(ap);
  /* one line, whatever a hostile file or argument put into it */
  for (char *c = fa_error_text; *c; c++)
    if ((unsigned char)*c < 0x20 || *c == 0x7f) *c = '?';
  fa_error_last = code;
  return code;
}

const char *fa_error_message(void) { return fa_error_text; }
fa_status fa_error_code(void) { return fa_error_last; }

void fa_error_clear(void) {
  fa_error_text[0] = '\0';
  fa_error_last = FA_OK;
}
