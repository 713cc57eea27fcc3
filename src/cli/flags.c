#include "cli/flags.h"

#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/units.h"

enum {
  CHOICES_MAX = 32,   /* choices of one flag */
  SHOWN_MAX = 48,     /* bytes of a user's text quoted in a message */
  SUGGEST_MAX = 64,   /* longest word that gets a "did you mean" */
  HELP_COLUMN = 30,   /* where the help text of a flag starts */
  WRAP_COLUMN = 79,
  SUBJECT_MAX = 64,   /* "--flag=choice" in a notice */
  TEXT_MAX = 256,     /* a default in the help */
};

/* A user's text made safe for a one-line message: cut to SHOWN_MAX bytes,
 * control characters (a newline among them) shown as '?'. */
typedef struct {
  char text[SHOWN_MAX + 4];
} shown_text;

static shown_text shown(const char *s, size_t len) {
  shown_text out;
  size_t n = len < SHOWN_MAX ? len : SHOWN_MAX;
  for (size_t i = 0; i < n; i++) out.text[i] = iscntrl((unsigned char)s[i]) ? '?' : s[i];
  strcpy(out.text + n, len > SHOWN_MAX ? "..." : "");
  return out;
}

static shown_text shown_all(const char *s) { return shown(s, strlen(s)); }

/* ---- "did you mean" ---- */

static bool same_letter(char a, char b) { return tolower((unsigned char)a) == tolower((unsigned char)b); }

/* Edit distance ignoring case, with adjacent transpositions (optimal string
 * alignment); both words at most SUGGEST_MAX bytes. */
static size_t edit_distance(const char *a, const char *b) {
  size_t n = strlen(a), m = strlen(b);
  unsigned char d[SUGGEST_MAX + 1][SUGGEST_MAX + 1];
  for (size_t i = 0; i <= n; i++) d[i][0] = (unsigned char)i;
  for (size_t j = 0; j <= m; j++) d[0][j] = (unsigned char)j;
  for (size_t i = 1; i <= n; i++) {
    for (size_t j = 1; j <= m; j++) {
      unsigned best = d[i - 1][j - 1] + !same_letter(a[i - 1], b[j - 1]);
      if (d[i - 1][j] + 1u < best) best = d[i - 1][j] + 1u;
      if (d[i][j - 1] + 1u < best) best = d[i][j - 1] + 1u;
      if (i > 1 && j > 1 && same_letter(a[i - 1], b[j - 2]) && same_letter(a[i - 2], b[j - 1]) &&
          d[i - 2][j - 2] + 1u < best)
        best = d[i - 2][j - 2] + 1u;
      d[i][j] = (unsigned char)best;
    }
  }
  return d[n][m];
}

/* The name `word` most likely meant: the only name it is a prefix of, else
 * the nearest within about a third of the shorter length, or NULL. */
static const char *closest(const char *word, const char *const names[], size_t count) {
  size_t len = strlen(word);
  if (len < 2 || len > SUGGEST_MAX) return NULL;
  const char *prefix_of = NULL;
  size_t n_prefix_of = 0;
  for (size_t i = 0; i < count; i++)
    if (strncmp(names[i], word, len) == 0) prefix_of = names[i], n_prefix_of++;
  if (n_prefix_of == 1) return prefix_of;
  const char *best = NULL;
  size_t best_distance = SIZE_MAX;
  for (size_t i = 0; i < count; i++) {
    size_t name_len = strlen(names[i]);
    if (name_len > SUGGEST_MAX) continue;
    size_t shorter = name_len < len ? name_len : len;
    size_t allowed = (shorter + 1) / 3 > 1 ? (shorter + 1) / 3 : 1;
    size_t distance = edit_distance(word, names[i]);
    if (distance <= allowed && distance < best_distance) best = names[i], best_distance = distance;
  }
  return best;
}

static const char *closest_flag(const fa_flag_table *table, const char *word) {
  const char *names[FA_FLAGS_MAX];
  for (size_t i = 0; i < table->count; i++) names[i] = table->flags[i].name;
  return closest(word, names, table->count);
}

/* The names a NAME, ENUM or ENTRY flag lists (aliases are not listed), at
 * most CHOICES_MAX. */
static size_t choice_names(const fa_flag *flag, const char *names[CHOICES_MAX]) {
  size_t count = 0;
  if (flag->type == FA_FLAG_ENTRY) {
    for (const void *e; count < CHOICES_MAX && (e = flag->entries->at(count)) != NULL;)
      names[count++] = flag->entries->name(e);
    return count;
  }
  for (const fa_flag_choice *c = flag->choices; c->name && count < CHOICES_MAX; c++)
    if (!c->alias) names[count++] = c->name;
  return count;
}

static const char *closest_choice(const fa_flag *flag, const char *word) {
  const char *names[CHOICES_MAX];
  return closest(word, names, choice_names(flag, names));
}

/* ---- what a flag accepts, its value ---- */

static void describe_choices(const fa_flag *flag, const char *separator, char *buf, size_t size) {
  const char *names[CHOICES_MAX];
  size_t count = choice_names(flag, names), used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < count; i++) {
    int n = snprintf(buf + used, size - used, "%s%s", used ? separator : "", names[i]);
    if (n < 0 || (size_t)n >= size - used) break;
    used += (size_t)n;
  }
}

/* "a whole number in [1, 100000]", "one of fgsm, pgd, ...": for messages. */
static void describe_accepted(const fa_flag *flag, char *buf, size_t size) {
  char choices[512];
  switch (flag->type) {
  case FA_FLAG_INT:
    snprintf(buf, size, "%sa whole number in [%.0f, %.0f]",
             flag->minus_one_means_all ? "-1 (all) or " : "", flag->min, flag->max);
    break;
  case FA_FLAG_FLOAT:
  case FA_FLAG_PIXELS:
    snprintf(buf, size, "a number in [%g, %g]", flag->min, flag->max);
    break;
  case FA_FLAG_BOOL:
    snprintf(buf, size, "no value (--%s), or =true or =false", flag->name);
    break;
  case FA_FLAG_STRING:
    snprintf(buf, size, "a non-empty text of at most %zu bytes", flag->size - 1);
    break;
  case FA_FLAG_NAME:
  case FA_FLAG_ENUM:
  case FA_FLAG_ENTRY:
    describe_choices(flag, ", ", choices, sizeof choices);
    snprintf(buf, size, "one of %s", choices);
    break;
  case FA_FLAG_IGNORED:
    snprintf(buf, size, "any value");
    break;
  }
}

static void *field(void *config, const fa_flag *flag) { return (char *)config + flag->offset; }

static const void *field_const(const void *config, const fa_flag *flag) {
  return (const char *)config + flag->offset;
}

static const fa_flag_choice *find_choice(const fa_flag *flag, const char *name) {
  for (const fa_flag_choice *c = flag->choices; c && c->name; c++)
    if (strcmp(c->name, name) == 0) return c;
  return NULL;
}

/* the name of an ENUM field's value: its first choice that is not an alias */
static const char *enum_name(const fa_flag *flag, int value) {
  for (const fa_flag_choice *c = flag->choices; c->name; c++)
    if (!c->alias && c->value == value) return c->name;
  return "";
}

static const void *entry_of(const void *field) {
  const void *entry;
  memcpy(&entry, field, sizeof entry);
  return entry;
}

void fa_flags_format(const fa_flag *flag, const void *config, char *buf, size_t size) {
  const void *value = field_const(config, flag);
  buf[0] = '\0';
  switch (flag->type) {
  case FA_FLAG_INT: {
    int v = *(const int *)value;
    snprintf(buf, size, v == -1 && flag->minus_one_means_all ? "%d (all)" : "%d", v);
    break;
  }
  case FA_FLAG_FLOAT:
    snprintf(buf, size, "%g", (double)*(const float *)value);
    break;
  case FA_FLAG_PIXELS:
    snprintf(buf, size, "%g", (double)((const fa_pixels *)value)->pixels);
    break;
  case FA_FLAG_ENTRY:
    snprintf(buf, size, "%s", entry_of(value) ? flag->entries->name(entry_of(value)) : "none");
    break;
  case FA_FLAG_BOOL:
    snprintf(buf, size, "%s", *(const bool *)value ? "on" : "off");
    break;
  case FA_FLAG_STRING:
  case FA_FLAG_NAME:
    snprintf(buf, size, "%s", *(const char *)value ? (const char *)value : "none");
    break;
  case FA_FLAG_ENUM:
    snprintf(buf, size, "%s", enum_name(flag, *(const int *)value));
    break;
  case FA_FLAG_IGNORED:
    break;
  }
}

void fa_flags_to_json(const fa_flag_table *table, const void *config, fa_json *out) {
  for (size_t i = 0; i < table->count; i++) {
    const fa_flag *flag = &table->flags[i];
    const void *value = field_const(config, flag);
    switch (flag->type) {
    case FA_FLAG_INT: fa_json_add_int(out, flag->name, *(const int *)value); break;
    case FA_FLAG_FLOAT: fa_json_add_float(out, flag->name, *(const float *)value); break;
    case FA_FLAG_PIXELS: fa_json_add_float(out, flag->name, ((const fa_pixels *)value)->pixels); break;
    case FA_FLAG_ENTRY:
      if (entry_of(value)) fa_json_add_string(out, flag->name, flag->entries->name(entry_of(value)));
      else fa_json_add_null(out, flag->name);
      break;
    case FA_FLAG_BOOL: fa_json_add_bool(out, flag->name, *(const bool *)value); break;
    case FA_FLAG_STRING:
    case FA_FLAG_NAME: fa_json_add_string(out, flag->name, value); break;
    case FA_FLAG_ENUM: fa_json_add_string(out, flag->name, enum_name(flag, *(const int *)value)); break;
    case FA_FLAG_IGNORED: break;
    }
  }
}

/* ---- parsing one value ---- */

static fa_status value_error(const fa_flag *flag, const char *value, const char *problem,
                             const char *suggestion) {
  char accepted[600];
  describe_accepted(flag, accepted, sizeof accepted);
  return fa_error_set(FA_ERR_INVALID, "--%s=%s: %s; --%s takes %s%s%s%s", flag->name,
                      shown_all(value).text, problem, flag->name, accepted,
                      suggestion ? " (did you mean " : "", suggestion ? suggestion : "",
                      suggestion ? "?)" : "");
}

static bool in_range(const fa_flag *flag, double v) {
  return (v >= flag->min && v <= flag->max) || (flag->minus_one_means_all && v == -1);
}

/* Numbers are written as in Python: no spaces, nothing after the digits. */
static fa_status parse_int(const fa_flag *flag, const char *text, int *out) {
  char *end;
  if (!*text || isspace((unsigned char)*text)) return value_error(flag, text, "not a whole number", NULL);
  long long v = strtoll(text, &end, 10);  /* out of long long: clamped, so out of range */
  if (*end) return value_error(flag, text, "not a whole number", NULL);
  if (!in_range(flag, (double)v)) return value_error(flag, text, "out of range", NULL);
  *out = (int)v;
  return FA_OK;
}

static fa_status parse_float(const fa_flag *flag, const char *text, float *out) {
  char *end;
  if (!*text || isspace((unsigned char)*text)) return value_error(flag, text, "not a number", NULL);
  double v = strtod(text, &end);
  if (*end || isnan(v)) return value_error(flag, text, "not a number", NULL);
  if (!in_range(flag, v)) return value_error(flag, text, "out of range", NULL);
  *out = (float)v;
  return FA_OK;
}

static fa_status parse_bool(const fa_flag *flag, const char *text, bool *out) {
  if (!text || strcmp(text, "true") == 0 || strcmp(text, "1") == 0) *out = true;
  else if (strcmp(text, "false") == 0 || strcmp(text, "0") == 0) *out = false;
  else return value_error(flag, text, "not true or false", NULL);
  return FA_OK;
}

/* An ENTRY flag's value: an entry's name, or an alias of one (*alias set). */
static fa_status parse_entry(const fa_flag *flag, const char *text, const void **out,
                             const fa_flag_choice **alias) {
  *alias = find_choice(flag, text);
  *out = flag->entries->find(*alias ? (*alias)->means : text);
  if (!*out) return value_error(flag, text, "not a choice", closest_choice(flag, text));
  return FA_OK;
}

static fa_status parse_choice(const fa_flag *flag, const char *text, const fa_flag_choice **out) {
  *out = find_choice(flag, text);
  if (!*out) return value_error(flag, text, "not a choice", closest_choice(flag, text));
  return FA_OK;
}

/* Adds "subject: text" unless flag `index` has had its notice. */
static void add_notice(fa_flag_notices *notices, uint64_t *said, size_t index, const char *subject,
                       const char *text) {
  if (*said >> index & 1) return;
  *said |= (uint64_t)1 << index;
  snprintf(notices->text[notices->count++], FA_NOTICE_MAX, "%s: %s", subject, text);
}

void fa_flags_add_notice(fa_flag_notices *notices, const char *text) {
  if (notices->count < FA_FLAGS_MAX) snprintf(notices->text[notices->count++], FA_NOTICE_MAX, "%s", text);
}

/* Sets the field of table->flags[index] from `text` (NULL: a bare switch). */
static fa_status set_flag(const fa_flag_table *table, size_t index, const char *text, void *config,
                          fa_flag_notices *notices, uint64_t *said) {
  const fa_flag *flag = &table->flags[index];
  void *value = field(config, flag);
  char subject[SUBJECT_MAX];
  const fa_flag_choice *choice;
  const void *entry;
  float pixels;
  fa_status status = FA_OK;
  bool given_on = true;  /* a switch turned off needs no notice */
  switch (flag->type) {
  case FA_FLAG_INT:
    status = parse_int(flag, text, value);
    break;
  case FA_FLAG_FLOAT:
    status = parse_float(flag, text, value);
    break;
  case FA_FLAG_PIXELS:
    status = parse_float(flag, text, &pixels);
    if (status == FA_OK) *(fa_pixels *)value = fa_pixels_of(pixels);
    break;
  case FA_FLAG_ENTRY:
    status = parse_entry(flag, text, &entry, &choice);
    if (status != FA_OK) return status;
    memcpy(value, &entry, sizeof entry);
    if (choice) {
      snprintf(subject, sizeof subject, "--%s=%s", flag->name, choice->name);
      add_notice(notices, said, index, subject, choice->alias);
    }
    break;
  case FA_FLAG_BOOL:
    status = parse_bool(flag, text, value);
    given_on = *(bool *)value;
    break;
  case FA_FLAG_STRING:
    if (!*text) return value_error(flag, text, "empty", NULL);
    if (strlen(text) >= flag->size) return value_error(flag, text, "too long", NULL);
    memcpy(value, text, strlen(text) + 1);
    break;
  case FA_FLAG_NAME:
  case FA_FLAG_ENUM:
    status = parse_choice(flag, text, &choice);
    if (status != FA_OK) return status;
    if (flag->type == FA_FLAG_ENUM) *(int *)value = choice->value;
    else snprintf(value, flag->size, "%s", choice->name);
    if (choice->alias) {
      snprintf(subject, sizeof subject, "--%s=%s", flag->name, choice->name);
      add_notice(notices, said, index, subject, choice->alias);
    }
    break;
  case FA_FLAG_IGNORED:
    break;
  }
  if (status == FA_OK && flag->notice && given_on) {
    snprintf(subject, sizeof subject, "--%s", flag->name);
    add_notice(notices, said, index, subject, flag->notice);
  }
  return status;
}

/* ---- the command line ---- */

static const fa_flag *find_flag(const fa_flag_table *table, const char *name, size_t len) {
  for (size_t i = 0; i < table->count; i++)
    if (strlen(table->flags[i].name) == len && strncmp(table->flags[i].name, name, len) == 0)
      return &table->flags[i];
  return NULL;
}

const fa_flag *fa_flags_find(const fa_flag_table *table, const char *name) {
  return find_flag(table, name, strlen(name));
}

bool fa_flags_was_given(const fa_flag_table *table, const fa_flags_given *given, const char *name) {
  const fa_flag *flag = fa_flags_find(table, name);
  return flag && (given->bits >> (flag - table->flags) & 1);
}

static fa_status unknown_flag(const fa_flag_table *table, const char *name, size_t len) {
  char word[SUGGEST_MAX + 1] = "";
  if (len <= SUGGEST_MAX) memcpy(word, name, len), word[len] = '\0';
  const char *suggestion = closest_flag(table, word);
  if (suggestion)
    return fa_error_set(FA_ERR_INVALID, "unknown flag --%s; did you mean --%s? (%s --help lists every flag)",
                        shown(name, len).text, suggestion, table->command);
  return fa_error_set(FA_ERR_INVALID, "unknown flag --%s (%s --help lists every flag)", shown(name, len).text,
                      table->command);
}

/* An argument that is not a --flag: a value left without its flag, a
 * single-dash flag, or a word typed by mistake. */
static fa_status unexpected_argument(const fa_flag_table *table, const char *arg, const fa_flag *previous) {
  if (previous && previous->type == FA_FLAG_BOOL)
    return fa_error_set(FA_ERR_INVALID, "unexpected argument '%s' after the switch --%s (write --%s=%s)",
                        shown_all(arg).text, previous->name, previous->name, shown_all(arg).text);
  if (arg[0] == '-' && arg[1] != '-') {
    const char *name = arg + 1;
    const char *eq = strchr(name, '=');
    if (find_flag(table, name, eq ? (size_t)(eq - name) : strlen(name)))
      return fa_error_set(FA_ERR_INVALID, "unexpected argument '%s': flags start with two dashes (-%s)",
                          shown_all(arg).text, shown_all(arg).text);
  }
  return fa_error_set(FA_ERR_INVALID,
                      "unexpected argument '%s': flags are written --name=value (%s --help lists every flag)",
                      shown_all(arg).text, table->command);
}

fa_status fa_flags_parse(const fa_flag_table *table, void *config, int argc, char *const argv[],
                         bool *help, fa_flag_notices *notices, fa_flags_given *given) {
  assert(table->count <= FA_FLAGS_MAX);
  uint64_t said = 0;
  notices->count = 0;
  given->bits = 0;
  const fa_flag *previous = NULL;
  *help = false;
  for (int i = 0; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      *help = true;
      return FA_OK;
    }
    if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') return unexpected_argument(table, arg, previous);
    const char *name = arg + 2;
    const char *eq = strchr(name, '=');
    size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
    const fa_flag *flag = find_flag(table, name, name_len);
    if (!flag) return unknown_flag(table, name, name_len);
    const char *value = NULL;
    if (eq) {
      value = eq + 1;
    } else if (flag->type != FA_FLAG_BOOL) {
      if (i + 1 == argc || strncmp(argv[i + 1], "--", 2) == 0) {
        char accepted[600];
        describe_accepted(flag, accepted, sizeof accepted);
        return fa_error_set(FA_ERR_INVALID, "--%s needs a value (--%s=VALUE or --%s VALUE); it takes %s",
                            flag->name, flag->name, flag->name, accepted);
      }
      value = argv[++i];
    }
    size_t index = (size_t)(flag - table->flags);
    fa_status status = set_flag(table, index, value, config, notices, &said);
    if (status != FA_OK) return status;
    given->bits |= (uint64_t)1 << index;
    previous = eq ? NULL : flag;
  }
  return FA_OK;
}

/* ---- help ---- */

/* Prints the words of `text`, then `tail` unbroken, from `column` on,
 * wrapped at WRAP_COLUMN with continuation lines starting at HELP_COLUMN. */
static void print_wrapped(FILE *out, int column, const char *text, const char *tail) {
  bool line_empty = true;
  for (const char *p = text;; ) {
    while (*p == ' ') p++;
    bool is_tail = !*p;
    const char *word_start = is_tail ? tail : p;
    size_t word = is_tail ? strlen(tail) : strcspn(p, " ");
    if (word == 0) break;
    if (!line_empty && column + 1 + (int)word > WRAP_COLUMN) {
      fprintf(out, "\n%*s", HELP_COLUMN, "");
      column = HELP_COLUMN;
      line_empty = true;
    }
    fprintf(out, "%s%.*s", line_empty ? "" : " ", (int)word, word_start);
    column += (int)word + !line_empty;
    line_empty = false;
    if (is_tail) break;
    p += word;
  }
  fputc('\n', out);
}

static const char *metavar(const fa_flag *flag) {
  if (flag->metavar) return flag->metavar;
  switch (flag->type) {
  case FA_FLAG_INT: return "N";
  case FA_FLAG_FLOAT:
  case FA_FLAG_PIXELS: return "X";
  case FA_FLAG_NAME:
  case FA_FLAG_ENUM:
  case FA_FLAG_ENTRY: return "NAME";
  default: return "VALUE";
  }
}

void fa_flags_print_item(FILE *out, const char *left, const char *text, const char *tail) {
  int column = fprintf(out, "  %s", left);
  if (column < 0 || column >= HELP_COLUMN - 1) {
    fprintf(out, "\n");
    column = 0;
  }
  fprintf(out, "%*s", HELP_COLUMN - column, "");
  print_wrapped(out, HELP_COLUMN, text, tail);
}

void fa_flags_print_help(FILE *out, const fa_flag_table *table, const void *defaults) {
  fprintf(out, "usage: %s [--flag=value | --flag value | --switch ...]\n\nflags:\n", table->command);
  for (size_t i = 0; i < table->count; i++) {
    const fa_flag *flag = &table->flags[i];
    char left[128], choices[512] = "", value[TEXT_MAX] = "", text[1024], tail[TEXT_MAX + 16] = "";
    if (flag->type == FA_FLAG_BOOL) snprintf(left, sizeof left, "--%s", flag->name);
    else snprintf(left, sizeof left, "--%s=%s", flag->name, metavar(flag));
    if (flag->type == FA_FLAG_NAME || flag->type == FA_FLAG_ENUM || flag->type == FA_FLAG_ENTRY)
      describe_choices(flag, " | ", choices, sizeof choices);
    if (flag->type != FA_FLAG_BOOL) fa_flags_format(flag, defaults, value, sizeof value);
    snprintf(text, sizeof text, "%s%s%s", flag->help, *choices ? ": " : "", choices);
    if (*value) snprintf(tail, sizeof tail, "[default: %s]", value);
    fa_flags_print_item(out, left, text, tail);
  }
  fprintf(out, "  %-*s%s\n", HELP_COLUMN - 2, "--help, -h", "this list");
}
