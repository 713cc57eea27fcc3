/* The single process of dist/comm.h (a run without a launcher), which never
 * starts MPI, and what is decided before MPI starts: the launcher read from
 * its variables, the threads per rank, the fingerprint's hash. Several
 * processes are tested under mpirun by tests/check_mpi.sh. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dist/comm.h"
#include "dist/fingerprint.h"
#include "dist/launch.h"
#include "testlib.h"
#ifdef FA_HAVE_MPI
#include <mpi.h>
#endif

static const char *const launcher_variables[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK",
                                                 "SLURM_STEP_NUM_TASKS"};
enum { N_VARIABLES = sizeof launcher_variables / sizeof launcher_variables[0] };

static void unset_launchers(void) {
  for (int i = 0; i < N_VARIABLES; i++) unsetenv(launcher_variables[i]);
}

/* The launcher read with only the given variables set (NULL-terminated name, value pairs). */
static fa_status detect_with(fa_launch *launch, const char *const *pairs) {
  unset_launchers();
  for (int i = 0; pairs[i]; i += 2) setenv(pairs[i], pairs[i + 1], 1);
  fa_status st = fa_launch_detect(launch);
  unset_launchers();
  return st;
}

static void test_launch_detect(void) {
  fa_launch l;
  FA_CHECK(detect_with(&l, (const char *[]){NULL}) == FA_OK && !l.launcher, "a plain run: %s",
           l.launcher ? l.launcher : "none");
  FA_CHECK(detect_with(&l, (const char *[]){"OMPI_COMM_WORLD_SIZE", "4", NULL}) == FA_OK && l.processes == 4 &&
               strstr(l.launcher, "Open MPI"),
           "Open MPI: %s %d", l.launcher ? l.launcher : "none", l.processes);
  FA_CHECK(detect_with(&l, (const char *[]){"PMI_SIZE", "3", NULL}) == FA_OK && l.processes == 3 &&
               strstr(l.launcher, "MPICH"),
           "Hydra: %s %d", l.launcher ? l.launcher : "none", l.processes);
  FA_CHECK(detect_with(&l, (const char *[]){"PMIX_RANK", "0", "SLURM_STEP_NUM_TASKS", "8", NULL}) == FA_OK &&
               l.processes == 8 && strstr(l.launcher, "PMIx"),
           "srun --mpi=pmix: %s %d", l.launcher ? l.launcher : "none", l.processes);
  FA_CHECK(detect_with(&l, (const char *[]){"PMIX_RANK", "0", NULL}) == FA_OK && l.processes == 0 && l.launcher,
           "PMIx alone does not say how many: %d", l.processes);
  FA_CHECK(detect_with(&l, (const char *[]){"SLURM_STEP_NUM_TASKS", "16", NULL}) == FA_OK && l.processes == 16 &&
               strstr(l.launcher, "srun"),
           "srun: %s %d", l.launcher ? l.launcher : "none", l.processes);
  FA_CHECK(detect_with(&l, (const char *[]){"SLURM_STEP_NUM_TASKS", "1", NULL}) == FA_OK && !l.launcher,
           "srun of one task (an interactive shell) is a plain run");
  FA_CHECK(detect_with(&l, (const char *[]){"OMPI_COMM_WORLD_SIZE", "2", "SLURM_STEP_NUM_TASKS", "5", NULL}) ==
                   FA_OK &&
               l.processes == 2,
           "mpirun inside a Slurm step: mpirun's count, %d", l.processes);
  const char *bad[] = {"", "abc", "0", "-2", "3x", "99999999999"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    fa_status st = detect_with(&l, (const char *[]){"PMI_SIZE", bad[i], NULL});
    FA_CHECK(st == FA_ERR_INVALID && strstr(fa_error_message(), "PMI_SIZE") && !l.launcher,
             "PMI_SIZE=\"%s\": %d, %s", bad[i], st, fa_error_message());
  }
}

static void test_threads(void) {
  FA_CHECK(fa_launch_threads(2, 1) == 2, "one rank on 2 CPUs");
  FA_CHECK(fa_launch_threads(2, 2) == 1, "two unbound ranks on 2 CPUs");
  FA_CHECK(fa_launch_threads(64, 4) == 16, "four unbound ranks on 64 CPUs");
  FA_CHECK(fa_launch_threads(1, 1) == 1, "a rank bound to one core");
  FA_CHECK(fa_launch_threads(1, 3) == 1 && fa_launch_threads(0, 1) == 1, "at least one thread");
  cpu_set_t mask;
  int n = fa_launch_cpus_allowed(&mask);
  FA_CHECK(n >= 1 && n == CPU_COUNT(&mask), "CPUs allowed %d, mask %d", n, CPU_COUNT(&mask));
}

static void test_hash(void) {
  /* FNV-1a 64 known answers: the offset basis, and "a" */
  FA_CHECK(fa_fingerprint_hash("", 0) == 0xcbf29ce484222325ull, "hash of nothing");
  FA_CHECK(fa_fingerprint_hash("a", 1) == 0xaf63dc4c8601ec8cull, "hash of \"a\"");
  FA_CHECK(fa_fingerprint_hash("--eps=8", 7) != fa_fingerprint_hash("--eps=9", 7), "one byte changes the hash");
}

/* A single process: rank 0 of 1, no MPI, collectives that change nothing. */
static void test_single_process(void) {
  unset_launchers();
  fa_comm comm;
  FA_CHECK(fa_comm_init(&comm) == FA_OK, "init: %s", fa_error_message());
  FA_CHECK(comm.rank == 0 && comm.size == 1 && comm.local_rank == 0 && comm.local_size == 1, "rank %d of %d",
           comm.rank, comm.size);
  char library[64];
  fa_comm_library(&comm, library, sizeof library);
  FA_CHECK(!fa_comm_distributed(&comm) && strcmp(comm.launcher, "none") == 0 && strcmp(library, "none") == 0 &&
               comm.host[0],
           "launcher %s, library %s", comm.launcher, library);
  cpu_set_t mask;
  FA_CHECK(comm.threads == fa_launch_cpus_allowed(&mask), "threads %d: every CPU allowed", comm.threads);
#ifdef FA_HAVE_MPI
  int started = 1;
  MPI_Initialized(&started);
  FA_CHECK(!started, "a plain run started MPI");
#endif
  float f[4] = {1.5f, -0.0f, NAN, 3e38f}, f0[4];
  memcpy(f0, f, sizeof f);
  double d[2] = {0.1, -7.0}, d0[2] = {0.1, -7.0};
  int64_t k[3] = {INT64_MAX, -1, 0}, k0[3] = {INT64_MAX, -1, 0};
  fa_comm_sum_floats(&comm, f, 4);
  fa_comm_sum_doubles(&comm, d, 2);
  fa_comm_sum_int64(&comm, k, 3);
  FA_CHECK(memcmp(f, f0, sizeof f) == 0 && memcmp(d, d0, sizeof d) == 0 && memcmp(k, k0, sizeof k) == 0,
           "a single process's sums changed its numbers");
  char text[8] = "abc", all[8] = "";
  fa_comm_broadcast(&comm, text, sizeof text, 0);
  fa_comm_allgather(&comm, text, sizeof text, all);
  FA_CHECK(strcmp(text, "abc") == 0 && strcmp(all, "abc") == 0, "broadcast %s, allgather %s", text, all);
  fa_comm_barrier(&comm);
  fa_fingerprint_item items[2] = {fa_fingerprint_text("flags", "--eps=8"), fa_fingerprint_bytes("data", d, sizeof d)};
  FA_CHECK(fa_comm_check_same(&comm, items, 2) == FA_OK, "one rank agrees with itself: %s", fa_error_message());
  fa_fingerprint_item many[FA_FINGERPRINT_MAX_ITEMS + 1];
  for (int i = 0; i <= FA_FINGERPRINT_MAX_ITEMS; i++) many[i] = items[0];
  FA_CHECK(fa_comm_check_same(&comm, many, FA_FINGERPRINT_MAX_ITEMS + 1) == FA_ERR_INVALID, "too many items");
  fa_comm_finalize(&comm);
}

/* fa_comm_abort in a single process: the cause on stderr, the status given. */
static void test_abort_single(void) {
  int fds[2];
  FA_CHECK(pipe(fds) == 0, "pipe");
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 2);
    close(fds[0]);
    fa_comm comm;
    unset_launchers();
    if (fa_comm_init(&comm) != FA_OK) _exit(99);
    fa_comm_abort(&comm, 4, "NaN in the loss at iteration %d", 7);
  }
  close(fds[1]);
  char err[512] = "";
  ssize_t got = read(fds[0], err, sizeof err - 1);
  err[got > 0 ? got : 0] = '\0';
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  FA_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 4, "exit status %d", WEXITSTATUS(status));
  FA_CHECK(strcmp(err, "fastadv: NaN in the loss at iteration 7\n") == 0, "message: %s", err);
}

#ifndef FA_HAVE_MPI
/* Built without MPI, a launched process refuses rather than train alone. */
static void test_refused_without_mpi(void) {
  setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
  fa_comm comm;
  fa_status st = fa_comm_init(&comm);
  FA_CHECK(st == FA_ERR_INVALID && strstr(fa_error_message(), "built without MPI") &&
               strstr(fa_error_message(), "OMPI_COMM_WORLD_SIZE"),
           "%d: %s", st, fa_error_message());
  FA_CHECK(comm.size == 1 && !fa_comm_distributed(&comm), "a refused comm is a plain one");
  unset_launchers();
}
#endif

int main(void) {
  test_launch_detect();
  test_threads();
  test_hash();
  test_abort_single();
  test_single_process();
#ifndef FA_HAVE_MPI
  test_refused_without_mpi();
#endif
  return fa_test_exit();
}
