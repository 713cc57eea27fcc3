#include "io/json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* ---------------------------------------------------------------- values */

/* The length of the valid UTF-8 sequence at s (2 to 4), 0 when there is
 * none (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF). */
static int utf8_length(const unsigned char *s) {
  unsigned char c = s[0], lo = 0x80, hi = 0xBF;
  int n;
  if (c >= 0xC2 && c <= 0xDF) n = 2;
  else if (c >= 0xE0 && c <= 0xEF) n = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
  else if (c >= 0xF0 && c <= 0xF4) n = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
  else return 0;
  if (s[1] < lo || s[1] > hi) return 0;
  for (int i = 2; i < n; i++)
    if (s[i] < 0x80 || s[i] > 0xBF) return 0;
  return n;
}

void fa_json_put_string(FILE *fp, const char *str) {
  const unsigned char *s = (const unsigned char *)str;
  fputc('"', fp);
  while (*s) {
    unsigned char c = *s;
    int n = c < 0x80 ? 1 : utf8_length(s);
    if (c == '"' || c == '\\') fprintf(fp, "\\%c", c);
    else if (c < 0x20) fprintf(fp, "\\u%04x", c);
    else if (n == 0) fputs("\\ufffd", fp); /* not UTF-8: the replacement character */
    else fwrite(s, 1, (size_t)n, fp);
    s += n ? n : 1;
  }
  fputc('"', fp);
}

/* The shortest of %.<lo>g .. %.<hi>g that reads back as v (parsed as a
 * double, then rounded to the type of v when as_float). */
static void put_shortest(FILE *fp, double v, int lo, int hi, bool as_float) {
  if (!isfinite(v)) {
    fputs("null", fp);
    return;
  }
  char buf[32];
  for (int digits = lo; digits <= hi; digits++) {
    snprintf(buf, sizeof buf, "%.*g", digits, v);
    double back = strtod(buf, NULL);
    if (as_float ? (float)back == (float)v : back == v) break;
  }
  fputs(buf, fp);
}

void fa_json_put_number(FILE *fp, double v) { put_shortest(fp, v, 15, 17, false); }
void fa_json_put_float(FILE *fp, float v) { put_shortest(fp, v, 6, 9, true); }

/* --------------------------------------------------------------- objects */

struct fa_json {
  FILE *members;     /* `"key": value, ...` without braces (open_memstream) */
  char *buf;         /* members' text, owned by the stream */
  size_t len;
  char *text;        /* "{" members "}", made by fa_json_text */
  bool empty, failed;
};

fa_json *fa_json_create(void) {
  fa_json *o = calloc(1, sizeof *o);
  if (o && !(o->members = open_memstream(&o->buf, &o->len))) {
    free(o);
    o = NULL;
  }
  if (!o) fa_error_set(FA_ERR_NOMEM, "out of memory for a JSON object");
  else o->empty = true;
  return o;
}

void fa_json_destroy(fa_json *o) {
  if (!o) return;
  fclose(o->members);
  free(o->buf);
  free(o->text);
  free(o);
}

/* writes the separator and `"key": `, ready for the value */
static FILE *member(fa_json *o, const char *key) {
  if (!o->empty) fputs(", ", o->members);
  o->empty = false;
  fa_json_put_string(o->members, key);
  fputs(": ", o->members);
  return o->members;
}

void fa_json_add_string(fa_json *o, const char *key, const char *value) { fa_json_put_string(member(o, key), value); }
void fa_json_add_number(fa_json *o, const char *key, double value) { fa_json_put_number(member(o, key), value); }
void fa_json_add_float(fa_json *o, const char *key, float value) { fa_json_put_float(member(o, key), value); }
void fa_json_add_int(fa_json *o, const char *key, long long value) { fprintf(member(o, key), "%lld", value); }
void fa_json_add_bool(fa_json *o, const char *key, bool value) { fputs(value ? "true" : "false", member(o, key)); }
void fa_json_add_null(fa_json *o, const char *key) { fputs("null", member(o, key)); }

void fa_json_add_object(fa_json *o, const char *key, fa_json *value) {
  const char *text = fa_json_text(value);
  if (text) fputs(text, member(o, key));
  else o->failed = true;
}

void fa_json_add_members(fa_json *o, fa_json *from) {
  const char *text = fa_json_text(from);
  if (!text) o->failed = true;
  else if (!from->empty) {
    if (!o->empty) fputs(", ", o->members);
    o->empty = false;
    fprintf(o->members, "%.*s", (int)(strlen(text) - 2), text + 1);
  }
}

const char *fa_json_text(fa_json *o) {
  if (o->failed || fflush(o->members) != 0 || ferror(o->members)) {
    o->failed = true;
    fa_error_set(FA_ERR_NOMEM, "out of memory building a JSON object");
    return NULL;
  }
  char *text = realloc(o->text, o->len + 3);
  if (!text) {
    fa_error_set(FA_ERR_NOMEM, "out of memory building a JSON object");
    return NULL;
  }
  o->text = text;
  text[0] = '{';
  memcpy(text + 1, o->buf, o->len);
  memcpy(text + 1 + o->len, "}", 2);
  return text;
}
