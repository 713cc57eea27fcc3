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
  fa_error_last = code;
  return code;
}

const char *fa_error_message(void) { return fa_error_text; }
fa_status fa_error_code(void) { return fa_error_last; }

void fa_error_clear(void) {
  fa_error_text[0] = '\0';
  fa_error_last = FA_OK;
}
