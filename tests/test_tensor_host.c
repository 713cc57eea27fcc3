/* What core offers the layers above it in place of tensor memory
 * (core/tensor.h, core/update.h, core/measure.h), against plain host
 * computations: the transfers and their refusals, labels, the counts and
 * per-example statistics read back as scalars, and the in-place updates and
 * fills of the attacks (each the kernel table's new entries, so a backend's
 * versions are held to the same results here). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/measure.h"
#include "core/ops.h"
#include "core/update.h"
#include "testlib.h"

static bool error_mentions(const char *needle) { return strstr(fa_error_message(), needle) != NULL; }

static void test_transfers(void) {
  float v[6] = {1, 2, 3, 4, 5, 6}, back[8] = {0};
  fa_tensor *t = fa_tensor_from(2, (int[]){3, 2}, v);
  FA_CHECK(t && fa_tensor_ndim(t) == 2 && fa_tensor_dim(t, 0) == 3 && fa_tensor_numel(t) == 6 &&
               fa_tensor_row_numel(t) == 2 && fa_tensor_dtype(t) == FA_F32 && !fa_tensor_name(t) &&
               !fa_tensor_grad(t) && !fa_tensor_requires_grad(t),
           "what the tensor is");
  FA_CHECK(fa_tensor_read(t, 2, 3, back) == FA_OK && back[0] == 3 && back[2] == 5, "read from element 2");
  FA_CHECK(fa_tensor_write(t, 5, 1, (float[]){-1}) == FA_OK && fa_tensor_read(t, 0, 6, back) == FA_OK &&
               back[5] == -1 && back[4] == 5,
           "write one element");
  FA_CHECK(fa_tensor_read(t, 4, 3, back) == FA_ERR_INVALID && error_mentions("[4, 7) of a tensor of 6"),
           "a read past the end: %s", fa_error_message());
  FA_CHECK(fa_tensor_write(t, 7, 0, back) == FA_ERR_INVALID, "a write from past the end");
  FA_CHECK(fa_tensor_item(t) == 1 && isnan(fa_tensor_item(NULL)), "item");
  float *host = fa_tensor_to_host(t);
  FA_CHECK(host && host[1] == 2 && host[5] == -1, "a host copy");
  free(host);

  fa_tensor *u = fa_zeros(2, (int[]){4, 2});
  FA_CHECK(fa_tensor_copy_rows(u, 1, t, 1, 2) == FA_OK && fa_tensor_read(u, 0, 8, back) == FA_OK,
           "copy rows: %s", fa_error_message());
  const float want[6] = {0, 0, 3, 4, 5, -1};
  FA_CHECK(memcmp(back, want, sizeof want) == 0, "rows 1, 2 of t into rows 1, 2 of u");
  FA_CHECK(fa_tensor_copy_rows(u, 3, t, 1, 2) == FA_ERR_INVALID && error_mentions("out of range"),
           "rows past the end: %s", fa_error_message());
  FA_CHECK(fa_tensor_copy_rows(fa_zeros(2, (int[]){3, 3}), 0, t, 0, 1) == FA_ERR_INVALID, "rows of another length");
  FA_CHECK(fa_tensor_copy(u, t) == FA_ERR_INVALID && error_mentions("6 f32 into one of 8 f32"), "copy: %s",
           fa_error_message());
  fa_tensor *c = fa_tensor_clone(t);
  FA_CHECK(c && fa_tensor_read(c, 0, 6, back) == FA_OK && back[5] == -1 && fa_same_shape(c, t), "clone");
}

static void test_labels(void) {
  fa_tensor *y = fa_labels_from(4, (int[]){2, 0, 1, 2}, 3);
  int back[4] = {0};
  FA_CHECK(y && fa_tensor_dtype(y) == FA_I32 && fa_tensor_read_i32(y, 0, 4, back) == FA_OK && back[0] == 2 &&
               back[3] == 2,
           "labels: %s", fa_error_message());
  float f;
  FA_CHECK(fa_tensor_read(y, 0, 1, &f) == FA_ERR_INVALID && error_mentions("holds i32, not f32"),
           "labels read as floats: %s", fa_error_message());
  FA_CHECK(!fa_labels_from(2, (int[]){0, -1}, 3) && error_mentions("label -1 of example 1 is outside [0, 3)"),
           "a negative label: %s", fa_error_message());
  fa_tensor *s = fa_labels_select(y, 3, (int[]){3, 3, 1});
  FA_CHECK(s && fa_tensor_read_i32(s, 0, 3, back) == FA_OK && back[0] == 2 && back[1] == 2 && back[2] == 0,
           "select: %s", fa_error_message());
  FA_CHECK(!fa_labels_select(y, 1, (int[]){4}) && error_mentions("label row 4 of 4"), "a row past the end: %s",
           fa_error_message());
  fa_tensor *h = fa_one_hot(y, 3);
  const float *hv = fa_test_values(h);
  const float want[12] = {0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1};
  FA_CHECK(hv && memcmp(hv, want, sizeof want) == 0, "one hot");
}

static void test_counts(void) {
  /* rows: a tie (the first wins), a NaN at 0 (never loses), a NaN later (never wins) */
  float z[12] = {1, 3, 3, NAN, 5, 6, 2, NAN, 1, -1, -2, -3};
  fa_tensor *logits = fa_tensor_from(2, (int[]){4, 3}, z);
  fa_tensor *arg = fa_argmax_rows(logits);
  int a[4] = {0};
  FA_CHECK(arg && fa_tensor_read_i32(arg, 0, 4, a) == FA_OK && a[0] == 1 && a[1] == 0 && a[2] == 0 && a[3] == 0,
           "argmax %d %d %d %d", a[0], a[1], a[2], a[3]);
  FA_CHECK(fa_count_correct(logits, fa_labels_from(4, (int[]){1, 0, 2, 0}, 3)) == 3, "count correct");
  FA_CHECK(fa_count_correct(logits, fa_labels_from(3, (int[]){1, 0, 2}, 3)) == -1 && error_mentions("(4) int32"),
           "labels of another length: %s", fa_error_message());
  fa_tensor *p = fa_tensor_from(1, (int[]){5}, (float[]){0, 1, -2, NAN, 3});
  fa_tensor *q = fa_tensor_from(1, (int[]){5}, (float[]){1, 0, 4, 1, 0});
  FA_CHECK(fa_count_nonzero_pairs(p, q) == 2, "non-zero pairs (a NaN counts)");
}

/* sum over rows of f(row) in double, as the kernels' contract says, from host values */
static void host_row_stats(const float *a, const float *b, int rows, size_t cols, double *norm, double *cos) {
  double n = 0, c = 0;
  for (int r = 0; r < rows; r++) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t j = 0; j < cols; j++) {
      ab += (double)a[r * cols + j] * b[r * cols + j];
      aa += (double)a[r * cols + j] * a[r * cols + j];
      bb += (double)b[r * cols + j] * b[r * cols + j];
    }
    n += sqrt((double)(float)aa);
    double m = sqrt((double)(float)aa * (double)(float)bb);
    c += m == 0 ? 1.0 : (double)(float)ab / m;
  }
  *norm = n / rows;
  *cos = c / rows;
}

static void test_row_stats(void) {
  enum { ROWS = 300, COLS = 37 };  /* more rows than the kernels' blocks of 256 */
  fa_rng rng = fa_rng_stream(3, FA_STREAM_ATTACK);
  fa_tensor *a = fa_uniform(2, (int[]){ROWS, COLS}, &rng, -1, 1);
  fa_tensor *b = fa_uniform(2, (int[]){ROWS, COLS}, &rng, -1, 1);
  float zeros[COLS] = {0};
  fa_tensor_write(a, 5 * COLS, COLS, zeros);  /* a zero row: its cosine counts as 1 */
  double norm, cos;
  host_row_stats(fa_test_values(a), fa_test_values(b), ROWS, COLS, &norm, &cos);
  double got_norm = fa_mean_row_norm(a), got_cos = fa_mean_cosine(a, b);
  /* the row sums' order is the kernel's: a row's float may differ by an ulp */
  FA_CHECK(fabs(got_norm - norm) <= 1e-9 * norm && fabs(got_cos - cos) <= 1e-8 * fabs(cos),
           "mean row norm %.17g (host %.17g), cosine %.17g (host %.17g)", got_norm, norm, got_cos, cos);
  FA_CHECK(fabs(fa_mean_cosine(a, a) - 1.0) < 1e-7, "cos(a, a) = 1, the zero row included");
  FA_CHECK(isnan(fa_mean_cosine(a, fa_zeros(2, (int[]){ROWS, 3}))) && error_mentions("rows of one shape"),
           "two shapes: %s", fa_error_message());
}

static void test_updates(void) {
  /* the uniform fill: fa_rng_fill_uniform's values, from an offset, the counter advanced alike */
  enum { N = 1003 };
  fa_rng host_rng = fa_rng_stream(9, FA_STREAM_EVAL), dev_rng = host_rng;
  float *want = malloc(N * sizeof *want);
  fa_rng_fill_uniform(&host_rng, want, N - 10, -0.5f, 2.0f);
  fa_tensor *t = fa_zeros(1, (int[]){N});
  FA_CHECK(fa_fill_uniform(t, 10, N - 10, &dev_rng, -0.5f, 2.0f) == FA_OK && dev_rng.counter == host_rng.counter,
           "fill: %s", fa_error_message());
  const float *got = fa_test_values(t);
  FA_CHECK(got && got[9] == 0 && memcmp(got + 10, want, (N - 10) * sizeof *want) == 0,
           "the host's draws, bit for bit");
  FA_CHECK(fa_fill_uniform(t, 10, N - 9, &dev_rng, 0, 1) == FA_ERR_INVALID, "a fill past the end");
  free(want);

  /* an attack step from 0: the sign of g times the step, into the ball and the box */
  fa_tensor *x = fa_tensor_from(1, (int[]){4}, (float[]){0.5f, 0.99f, 0.01f, 0.5f});
  fa_tensor *g = fa_tensor_from(1, (int[]){4}, (float[]){1, 1, -1, 0});
  fa_tensor *delta = fa_zeros(1, (int[]){4});
  fa_attack_step(x, g, delta, 0.25f, 0.1f, false);
  const float *d = fa_test_values(delta);
  FA_CHECK(d && d[0] == (0.5f + 0.1f) - 0.5f && d[1] == 1.0f - 0.99f && d[2] == 0.0f - 0.01f && d[3] == 0,
           "FGSM step: %g %g %g %g", d[0], d[1], d[2], d[3]);
  fa_sign_scale(delta, 0.5f);
  d = fa_test_values(delta);
  FA_CHECK(d && d[0] == 0.5f && d[2] == -0.5f && d[3] == 0, "the corner");
  fa_project_box(x, delta);
  d = fa_test_values(delta);
  FA_CHECK(d && d[0] == 0.5f && d[1] == 1.0f - 0.99f && d[2] == -0.01f, "into the box");

  /* the strongest rows: a later one wins a tie */
  fa_tensor *loss = fa_tensor_from(1, (int[]){3}, (float[]){1, 2, 3});
  fa_tensor *best_loss = fa_tensor_from(1, (int[]){3}, (float[]){1, 5, 0});
  fa_tensor *src = fa_full(2, (int[]){3, 2}, 7), *best = fa_zeros(2, (int[]){3, 2});
  fa_keep_best_rows(loss, best_loss, src, best);
  const float *bl = fa_test_values(best_loss), *bv = fa_test_values(best);
  FA_CHECK(bl && bv && bl[0] == 1 && bl[1] == 5 && bl[2] == 3 && bv[0] == 7 && bv[2] == 0 && bv[4] == 7,
           "keep the strongest rows");

  /* ELLE's points */
  fa_tensor *px = fa_full(4, (int[]){2, 1, 1, 2}, 0.5f);
  fa_tensor *pa = fa_tensor_from(4, (int[]){2, 1, 1, 2}, (float[]){0.1f, 0.2f, 0.3f, 0.4f});
  fa_tensor *pb = fa_tensor_from(4, (int[]){2, 1, 1, 2}, (float[]){-0.1f, -0.2f, -0.3f, -0.4f});
  fa_tensor *wa = fa_tensor_from(1, (int[]){2}, (float[]){0.25f, 1});
  fa_tensor *wb = fa_tensor_from(1, (int[]){2}, (float[]){0.75f, 0});
  fa_tensor *points = fa_lerp_points(px, pa, pb, wa, wb);
  const float *pv = fa_test_values(points);
  float xa0 = 0.5f + 0.1f, xb0 = 0.5f - 0.1f;
  FA_CHECK(points && fa_tensor_dim(points, 0) == 6 && pv[0] == xa0 && pv[4] == xb0 &&
               pv[8] == xa0 * 0.25f + xb0 * 0.75f && pv[10] == 0.5f + 0.3f,
           "interpolation points: %s", fa_error_message());
  FA_CHECK(!fa_lerp_points(px, pa, pb, wa, fa_zeros(1, (int[]){3})) && error_mentions("weights (N)"),
           "weights of another length: %s", fa_error_message());
}

/* A rank's slice of a shared stream (core/rng.h first_row, total_rows): rows
 * of the whole fill, bit for bit, for rows of 75 values (a slice starting
 * inside a block of 4) and of 8, and the counter past the whole fill. */
static void test_uniform_slices(void) {
  for (int cols = 75; cols >= 8; cols -= 67) {
    enum { ROWS = 7 };
    fa_rng whole = fa_rng_stream(4, FA_STREAM_ATTACK);
    const float *all = fa_test_values(fa_uniform(2, (int[]){ROWS, cols}, &whole, -0.25f, 0.25f));
    int cuts[] = {0, 1, 3, 6, 7};
    for (int s = 0; s + 1 < 5; s++) {
      fa_rng part = fa_rng_stream(4, FA_STREAM_ATTACK);
      part.first_row = cuts[s];
      part.total_rows = ROWS;
      int rows = cuts[s + 1] - cuts[s];
      const float *got = fa_test_values(fa_uniform(2, (int[]){rows, cols}, &part, -0.25f, 0.25f));
      FA_CHECK(all && got && memcmp(got, all + (size_t)cuts[s] * cols, (size_t)rows * cols * sizeof *got) == 0 &&
                   part.counter == whole.counter,
               "rows [%d, %d) of %d x %d: the whole fill's, counter %llu (whole %llu)", cuts[s], cuts[s + 1], ROWS,
               cols, (unsigned long long)part.counter, (unsigned long long)whole.counter);
    }
  }
  fa_rng past = fa_rng_stream(4, FA_STREAM_ATTACK);
  past.first_row = 6;
  past.total_rows = 7;
  FA_CHECK(!fa_uniform(2, (int[]){2, 8}, &past, 0, 1) && error_mentions("rows [6, 8) of a fill of 7"),
           "a slice past the fill: %s", fa_error_message());
}

int main(void) {
  fa_arena *arena = fa_arena_create((size_t)64 << 20);
  fa_arena_set_current(arena);
  test_transfers();
  test_labels();
  test_counts();
  test_row_stats();
  test_updates();
  test_uniform_slices();
  fa_arena_destroy(arena);
  return fa_test_exit();
}
