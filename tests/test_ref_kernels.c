/* The ref backend (src/backend/ref, docs/ARCHITECTURE.md "The ref backend"):
 *
 * - its memory: device addresses the host cannot dereference (a child
 *   process that reads or writes one dies of SIGSEGV or SIGBUS), a host
 *   address handed to a ref kernel stops the program, and the copies (host
 *   to device, device to device, device to host) and the fill round-trip;
 * - its table has every entry, and this file checks as many kernels as the
 *   table has (an appended kernel fails here until it has a ref version);
 * - as a device (backend/backend.h): it is in the registry, its memory
 *   functions copy (overlapping regions too) and fill, and a large
 *   allocation (an arena's data slab) is a device address as well;
 * - every kernel of its table against the cpu kernel on the
 *   same random inputs, the ref side moved through the copy functions, over
 *   the shapes the models and ops use: convolutions 1x1, 3x3 and 5x5, stride
 *   1 and 2, padding 0, 1 and 2, 3 -> 4, 3 -> 64, 64 -> 128 channels and the
 *   like, batches 0 to 8, with and without bias; sgemm with all four
 *   transposes; the binary ops over every broadcast pattern of 4 dims;
 *   sum_to and expand over every reduced pattern; the pools; log-softmax;
 *   row gathers and scatters with repeated rows; the attack step in both
 *   projection orders; the channel kernels with every optional argument
 *   present and absent; labels (one-hot, gathers, argmax and correct
 *   counts with ties and NaNs), the per-example statistics, the Philox
 *   uniform fill and the SGD and Adam updates.
 *
 * Tolerances (ref is the oracle: the error is the cpu kernel's, measured as
 * ||cpu - ref||_2 / ||ref||_2 over the output):
 *   EXACT     0 (bit for bit, NaN equal to NaN): maps that the table defines
 *             as a fixed sequence of float operations, which both backends
 *             perform in the same order (unary but exp, binary, expand,
 *             the channel and row maps, clamps, the attack step, fill, axpy,
 *             max_pool, gathers and scatters, the label kernels and counts,
 *             keep_best_rows, fill_uniform, the optimisers' updates)
 *   TOL_ULP   1e-6: one rounding apart: exp (libm), sums both backends take
 *             in double (sum_to, row_dot, the mean row norm and cosine),
 *             log-softmax, the average pools
 *   TOL_PLANE 1e-5: channel_dot and channel_sq_dev (cpu sums each h x w plane
 *             in float, the planes in double)
 *   TOL_GEMM  1e-5: sgemm and the convolutions (OpenBLAS, oneDNN incl.
 *             Winograd, the small direct kernels: float accumulation), the
 *             bound tests/test_conv_kernels.c holds them to against double
 *             loops. */
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/backend.h"
#include "backend/bf16.h"
#include "backend/ref/ref.h"
#include "core/rng.h"
#include "testlib.h"

enum { EXACT = 0 };
static const double TOL_ULP = 1e-6, TOL_PLANE = 1e-5, TOL_GEMM = 1e-5;

static fa_rng rng;
static const fa_backend *cpu_dev, *ref_dev;
static const fa_kernel_table *cpu, *ref;
static void *cpu_state, *ref_state; /* the devices' states (the GEMMs and convolutions take them) */

/* ---- one operand on both backends: the same floats in host memory (for
 * cpu) and in ref's device memory ---- */

typedef struct {
  float *host, *dev;
  size_t n;
} pair;

static pair pair_of(const float *values, size_t n) {
  pair p = {malloc((n ? n : 1) * sizeof(float)), fa_ref_mem_alloc(n * sizeof(float)), n};
  if (!p.host || !p.dev) {
    fprintf(stderr, "out of memory for %zu floats\n", n);
    exit(1);
  }
  memcpy(p.host, values, n * sizeof(float));
  fa_ref_mem_to_device(p.dev, values, n * sizeof(float));
  return p;
}

/* n floats uniform in [lo, hi) */
static pair random_pair(size_t n, float lo, float hi) {
  float *v = malloc((n ? n : 1) * sizeof *v);
  fa_rng_fill_uniform(&rng, v, n, lo, hi);
  pair p = pair_of(v, n);
  free(v);
  return p;
}

/* an output: NaN everywhere, which the kernels must overwrite */
static pair output_pair(size_t n) {
  float *v = malloc((n ? n : 1) * sizeof *v);
  for (size_t i = 0; i < n; i++) v[i] = NAN;
  pair p = pair_of(v, n);
  free(v);
  return p;
}

static void pair_free(pair *p) {
  free(p->host);
  fa_ref_mem_free(p->dev, p->n * sizeof(float));
}

/* The host copy of p's device floats (free it). */
static float *device_values(const pair *p) {
  float *v = malloc((p->n ? p->n : 1) * sizeof *v);
  fa_ref_mem_to_host(v, p->dev, p->n * sizeof *v);
  return v;
}

/* cpu's output (p.host) against ref's (p.dev) within tol: NaN where the
 * other has NaN, and the other values bit for bit (EXACT) or within tol in
 * relative error; `what` names the call in a failure. */
static void expect_close(const char *what, const pair *p, double tol) {
  float *r = device_values(p), *c = malloc((p->n ? p->n : 1) * sizeof *c), first_c = 0, first_r = 0;
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < p->n; i++) {
    const bool nan_c = isnan(p->host[i]), nan_r = isnan(r[i]);
    const bool differs = nan_c || nan_r ? nan_c != nan_r : tol == EXACT && memcmp(&p->host[i], &r[i], sizeof *r);
    if (differs && !bad++) first = i, first_c = p->host[i], first_r = r[i];
    c[i] = nan_c ? 0.0f : p->host[i];
    if (nan_r) r[i] = 0.0f;
  }
  FA_CHECK(!bad, "%s: %zu of %zu values differ, first [%zu]: cpu %.9g ref %.9g", what, bad, p->n, first, first_c,
           first_r);
  if (tol != EXACT) {
    const double e = fa_test_rel_err_ff(c, r, p->n);
    FA_CHECK(e <= tol, "%s: rel err %.2e > %.0e (%zu values)", what, e, tol, p->n);
  }
  free(r), free(c);
}

#define HOST(p, on) ((on) ? (p).host : NULL)
#define DEVICE(p, on) ((on) ? (p).dev : NULL)

/* ---- memory ---- */

/* Runs touch(p) in a child process; true when the child was killed by
 * SIGSEGV or SIGBUS (a fault), as a host access to device memory must be. */
static bool faults_in_child(void (*touch)(float *), float *p) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0}); /* no core file */
    signal(SIGSEGV, SIG_DFL);                        /* die of the fault itself, not a sanitizer's report */
    signal(SIGBUS, SIG_DFL);
    touch(p);
    _exit(0);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return false;
  return WIFSIGNALED(status) && (WTERMSIG(status) == SIGSEGV || WTERMSIG(status) == SIGBUS);
}

static void host_read(float *p) {
  volatile float v = *(volatile float *)p;
  (void)v;
}
static void host_write(float *p) { *(volatile float *)p = 1.0f; }
static void kernel_on_host_memory(float *host) { ref->axpy(4, 1.0f, host, host); }

static bool aborts_in_child(void (*run)(float *), float *p) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    if (!freopen("/dev/null", "w", stderr)) _exit(2); /* the expected message */
    setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
    run(p);
    _exit(0);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return false;
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void check_memory(void) {
  enum { N = 1000 };
  float host[N], back[N];
  fa_rng_fill_uniform(&rng, host, N, -1.0f, 1.0f);
  float *a = fa_ref_mem_alloc(N * sizeof(float)), *b = fa_ref_mem_alloc(N * sizeof(float));
  FA_CHECK(a && b && fa_ref_is_device(a) && fa_ref_is_device(b) && !fa_ref_is_device(host),
           "allocations are tagged device addresses, host ones are not");
  fa_ref_mem_to_device(a, host, sizeof host);
  fa_ref_mem_copy(b, a, sizeof host);
  fa_ref_mem_sync();
  fa_ref_mem_to_host(back, b, sizeof back);
  FA_CHECK(!memcmp(host, back, sizeof host), "host -> device -> device -> host changed the floats");
  /* an offset into a buffer is a device address too (a row of a tensor) */
  fa_ref_mem_fill(b + 10, -2.5f, 5);
  fa_ref_mem_to_host(back, b, sizeof back);
  bool filled = true;
  for (int i = 0; i < N; i++) filled &= back[i] == (i >= 10 && i < 15 ? -2.5f : host[i]);
  FA_CHECK(filled, "fill of 5 floats at offset 10 wrote elsewhere or not at all");

  FA_CHECK(faults_in_child(host_read, a), "a host read of a device address did not fault");
  FA_CHECK(faults_in_child(host_write, a + 7), "a host write to a device address did not fault");
  FA_CHECK(aborts_in_child(kernel_on_host_memory, host), "a ref kernel given a host address did not stop");
  fa_ref_mem_free(a, sizeof host);
  fa_ref_mem_free(b, sizeof host);
  fa_ref_mem_free(NULL, 0);
  void *empty = fa_ref_mem_alloc(0);
  FA_CHECK(empty && fa_ref_is_device(empty), "an empty allocation is a device address");
  fa_ref_mem_free(empty, 0);
}

/* ref as a device: found by name, its copies through the device functions
 * (a copy within one buffer whose regions overlap, as a row shift does),
 * its fill, and an arena-sized allocation (mapped, not from the heap) that
 * is a device address too and faults on a host access. */
static void check_device(void) {
  FA_CHECK(ref_dev && !strcmp(ref_dev->name, "ref") && ref_dev->kernels == ref, "the registry lists ref");
  FA_CHECK(ref_state != NULL, "ref's create gave no state");
  enum { N = 256 };
  float host[N], back[N];
  for (int i = 0; i < N; i++) host[i] = (float)i;
  float *d = ref_dev->alloc(ref_state, sizeof host);
  ref_dev->to_device(ref_state, d, host, sizeof host);
  ref_dev->copy(ref_state, d + 1, d, (N - 1) * sizeof(float)); /* overlapping: every value one up */
  ref_dev->fill(ref_state, d + N - 8, 7.0f, 8);
  ref_dev->synchronize(ref_state);
  ref_dev->to_host(ref_state, back, d, sizeof back);
  bool moved = back[0] == 0.0f;
  for (int i = 1; i < N; i++) moved &= back[i] == (i >= N - 8 ? 7.0f : (float)(i - 1));
  FA_CHECK(moved, "an overlapping device copy or the fill went wrong");
  ref_dev->free(ref_state, d, sizeof host);
  const size_t big = (size_t)4 << 30;
  float *slab = ref_dev->alloc(ref_state, big);
  FA_CHECK(slab && fa_ref_is_device(slab), "a 4 GiB allocation is a device address");
  if (slab) {
    ref_dev->fill(ref_state, slab + (big / sizeof(float) - 4), 1.0f, 4); /* its last floats are usable */
    FA_CHECK(faults_in_child(host_read, slab), "a host read of a mapped device address did not fault");
    ref_dev->free(ref_state, slab, big);
  }
}

/* ---- the table ---- */

/* The kernels this file checks: a kernel appended to the table
 * (backend/backend.h) fails here until it has a ref version and a check. */
enum { KERNELS_CHECKED = 38 };

/* ref's table is named and has every entry set, and there are as many
 * entries as this file checks. Reads the entries after `name` as one array
 * of function pointers (all function pointers have one size here). */
static void check_table(void) {
  typedef void (*entry)(void);
  const size_t first = offsetof(fa_kernel_table, unary), count = (sizeof *ref - first) / sizeof(entry);
  FA_CHECK(count == KERNELS_CHECKED, "the kernel table has %zu entries, this test checks %d: give the new ones a "
           "ref version and a check (docs/ARCHITECTURE.md, \"The ref backend\")", count, KERNELS_CHECKED);
  entry entries[64];
  memcpy(entries, (const char *)ref + first, (count < 64 ? count : 64) * sizeof(entry));
  for (size_t i = 0; i < count && i < 64; i++) FA_CHECK(entries[i], "ref's kernel table has no entry %zu", i);
  FA_CHECK(!strcmp(ref->name, "ref"), "ref's table is named %s", ref->name);
}

/* ---- elementwise maps ---- */

static void check_unary(void) {
  const size_t n = 4099;
  static const char *names[] = {"relu", "step", "sign", "sqrt", "exp", "clamp", "affine"};
  const fa_unary_kind kinds[] = {FA_UNARY_RELU, FA_UNARY_STEP, FA_UNARY_SIGN, FA_UNARY_SQRT,
                                 FA_UNARY_EXP, FA_UNARY_CLAMP, FA_UNARY_AFFINE};
  for (int k = 0; k < 7; k++) {
    /* sqrt of nonnegative values; every input has zeros and a NaN */
    pair x = random_pair(n, kinds[k] == FA_UNARY_SQRT ? 0.0f : -3.0f, 3.0f), y = output_pair(n);
    for (size_t i = 0; i < n; i += 97) x.host[i] = 0.0f;
    x.host[5] = NAN;
    fa_ref_mem_to_device(x.dev, x.host, n * sizeof(float));
    const float p0 = kinds[k] == FA_UNARY_CLAMP ? -0.5f : 1.5f, p1 = kinds[k] == FA_UNARY_CLAMP ? 0.75f : -0.25f;
    cpu->unary(kinds[k], n, x.host, y.host, p0, p1);
    ref->unary(kinds[k], n, x.dev, y.dev, p0, p1);
    char what[64];
    snprintf(what, sizeof what, "unary %s", names[k]);
    expect_close(what, &y, kinds[k] == FA_UNARY_EXP ? TOL_ULP : EXACT);
    /* in place (y may be x) */
    cpu->unary(kinds[k], n, x.host, x.host, p0, p1);
    ref->unary(kinds[k], n, x.dev, x.dev, p0, p1);
    snprintf(what, sizeof what, "unary %s in place", names[k]);
    expect_close(what, &x, kinds[k] == FA_UNARY_EXP ? TOL_ULP : EXACT);
    pair_free(&x), pair_free(&y);
  }
}

/* `full` with the dims whose bit is set in `ones` (bit d for dim d) made 1 */
static void pattern(const int full[4], int ones, int out[4]) {
  for (int d = 0; d < 4; d++) out[d] = ones >> d & 1 ? 1 : full[d];
}

static size_t numel(const int s[4]) { return (size_t)s[0] * s[1] * s[2] * s[3]; }

/* every kind over every pair of broadcast patterns of a and b to out (2, 3, 4, 5) */
static void check_binary(void) {
  const int os[4] = {2, 3, 4, 5};
  const fa_binary_kind kinds[] = {FA_BINARY_ADD, FA_BINARY_SUB, FA_BINARY_MUL, FA_BINARY_DIV,
                                  FA_BINARY_MUL_POSITIVE};
  for (int k = 0; k < 5; k++)
    for (int ma = 0; ma < 16; ma++)
      for (int mb = 0; mb < 16; mb++) {
        int as[4], bs[4];
        pattern(os, ma, as);
        pattern(os, mb, bs);
        pair a = random_pair(numel(as), -2.0f, 2.0f), b = random_pair(numel(bs), -2.0f, 2.0f);
        pair out = output_pair(numel(os));
        cpu->binary(kinds[k], os, a.host, as, b.host, bs, out.host);
        ref->binary(kinds[k], os, a.dev, as, b.dev, bs, out.dev);
        char what[96];
        snprintf(what, sizeof what, "binary %d: a (%d,%d,%d,%d) b (%d,%d,%d,%d)", k, as[0], as[1], as[2], as[3],
                 bs[0], bs[1], bs[2], bs[3]);
        expect_close(what, &out, EXACT);
        pair_free(&a), pair_free(&b), pair_free(&out);
      }
  /* out aliasing an operand of its shape (the attack's x + delta into delta) */
  pair a = random_pair(numel(os), -2.0f, 2.0f), b = random_pair(numel(os), -2.0f, 2.0f);
  cpu->binary(FA_BINARY_ADD, os, a.host, os, b.host, os, b.host);
  ref->binary(FA_BINARY_ADD, os, a.dev, os, b.dev, os, b.dev);
  expect_close("binary add into its second operand", &b, EXACT);
  pair_free(&a), pair_free(&b);
}

/* sum_to and expand between (3, 4, 5, 6) and each of its 16 reduced shapes */
static void check_sum_to_expand(void) {
  const int xs[4] = {3, 4, 5, 6};
  for (int m = 0; m < 16; m++) {
    int ys[4];
    pattern(xs, m, ys);
    char what[64];
    pair x = random_pair(numel(xs), -1.0f, 1.0f), y = output_pair(numel(ys));
    cpu->sum_to(xs, x.host, ys, y.host);
    ref->sum_to(xs, x.dev, ys, y.dev);
    snprintf(what, sizeof what, "sum_to (%d,%d,%d,%d)", ys[0], ys[1], ys[2], ys[3]);
    expect_close(what, &y, TOL_ULP);
    pair small = random_pair(numel(ys), -1.0f, 1.0f), big = output_pair(numel(xs));
    cpu->expand(ys, small.host, xs, big.host);
    ref->expand(ys, small.dev, xs, big.dev);
    snprintf(what, sizeof what, "expand (%d,%d,%d,%d)", ys[0], ys[1], ys[2], ys[3]);
    expect_close(what, &big, EXACT);
    pair_free(&x), pair_free(&y), pair_free(&small), pair_free(&big);
  }
}

/* channel_affine (relu or not), channel_fma with each of its 32 choices of
 * optional arguments, channel_dot with and without b and mask, channel_sq_dev */
static void check_channel(const int xs[4]) {
  const size_t n = numel(xs), c = (size_t)xs[1];
  char what[96];
  pair x = random_pair(n, -2.0f, 2.0f), a = random_pair(n, -2.0f, 2.0f), mask = random_pair(n, -1.5f, 1.5f);
  for (size_t i = 0; i < n; i++) mask.host[i] = rintf(mask.host[i]); /* -1, 0, 1: a mask keeps only > 0 */
  fa_ref_mem_to_device(mask.dev, mask.host, n * sizeof(float));
  pair s = random_pair(c, -2.0f, 2.0f), t = random_pair(c, -2.0f, 2.0f), b = random_pair(c, -2.0f, 2.0f);
  for (int relu = 0; relu < 2; relu++) {
    pair y = output_pair(n);
    cpu->channel_affine(xs, x.host, s.host, t.host, relu, y.host, 0);
    ref->channel_affine(xs, x.dev, s.dev, t.dev, relu, y.dev, 0);
    snprintf(what, sizeof what, "channel_affine c=%zu relu=%d", c, relu);
    expect_close(what, &y, EXACT);
    pair_free(&y);
  }
  for (int on = 0; on < 32; on++) { /* bits: a, s, x with t, b, mask */
    bool ha = on & 1, hs = on & 2, hx = on & 4, hb = on & 8, hm = on & 16;
    pair y = output_pair(n);
    cpu->channel_fma(xs, HOST(a, ha), HOST(s, hs), HOST(x, hx), HOST(t, hx), HOST(b, hb), HOST(mask, hm), y.host, 0);
    ref->channel_fma(xs, DEVICE(a, ha), DEVICE(s, hs), DEVICE(x, hx), DEVICE(t, hx), DEVICE(b, hb),
                     DEVICE(mask, hm), y.dev, 0);
    snprintf(what, sizeof what, "channel_fma c=%zu a=%d s=%d x,t=%d b=%d mask=%d", c, ha, hs, hx, hb, hm);
    expect_close(what, &y, EXACT);
    pair_free(&y);
  }
  for (int on = 0; on < 4; on++) { /* bits: b, mask */
    bool hb = on & 1, hm = on & 2;
    pair y = output_pair(c);
    cpu->channel_dot(xs, a.host, HOST(x, hb), HOST(mask, hm), y.host, NULL, 0);
    ref->channel_dot(xs, a.dev, DEVICE(x, hb), DEVICE(mask, hm), y.dev, NULL, 0);
    snprintf(what, sizeof what, "channel_dot c=%zu b=%d mask=%d", c, hb, hm);
    expect_close(what, &y, TOL_PLANE);
    pair_free(&y);
  }
  pair y = output_pair(c);
  cpu->channel_sq_dev(xs, x.host, t.host, y.host, 0);
  ref->channel_sq_dev(xs, x.dev, t.dev, y.dev, 0);
  snprintf(what, sizeof what, "channel_sq_dev c=%zu", c);
  expect_close(what, &y, TOL_PLANE);
  pair_free(&y);
  pair_free(&x), pair_free(&a), pair_free(&mask), pair_free(&s), pair_free(&t), pair_free(&b);
}

/* the devices' fill, axpy, the row kernels, add_clamp and mul_in_range (b present or not) */
static void check_vector_kernels(void) {
  const int rows = 8;
  const size_t cols = 3072, n = rows * cols;
  char what[64];
  pair y = output_pair(n);
  cpu_dev->fill(cpu_state, y.host, 0.375f, n);
  ref_dev->fill(ref_state, y.dev, 0.375f, n);
  expect_close("fill", &y, EXACT);
  pair x = random_pair(n, -1.0f, 1.0f), acc = random_pair(n, -1.0f, 1.0f);
  cpu->axpy(n, -0.3f, x.host, acc.host);
  ref->axpy(n, -0.3f, x.dev, acc.dev);
  expect_close("axpy", &acc, EXACT);
  pair alpha = random_pair(rows, -2.0f, 2.0f), beta = random_pair(rows, -2.0f, 2.0f), dots = output_pair(rows);
  cpu->row_dot(rows, cols, x.host, acc.host, dots.host);
  ref->row_dot(rows, cols, x.dev, acc.dev, dots.dev);
  expect_close("row_dot", &dots, TOL_ULP);
  pair a = random_pair(n, -0.5f, 1.5f), g = random_pair(n, -1.0f, 1.0f);
  for (int hb = 0; hb < 2; hb++) {
    cpu->row_combine(rows, cols, x.host, alpha.host, HOST(a, hb), HOST(beta, hb), y.host);
    ref->row_combine(rows, cols, x.dev, alpha.dev, DEVICE(a, hb), DEVICE(beta, hb), y.dev);
    snprintf(what, sizeof what, "row_combine b=%d", hb);
    expect_close(what, &y, EXACT);
    cpu->add_clamp(n, a.host, HOST(x, hb), 0.0f, 1.0f, y.host);
    ref->add_clamp(n, a.dev, DEVICE(x, hb), 0.0f, 1.0f, y.dev);
    snprintf(what, sizeof what, "add_clamp b=%d", hb);
    expect_close(what, &y, EXACT);
    cpu->mul_in_range(n, g.host, a.host, HOST(x, hb), 0.0f, 1.0f, y.host);
    ref->mul_in_range(n, g.dev, a.dev, DEVICE(x, hb), 0.0f, 1.0f, y.dev);
    snprintf(what, sizeof what, "mul_in_range b=%d", hb);
    expect_close(what, &y, EXACT);
  }
  pair_free(&y), pair_free(&x), pair_free(&acc), pair_free(&alpha), pair_free(&beta), pair_free(&dots);
  pair_free(&a), pair_free(&g);
}

/* both projection orders; g has zeros, delta starts beyond the ball */
static void check_attack_step(void) {
  const size_t n = 4 * 3072;
  const float eps = 8.0f / 255, step = 10.0f / 255;
  pair x = random_pair(n, 0.0f, 1.0f), g = random_pair(n, -1.0f, 1.0f);
  for (size_t i = 0; i < n; i += 7) g.host[i] = 0.0f;
  fa_ref_mem_to_device(g.dev, g.host, n * sizeof(float));
  for (int box_first = 0; box_first < 2; box_first++) {
    pair delta = random_pair(n, -1.5f * eps, 1.5f * eps);
    cpu->attack_step(n, x.host, g.host, delta.host, step, eps, box_first);
    ref->attack_step(n, x.dev, g.dev, delta.dev, step, eps, box_first);
    expect_close(box_first ? "attack_step box first" : "attack_step ball first", &delta, EXACT);
    pair_free(&delta);
  }
  pair_free(&x), pair_free(&g);
}

/* ---- softmax, pools, rows ---- */

static void check_log_softmax(int rows, int cols, float spread) {
  pair x = random_pair((size_t)rows * cols, -spread, spread), y = output_pair((size_t)rows * cols);
  cpu->log_softmax(rows, cols, x.host, y.host);
  ref->log_softmax(rows, cols, x.dev, y.dev);
  char what[64];
  snprintf(what, sizeof what, "log_softmax %dx%d", rows, cols);
  expect_close(what, &y, TOL_ULP);
  pair_free(&x), pair_free(&y);
}

/* avg_pool and its adjoint, max_pool on random values and on values with ties */
static void check_pools(const int xs[4], int k) {
  const int ys[4] = {xs[0], xs[1], xs[2] / k, xs[3] / k};
  char what[96];
  pair x = random_pair(numel(xs), -1.0f, 1.0f), y = output_pair(numel(ys)), back = output_pair(numel(xs));
  cpu->avg_pool(xs, k, x.host, y.host, 0);
  ref->avg_pool(xs, k, x.dev, y.dev, 0);
  snprintf(what, sizeof what, "avg_pool (%d,%d,%d,%d) k=%d", xs[0], xs[1], xs[2], xs[3], k);
  expect_close(what, &y, TOL_ULP);
  pair gy = random_pair(numel(ys), -1.0f, 1.0f);
  cpu->avg_pool_adjoint(xs, k, gy.host, back.host);
  ref->avg_pool_adjoint(xs, k, gy.dev, back.dev);
  snprintf(what, sizeof what, "avg_pool_adjoint (%d,%d,%d,%d) k=%d", xs[0], xs[1], xs[2], xs[3], k);
  expect_close(what, &back, TOL_ULP);
  for (int ties = 0; ties < 2; ties++) {
    if (ties) { /* values 0, 1, 2: most windows hold their maximum twice or more */
      for (size_t i = 0; i < x.n; i++) x.host[i] = floorf(1.5f * (x.host[i] + 1.0f));
      fa_ref_mem_to_device(x.dev, x.host, x.n * sizeof(float));
    }
    cpu->max_pool(xs, k, x.host, y.host, back.host);
    ref->max_pool(xs, k, x.dev, y.dev, back.dev);
    snprintf(what, sizeof what, "max_pool (%d,%d,%d,%d) k=%d ties=%d", xs[0], xs[1], xs[2], xs[3], k, ties);
    expect_close(what, &y, EXACT);
    snprintf(what, sizeof what, "max_pool mask (%d,%d,%d,%d) k=%d ties=%d", xs[0], xs[1], xs[2], xs[3], k, ties);
    expect_close(what, &back, EXACT);
  }
  pair_free(&x), pair_free(&y), pair_free(&back), pair_free(&gy);
}

/* gather 7 rows of 8 with repeats; scatter-add them back onto random rows */
static void check_rows(void) {
  const size_t row = 3 * 32 * 32;
  const int n_rows = 8, n_idx = 7, idx[7] = {3, 0, 7, 3, 3, 5, 0};
  pair src = random_pair(n_rows * row, -1.0f, 1.0f), picked = output_pair(n_idx * row);
  cpu->gather_rows(row, n_idx, idx, src.host, picked.host);
  ref->gather_rows(row, n_idx, idx, src.dev, picked.dev);
  expect_close("gather_rows", &picked, EXACT);
  pair dst = random_pair(n_rows * row, -1.0f, 1.0f);
  cpu->scatter_add_rows(row, n_idx, idx, picked.host, dst.host);
  ref->scatter_add_rows(row, n_idx, idx, picked.dev, dst.dev);
  expect_close("scatter_add_rows", &dst, EXACT);
  pair_free(&src), pair_free(&picked), pair_free(&dst);
}

/* ---- labels, statistics, random fills, the optimisers' updates ---- */

/* n int32 values in a pair (4 bytes a slot, as a float's): compared bit for bit by expect_close */
static pair int_pair(const int32_t *values, size_t n) {
  float *v = malloc((n ? n : 1) * sizeof *v);
  memcpy(v, values, n * sizeof *values);
  pair p = pair_of(v, n);
  free(v);
  return p;
}

/* a double output (2 slots): cpu's against ref's within tol relative error */
static void expect_double(const char *what, const pair *p, double tol) {
  double c, r;
  memcpy(&c, p->host, sizeof c);
  fa_ref_mem_to_host(&r, p->dev, sizeof r);
  FA_CHECK(fabs(c - r) <= tol * fabs(r), "%s: cpu %.17g ref %.17g", what, c, r);
}

/* one_hot (labels outside [0, k) too), gather_labels, argmax_rows and
 * count_correct on rows with ties and NaNs, count_nonzero_pairs with zeros
 * and NaNs */
static void check_labels(void) {
  enum { ROWS = 67, COLS = 10, N_IDX = 9 };
  int32_t labels[ROWS];
  for (int i = 0; i < ROWS; i++) labels[i] = (int32_t)fa_rng_below(&rng, COLS);
  labels[3] = -1, labels[4] = COLS; /* rows that stay 0 */
  pair lab = int_pair(labels, ROWS), y = output_pair((size_t)ROWS * COLS);
  cpu->one_hot(ROWS, COLS, (const int32_t *)(void *)lab.host, y.host);
  ref->one_hot(ROWS, COLS, (const int32_t *)(void *)lab.dev, y.dev);
  expect_close("one_hot", &y, EXACT);
  labels[3] = 0, labels[4] = 1;
  fa_ref_mem_to_device(lab.dev, labels, sizeof labels);
  memcpy(lab.host, labels, sizeof labels);
  const int idx[N_IDX] = {5, 0, 66, 5, 12, 12, 3, 40, 1};
  pair picked = output_pair(N_IDX);
  cpu->gather_labels(N_IDX, idx, (const int32_t *)(void *)lab.host, (int32_t *)(void *)picked.host);
  ref->gather_labels(N_IDX, idx, (const int32_t *)(void *)lab.dev, (int32_t *)(void *)picked.dev);
  expect_close("gather_labels", &picked, EXACT);
  for (int ties = 0; ties < 2; ties++) {
    pair x = random_pair((size_t)ROWS * COLS, -1.0f, 1.0f);
    if (ties) /* values -1, 0, 1: most rows hold their maximum twice or more; NaNs in some rows */
      for (size_t i = 0; i < x.n; i++) x.host[i] = i % 37 == 5 ? NAN : rintf(x.host[i]);
    x.host[0] = NAN; /* a NaN in column 0 */
    fa_ref_mem_to_device(x.dev, x.host, x.n * sizeof(float));
    pair arg = output_pair(ROWS), count = output_pair(1);
    cpu->argmax_rows(ROWS, COLS, x.host, (int32_t *)(void *)arg.host);
    ref->argmax_rows(ROWS, COLS, x.dev, (int32_t *)(void *)arg.dev);
    expect_close(ties ? "argmax_rows with ties" : "argmax_rows", &arg, EXACT);
    cpu->count_correct(ROWS, COLS, x.host, (const int32_t *)(void *)lab.host, count.host);
    ref->count_correct(ROWS, COLS, x.dev, (const int32_t *)(void *)lab.dev, count.dev);
    expect_close(ties ? "count_correct with ties" : "count_correct", &count, EXACT);
    cpu->argmax_rows(ROWS, 1, x.host, (int32_t *)(void *)arg.host); /* one column: 0 */
    ref->argmax_rows(ROWS, 1, x.dev, (int32_t *)(void *)arg.dev);
    expect_close("argmax_rows of one column", &arg, EXACT);
    pair_free(&x), pair_free(&arg), pair_free(&count);
  }
  const size_t n = 5000;
  pair a = random_pair(n, -1.0f, 1.0f), b = random_pair(n, -1.0f, 1.0f), count = output_pair(1);
  for (size_t i = 0; i < n; i += 3) a.host[i] = 0.0f;
  for (size_t i = 0; i < n; i += 5) b.host[i] = i % 2 ? -0.0f : 0.0f;
  a.host[7] = NAN, b.host[9] = NAN;
  fa_ref_mem_to_device(a.dev, a.host, n * sizeof(float));
  fa_ref_mem_to_device(b.dev, b.host, n * sizeof(float));
  cpu->count_nonzero_pairs(n, a.host, b.host, count.host);
  ref->count_nonzero_pairs(n, a.dev, b.dev, count.dev);
  expect_close("count_nonzero_pairs", &count, EXACT);
  pair_free(&lab), pair_free(&y), pair_free(&picked), pair_free(&a), pair_free(&b), pair_free(&count);
}

/* mean_row_norm and mean_row_cosine over more rows than cpu's blocks of
 * 256, zero rows among them (a cosine of 1); keep_best_rows with ties */
static void check_row_stats(void) {
  const int rows = 300;
  const size_t cols = 3 * 16 * 16, n = rows * cols;
  pair a = random_pair(n, -1.0f, 1.0f), b = random_pair(n, -1.0f, 1.0f), out = output_pair(2);
  for (size_t j = 0; j < cols; j++) a.host[7 * cols + j] = 0.0f, b.host[9 * cols + j] = 0.0f;
  fa_ref_mem_to_device(a.dev, a.host, n * sizeof(float));
  fa_ref_mem_to_device(b.dev, b.host, n * sizeof(float));
  cpu->mean_row_norm(rows, cols, a.host, (double *)(void *)out.host);
  ref->mean_row_norm(rows, cols, a.dev, (double *)(void *)out.dev);
  expect_double("mean_row_norm", &out, TOL_ULP);
  cpu->mean_row_cosine(rows, cols, a.host, b.host, (double *)(void *)out.host);
  ref->mean_row_cosine(rows, cols, a.dev, b.dev, (double *)(void *)out.dev);
  expect_double("mean_row_cosine", &out, TOL_ULP);
  pair loss = random_pair((size_t)rows, 0.0f, 2.0f), best_loss = random_pair((size_t)rows, 0.0f, 2.0f);
  for (int r = 0; r < rows; r += 4) loss.host[r] = best_loss.host[r]; /* ties: the later one wins */
  fa_ref_mem_to_device(loss.dev, loss.host, (size_t)rows * sizeof(float));
  pair best = random_pair(n, -1.0f, 1.0f);
  cpu->keep_best_rows(rows, cols, loss.host, best_loss.host, a.host, best.host);
  ref->keep_best_rows(rows, cols, loss.dev, best_loss.dev, a.dev, best.dev);
  expect_close("keep_best_rows: the best losses", &best_loss, EXACT);
  expect_close("keep_best_rows: the rows", &best, EXACT);
  pair_free(&a), pair_free(&b), pair_free(&out), pair_free(&loss), pair_free(&best_loss), pair_free(&best);
}

/* fill_uniform: lengths below, at and above cpu's groups of 64 values and
 * its threaded size, at counters that carry into the high word */
static void check_fill_uniform(void) {
  const size_t lengths[] = {1, 7, 64, 259, 70001};
  const uint64_t counters[] = {0, 0xFFFFFFF0u};
  for (int l = 0; l < 5; l++)
    for (int c = 0; c < 2; c++) {
      pair y = output_pair(lengths[l]);
      cpu->fill_uniform(y.n, 0x1234567890ABCDEFu, counters[c], -0.25f, 0.75f, y.host);
      ref->fill_uniform(y.n, 0x1234567890ABCDEFu, counters[c], -0.25f, 0.75f, y.dev);
      char what[64];
      snprintf(what, sizeof what, "fill_uniform n=%zu counter=%llu", y.n, (unsigned long long)counters[c]);
      expect_close(what, &y, EXACT);
      pair_free(&y);
    }
}

/* first_nonfinite: all finite (huge values too), then a NaN, +Inf and -Inf
 * at the start, inside and at the end */
static void check_first_nonfinite(void) {
  const size_t n = 10007;
  pair x = random_pair(n, -1.0f, 1.0f), out = output_pair(2);
  x.host[17] = 3.4e38f, x.host[18] = -3.4e38f;
  const size_t at[] = {n, 0, 4096, n - 1};
  const float bad[] = {0.0f, NAN, INFINITY, -INFINITY};
  for (int c = 0; c < 4; c++) {
    if (at[c] < n) x.host[at[c]] = bad[c];
    fa_ref_mem_to_device(x.dev, x.host, n * sizeof(float));
    cpu->first_nonfinite(n, x.host, (double *)(void *)out.host);
    ref->first_nonfinite(n, x.dev, (double *)(void *)out.dev);
    double c_at, r_at;
    memcpy(&c_at, out.host, sizeof c_at);
    fa_ref_mem_to_host(&r_at, out.dev, sizeof r_at);
    FA_CHECK(c_at == (double)at[c] && r_at == (double)at[c], "first_nonfinite at %zu: cpu %g ref %g", at[c], c_at,
             r_at);
    if (at[c] < n) x.host[at[c]] = 0.5f;
  }
  pair_free(&x), pair_free(&out);
}

/* sgd_update and adam_update, with and without weight decay, on more
 * elements than cpu threads at (its updates are per element) */
static void check_optim_updates(void) {
  const size_t n = 40000;
  for (int wd = 0; wd < 2; wd++) {
    const float decay = wd ? 5e-4f : 0.0f;
    pair p = random_pair(n, -1.0f, 1.0f), g = random_pair(n, -1.0f, 1.0f), buf = random_pair(n, -0.1f, 0.1f);
    cpu->sgd_update(n, p.host, g.host, buf.host, 0.05f, 0.9f, decay);
    ref->sgd_update(n, p.dev, g.dev, buf.dev, 0.05f, 0.9f, decay);
    expect_close(wd ? "sgd_update with weight decay: p" : "sgd_update: p", &p, EXACT);
    expect_close("sgd_update: its buffer", &buf, EXACT);
    pair m = random_pair(n, -0.1f, 0.1f), v = random_pair(n, 0.0f, 0.01f);
    cpu->adam_update(n, p.host, g.host, m.host, v.host, 0.9f, 0.999f, 1e-8f, decay, 0.0123f, 0.0447f);
    ref->adam_update(n, p.dev, g.dev, m.dev, v.dev, 0.9f, 0.999f, 1e-8f, decay, 0.0123f, 0.0447f);
    expect_close(wd ? "adam_update with weight decay: p" : "adam_update: p", &p, EXACT);
    expect_close("adam_update: m", &m, EXACT);
    expect_close("adam_update: v", &v, EXACT);
    pair_free(&p), pair_free(&g), pair_free(&buf), pair_free(&m), pair_free(&v);
  }
}

/* ---- GEMM and convolutions ---- */

/* bf16: both factors rounded to bfloat16 (backend/bf16.h); cpu's float32 sums against ref's double ones */
static void check_sgemm(bool bf16, bool ta, bool tb, int m, int n, int k, float alpha, float beta) {
  pair a = random_pair((size_t)m * k, -1.0f, 1.0f), b = random_pair((size_t)k * n, -1.0f, 1.0f);
  pair c = beta == 0.0f ? output_pair((size_t)m * n) : random_pair((size_t)m * n, -1.0f, 1.0f); /* beta 0: C unread */
  cpu->sgemm(cpu_state, bf16, ta, tb, m, n, k, alpha, a.host, b.host, beta, c.host);
  ref->sgemm(ref_state, bf16, ta, tb, m, n, k, alpha, a.dev, b.dev, beta, c.dev);
  char what[112];
  snprintf(what, sizeof what, "sgemm%s ta=%d tb=%d m=%d n=%d k=%d alpha=%g beta=%g", bf16 ? " bf16" : "", ta, tb, m,
           n, k, alpha, beta);
  expect_close(what, &c, TOL_GEMM);
  pair_free(&a), pair_free(&b), pair_free(&c);
}

/* forward without and with bias, grad-input, grad-weight; bf16 as check_sgemm's */
/* a test convolution's geometry and the sizes of its x, w and y */
typedef struct {
  fa_conv_geom g;
  size_t nx, nw, ny;
} conv_case;

static conv_case conv_case_of(bool bf16, int n, int c_in, int h, int w, int c_out, int k, int stride, int pad) {
  conv_case cc = {.g = {.n = n, .c_in = c_in, .h_in = h, .w_in = w, .c_out = c_out, .k = k, .stride = stride,
                        .pad = pad, .bf16 = bf16}};
  fa_conv_geom_finish(&cc.g);
  cc.nx = (size_t)n * c_in * h * w, cc.nw = (size_t)c_out * c_in * k * k;
  cc.ny = (size_t)n * c_out * cc.g.h_out * cc.g.w_out;
  return cc;
}

static void check_conv(bool bf16, int n, int c_in, int h, int w, int c_out, int k, int stride, int pad) {
  const conv_case cc = conv_case_of(bf16, n, c_in, h, w, c_out, k, stride, pad);
  const fa_conv_geom g = cc.g;
  const size_t nx = cc.nx, nw = cc.nw, ny = cc.ny;
  pair x = random_pair(nx, -1.0f, 1.0f), wt = random_pair(nw, -1.0f, 1.0f), gy = random_pair(ny, -1.0f, 1.0f);
  pair bias = random_pair((size_t)c_out, -1.0f, 1.0f);
  pair y = output_pair(ny), gx = output_pair(nx), gw = output_pair(nw);
  char what[128];
  const int len = snprintf(what, sizeof what, "conv%s n=%d %d->%d %dx%d k=%d stride=%d pad=%d", bf16 ? " bf16" : "",
                           n, c_in, c_out, h, w, k, stride, pad);
  for (int with_bias = 0; with_bias < 2; with_bias++) {
    cpu->conv2d_forward(cpu_state, &g, x.host, wt.host, HOST(bias, with_bias), y.host);
    ref->conv2d_forward(ref_state, &g, x.dev, wt.dev, DEVICE(bias, with_bias), y.dev);
    snprintf(what + len, sizeof what - len, with_bias ? ": forward with bias" : ": forward");
    expect_close(what, &y, TOL_GEMM);
  }
  cpu->conv2d_grad_input(cpu_state, &g, gy.host, wt.host, gx.host);
  ref->conv2d_grad_input(ref_state, &g, gy.dev, wt.dev, gx.dev);
  snprintf(what + len, sizeof what - len, ": grad_input");
  expect_close(what, &gx, TOL_GEMM);
  cpu->conv2d_grad_weight(cpu_state, &g, gy.host, x.host, gw.host);
  ref->conv2d_grad_weight(ref_state, &g, gy.dev, x.dev, gw.dev);
  snprintf(what + len, sizeof what - len, ": grad_weight");
  expect_close(what, &gw, TOL_GEMM);
  /* both gradients in one call: cpu's bits are those of its two calls above */
  pair gx2 = output_pair(nx), gw2 = output_pair(nw);
  cpu->conv2d_backward(cpu_state, &g, gy.host, x.host, wt.host, gx2.host, gw2.host);
  ref->conv2d_backward(ref_state, &g, gy.dev, x.dev, wt.dev, gx2.dev, gw2.dev);
  snprintf(what + len, sizeof what - len, ": backward, grad_input");
  expect_close(what, &gx2, TOL_GEMM);
  snprintf(what + len, sizeof what - len, ": backward, grad_weight");
  expect_close(what, &gw2, TOL_GEMM);
  FA_CHECK(!memcmp(gx.host, gx2.host, nx * sizeof(float)) && !memcmp(gw.host, gw2.host, nw * sizeof(float)),
           "%.*s: conv2d_backward's bits differ from conv2d_grad_input's and conv2d_grad_weight's", len, what);
  pair_free(&x), pair_free(&wt), pair_free(&gy), pair_free(&bias), pair_free(&y), pair_free(&gx), pair_free(&gw);
  pair_free(&gx2), pair_free(&gw2);
}

/* ---- bfloat16 operands (backend/bf16.h): on each backend, a kernel given bfloat16 operands gives the
 * bits it gives on float32 operands holding the same values, and a bfloat16 output is its float32
 * output rounded ---- */

/* one operand stored in bfloat16 on both backends (host bits for cpu, ref's device memory) */
typedef struct {
  uint16_t *host;
  void *dev;
  size_t n;
} halves;

/* n random values in [lo, hi) rounded to bfloat16, as a float32 pair */
static pair rounded_pair(size_t n, float lo, float hi) {
  pair p = random_pair(n, lo, hi);
  for (size_t i = 0; i < n; i++) p.host[i] = fa_bf16_round(p.host[i]);
  fa_ref_mem_to_device(p.dev, p.host, n * sizeof(float));
  return p;
}

/* p's host values in bfloat16 on both backends (p's values are bfloat16 values: exact) */
static halves halves_of(const pair *p) {
  halves h = {malloc((p->n ? p->n : 1) * sizeof(uint16_t)), fa_ref_mem_alloc(p->n * sizeof(uint16_t)), p->n};
  for (size_t i = 0; i < p->n; i++) h.host[i] = fa_bf16_from_float(p->host[i]);
  fa_ref_mem_to_device(h.dev, h.host, p->n * sizeof(uint16_t));
  return h;
}

static void halves_free(halves *h) {
  free(h->host);
  fa_ref_mem_free(h->dev, h->n * sizeof(uint16_t));
}

/* the same bits on cpu (a.host, b.host) and on ref (a.dev, b.dev) */
static void expect_same(const char *what, const pair *a, const pair *b) {
  float *ra = device_values(a), *rb = device_values(b);
  FA_CHECK(!memcmp(a->host, b->host, a->n * sizeof(float)), "%s: cpu's bits differ", what);
  FA_CHECK(!memcmp(ra, rb, a->n * sizeof(float)), "%s: ref's bits differ", what);
  free(ra), free(rb);
}

/* h (a bfloat16 output) is p (the float32 output) rounded, on cpu and on ref */
static void expect_rounded(const char *what, const halves *h, const pair *p) {
  float *r = device_values(p);
  uint16_t *rh = malloc((h->n ? h->n : 1) * sizeof *rh);
  fa_ref_mem_to_host(rh, h->dev, h->n * sizeof *rh);
  size_t bad_cpu = 0, bad_ref = 0;
  for (size_t i = 0; i < h->n; i++) {
    bad_cpu += h->host[i] != fa_bf16_from_float(p->host[i]);
    bad_ref += rh[i] != fa_bf16_from_float(r[i]);
  }
  FA_CHECK(!bad_cpu && !bad_ref, "%s: %zu (cpu) and %zu (ref) of %zu bfloat16 values are not the float32 ones "
           "rounded", what, bad_cpu, bad_ref, h->n);
  free(r), free(rh);
}

#define HHOST(h, on) ((on) ? (const void *)(h).host : NULL)
#define HDEV(h, on) ((on) ? (const void *)(h).dev : NULL)
/* operand p of a call, as bfloat16 (h) when `half`, else as float32 */
#define CPU_OP(p, h, half) ((half) ? (const void *)(h).host : (const void *)(p).host)
#define REF_OP(p, h, half) ((half) ? (const void *)(h).dev : (const void *)(p).dev)

static void check_channel_bf16(const int xs[4]) {
  const size_t n = numel(xs), c = (size_t)xs[1];
  char what[96];
  pair x = rounded_pair(n, -2.0f, 2.0f), a = rounded_pair(n, -2.0f, 2.0f), mask = rounded_pair(n, -1.5f, 1.5f);
  halves xh = halves_of(&x), ah = halves_of(&a), mh = halves_of(&mask);
  pair s = random_pair(c, -2.0f, 2.0f), t = random_pair(c, -2.0f, 2.0f), b = random_pair(c, -2.0f, 2.0f);
  for (int relu = 0; relu < 2; relu++) {
    pair y = output_pair(n);
    pair yh_bits = output_pair(n); /* room for n bfloat16 values */
    halves yh = {(uint16_t *)(void *)yh_bits.host, yh_bits.dev, n};
    cpu->channel_affine(xs, x.host, s.host, t.host, relu, y.host, 0);
    ref->channel_affine(xs, x.dev, s.dev, t.dev, relu, y.dev, 0);
    cpu->channel_affine(xs, xh.host, s.host, t.host, relu, yh.host, FA_BF16_X);
    ref->channel_affine(xs, xh.dev, s.dev, t.dev, relu, yh.dev, FA_BF16_X);
    snprintf(what, sizeof what, "channel_affine bf16 c=%zu relu=%d", c, relu);
    expect_rounded(what, &yh, &y);
    pair_free(&y), pair_free(&yh_bits);
  }
  for (unsigned on = 0; on < 8; on++) { /* which of a, x, mask are bfloat16 */
    const bool ha = on & 1, hx = on & 2, hm = on & 4;
    const unsigned bits = (ha ? FA_BF16_A : 0) | (hx ? FA_BF16_X : 0) | (hm ? FA_BF16_MASK : 0);
    pair y = output_pair(n), yf = output_pair(n);
    cpu->channel_fma(xs, a.host, s.host, x.host, t.host, b.host, mask.host, yf.host, 0);
    ref->channel_fma(xs, a.dev, s.dev, x.dev, t.dev, b.dev, mask.dev, yf.dev, 0);
    cpu->channel_fma(xs, CPU_OP(a, ah, ha), s.host, CPU_OP(x, xh, hx), t.host, b.host, CPU_OP(mask, mh, hm), y.host,
                     bits);
    ref->channel_fma(xs, REF_OP(a, ah, ha), s.dev, REF_OP(x, xh, hx), t.dev, b.dev, REF_OP(mask, mh, hm), y.dev, bits);
    snprintf(what, sizeof what, "channel_fma bf16 c=%zu a=%d x=%d mask=%d", c, ha, hx, hm);
    expect_same(what, &y, &yf);
    pair dot = output_pair(c), dotf = output_pair(c), sum = output_pair(c), sumf = output_pair(c);
    const unsigned dbits = (ha ? FA_BF16_A : 0) | (hx ? FA_BF16_B : 0) | (hm ? FA_BF16_MASK : 0);
    cpu->channel_dot(xs, a.host, x.host, mask.host, dotf.host, NULL, 0);
    ref->channel_dot(xs, a.dev, x.dev, mask.dev, dotf.dev, NULL, 0);
    cpu->channel_dot(xs, a.host, NULL, mask.host, sumf.host, NULL, 0);
    ref->channel_dot(xs, a.dev, NULL, mask.dev, sumf.dev, NULL, 0);
    cpu->channel_dot(xs, CPU_OP(a, ah, ha), CPU_OP(x, xh, hx), CPU_OP(mask, mh, hm), dot.host, sum.host, dbits);
    ref->channel_dot(xs, REF_OP(a, ah, ha), REF_OP(x, xh, hx), REF_OP(mask, mh, hm), dot.dev, sum.dev, dbits);
    snprintf(what, sizeof what, "channel_dot bf16 c=%zu a=%d b=%d mask=%d", c, ha, hx, hm);
    expect_same(what, &dot, &dotf);
    snprintf(what, sizeof what, "channel_dot's second sum, bf16 c=%zu a=%d mask=%d", c, ha, hm);
    expect_same(what, &sum, &sumf);
    pair_free(&y), pair_free(&yf), pair_free(&dot), pair_free(&dotf), pair_free(&sum), pair_free(&sumf);
  }
  pair y = output_pair(c), yf = output_pair(c);
  cpu->channel_sq_dev(xs, x.host, t.host, yf.host, 0);
  ref->channel_sq_dev(xs, x.dev, t.dev, yf.dev, 0);
  cpu->channel_sq_dev(xs, xh.host, t.host, y.host, FA_BF16_X);
  ref->channel_sq_dev(xs, xh.dev, t.dev, y.dev, FA_BF16_X);
  snprintf(what, sizeof what, "channel_sq_dev bf16 c=%zu", c);
  expect_same(what, &y, &yf);
  pair_free(&y), pair_free(&yf);
  /* add_to_bf16: y (bfloat16, a's values) += x in either storage: a + x rounded */
  for (int hx = 0; hx < 2; hx++) {
    pair sumf = pair_of(a.host, n);
    cpu->axpy(n, 1.0f, x.host, sumf.host);
    ref->axpy(n, 1.0f, x.dev, sumf.dev);
    halves yh = halves_of(&a);
    cpu->add_to_bf16(n, CPU_OP(x, xh, hx), yh.host, hx ? FA_BF16_X : 0);
    ref->add_to_bf16(n, REF_OP(x, xh, hx), yh.dev, hx ? FA_BF16_X : 0);
    snprintf(what, sizeof what, "add_to_bf16 n=%zu x bf16=%d", n, hx);
    expect_rounded(what, &yh, &sumf);
    pair_free(&sumf), halves_free(&yh);
  }
  pair_free(&x), pair_free(&a), pair_free(&mask), pair_free(&s), pair_free(&t), pair_free(&b);
  halves_free(&xh), halves_free(&ah), halves_free(&mh);
}

static void check_avg_pool_bf16(const int xs[4], int k) {
  const size_t ny = numel(xs) / ((size_t)k * k);
  pair x = rounded_pair(numel(xs), -1.0f, 1.0f), y = output_pair(ny), yf = output_pair(ny);
  halves xh = halves_of(&x);
  cpu->avg_pool(xs, k, x.host, yf.host, 0);
  ref->avg_pool(xs, k, x.dev, yf.dev, 0);
  cpu->avg_pool(xs, k, xh.host, y.host, FA_BF16_X);
  ref->avg_pool(xs, k, xh.dev, y.dev, FA_BF16_X);
  expect_same("avg_pool bf16", &y, &yf);
  pair_free(&x), pair_free(&y), pair_free(&yf), halves_free(&xh);
}

/* a convolution's x (forward, grad-weight) and y (forward) stored in bfloat16, with bfloat16 products
 * (bf16) or float32 ones */
static void check_conv_bf16_storage(bool bf16, int n, int c_in, int h, int w, int c_out, int k, int stride, int pad) {
  const conv_case cc = conv_case_of(bf16, n, c_in, h, w, c_out, k, stride, pad);
  const fa_conv_geom g = cc.g;
  const size_t nx = cc.nx, nw = cc.nw, ny = cc.ny;
  pair x = rounded_pair(nx, -1.0f, 1.0f), wt = random_pair(nw, -1.0f, 1.0f), gy = random_pair(ny, -1.0f, 1.0f);
  halves xh = halves_of(&x);
  pair yf = output_pair(ny), y = output_pair(ny), yh_bits = output_pair(ny), gwf = output_pair(nw),
       gw = output_pair(nw), gx = output_pair(nx), gw2 = output_pair(nw);
  halves yh = {(uint16_t *)(void *)yh_bits.host, yh_bits.dev, ny};
  char what[128];
  const int len = snprintf(what, sizeof what, "conv%s, bf16 storage: n=%d %d->%d %dx%d k=%d stride=%d pad=%d",
                           bf16 ? " bf16" : "", n, c_in, c_out, h, w, k, stride, pad);
  fa_conv_geom gx_half = g, gy_half = g, gxy_half = g;
  gx_half.x_bf16 = 1, gy_half.y_bf16 = 1, gxy_half.x_bf16 = gxy_half.y_bf16 = 1;
  /* the float32 reference runs with bfloat16 storage's kernels: x_bf16 alone routes cpu to oneDNN */
  cpu->conv2d_forward(cpu_state, &gy_half, x.host, wt.host, NULL, yh.host);
  ref->conv2d_forward(ref_state, &gy_half, x.dev, wt.dev, NULL, yh.dev);
  cpu->conv2d_forward(cpu_state, &g, x.host, wt.host, NULL, yf.host);
  ref->conv2d_forward(ref_state, &g, x.dev, wt.dev, NULL, yf.dev);
  cpu->conv2d_forward(cpu_state, &gx_half, xh.host, wt.host, NULL, y.host);
  ref->conv2d_forward(ref_state, &gx_half, xh.dev, wt.dev, NULL, y.dev);
  snprintf(what + len, sizeof what - len, ": forward, x bfloat16");
  expect_close(what, &y, TOL_GEMM); /* cpu against ref */
  if (bf16) expect_same(what, &y, &yf); /* float32 x takes other kernels (cpu) when bf16 is off */
  cpu->conv2d_forward(cpu_state, &gxy_half, xh.host, wt.host, NULL, yh.host);
  ref->conv2d_forward(ref_state, &gxy_half, xh.dev, wt.dev, NULL, yh.dev);
  snprintf(what + len, sizeof what - len, ": forward, x and y bfloat16");
  expect_rounded(what, &yh, &y);
  cpu->conv2d_grad_weight(cpu_state, &g, gy.host, x.host, gwf.host);
  ref->conv2d_grad_weight(ref_state, &g, gy.dev, x.dev, gwf.dev);
  cpu->conv2d_grad_weight(cpu_state, &gx_half, gy.host, xh.host, gw.host);
  ref->conv2d_grad_weight(ref_state, &gx_half, gy.dev, xh.dev, gw.dev);
  snprintf(what + len, sizeof what - len, ": grad_weight, x bfloat16");
  expect_close(what, &gw, TOL_GEMM);
  if (bf16) expect_same(what, &gw, &gwf);
  cpu->conv2d_backward(cpu_state, &gx_half, gy.host, xh.host, wt.host, gx.host, gw2.host);
  ref->conv2d_backward(ref_state, &gx_half, gy.dev, xh.dev, wt.dev, gx.dev, gw2.dev);
  snprintf(what + len, sizeof what - len, ": backward, x bfloat16");
  expect_same(what, &gw2, &gw);
  pair_free(&x), pair_free(&wt), pair_free(&gy), pair_free(&yf), pair_free(&y), pair_free(&yh_bits);
  pair_free(&gwf), pair_free(&gw), pair_free(&gx), pair_free(&gw2), halves_free(&xh);
}

int main(void) {
  rng = fa_rng_stream(14, FA_STREAM_INIT);
  cpu_dev = fa_backend_find("cpu");
  ref_dev = fa_backend_find("ref");
  if (!cpu_dev || !ref_dev) {
    fprintf(stderr, "the registry lacks cpu or ref\n");
    return 1;
  }
  cpu = cpu_dev->kernels;
  ref = ref_dev->kernels;
  ref_state = ref_dev->create();
  check_memory(); /* first: their children fork before any OpenMP thread exists */
  check_device();
  cpu_state = cpu_dev->create();
  check_table();

  check_unary();
  check_binary();
  check_sum_to_expand();
  check_channel((const int[4]){8, 16, 8, 8});
  check_channel((const int[4]){2, 3, 32, 32});
  check_channel((const int[4]){2, 3, 40, 40}); /* planes of more than one chunk (cpu) */
  check_channel_bf16((const int[4]){8, 16, 8, 8});
  check_channel_bf16((const int[4]){2, 3, 40, 40});
  check_avg_pool_bf16((const int[4]){4, 64, 4, 4}, 4);
  check_avg_pool_bf16((const int[4]){2, 3, 9, 6}, 3);
  check_vector_kernels();
  check_attack_step();
  check_log_softmax(8, 10, 5.0f);
  check_log_softmax(3, 1000, 40.0f);
  check_pools((const int[4]){2, 8, 8, 8}, 2); /* lenet's 2x2 max pools */
  check_pools((const int[4]){4, 64, 4, 4}, 4); /* resnet's 4x4 average pool */
  check_pools((const int[4]){2, 3, 9, 6}, 3);
  check_rows();
  check_labels();
  check_row_stats();
  check_fill_uniform();
  check_optim_updates();
  check_first_nonfinite();

  /* in float32, then in bfloat16 (--half_prec) */
  for (int bf16 = 0; bf16 < 2; bf16++) {
    /* the linear layers (batch 8, 512 -> 10, 3072 -> 1024): forward x W^T, grad-input g W, grad-weight g^T x,
     * each with all four transposes, beta 0 (C unread), 1 and another, k = 0 */
    for (int t = 0; t < 4; t++) {
      const bool ta = t & 1, tb = t & 2;
      check_sgemm(bf16, ta, tb, 8, 10, 512, 1.0f, 0.0f);
      check_sgemm(bf16, ta, tb, 8, 512, 10, 1.0f, 0.0f);
      check_sgemm(bf16, ta, tb, 10, 512, 8, 1.0f, 1.0f);
      check_sgemm(bf16, ta, tb, 8, 64, 3072, -0.5f, 0.25f);
      check_sgemm(bf16, ta, tb, 33, 17, 65, 2.0f, 0.0f);
      check_sgemm(bf16, ta, tb, 6, 5, 0, 1.0f, 0.5f);
    }

    /* n c_in h w c_out k stride pad */
    check_conv(bf16, 2, 3, 32, 32, 4, 3, 1, 1);   /* the cnn's first layer */
    check_conv(bf16, 8, 4, 16, 16, 4, 3, 1, 1);   /* the cnn's next layers */
    check_conv(bf16, 2, 3, 32, 32, 64, 3, 1, 1);  /* resnet's stem */
    check_conv(bf16, 2, 64, 8, 8, 64, 3, 1, 1);   /* a resnet block (Winograd on cpu) */
    check_conv(bf16, 8, 64, 8, 8, 64, 3, 1, 1);   /* the same above the serial grad-input's FLOPs (cpu) */
    check_conv(bf16, 4, 64, 16, 16, 128, 3, 2, 1); /* a downsampling conv above them */
    check_conv(bf16, 4, 64, 8, 8, 128, 3, 2, 1);  /* a resnet downsampling conv */
    check_conv(bf16, 4, 64, 8, 8, 128, 1, 2, 0);  /* its 1x1 shortcut */
    check_conv(bf16, 3, 16, 9, 9, 8, 1, 1, 0);    /* 1x1 stride 1 */
    check_conv(bf16, 2, 8, 9, 9, 8, 3, 2, 0);     /* 3x3 stride 2 without padding, odd size */
    check_conv(bf16, 2, 8, 7, 7, 16, 1, 1, 1);    /* 1x1 with padding */
    check_conv(bf16, 2, 8, 9, 7, 5, 3, 2, 1);     /* non-square, odd */
    check_conv(bf16, 2, 1, 28, 28, 32, 5, 1, 2);  /* lenet's first layer */
    check_conv(bf16, 2, 32, 14, 14, 64, 5, 1, 2); /* lenet's second */
    check_conv(bf16, 0, 3, 8, 8, 4, 3, 1, 1);     /* an empty batch: grad-weight is zero */
    /* n c_in h w c_out k stride pad, x and y in bfloat16: resnet's stem, blocks (8x8: Winograd under
     * bf16 on cpu), a downsampling conv and its shortcut */
    check_conv_bf16_storage(bf16, 2, 3, 32, 32, 64, 3, 1, 1);
    check_conv_bf16_storage(bf16, 2, 16, 16, 16, 16, 3, 1, 1);
    check_conv_bf16_storage(bf16, 8, 16, 8, 8, 16, 3, 1, 1);
    check_conv_bf16_storage(bf16, 4, 64, 8, 8, 128, 3, 2, 1);
    check_conv_bf16_storage(bf16, 4, 64, 8, 8, 128, 1, 2, 0);
  }
  cpu_dev->destroy(cpu_state);
  ref_dev->destroy(ref_state);
  return fa_test_exit();
}
