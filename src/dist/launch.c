#include "dist/launch.h"

#include <stdlib.h>
#include <unistd.h>

#define MAX_PROCESSES (1 << 24)

/* The whole number in variable `name`, from `least` to MAX_PROCESSES: -1
 * when it is set but not one, -2 when unset. */
static int number_in(const char *name, int least) {
  const char *text = getenv(name);
  if (!text) return -2;
  char *end;
  long v = strtol(text, &end, 10);
  return (*text && *end == '\0' && v >= least && v <= MAX_PROCESSES) ? (int)v : -1;
}

/* The count in variable `name`: 0 when unset, -1 when not a count. */
static int count_in(const char *name) {
  int n = number_in(name, 1);
  return n == -2 ? 0 : n;
}

fa_status fa_launch_detect(fa_launch *out) {
  *out = (fa_launch){0};
  static const struct {
    const char *variable, *launcher;
  } counted[] = {
      {"OMPI_COMM_WORLD_SIZE", "Open MPI's mpirun"},
      {"PMI_SIZE", "a PMI launcher (MPICH's mpiexec, srun --mpi=pmi2)"},
  };
  for (size_t i = 0; i < sizeof counted / sizeof counted[0]; i++) {
    int n = count_in(counted[i].variable);
    if (n == 0) continue;
    *out = (fa_launch){counted[i].launcher, counted[i].variable, n};
    break;
  }
  int slurm = count_in("SLURM_STEP_NUM_TASKS");
  if (!out->launcher && getenv("PMIX_RANK"))
    *out = (fa_launch){"a PMIx launcher (srun --mpi=pmix)", "PMIX_RANK", slurm > 0 ? slurm : 0};
  else if (!out->launcher && (slurm > 1 || slurm < 0))
    *out = (fa_launch){"Slurm's srun", "SLURM_STEP_NUM_TASKS", slurm};
  if (out->processes < 0) {
    const char *variable = out->variable;
    *out = (fa_launch){0};
    return fa_error_set(FA_ERR_INVALID, "the launcher's %s=\"%.32s\" is not a number of processes (1 to %d): "
                        "start fastadv with mpirun, mpiexec or srun, or unset it for a single process",
                        variable, getenv(variable), MAX_PROCESSES);
  }
  return FA_OK;
}

int fa_launch_rank(void) {
  static const char *const variables[] = {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID"};
  for (size_t i = 0; i < sizeof variables / sizeof variables[0]; i++) {
    int rank = number_in(variables[i], 0);
    if (rank != -2) return rank > 0 ? rank : 0; /* the first set decides; not a rank: as rank 0 */
  }
  return 0;
}

int fa_launch_threads(int cpus_allowed, int ranks_sharing_them) {
  int n = ranks_sharing_them > 0 ? cpus_allowed / ranks_sharing_them : cpus_allowed;
  return n > 0 ? n : 1;
}

int fa_launch_cpus_allowed(cpu_set_t *mask) {
  CPU_ZERO(mask);
  if (sched_getaffinity(0, sizeof *mask, mask) == 0 && CPU_COUNT(mask) > 0) return CPU_COUNT(mask);
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  int n = online > 0 && online < CPU_SETSIZE ? (int)online : 1;
  for (int i = 0; i < n; i++) CPU_SET(i, mask);
  return n;
}
