/* What dist/comm.c asks of a communication library, as a table: MPI's is
 * dist/transport_mpi.c; a build without MPI has none (dist/transport_none.c).
 * comm.c calls it only when a launcher started the processes, so a
 * transport never sees a plain run. A failure on one rank alone (out of
 * memory) stops every rank (fa_comm_abort): the others would wait for it
 * forever. A transport for device memory (NCCL's all-reduce,
 * docs/SCALE.md) would be another table. */
#ifndef FA_DIST_TRANSPORT_H
#define FA_DIST_TRANSPORT_H

#include <stddef.h>

#include "dist/comm.h"
#include "dist/launch.h"

/* The element types of a sum; each is summed in rank order (dist/comm.h). */
typedef enum { FA_SUM_FLOAT, FA_SUM_DOUBLE, FA_SUM_INT64 } fa_sum_type;

struct fa_transport {
  const char *name;
  /* Starts the library and fills comm (rank, size, local ranks, threads,
   * host, the transport's state in comm->state); checks that the library
   * sees launch->processes processes when the launcher said how many. */
  fa_status (*start)(fa_comm *comm, const fa_launch *launch);
  void (*stop)(fa_comm *comm);
  /* The library's name and version, on one line. */
  void (*library)(char *out, size_t size);
  void (*barrier)(fa_comm *comm);
  void (*broadcast)(fa_comm *comm, void *buf, size_t bytes, int root);
  void (*allgather)(fa_comm *comm, const void *mine, size_t bytes, void *all);
  void (*sum)(fa_comm *comm, void *buf, size_t n, fa_sum_type type);
  /* Ends every process with `status` (the message is already printed). */
  void (*abort_all)(const fa_comm *comm, int status);
};

/* The MPI transport, or NULL in a build without MPI. */
const fa_transport *fa_transport_mpi(void);

#endif
