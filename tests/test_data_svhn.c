/* SVHN MAT reader on MAT-files written here (MATLAB 5 format, with and
 * without miCOMPRESSED elements, labels stored as double or as MATLAB's
 * compact uint8), checked against known contents, and on damaged files. */
#include "data/bytes.h"
#include "data/svhn_mat.h"
#include "test_data_files.h"

enum { N = 5, SIDE = 32, PLANE = SIDE * SIDE, IMG = 3 * PLANE };
enum { MI_INT8 = 1, MI_UINT8 = 2, MI_INT32 = 5, MI_UINT32 = 6, MI_DOUBLE = 9, MI_MATRIX = 14, MI_COMPRESSED = 15 };
enum { MX_CHAR = 4, MX_DOUBLE = 6, MX_UINT8 = 9 };

/* A growing byte buffer. */
typedef struct {
  uint8_t *p;
  size_t len;
} buf;

static void put(buf *b, const void *data, size_t n) {
  b->p = realloc(b->p, b->len + n + 1);
  memcpy(b->p + b->len, data, n);
  b->len += n;
}
static void put_u32(buf *b, uint32_t v) {
  uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  put(b, le, 4);
}
static void pad8(buf *b) {
  static const uint8_t zeros[8];
  put(b, zeros, (8 - b->len % 8) % 8);
}
/* A data element; up to 4 bytes in the small format, as MATLAB writes names. */
static void put_element(buf *b, uint32_t type, const void *data, uint32_t n) {
  if (n <= 4) {
    put_u32(b, n << 16 | type);
    uint8_t small[4] = {0};
    memcpy(small, data, n);
    put(b, small, 4);
    return;
  }
  put_u32(b, type);
  put_u32(b, n);
  put(b, data, n);
  pad8(b);
}

/* Appends the variable `name` (class, dims, data of MAT type `type`) to the
 * file, as miMATRIX or inside miCOMPRESSED. */
static void put_variable(buf *file, const char *name, uint32_t class_id, const int32_t *dims, int ndim,
                         uint32_t type, const void *data, uint32_t nbytes, int compressed) {
  buf m = {0};
  uint32_t flags[2] = {class_id, 0};
  put_element(&m, MI_UINT32, flags, 8);
  put_element(&m, MI_INT32, dims, (uint32_t)(4 * ndim));
  put_element(&m, MI_INT8, name, (uint32_t)strlen(name));
  put_element(&m, type, data, nbytes);
  buf whole = {0};
  put_u32(&whole, MI_MATRIX);
  put_u32(&whole, (uint32_t)m.len);
  put(&whole, m.p, m.len);
  if (compressed) {
    size_t z_len;
    uint8_t *z = deflate_bytes(whole.p, whole.len, 0, &z_len);
    put_u32(file, MI_COMPRESSED);
    put_u32(file, (uint32_t)z_len);
    put(file, z, z_len);
    free(z);
  } else {
    put(file, whole.p, whole.len);
  }
  free(m.p);
  free(whole.p);
}

static void put_header(buf *file, uint16_t version, const char *endian) {
  uint8_t h[128];
  memset(h, ' ', 116);
  memcpy(h, "MATLAB 5.0 MAT-file, written by test_data_svhn", 46);
  memset(h + 116, 0, 8);
  h[124] = (uint8_t)version;
  h[125] = (uint8_t)(version >> 8);
  memcpy(h + 126, endian, 2);
  put(file, h, 128);
}

/* X[row + 32 col + 1024 ch + 3072 n], column-major as MATLAB stores it. */
static uint8_t pixel(int n, int ch, int row, int col) { return (uint8_t)(n * 53 + ch * 101 + row * 3 + col * 7); }
static const double labels_1_to_10[N] = {10, 1, 2, 9, 10};
static const uint8_t labels_0_to_9[N] = {0, 1, 2, 9, 0};

static uint8_t *column_major_x(void) {
  uint8_t *x = malloc(N * IMG);
  for (int n = 0; n < N; n++)
    for (int ch = 0; ch < 3; ch++)
      for (int col = 0; col < SIDE; col++)
        for (int row = 0; row < SIDE; row++) x[row + SIDE * col + PLANE * ch + IMG * n] = pixel(n, ch, row, col);
  return x;
}

typedef struct {
  int compress_x, compress_y, y_as_uint8, y_first, extra_variable;
} layout;

static buf make_file(layout how, const double *labels) {
  buf f = {0};
  put_header(&f, 0x0100, "IM");
  uint8_t *x = column_major_x();
  int32_t x_dims[4] = {SIDE, SIDE, 3, N}, y_dims[2] = {N, 1}, info_dims[2] = {1, 5};
  uint8_t y8[N];
  for (int i = 0; i < N; i++) y8[i] = (uint8_t)labels[i];
  if (how.extra_variable) put_variable(&f, "info", MX_CHAR, info_dims, 2, MI_UINT8, "hello", 5, how.compress_x);
  for (int k = 0; k < 2; k++)
    if ((k == 0) == (how.y_first != 0)) {
      if (how.y_as_uint8) put_variable(&f, "y", MX_DOUBLE, y_dims, 2, MI_UINT8, y8, N, how.compress_y);
      else put_variable(&f, "y", MX_DOUBLE, y_dims, 2, MI_DOUBLE, labels, N * 8, how.compress_y);
    } else {
      put_variable(&f, "X", MX_UINT8, x_dims, 4, MI_UINT8, x, N * IMG, how.compress_x);
    }
  free(x);
  return f;
}

static void test_good_files(const char *dir) {
  const layout layouts[] = {{0, 0, 0, 0, 0}, {1, 1, 1, 0, 0}, {1, 0, 0, 1, 1}, {0, 1, 1, 1, 1}};
  for (size_t k = 0; k < sizeof layouts / sizeof layouts[0]; k++) {
    buf f = make_file(layouts[k], labels_1_to_10);
    char path[4096];
    snprintf(path, sizeof path, "%s/good_%zu.mat", dir, k);
    write_bytes(path, f.p, f.len);
    free(f.p);
    fa_dataset ds;
    fa_status st = fa_svhn_mat_read(path, &ds);
    FA_CHECK(st == FA_OK, "layout %zu: %s", k, fa_error_message());
    if (st) continue;
    int same = ds.n == N && ds.c == 3 && ds.h == SIDE && ds.w == SIDE && ds.n_classes == 10;
    for (int n = 0; n < N && same; n++) {
      same &= ds.labels[n] == labels_0_to_9[n];
      for (int ch = 0; ch < 3; ch++)
        for (int row = 0; row < SIDE; row++)
          for (int col = 0; col < SIDE; col++)
            same &= ds.images[((n * 3 + ch) * SIDE + row) * SIDE + col] == pixel(n, ch, row, col);
    }
    FA_CHECK(same, "layout %zu (compressed X %d, y %d, y uint8 %d): images NCHW, label 10 -> 0", k,
             layouts[k].compress_x, layouts[k].compress_y, layouts[k].y_as_uint8);
    fa_dataset_free(&ds);
  }
}

/* Writes `f` to dir/name and checks the reader's error. */
static void check_bad(const char *dir, const char *name, const buf *f, const char *problem) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  write_bytes(path, f->p, f->len);
  fa_dataset ds;
  CHECK_ERROR(fa_svhn_mat_read(path, &ds), name, problem);
  FA_CHECK(ds.images == NULL && ds.n == 0, "%s: a failed read leaves an empty data set", name);
}

static void test_bad_files(const char *dir) {
  const layout plain = {0, 0, 0, 0, 0}, packed = {1, 1, 0, 0, 0};
  buf f = make_file(plain, labels_1_to_10);
  buf cut = {f.p, 0};
  check_bad(dir, "empty.mat", &cut, "empty or truncated");
  cut.len = 100;
  check_bad(dir, "short.mat", &cut, "shorter than a MAT-file's 128-byte header");
  cut.len = f.len - 1000;
  check_bad(dir, "cut.mat", &cut, "truncated");
  cut.len = 132;
  check_bad(dir, "cut_tag.mat", &cut, "is cut off");

  /* the X element declares more bytes than the file holds */
  uint32_t saved = fa_load_le32(f.p + 132);
  f.p[132 + 3] = 0x70;
  check_bad(dir, "oversized.mat", &f, "declares 1879");
  f.p[132 + 3] = (uint8_t)(saved >> 24);

  memcpy(f.p + 126, "XY", 2);
  check_bad(dir, "not_mat.mat", &f, "not a MATLAB 5 MAT-file");
  memcpy(f.p + 126, "MI", 2);
  check_bad(dir, "big_endian.mat", &f, "big-endian");
  memcpy(f.p + 126, "IM", 2);
  f.p[125] = 0x02;
  check_bad(dir, "v73.mat", &f, "MATLAB 7.3");
  f.p[125] = 0x01;
  free(f.p);

  double bad_labels[N] = {10, 1, 2, 11, 10};
  f = make_file(plain, bad_labels);
  check_bad(dir, "label11.mat", &f, "label 3 is 11");
  free(f.p);
  bad_labels[3] = 0;
  f = make_file(packed, bad_labels);
  check_bad(dir, "label0.mat", &f, "label 3 is 0");
  free(f.p);
  bad_labels[3] = 2.5;
  f = make_file(plain, bad_labels);
  check_bad(dir, "label_fraction.mat", &f, "label 3 is 2.5");
  free(f.p);

  /* wrong shapes and classes */
  uint8_t *x = column_major_x();
  int32_t grey_dims[4] = {SIDE, SIDE, 1, N}, many_dims[4] = {SIDE, SIDE, 3, 1000}, y_dims[2] = {N, 1};
  int32_t y_short[2] = {N - 1, 1};
  double xd[4] = {0};
  struct {
    const char *name, *problem;
  } cases[] = {{"grey.mat", "32x32x3xN"}, {"many.mat", "the file is truncated or corrupt"},
               {"double_x.mat", "class 6"}, {"short_y.mat", "one label per image"},
               {"no_y.mat", "no variable y"}, {"two_x.mat", "two variables named X"}};
  for (int c = 0; c < 6; c++) {
    f = (buf){0};
    put_header(&f, 0x0100, "IM");
    int32_t x_dims[4] = {SIDE, SIDE, 3, N};
    if (c == 0) put_variable(&f, "X", MX_UINT8, grey_dims, 4, MI_UINT8, x, N * PLANE, 0);
    if (c == 1) put_variable(&f, "X", MX_UINT8, many_dims, 4, MI_UINT8, x, N * IMG, 1);
    if (c == 2) put_variable(&f, "X", MX_DOUBLE, x_dims, 4, MI_DOUBLE, xd, sizeof xd, 0);
    if (c >= 3) put_variable(&f, "X", MX_UINT8, x_dims, 4, MI_UINT8, x, N * IMG, 0);
    if (c == 3) put_variable(&f, "y", MX_DOUBLE, y_short, 2, MI_DOUBLE, labels_1_to_10, (N - 1) * 8, 0);
    if (c == 5) put_variable(&f, "X", MX_UINT8, x_dims, 4, MI_UINT8, x, N * IMG, 1);
    if (c != 3 && c != 4) put_variable(&f, "y", MX_DOUBLE, y_dims, 2, MI_DOUBLE, labels_1_to_10, N * 8, 0);
    check_bad(dir, cases[c].name, &f, cases[c].problem);
    free(f.p);
  }
  free(x);

  /* compressed: cut short, and a bomb whose inner tag claims 500 MB */
  f = make_file(packed, labels_1_to_10);
  uint32_t z_len = fa_load_le32(f.p + 132);
  cut = (buf){f.p, 128 + 8 + z_len / 2};
  uint32_t half = z_len / 2;
  memcpy(f.p + 132, &half, 4);
  check_bad(dir, "cut_zlib.mat", &cut, "truncated");
  free(f.p);

  uint8_t inner[8 + 64] = {MI_MATRIX, 0, 0, 0, 0, 0, 0, 0x20};  /* 512 MiB announced */
  size_t bomb_len;
  uint8_t *bomb = deflate_bytes(inner, sizeof inner, 0, &bomb_len);
  f = (buf){0};
  put_header(&f, 0x0100, "IM");
  put_u32(&f, MI_COMPRESSED);
  put_u32(&f, (uint32_t)bomb_len);
  put(&f, bomb, bomb_len);
  check_bad(dir, "bomb.mat", &f, "can hold at most");
  free(f.p);
  free(bomb);

  /* a variable whose array flags are not uint32 */
  f = (buf){0};
  put_header(&f, 0x0100, "IM");
  buf m = {0};
  put_element(&m, MI_INT8, "flagflag", 8);
  put_u32(&f, MI_MATRIX);
  put_u32(&f, (uint32_t)m.len);
  put(&f, m.p, m.len);
  check_bad(dir, "flags.mat", &f, "array flags");
  free(f.p);
  free(m.p);
}

int main(void) {
  const char *dir = fa_test_tmpdir("test_data_svhn");
  test_good_files(dir);
  test_bad_files(dir);
  return fa_test_exit();
}
