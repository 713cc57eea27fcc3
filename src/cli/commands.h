/* The commands of the fastadv program and their flags (docs/METHOD.md section 6):
 * `train` (the paper's train.py) and `eval` (the paper's eval.py), and the
 * analysis commands `plot`, `inspect`, `align_init` (src/analysis). Parsing
 * only: running a command is main.c's business; this needs the config, the
 * error module, io/json.c and the attack registries (adv/registry.h), whose
 * names and defaults the train and eval flags take. */
#ifndef FA_CLI_COMMANDS_H
#define FA_CLI_COMMANDS_H

#include "analysis/config.h"
#include "cli/flags.h"
#include "train/config.h"

typedef struct {
  const char *name;     /* "train" */
  const char *summary;  /* one line for the usage */
  const fa_flag_table *flags;
  size_t config_size;   /* the struct the flags fill */
  void (*set_defaults)(void *config);
  /* Checks and defaults that involve several flags (an attack's own
   * defaults for the flags not given, notices for flags the attack does not
   * read), after all are parsed; NULL if none. */
  fa_status (*finish)(void *config, const fa_flags_given *given, fa_flag_notices *notices);
  /* What --help says after the flags (the attacks and their defaults); NULL if nothing. */
  void (*print_more)(FILE *out);
} fa_cli_command;

extern const fa_cli_command fa_cli_train;  /* fills an fa_train_config */
extern const fa_cli_command fa_cli_eval;   /* fills an fa_eval_config */
extern const fa_cli_command fa_cli_plot;        /* fills an fa_plot_config */
extern const fa_cli_command fa_cli_inspect;     /* fills an fa_inspect_config */
extern const fa_cli_command fa_cli_align_init;  /* fills an fa_align_init_config */

/* Fills `config` (config_size bytes) with the command's defaults, then with
 * the flags in argv (the arguments after the command's name). On an error,
 * FA_ERR_INVALID and a one-line message; at --help, *help and FA_OK.
 * `notices`: flags accepted but not honoured as written, to be said when
 * the command line is good. */
fa_status fa_cli_parse(const fa_cli_command *command, int argc, char *const argv[], void *config,
                       bool *help, fa_flag_notices *notices);

/* Takes `--backend=NAME` (or `--backend NAME`), which every command accepts,
 * out of argv (*argc shrinks): *backend is its value, else $FASTADV_BACKEND
 * when set and not empty, else FA_DEFAULT_BACKEND (core/context.h); the last
 * given wins. FA_ERR_INVALID with a message listing the built-in backends
 * when that names none, or the flag has no value. */
fa_status fa_cli_take_backend(int *argc, char **argv, const char **backend);

/* The command's --help: every flag with its default, then its print_more,
 * then the backends --backend chooses from. */
void fa_cli_print_help(FILE *out, const fa_cli_command *command);

#endif
