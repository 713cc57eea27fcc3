/* dist/comm.h across processes: one program that tests/check_mpi.sh starts
 * under mpirun (or MPICH's mpiexec) in each of its cases.
 *
 *   mpi_comm_check sums          the sums of floats, doubles and int64 of
 *                                several lengths equal, bit for bit, the
 *                                serial sum in rank order of every rank's
 *                                buffer (recomputed on every rank), and
 *                                every rank holds the same bits; rank 0
 *                                prints their digest
 *   mpi_comm_check abort R S     rank R stops every rank with status S while
 *                                the others wait in a barrier
 *   mpi_comm_check kill R        rank R is killed (SIGKILL) while the others
 *                                wait in a barrier
 *   mpi_comm_check fingerprint VERSION FLAGS DATA
 *                                the ranks compare what they were given;
 *                                exit 1 with the message on a mismatch
 *   mpi_comm_check init          fa_comm_init alone: exit 1 with its message
 *
 * Every rank prints "rank R of N pid P threads T local L of M" first: its
 * default threads and its place among the ranks of its node. */
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/rng.h"
#include "dist/comm.h"
#include "dist/fingerprint.h"
#include "testlib.h"

/* Rank r's buffer of a case: Philox draws from seed (case, r) at magnitudes
 * spread over 2^-20 .. 2^20, so that the order of additions shows in the
 * last bits of the double sums. */
static void fill(int which, int rank, size_t n, float *f, double *d, int64_t *k) {
  fa_rng rng = fa_rng_stream((uint64_t)which * 1000 + (uint64_t)rank, FA_STREAM_INIT);
  for (size_t i = 0; i < n; i++) {
    float u = fa_rng_uniform(&rng) * 2.0f - 1.0f;
    int e = (int)fa_rng_below(&rng, 41) - 20;
    f[i] = ldexpf(u, e);
    d[i] = ldexp((double)u + fa_rng_uniform(&rng) * 1e-9, e);
    k[i] = (int64_t)fa_rng_u32(&rng) << 28 | fa_rng_u32(&rng);
  }
}

/* The serial sum in rank order (floats in double, rounded once), or in
 * reverse rank order. */
static void serial_sums(int which, int size, size_t n, bool reverse, float *f, double *d, int64_t *k) {
  float *fr = malloc(n * sizeof *fr + 1);
  double *dr = malloc(n * sizeof *dr + 1), *facc = malloc(n * sizeof *facc + 1);
  int64_t *kr = malloc(n * sizeof *kr + 1);
  if (!fr || !dr || !facc || !kr) {
    fprintf(stderr, "out of memory\n");
    exit(1);
  }
  for (int step = 0; step < size; step++) {
    int r = reverse ? size - 1 - step : step;
    fill(which, r, n, fr, dr, kr);
    for (size_t i = 0; i < n; i++) {
      facc[i] = step ? facc[i] + (double)fr[i] : (double)fr[i];
      d[i] = step ? d[i] + dr[i] : dr[i];
      k[i] = step ? (int64_t)((uint64_t)k[i] + (uint64_t)kr[i]) : kr[i];
    }
  }
  for (size_t i = 0; i < n; i++) f[i] = (float)facc[i];
  free(fr), free(dr), free(facc), free(kr);
}

static uint64_t digest_of(const float *f, const double *d, const int64_t *k, size_t n) {
  uint64_t h[3] = {fa_fingerprint_hash(f, n * sizeof *f), fa_fingerprint_hash(d, n * sizeof *d),
                   fa_fingerprint_hash(k, n * sizeof *k)};
  return fa_fingerprint_hash(h, sizeof h);
}

static int run_sums(fa_comm *comm) {
  /* empty, fewer elements than ranks, uneven blocks; three rounds and a part */
  const struct {
    size_t n, round;
  } cases[] = {{0, FA_COMM_SUM_ROUND}, {1, FA_COMM_SUM_ROUND}, {3, FA_COMM_SUM_ROUND},
               {100003, FA_COMM_SUM_ROUND}, {3 * 4099 + 17, 4099}};
  uint64_t digest = 0;
  for (int which = 0; which < (int)(sizeof cases / sizeof cases[0]); which++) {
    size_t n = cases[which].n;
    comm->sum_round = cases[which].round;
    float *f = malloc(n * sizeof *f + 1), *fs = malloc(n * sizeof *fs + 1);
    double *d = malloc(n * sizeof *d + 1), *ds = malloc(n * sizeof *ds + 1);
    int64_t *k = malloc(n * sizeof *k + 1), *ks = malloc(n * sizeof *ks + 1);
    if (!f || !fs || !d || !ds || !k || !ks) fa_comm_abort(comm, 1, "out of memory for %zu elements", n);
    fill(which, comm->rank, n, f, d, k);
    fa_comm_sum_floats(comm, f, n);
    fa_comm_sum_doubles(comm, d, n);
    fa_comm_sum_int64(comm, k, n);
    serial_sums(which, comm->size, n, false, fs, ds, ks);
    FA_CHECK(memcmp(f, fs, n * sizeof *f) == 0, "rank %d: %zu floats differ from the serial sum", comm->rank, n);
    FA_CHECK(memcmp(d, ds, n * sizeof *d) == 0, "rank %d: %zu doubles differ from the serial sum", comm->rank, n);
    FA_CHECK(memcmp(k, ks, n * sizeof *k) == 0, "rank %d: %zu int64 differ from the serial sum", comm->rank, n);
    if (comm->size >= 3 && n >= 10000) {
      /* the check can tell orders apart: summed the other way round, some doubles differ */
      serial_sums(which, comm->size, n, true, fs, ds, ks);
      FA_CHECK(memcmp(d, ds, n * sizeof *d) != 0, "reverse rank order gave the same %zu doubles", n);
    }
    uint64_t mine = digest_of(f, d, k, n), *all = malloc((size_t)comm->size * sizeof *all);
    fa_comm_allgather(comm, &mine, sizeof mine, all);
    for (int r = 0; r < comm->size; r++)
      FA_CHECK(all[r] == all[0], "rank %d's sums of %zu differ from rank 0's", r, n);
    digest = fa_fingerprint_hash((uint64_t[]){digest, mine}, 2 * sizeof digest);
    free(all), free(f), free(fs), free(d), free(ds), free(k), free(ks);
  }
  if (comm->rank == 0) printf("digest %016" PRIx64 " of the sums on %d ranks\n", digest, comm->size);
  return fa_test_exit();
}

static int run_fingerprint(fa_comm *comm, const char *version, const char *flags, const char *data) {
  fa_fingerprint_item items[] = {fa_fingerprint_text("version", version), fa_fingerprint_text("flags", flags),
                                 fa_fingerprint_bytes("data", data, strlen(data))};
  if (fa_comm_check_same(comm, items, 3) != FA_OK) {
    fprintf(stderr, "rank %d refused: %s\n", comm->rank, fa_error_message());
    return 1;
  }
  printf("rank %d: every rank runs the same job\n", comm->rank);
  return 0;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  fa_comm comm;
  if (fa_comm_init(&comm) != FA_OK) {
    fprintf(stderr, "mpi_comm_check: %s\n", fa_error_message());
    return 1;
  }
  printf("rank %d of %d pid %d threads %d local %d of %d\n", comm.rank, comm.size, (int)getpid(), comm.threads,
         comm.local_rank, comm.local_size);
  fflush(stdout);
  int status = 0;
  if (strcmp(mode, "sums") == 0) {
    status = run_sums(&comm);
  } else if ((strcmp(mode, "abort") == 0 && argc == 4) || (strcmp(mode, "kill") == 0 && argc == 3)) {
    fa_comm_barrier(&comm); /* every rank has printed its pid */
    if (comm.rank == atoi(argv[2])) {
      if (mode[0] == 'k') raise(SIGKILL);
      fa_comm_abort(&comm, atoi(argv[3]), "made-up failure: NaN in the loss at iteration %d", 7);
    }
    fa_comm_barrier(&comm); /* never passed: the failed rank never comes */
    fprintf(stderr, "rank %d passed a barrier that rank %s never reached\n", comm.rank, argv[2]);
    status = 1;
  } else if (strcmp(mode, "fingerprint") == 0 && argc == 5) {
    status = run_fingerprint(&comm, argv[2], argv[3], argv[4]);
  } else if (strcmp(mode, "init") != 0) {
    fprintf(stderr, "usage: mpi_comm_check sums | abort RANK STATUS | kill RANK | fingerprint VERSION FLAGS DATA | "
                    "init\n");
    status = 2;
  }
  fa_comm_finalize(&comm);
  return status;
}
