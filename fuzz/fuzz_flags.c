/* libFuzzer target: the fastadv command-line parser on arbitrary arguments.
 *
 * Input: the first byte picks the command (even: train, odd: eval), the rest
 * is split at NUL bytes into the arguments after the command. So that every
 * flag is reached, an argument "\x01" K VALUE becomes "--NAME=VALUE" and
 * "\x02" K VALUE becomes "--NAME" "VALUE", NAME being flag K (mod the number
 * of flags) of the command's table. Checks beyond
 * "no crash": an error has a one-line message without control characters;
 * a success leaves every field within what its flag accepts; notices are
 * one line each; the help prints with the parsed values as defaults.
 *
 * Build with fuzz/build.sh, run (from the repository root):
 *   mkdir -p fuzz/out/corpus/fuzz_flags
 *   nice -n 19 fuzz/out/fuzz_flags -max_total_time=600 -max_len=4096 fuzz/out/corpus/fuzz_flags */
// fuzz-build: src/cli/flags.c src/cli/commands.c src/io/json.c src/train/config.c src/train/run_name.c src/analysis/config.c src/adv/*.c src/nn/*.c src/core/*.c src/backend/*.c src/backend/cpu/*.c src/backend/ref/*.c src/data/*.c -Wno-pass-failed -Wno-psabi -I/usr/include/x86_64-linux-gnu/openblas-openmp -L/usr/lib/x86_64-linux-gnu/openblas-openmp -lopenblas -ldnnl -lz -lm -lpthread -fopenmp
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"

enum { MAX_ARGS = 256, NAME_ROOM = 80 };

/* Appends `text` to the arguments being built in `*end`, returns its start. */
static char *append(char **end, const char *prefix, const char *text) {
  char *start = *end;
  *end += sprintf(*end, "%s%s", prefix, text) + 1;
  return start;
}

/* Turns the NUL-separated `segments` into argv, naming flags as above. */
static int make_args(const fa_flag_table *table, char *segments, size_t size, char *storage, char *argv[]) {
  int argc = 0;
  char *end = storage;
  for (char *p = segments; p < segments + size && argc < MAX_ARGS - 1; p += strlen(p) + 1) {
    bool naming = (p[0] == '\x01' || p[0] == '\x02') && p[1];
    if (!naming) {
      argv[argc++] = p;
      continue;
    }
    const fa_flag *flag = &table->flags[(unsigned char)p[1] % table->count];
    char name[NAME_ROOM];
    snprintf(name, sizeof name, "--%s%s", flag->name, p[0] == '\x01' ? "=" : "");
    if (p[0] == '\x01') {
      argv[argc++] = append(&end, name, p + 2);
    } else {
      argv[argc++] = append(&end, name, "");
      if (p[2]) argv[argc++] = p + 2;
    }
  }
  argv[argc] = NULL;
  return argc;
}

static bool is_one_line(const char *s) {
  for (; *s; s++)
    if (iscntrl((unsigned char)*s)) return false;
  return true;
}

static bool is_entry(const fa_flag *flag, const void *entry) {
  for (size_t i = 0; flag->entries->at(i); i++)
    if (flag->entries->at(i) == entry) return true;
  return false;
}

static bool is_choice(const fa_flag *flag, const char *name, int value) {
  for (const fa_flag_choice *c = flag->choices; c->name; c++)
    if (flag->type == FA_FLAG_ENUM ? c->value == value : strcmp(c->name, name) == 0) return true;
  return false;
}

/* Every field holds a value its flag accepts. */
static void check_fields(const fa_flag_table *table, const void *config) {
  for (size_t i = 0; i < table->count; i++) {
    const fa_flag *flag = &table->flags[i];
    const char *field = (const char *)config + flag->offset;
    int whole;
    float number;
    fa_pixels pixels;
    const void *entry;
    switch (flag->type) {
    case FA_FLAG_INT:
      memcpy(&whole, field, sizeof whole);
      if (!((whole >= flag->min && whole <= flag->max) || (flag->minus_one_means_all && whole == -1))) abort();
      break;
    case FA_FLAG_FLOAT:
      memcpy(&number, field, sizeof number);
      if (!isfinite(number) || number < flag->min || number > flag->max) abort();
      break;
    case FA_FLAG_BOOL:
      if (*(const unsigned char *)field > 1) abort();
      break;
    case FA_FLAG_STRING:
    case FA_FLAG_NAME:
      if (!memchr(field, '\0', flag->size)) abort();
      if (flag->type == FA_FLAG_NAME && *field && !is_choice(flag, field, 0)) abort();  /* "": none given */
      break;
    case FA_FLAG_ENUM:
      memcpy(&whole, field, sizeof whole);
      if (!is_choice(flag, NULL, whole)) abort();
      break;
    case FA_FLAG_PIXELS:
      memcpy(&pixels, field, sizeof pixels);
      if (!isfinite(pixels.pixels) || pixels.pixels < flag->min || pixels.pixels > flag->max ||
          pixels.value != pixels.pixels / 255.0f)
        abort();
      break;
    case FA_FLAG_ENTRY:
      memcpy(&entry, field, sizeof entry);
      if (!is_entry(flag, entry)) abort();
      break;
    case FA_FLAG_IGNORED:
      break;
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  const fa_cli_command *command = data[0] % 2 ? &fa_cli_eval : &fa_cli_train;
  char *segments = malloc(size);  /* NUL-terminated */
  memcpy(segments, data + 1, size - 1);
  segments[size - 1] = '\0';
  char *storage = malloc(size + MAX_ARGS * NAME_ROOM);
  char *argv[MAX_ARGS + 1];
  int argc = make_args(command->flags, segments, size - 1, storage, argv);

  void *config = malloc(command->config_size);
  static fa_flag_notices notices;
  bool help;
  fa_status status = fa_cli_parse(command, argc, argv, config, &help, &notices);
  if (status != FA_OK) {
    if (status != FA_ERR_INVALID || !*fa_error_message() || !is_one_line(fa_error_message())) abort();
  } else {
    check_fields(command->flags, config);
    if (notices.count < 0 || notices.count > (int)command->flags->count) abort();
    for (int i = 0; i < notices.count; i++)
      if (!is_one_line(notices.text[i])) abort();
    if (command == &fa_cli_eval && !help && !((const fa_eval_config *)config)->model_path[0]) abort();
    static FILE *devnull;
    if (!devnull) devnull = fopen("/dev/null", "w");
    fa_flags_print_help(devnull, command->flags, config);
  }
  free(config);
  free(storage);
  free(segments);
  return 0;
}
