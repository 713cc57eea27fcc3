/* The all-reduce of one training step's gradients across processes
 * (docs/SCALE.md): run under mpirun, it times fastadv's deterministic sum
 * (fa_comm_sum_floats: alltoallv, a rank-order sum per block, allgatherv)
 * and the library's MPI_Allreduce on the same floats, and prints one JSON
 * line from rank 0.
 *
 *   usage: mpirun -np N bench_allreduce [floats] [reps] [warmup]
 *   defaults: 11171146 floats (PreAct ResNet-18's trainable parameters,
 *   10 classes), 15 timed repetitions after 2 warm-ups.
 *
 * Each repetition restores every rank's buffer (untimed), passes a
 * barrier, and times the sum; its time is the slowest rank's. Reported: the
 * median, fastest and slowest repetition, and the bus bandwidth of the
 * median, 2 (N - 1) / N x bytes / seconds (what each rank sends, and
 * receives, in a ring all-reduce). Also whether every repetition of
 * fastadv's sum gave the same bits, and whether MPI_Allreduce's bits equal
 * them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "dist/comm.h"
#include "dist/fingerprint.h"
#include "timing.h"

#ifdef FA_HAVE_MPI
#include <mpi.h>

typedef struct {
  double median, fastest, slowest;
  uint64_t digest;  /* of the result */
  bool repeatable;  /* every repetition gave the same bits */
} timing;

typedef enum { FASTADV_SUM, MPI_ALLREDUCE } method;

static timing time_sum(fa_comm *comm, method how, const float *original, float *buf, size_t n, int reps,
                       int warmup) {
  double t[FA_BENCH_MAX_REPS];
  timing out = {.repeatable = true};
  for (int i = -warmup; i < reps; i++) {
    memcpy(buf, original, n * sizeof *buf);
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    if (how == FASTADV_SUM) {
      fa_comm_sum_floats(comm, buf, n);
    } else {
      MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    }
    double mine = MPI_Wtime() - t0, slowest;
    MPI_Allreduce(&mine, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    uint64_t digest = fa_fingerprint_hash(buf, n * sizeof *buf);
    if (i < 0) continue;
    if (i > 0 && digest != out.digest) out.repeatable = false;
    out.digest = digest;
    t[i] = slowest;
  }
  out.fastest = out.slowest = t[0];
  for (int i = 1; i < reps; i++) {
    if (t[i] < out.fastest) out.fastest = t[i];
    if (t[i] > out.slowest) out.slowest = t[i];
  }
  out.median = fa_bench_median(t, reps);
  return out;
}

static void print_timing(const char *name, const timing *t, double bus_bytes) {
  printf("\"%s\": {\"median_s\": %.6f, \"fastest_s\": %.6f, \"slowest_s\": %.6f, \"bus_GBps\": %.3f, "
         "\"repeatable\": %s}",
         name, t->median, t->fastest, t->slowest, bus_bytes / t->median * 1e-9, t->repeatable ? "true" : "false");
}

int main(int argc, char **argv) {
  size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 11171146;
  int reps = argc > 2 ? atoi(argv[2]) : 15, warmup = argc > 3 ? atoi(argv[3]) : 2;
  if (n < 1 || n > (size_t)1 << 30 || reps < 1 || reps > FA_BENCH_MAX_REPS || warmup < 0) {
    fprintf(stderr, "usage: mpirun -np N bench_allreduce [floats 1..2^30] [reps 1..%d] [warmup]\n",
            FA_BENCH_MAX_REPS);
    return 2;
  }
  fa_comm comm;
  if (fa_comm_init(&comm) != FA_OK) {
    fprintf(stderr, "bench_allreduce: %s\n", fa_error_message());
    return 1;
  }
  if (!fa_comm_distributed(&comm)) MPI_Init(NULL, NULL); /* a plain run: time N = 1 all the same */
  float *original = malloc(n * sizeof *original), *buf = malloc(n * sizeof *buf);
  if (!original || !buf) fa_comm_abort(&comm, 1, "out of memory for %zu floats", n);
  fa_rng rng = fa_rng_stream((uint64_t)comm.rank, FA_STREAM_INIT);
  fa_rng_fill_uniform(&rng, original, n, -1.0f, 1.0f);
  timing ours = time_sum(&comm, FASTADV_SUM, original, buf, n, reps, warmup);
  timing theirs = time_sum(&comm, MPI_ALLREDUCE, original, buf, n, reps, warmup);
  if (comm.rank == 0) {
    char library[96];
    fa_comm_library(&comm, library, sizeof library);
    double bus_bytes = 2.0 * (comm.size - 1) / comm.size * (double)(n * sizeof(float));
    printf("{\"ranks\": %d, \"nodes_seen\": %d, \"floats\": %zu, \"bytes\": %zu, \"reps\": %d, \"library\": \"%s\", ",
           comm.size, comm.size / comm.local_size, n, n * sizeof(float), reps, library);
    print_timing("fastadv_sum", &ours, bus_bytes);
    printf(", ");
    print_timing("MPI_Allreduce", &theirs, bus_bytes);
    printf(", \"same_bits\": %s}\n", ours.digest == theirs.digest ? "true" : "false");
  }
  free(original), free(buf);
  if (!fa_comm_distributed(&comm)) MPI_Finalize();
  fa_comm_finalize(&comm);
  return 0;
}
#else
int main(void) {
  fprintf(stderr, "bench_allreduce: this build has no MPI (install libopenmpi-dev: scripts/setup.sh)\n");
  return 1;
}
#endif
