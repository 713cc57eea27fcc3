/* The processes of one run and the collective operations between them
 * (docs/SCALE.md): one fa_comm per process, passed to whoever communicates;
 * a single process is the case size == 1, where every operation is trivial.
 *
 * MPI is started only when a launcher started the process (mpirun, MPICH's
 * mpiexec, Slurm's srun: dist/launch.h reads their variables). A plain run
 * never calls MPI, so the sanitizer and valgrind runs see none of it; a build
 * without an MPI library refuses to run under a launcher rather than train N
 * copies of one run.
 *
 * Sums are deterministic: every element is summed over the ranks in rank
 * order, ((x_0 + x_1) + x_2) + ... + x_{size-1}, floats in double and
 * rounded once, by the rank that owns that element's block, whatever the MPI
 * library, its version, its tuning or the placement of the processes. The
 * result is the same bits on every rank, and from one try to the next.
 * (MPI_Allreduce's order of summation is the library's choice: the MPI
 * standard only recommends that it be repeatable.)
 *
 * Communication failures are fatal to every rank (MPI's default error
 * handler): a rank whose partner vanished does not wait forever; so is a
 * collective's failure on one rank alone (out of memory for the sum's
 * scratch), through fa_comm_abort. */
#ifndef FA_DIST_COMM_H
#define FA_DIST_COMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define FA_COMM_HOST_MAX 64

typedef struct fa_transport fa_transport;   /* dist/transport.h */
typedef struct fa_comm_state fa_comm_state; /* the transport's own */

typedef struct {
  int rank, size;             /* this process, 0 .. size-1, of size processes */
  int local_rank, local_size; /* the same among the processes on this node */
  int threads;                /* default threads for this rank (dist/launch.h, fa_launch_threads) */
  char host[FA_COMM_HOST_MAX];
  const char *launcher;       /* who started the processes; "none" for a plain run */
  size_t sum_round;           /* elements per round of a sum: FA_COMM_SUM_ROUND (see below) */
  const fa_transport *transport; /* NULL for a plain run */
  fa_comm_state *state;
} fa_comm;

/* Starts MPI when a launcher started this process, else fills a single
 * process (rank 0 of 1). Fails with a message when the launcher's variables
 * are malformed, when launched by one but built without MPI, and when MPI
 * sees another number of processes than the launcher started (srun without
 * --mpi=pmix). Call once per process, before threads that could call MPI. */
fa_status fa_comm_init(fa_comm *comm);
/* Waits for every rank, then ends MPI if fa_comm_init started it. */
void fa_comm_finalize(fa_comm *comm);

/* Whether the processes communicate through MPI (a launcher started them). */
bool fa_comm_distributed(const fa_comm *comm);

/* The communication library's name and version ("Open MPI v4.1.4",
 * "MPICH Version: 4.0.2"), or "none" for a plain run. */
void fa_comm_library(const fa_comm *comm, char *out, size_t size);

void fa_comm_barrier(fa_comm *comm);

/* buf[0 .. n) = the sum over ranks of every rank's buf, in rank order (see
 * above); identical bits on every rank. The int64 sum is exact (modulo
 * 2^64). n is the same on every rank. The MPI transport sums in rounds of
 * comm->sum_round elements (FA_COMM_SUM_ROUND unless changed, the same on
 * every rank), with scratch for one round. */
#define FA_COMM_SUM_ROUND ((size_t)1 << 24)
void fa_comm_sum_floats(fa_comm *comm, float *buf, size_t n);
void fa_comm_sum_doubles(fa_comm *comm, double *buf, size_t n);
void fa_comm_sum_int64(fa_comm *comm, int64_t *buf, size_t n);

/* Every rank's buf gets root's `bytes` bytes. */
void fa_comm_broadcast(fa_comm *comm, void *buf, size_t bytes, int root);
/* all[r * bytes .. (r + 1) * bytes) = rank r's `mine`, on every rank;
 * bytes (the same on every rank) below 2^31. */
void fa_comm_allgather(fa_comm *comm, const void *mine, size_t bytes, void *all);

/* Collective: whether every rank met `status` FA_OK. When one or more did
 * not, every rank returns the status of the lowest failing rank, with its
 * message (fa_error_message there) as every rank's: "rank R of N (host H):
 * <message>", so that every rank stops alike and rank 0 can say why; a
 * failure every rank met with the same message (the same parameters'
 * NaN, or a failure agreed on before) keeps its message as it is. A plain
 * run returns `status` as it is. */
fa_status fa_comm_agree(fa_comm *comm, fa_status status);
/* Stops every rank: prints "fastadv: rank R of N (host H) stops every
 * rank: <cause>" on stderr ("fastadv: <cause>" in a plain run) and ends
 * every process, the launcher exiting with `status` (Open MPI's mpirun and
 * MPICH's mpiexec pass it on). For a failure one rank finds alone (its data, a NaN);
 * a failure every rank finds alike returns an error instead. */
_Noreturn void fa_comm_abort(const fa_comm *comm, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
