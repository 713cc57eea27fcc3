/* Who started this process, read from the variables launchers set, and the
 * default number of threads for one rank (docs/SCALE.md).
 *
 *   variable               launcher                                   processes
 *   OMPI_COMM_WORLD_SIZE   Open MPI's mpirun / mpiexec                its value
 *   PMI_SIZE               MPICH's mpiexec (Hydra), srun --mpi=pmi2   its value
 *   PMIX_RANK              a PMIx launcher (srun --mpi=pmix)          SLURM_STEP_NUM_TASKS, else unknown
 *   SLURM_STEP_NUM_TASKS   Slurm's srun, more than one task           its value
 *
 * The first that is set decides. srun of one task (an interactive shell
 * under srun) and a batch script of sbatch (which sets SLURM_NTASKS but no
 * step variables) are plain runs. */
#ifndef FA_DIST_LAUNCH_H
#define FA_DIST_LAUNCH_H

#include <sched.h>

#include "core/error.h"

typedef struct {
  const char *launcher; /* "Open MPI's mpirun", ...; NULL for a plain run */
  const char *variable; /* the variable that told */
  int processes;        /* how many it started; 0 when the launcher does not say */
} fa_launch;

/* Reads the environment into *out; FA_ERR_INVALID, naming the variable,
 * when a count is not a number from 1 to 2^24. */
fa_status fa_launch_detect(fa_launch *out);

/* This process's rank as the launcher's variables give it
 * (OMPI_COMM_WORLD_RANK, PMI_RANK, PMIX_RANK, SLURM_PROCID), before MPI
 * starts: 0 for a plain run or when none says. Lets rank 0 alone say what
 * every rank would (a wrong command line, --help, notes). */
int fa_launch_rank(void);

/* Threads per rank: the CPUs this process may run on (its affinity mask:
 * what mpirun --bind-to, srun --cpus-per-task or a container's cpuset gave
 * it), shared equally by the ranks on the node that have the same mask; at
 * least 1. A rank bound to its own cores uses them all; unbound ranks
 * split the node. */
int fa_launch_threads(int cpus_allowed, int ranks_sharing_them);
/* The CPUs this process may run on: *mask and their count (the online
 * CPUs, mask all set, when the mask cannot be read). */
int fa_launch_cpus_allowed(cpu_set_t *mask);

#endif
