#include "dist/comm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dist/launch.h"
#include "dist/transport.h"

/* Rank 0 of 1, on this host, with the threads its CPUs allow. */
static void plain(fa_comm *comm) {
  cpu_set_t mask;
  *comm = (fa_comm){.size = 1, .local_size = 1, .launcher = "none", .sum_round = FA_COMM_SUM_ROUND};
  comm->threads = fa_launch_threads(fa_launch_cpus_allowed(&mask), 1);
  if (gethostname(comm->host, sizeof comm->host) != 0) snprintf(comm->host, sizeof comm->host, "unknown");
  comm->host[sizeof comm->host - 1] = '\0';
}

fa_status fa_comm_init(fa_comm *comm) {
  plain(comm);
  fa_launch launch;
  fa_status st = fa_launch_detect(&launch);
  if (st != FA_OK || !launch.launcher) return st;
  const fa_transport *mpi = fa_transport_mpi();
  if (!mpi)
    return fa_error_set(FA_ERR_INVALID, "%s started this process (%s is set), but this fastadv was built without "
                        "MPI, so every process would train alone: install libopenmpi-dev (scripts/setup.sh) and "
                        "rebuild, or start fastadv without a launcher", launch.launcher, launch.variable);
  comm->launcher = launch.launcher;
  comm->transport = mpi;
  st = mpi->start(comm, &launch);
  if (st != FA_OK) plain(comm);
  return st;
}

void fa_comm_finalize(fa_comm *comm) {
  if (comm->transport) comm->transport->stop(comm);
  plain(comm);
}

bool fa_comm_distributed(const fa_comm *comm) { return comm->transport != NULL; }

void fa_comm_library(const fa_comm *comm, char *out, size_t size) {
  if (comm->transport)
    comm->transport->library(out, size);
  else
    snprintf(out, size, "none");
}

void fa_comm_barrier(fa_comm *comm) {
  if (comm->transport) comm->transport->barrier(comm);
}

void fa_comm_sum_floats(fa_comm *comm, float *buf, size_t n) {
  if (comm->transport) comm->transport->sum(comm, buf, n, FA_SUM_FLOAT);
}

void fa_comm_sum_doubles(fa_comm *comm, double *buf, size_t n) {
  if (comm->transport) comm->transport->sum(comm, buf, n, FA_SUM_DOUBLE);
}

void fa_comm_sum_int64(fa_comm *comm, int64_t *buf, size_t n) {
  if (comm->transport) comm->transport->sum(comm, buf, n, FA_SUM_INT64);
}

void fa_comm_broadcast(fa_comm *comm, void *buf, size_t bytes, int root) {
  if (comm->transport) comm->transport->broadcast(comm, buf, bytes, root);
}

void fa_comm_allgather(fa_comm *comm, const void *mine, size_t bytes, void *all) {
  if (comm->transport)
    comm->transport->allgather(comm, mine, bytes, all);
  else if (bytes > 0 && all != mine)
    memcpy(all, mine, bytes);
}

fa_status fa_comm_agree(fa_comm *comm, fa_status status) {
  if (!comm->transport) return status;
  int64_t failed = status != FA_OK;
  fa_comm_sum_int64(comm, &failed, 1);
  if (failed == 0) return FA_OK;
  /* each rank's status and message; the lowest failing rank's is everyone's */
  typedef struct {
    int32_t status;
    char host[FA_COMM_HOST_MAX];
    char message[1024];
  } failure;
  failure mine = {.status = status}, *all = malloc((size_t)comm->size * sizeof *all);
  if (!all) fa_comm_abort(comm, 1, "out of memory for the ranks' failures");
  snprintf(mine.host, sizeof mine.host, "%s", comm->host);
  snprintf(mine.message, sizeof mine.message, "%s", status != FA_OK ? fa_error_message() : "");
  fa_comm_allgather(comm, &mine, sizeof mine, all);
  int r = 0;
  while (all[r].status == FA_OK) r++;
  fa_status code = (fa_status)all[r].status;
  bool alike = failed == comm->size; /* every rank met this failure (or agreed on it already) */
  for (int k = 1; alike && k < comm->size; k++)
    alike = all[k].status == all[0].status && strcmp(all[k].message, all[0].message) == 0;
  if (alike)
    fa_error_set(code, "%s", all[0].message);
  else
    fa_error_set(code, "rank %d of %d (host %s): %s", r, comm->size, all[r].host, all[r].message);
  free(all);
  return code;
}

void fa_comm_abort(const fa_comm *comm, int status, const char *fmt, ...) {
  char cause[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cause, sizeof cause, fmt, ap);
  va_end(ap);
  fflush(stdout);
  if (comm->transport) {
    fprintf(stderr, "fastadv: rank %d of %d (host %s) stops every rank: %s\n", comm->rank, comm->size, comm->host,
            cause);
    fflush(stderr);
    comm->transport->abort_all(comm, status);
    _Exit(status); /* the library's abort came back: end this process at least */
  }
  fprintf(stderr, "fastadv: %s\n", cause);
  exit(status);
}
