/* Error reporting for every layer of fastadv.
 *
 * A function that can fail returns an fa_status (FA_OK == 0) or NULL, and
 * records a human-readable message with fa_error_set(). The caller reads it
 * with fa_error_message(). Messages say what is wrong and what to do. The
 * message is thread-local, so loader threads do not clobber the main one. */
#ifndef FA_CORE_ERROR_H
#define FA_CORE_ERROR_H

typedef enum {
  FA_OK = 0,
  FA_ERR_INVALID = -1,  /* bad argument or shape: a caller's mistake */
  FA_ERR_IO = -2,       /* a file could not be read or written */
  FA_ERR_FORMAT = -3,   /* a file's contents are malformed */
  FA_ERR_NOMEM = -4,    /* an allocation or arena ran out */
  FA_ERR_NUMERIC = -5,  /* NaN or Inf where numbers must be finite */
} fa_status;

/* Records a printf-style message; returns `code` so callers can write
 * `return fa_error_set(FA_ERR_IO, "cannot open %s", path);`. Control
 * characters (a newline in a name read from a hostile file, say) become
 * '?', so a message is always one line. */
fa_status fa_error_set(fa_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The last message recorded on this thread ("" when none). */
const char *fa_error_message(void);
/* The code of the last error recorded on this thread (FA_OK when none). */
fa_status fa_error_code(void);
void fa_error_clear(void);

#endif
