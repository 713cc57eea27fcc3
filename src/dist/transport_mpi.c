/* The MPI transport of dist/comm.h (Open MPI or MPICH; MPI-3).
 *
 * The deterministic sum, for a round of m elements on p ranks: block r
 * is [m r / p, m (r + 1) / p) and rank r owns it.
 *   1. MPI_Alltoallv: every rank sends block r of its buffer to rank r, so
 *      the owner holds the p contributions to its block, in rank order.
 *   2. The owner sums them element by element in rank order (floats in
 *      double, rounded once) into its block.
 *   3. MPI_Allgatherv: every rank gets every owner's block.
 * MPI moves bytes here and adds nothing, so the order of the additions is
 * ours whatever algorithms the library picks. Each rank sends and receives
 * 2 (p - 1) / p of the buffer, as a ring all-reduce does (docs/SCALE.md). */
#include <limits.h>
#include <mpi.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/transport.h"

/* The scratch holds one round's contributions: 64 MiB of floats for a
 * round of FA_COMM_SUM_ROUND (ResNet-18's 11.2 M gradients are one round). */

struct fa_comm_state {
  MPI_Comm world;      /* a duplicate of MPI_COMM_WORLD: fastadv's messages apart */
  bool started_mpi;    /* this process called MPI_Init_thread */
  void *scratch;       /* one round's contributions */
  size_t scratch_bytes;
  int *counts, *displs; /* per rank: the block's length and offset (p each) */
  int *recv_counts, *recv_displs;
};

static size_t element_bytes(fa_sum_type type) { return type == FA_SUM_FLOAT ? sizeof(float) : sizeof(double); }

static MPI_Datatype element_type(fa_sum_type type) {
  return type == FA_SUM_FLOAT ? MPI_FLOAT : type == FA_SUM_DOUBLE ? MPI_DOUBLE : MPI_INT64_T;
}

static void free_state(fa_comm_state *s) {
  if (!s) return;
  free(s->scratch);
  free(s->counts), free(s->displs), free(s->recv_counts), free(s->recv_displs);
  free(s);
}

/* The library's name and version, to the first comma or line end, tabs as
 * spaces ("Open MPI v4.1.4", "MPICH Version: 4.0.2"). */
static void library(char *out, size_t size) {
  char version[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(version, &len);
  version[len < (int)sizeof version ? len : (int)sizeof version - 1] = '\0';
  snprintf(out, size, "%.*s", (int)strcspn(version, ",\n"), version);
  for (char *c = out; *c; c++)
    if (*c == '\t') *c = ' ';
}

/* The ranks on this node and how many of them share this process's CPUs. */
static void node_layout(fa_comm *comm, MPI_Comm world) {
  MPI_Comm node;
  MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, comm->rank, MPI_INFO_NULL, &node);
  MPI_Comm_rank(node, &comm->local_rank);
  MPI_Comm_size(node, &comm->local_size);
  cpu_set_t mine;
  int allowed = fa_launch_cpus_allowed(&mine);
  cpu_set_t *masks = malloc((size_t)comm->local_size * sizeof *masks);
  if (!masks) fa_comm_abort(comm, 1, "out of memory for the CPU masks of %d ranks", comm->local_size);
  MPI_Allgather(&mine, (int)sizeof mine, MPI_BYTE, masks, (int)sizeof mine, MPI_BYTE, node);
  int sharing = 0;
  for (int r = 0; r < comm->local_size; r++) sharing += CPU_EQUAL(&masks[r], &mine);
  free(masks);
  comm->threads = fa_launch_threads(allowed, sharing);
  MPI_Comm_free(&node);
}

static fa_status start(fa_comm *comm, const fa_launch *launch) {
  fa_comm_state *s = calloc(1, sizeof *s);
  if (!s) return fa_error_set(FA_ERR_NOMEM, "out of memory starting MPI");
  int initialized = 0, provided;
  MPI_Initialized(&initialized);
  if (!initialized) {
    MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided); /* failures end the process (MPI's default) */
    s->started_mpi = true;
  }
  MPI_Comm_dup(MPI_COMM_WORLD, &s->world);
  MPI_Comm_set_errhandler(s->world, MPI_ERRORS_ARE_FATAL);
  MPI_Comm_rank(s->world, &comm->rank);
  MPI_Comm_size(s->world, &comm->size);
  comm->state = s;
  if (launch->processes > 0 && comm->size != launch->processes) {
    char name[96];
    library(name, sizeof name);
    fa_status st = fa_error_set(
        FA_ERR_INVALID, "%s started %d processes (%s), but MPI (%s) sees %d: the launcher does not speak to this MPI "
        "library, so every process would train alone. Under Slurm use srun --mpi=pmix (or --mpi=pmi2; srun "
        "--mpi=list shows them), else the mpirun or mpiexec of %s", launch->launcher, launch->processes,
        launch->variable, name, comm->size, name);
    comm->transport->stop(comm);
    return st;
  }
  size_t p = (size_t)comm->size;
  s->counts = malloc(p * sizeof(int)), s->displs = malloc(p * sizeof(int));
  s->recv_counts = malloc(p * sizeof(int)), s->recv_displs = malloc(p * sizeof(int));
  if (!s->counts || !s->displs || !s->recv_counts || !s->recv_displs)
    fa_comm_abort(comm, 1, "out of memory for the tables of %d processes", (int)p);
  node_layout(comm, s->world);
  return FA_OK;
}

static void stop(fa_comm *comm) {
  fa_comm_state *s = comm->state;
  MPI_Barrier(s->world);
  MPI_Comm_free(&s->world);
  if (s->started_mpi) MPI_Finalize();
  free_state(s);
  comm->state = NULL;
}

static void barrier(fa_comm *comm) { MPI_Barrier(comm->state->world); }

static void broadcast(fa_comm *comm, void *buf, size_t bytes, int root) {
  for (size_t at = 0; at < bytes; at += INT_MAX / 2) {
    size_t chunk = bytes - at < INT_MAX / 2 ? bytes - at : INT_MAX / 2;
    MPI_Bcast((char *)buf + at, (int)chunk, MPI_BYTE, root, comm->state->world);
  }
}

static void allgather(fa_comm *comm, const void *mine, size_t bytes, void *all) {
  if (bytes > INT_MAX) fa_comm_abort(comm, 1, "fa_comm_allgather of %zu bytes: at most %d per rank", bytes, INT_MAX);
  MPI_Allgather(mine, (int)bytes, MPI_BYTE, all, (int)bytes, MPI_BYTE, comm->state->world);
}

/* out[i] = in[0 len + i] + in[1 len + i] + ... + in[(p - 1) len + i], added
 * in that order in ACC and converted once to T. Tiles keep the
 * accumulators in L1 and the inner loops vectorised. */
#define DEFINE_SUM_IN_RANK_ORDER(NAME, T, ACC)                            \
  static void NAME(const T *in, int p, size_t len, T *out) {              \
    enum { TILE = 512 };                                                  \
    ACC acc[TILE];                                                        \
    for (size_t i0 = 0; i0 < len; i0 += TILE) {                           \
      size_t w = len - i0 < TILE ? len - i0 : TILE;                       \
      for (size_t j = 0; j < w; j++) acc[j] = (ACC)in[i0 + j];            \
      for (int r = 1; r < p; r++) {                                       \
        const T *x = in + (size_t)r * len + i0;                           \
        for (size_t j = 0; j < w; j++) acc[j] += (ACC)x[j];               \
      }                                                                   \
      for (size_t j = 0; j < w; j++) out[i0 + j] = (T)acc[j];             \
    }                                                                     \
  }
DEFINE_SUM_IN_RANK_ORDER(sum_floats, float, double)
DEFINE_SUM_IN_RANK_ORDER(sum_doubles, double, double)
DEFINE_SUM_IN_RANK_ORDER(sum_int64, int64_t, uint64_t) /* unsigned: wraps where int64_t would be undefined */

static void sum_in_rank_order(fa_sum_type type, const void *in, int p, size_t len, void *out) {
  if (type == FA_SUM_FLOAT)
    sum_floats(in, p, len, out);
  else if (type == FA_SUM_DOUBLE)
    sum_doubles(in, p, len, out);
  else
    sum_int64(in, p, len, out);
}

static void sum(fa_comm *comm, void *buf, size_t n, fa_sum_type type) {
  fa_comm_state *s = comm->state;
  int p = comm->size, me = comm->rank;
  size_t size = element_bytes(type), round = comm->sum_round > 0 ? comm->sum_round : FA_COMM_SUM_ROUND;
  if (round > INT_MAX / 2) round = INT_MAX / 2; /* MPI's counts and offsets are int */
  if (round > n) round = n;
  size_t need = (round + (size_t)p) * size; /* p blocks of at most ceil(round / p) */
  if (need > s->scratch_bytes) {
    void *grown = realloc(s->scratch, need);
    if (!grown) fa_comm_abort(comm, 1, "out of memory for the sum's scratch (%zu bytes)", need);
    s->scratch = grown, s->scratch_bytes = need;
  }
  MPI_Datatype dt = element_type(type);
  for (size_t start = 0; start < n; start += round) {
    size_t m = n - start < round ? n - start : round;
    char *seg = (char *)buf + start * size;
    for (int r = 0; r < p; r++) {
      size_t lo = m * (size_t)r / (size_t)p, hi = m * (size_t)(r + 1) / (size_t)p;
      s->counts[r] = (int)(hi - lo), s->displs[r] = (int)lo;
    }
    int mine = s->counts[me];
    for (int r = 0; r < p; r++) s->recv_counts[r] = mine, s->recv_displs[r] = r * mine;
    MPI_Alltoallv(seg, s->counts, s->displs, dt, s->scratch, s->recv_counts, s->recv_displs, dt, s->world);
    sum_in_rank_order(type, s->scratch, p, (size_t)mine, seg + (size_t)s->displs[me] * size);
    MPI_Allgatherv(MPI_IN_PLACE, 0, dt, seg, s->counts, s->displs, dt, s->world);
  }
}

static void abort_all(const fa_comm *comm, int status) { MPI_Abort(comm->state->world, status); }

static const fa_transport mpi_transport = {"MPI", start, stop, library, barrier, broadcast, allgather, sum, abort_all};

const fa_transport *fa_transport_mpi(void) { return &mpi_transport; }
