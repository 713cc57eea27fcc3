/* Writing JSON: strings, numbers, and objects built key by key.
 *
 * Strings: '"' and '\\' are escaped, control characters (newline, tab,
 * ...) written as \u00XX, valid UTF-8 passed through; a byte that is not
 * part of valid UTF-8 (a Latin-1 file name, say) becomes U+FFFD, so every
 * line stays valid JSON. Numbers: the fewest digits that read back to the
 * same double (fa_json_put_number) or float (fa_json_put_float); NaN and
 * +-Inf, which JSON cannot hold, are written as null.
 *
 * An fa_json is one object under construction, "{"key": value, ...}", in
 * memory, members in the order added: a record of the metrics file
 * (io/metrics.h) is built with it. An allocation that fails is remembered
 * and reported by fa_json_text. */
#ifndef FA_IO_JSON_H
#define FA_IO_JSON_H

#include <stdbool.h>
#include <stdio.h>

void fa_json_put_string(FILE *fp, const char *s);
void fa_json_put_number(FILE *fp, double v);
void fa_json_put_float(FILE *fp, float v);

typedef struct fa_json fa_json;

fa_json *fa_json_create(void);  /* NULL and a message when out of memory */
void fa_json_destroy(fa_json *o);

void fa_json_add_string(fa_json *o, const char *key, const char *value);
void fa_json_add_number(fa_json *o, const char *key, double value);
void fa_json_add_float(fa_json *o, const char *key, float value);
void fa_json_add_int(fa_json *o, const char *key, long long value);
void fa_json_add_bool(fa_json *o, const char *key, bool value);
void fa_json_add_null(fa_json *o, const char *key);
/* value, an object, as a member */
void fa_json_add_object(fa_json *o, const char *key, fa_json *value);
/* every member of `from`, appended in order */
void fa_json_add_members(fa_json *o, fa_json *from);

/* The object's text, "{...}" on one line; NULL and a message when building
 * it ran out of memory. Valid until the next change. */
const char *fa_json_text(fa_json *o);

#endif
