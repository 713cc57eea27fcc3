/* A table-driven parser for `--flag=value` command lines.
 *
 * A command describes its flags in one table: name (the config field's name),
 * type, where the value goes in the config struct, the accepted range or
 * choices, and the help text. The parser fills the struct from argv; the
 * help printer shows every flag with its default, read from a struct filled
 * with the defaults. Nothing here prints or exits: errors come back as an
 * fa_status with a one-line message (fa_error_message), notices through a
 * callback, so the parser can be tested and fuzzed. */
#ifndef FA_CLI_FLAGS_H
#define FA_CLI_FLAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/error.h"
#include "io/json.h"

typedef enum {
  FA_FLAG_INT,      /* int field, a whole number in [min, max] */
  FA_FLAG_FLOAT,    /* float field, a finite number in [min, max] */
  FA_FLAG_BOOL,     /* bool field: --name sets it, --name=true|false too */
  FA_FLAG_STRING,   /* char[size] field: any non-empty text that fits */
  FA_FLAG_NAME,     /* char[size] field: one of `choices` */
  FA_FLAG_ENUM,     /* int-sized enum field: the value of one of `choices` */
  FA_FLAG_PIXELS,   /* fa_pixels field: a radius or step size in [min, max] pixel units of 1/255, converted
                       to [0, 1] units here, where it is read (core/units.h) */
  FA_FLAG_ENTRY,    /* pointer field: an entry of `entries` (a registry), by name */
  FA_FLAG_IGNORED,  /* takes a value and stores nothing; `notice` says why */
} fa_flag_type;

typedef struct {
  const char *name;
  int value;          /* what an FA_FLAG_ENUM field is set to */
  const char *alias;  /* non-NULL: accepted, not listed, with this notice */
  const char *means;  /* FA_FLAG_ENTRY: the entry an alias stands for */
} fa_flag_choice;

/* The entries an FA_FLAG_ENTRY flag chooses from, kept elsewhere. */
typedef struct {
  const void *(*at)(size_t i);            /* the i-th, NULL past the last */
  const char *(*name)(const void *entry); /* as on the command line */
  const void *(*find)(const char *name);  /* the entry so named, NULL if none */
} fa_flag_entries;

typedef struct {
  const char *name;               /* without the leading "--" */
  fa_flag_type type;
  size_t offset;                  /* of the field in the config struct */
  size_t size;                    /* of the field */
  double min, max;                /* accepted range of a number */
  bool minus_one_means_all;       /* an int that also takes -1, meaning "all" */
  const fa_flag_choice *choices;  /* NAME and ENUM: ends with a {NULL} entry; ENTRY: its aliases */
  const fa_flag_entries *entries; /* ENTRY */
  const char *metavar;            /* what the value is, in the help ("DIR") */
  const char *help;
  const char *notice;             /* non-NULL: said when the flag is given */
} fa_flag;

/* The name, offset and size of a config field in a table entry:
 *   {FA_FLAG_FIELD(fa_train_config, epochs), .type = FA_FLAG_INT, ...} */
#define FA_FLAG_FIELD(Type, field) \
  .name = #field, .offset = offsetof(Type, field), .size = sizeof(((Type *)0)->field)

typedef struct {
  const char *command;  /* "fastadv train": how messages and help name it */
  const fa_flag *flags;
  size_t count;
} fa_flag_table;

enum { FA_FLAGS_MAX = 64, FA_NOTICE_MAX = 256 };

/* Which flags of a table a command line gave (bit i: flags[i]): a flag not
 * given may take a default that depends on others (the chosen attack's). */
typedef struct {
  uint64_t bits;
} fa_flags_given;

/* What a command line said that is accepted but not honoured as written
 * (a GPU option on a CPU build, an alias): at most one notice per flag. */
typedef struct {
  int count;
  char text[FA_FLAGS_MAX][FA_NOTICE_MAX];
} fa_flag_notices;

/* Sets the fields of `config` named by argv[0..argc-1] (the arguments after
 * the command; a table has at most FA_FLAGS_MAX flags). Stops at the first
 * error: FA_ERR_INVALID with a one-line message naming the flag and what it
 * accepts. Sets *help and returns FA_OK at --help or -h. `notices` and
 * `given` are cleared, then filled. */
fa_status fa_flags_parse(const fa_flag_table *table, void *config, int argc, char *const argv[],
                         bool *help, fa_flag_notices *notices, fa_flags_given *given);

/* Adds a notice of the command's own (one line; dropped when the list is full). */
void fa_flags_add_notice(fa_flag_notices *notices, const char *text);

/* Whether the flag `name` of the table was given. */
bool fa_flags_was_given(const fa_flag_table *table, const fa_flags_given *given, const char *name);

/* The flag `name` of the table, NULL if none. */
const fa_flag *fa_flags_find(const fa_flag_table *table, const char *name);

/* The value of a flag's field in `config` as the help shows it ("" for a
 * switch or an ignored flag). */
void fa_flags_format(const fa_flag *flag, const void *config, char *buf, size_t size);

/* Every flag's value in `config` as a member of `out`, named as the flag,
 * in the table's order: a number for INT and FLOAT (a float with the
 * fewest digits that read back to it), true or false for BOOL, a string
 * for STRING (as given, "" when not), NAME and ENUM (the choice's name);
 * IGNORED flags hold nothing and are left out. The run's configuration
 * record (README, "Outputs"). */
void fa_flags_to_json(const fa_flag_table *table, const void *config, fa_json *out);

/* Every flag with its meaning and its value in `defaults`. */
void fa_flags_print_help(FILE *out, const fa_flag_table *table, const void *defaults);

/* One line of the help: `left` ("--eps=X"), then `text` from the help
 * column on, wrapped, then `tail` unbroken. */
void fa_flags_print_item(FILE *out, const char *left, const char *text, const char *tail);

#endif
