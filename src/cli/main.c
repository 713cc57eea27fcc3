/* fastadv: the command-line program. `fastadv train ...` is the paper's
 * `python train.py ...`, `fastadv eval ...` its `python eval.py ...`.
 * Exit status: the run's (0 done, 1 failed; train also 3, 4 and 5:
 * train/run.h); 2 for a command line that is wrong, before any work starts. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/align_init.h"
#include "analysis/inspect.h"
#include "analysis/plot.h"
#include "cli/commands.h"
#include "core/context.h"
#include "core/version.h"
#include "dist/comm.h"
#include "dist/launch.h"
#include "io/json.h"
#include "train/run.h"

enum { EXIT_USAGE = 2 };

/* Training gets its flags' values as JSON too, for the run's configuration record. */
static int run_train(const void *config, fa_comm *comm) {
  fa_json *flags = fa_json_create();
  if (!flags) {
    fprintf(stderr, "fastadv train: %s\n", fa_error_message());
    return FA_EXIT_FAILED;
  }
  fa_flags_to_json(fa_cli_train.flags, config, flags);
  fa_json_add_string(flags, "backend", fa_context_backend(fa_context_current()));
  int code = fa_run_train(config, flags, comm);
  fa_json_destroy(flags);
  return code;
}
static int run_eval(const void *config, fa_comm *comm) { return fa_run_eval(config, comm); }
/* the commands of one process: a launcher's processes would each do the same work */
static int run_plot(const void *config, fa_comm *comm) { return (void)comm, fa_run_plot(config); }
static int run_inspect(const void *config, fa_comm *comm) { return (void)comm, fa_run_inspect(config); }
static int run_align_init(const void *config, fa_comm *comm) { return (void)comm, fa_run_align_init(config); }

typedef int (*job_fn)(const void *config, fa_comm *comm);
static const struct {
  const fa_cli_command *command;
  job_fn run;
  bool distributed;  /* spread over the processes of a launcher (docs/SCALE.md) */
} jobs[] = {
    {&fa_cli_train, run_train, true},
    {&fa_cli_eval, run_eval, true},
    {&fa_cli_plot, run_plot, false},
    {&fa_cli_inspect, run_inspect, false},
    {&fa_cli_align_init, run_align_init, false},
};
enum { N_JOBS = sizeof jobs / sizeof *jobs };

static void print_usage(FILE *out) {
  fprintf(out, "usage: fastadv COMMAND [--flag=value ...]\n       fastadv --version\n\ncommands:\n");
  for (int i = 0; i < N_JOBS; i++) fprintf(out, "  %-12s%s\n", jobs[i].command->name, jobs[i].command->summary);
  fprintf(out, "\n'fastadv COMMAND --help' lists the flags of a command.\n");
}

/* The processes of the run: MPI started when a launcher started this one
 * (dist/comm.h), each rank's threads from its share of the node's CPUs
 * unless OMP_NUM_THREADS says; FA_EXIT_FAILED after a message when the
 * launcher's processes cannot run together. */
static int start_processes(const char *name, fa_comm *comm) {
  if (fa_comm_init(comm) != FA_OK) {
    fprintf(stderr, "fastadv %s: %s\n", name, fa_error_message());
    return FA_EXIT_FAILED;
  }
  if (fa_comm_distributed(comm) && !getenv("OMP_NUM_THREADS")) omp_set_num_threads(comm->threads);
  return FA_EXIT_OK;
}

static int run_command(const fa_cli_command *command, job_fn run, bool distributed, int argc, char **argv) {
  void *config = calloc(1, command->config_size);
  fa_flag_notices *notices = malloc(sizeof *notices);
  if (!config || !notices) {
    free(config);
    free(notices);
    fprintf(stderr, "fastadv: out of memory\n");
    return 1;
  }
  bool help;
  int exit_status;
  const char *backend;
  fa_context *ctx;
  const bool speaks = fa_launch_rank() == 0; /* under a launcher every rank parses the same line: one says it */
  if (fa_cli_take_backend(&argc, argv, &backend) != FA_OK ||
      fa_cli_parse(command, argc, argv, config, &help, notices) != FA_OK) {
    if (speaks) fprintf(stderr, "fastadv %s: %s\n", command->name, fa_error_message());
    exit_status = EXIT_USAGE;
  } else if (help) {
    if (speaks) {
      printf("fastadv %s: %s\n\n", command->name, command->summary);
      fa_cli_print_help(stdout, command);  /* the defaults, not the flags before --help */
    }
    exit_status = EXIT_SUCCESS;
  } else {
    for (int i = 0; i < notices->count && speaks; i++)
      fprintf(stderr, "fastadv %s: note: %s\n", command->name, notices->text[i]);
    fa_comm comm = {.size = 1};
    if (distributed && (exit_status = start_processes(command->name, &comm)) != FA_EXIT_OK) {
      /* said */
    } else if ((ctx = fa_context_create(backend))) {
      fa_context_set_current(ctx); /* the device every tensor of the run lives on */
      exit_status = run(config, &comm);
      fa_context_destroy(ctx);   /* its device state and gradient buffers */
    } else {
      fprintf(stderr, "fastadv %s: %s\n", command->name, fa_error_message());
      exit_status = EXIT_FAILURE;
    }
    if (distributed) fa_comm_finalize(&comm);
  }
  free(config);
  free(notices);
  return exit_status;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    print_usage(stderr);
    return EXIT_USAGE;
  }
  const char *name = argv[1];
  if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
    print_usage(stdout);
    return EXIT_SUCCESS;
  }
  if (strcmp(name, "--version") == 0) {
    printf("fastadv %s\n", FA_VERSION);
    return EXIT_SUCCESS;
  }
  for (int i = 0; i < N_JOBS; i++)
    if (strcmp(jobs[i].command->name, name) == 0)
      return run_command(jobs[i].command, jobs[i].run, jobs[i].distributed, argc - 2, argv + 2);
  fprintf(stderr, "fastadv: unknown command '%.64s'; the commands are", name);
  for (int i = 0; i < N_JOBS; i++) fprintf(stderr, "%s %s", i ? "," : "", jobs[i].command->name);
  fprintf(stderr, " (fastadv --help)\n");
  return EXIT_USAGE;
}
