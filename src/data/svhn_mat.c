#include "data/svhn_mat.h"

#include <stdlib.h>
#include <string.h>

#include "data/bytes.h"

#define MAT_HEADER_BYTES 128
#define SIDE 32
#define CHANNELS 3
#define IMAGE_BYTES (SIDE * SIDE * CHANNELS)
#define CLASSES 10

enum {  /* MAT-file data types */
  MI_INT8 = 1, MI_UINT8 = 2, MI_INT16 = 3, MI_UINT16 = 4, MI_INT32 = 5, MI_UINT32 = 6,
  MI_SINGLE = 7, MI_DOUBLE = 9, MI_INT64 = 12, MI_UINT64 = 13, MI_MATRIX = 14, MI_COMPRESSED = 15,
};
enum { MX_DOUBLE_CLASS = 6, MX_UINT64_CLASS = 15, MX_UINT8_CLASS = 9 };  /* array classes */
#define MAT_COMPLEX_FLAG 0x0800u

/* One data element: its type, its payload, and where the next one starts. */
typedef struct {
  uint32_t type, nbytes;
  const uint8_t *data;
  size_t next;
} mat_element;

/* A numeric matrix variable (miMATRIX), pointing into its element. */
typedef struct {
  char name[64];
  uint32_t class_id;
  int complex;
  int ndim;
  const uint8_t *dims;  /* ndim little-endian int32 */
  mat_element real;
  uint8_t *owned;       /* the inflated buffer when the variable was compressed */
} mat_matrix;

/* Reads the element tag at `at` of a buffer of `len` bytes; `what` says
 * where (for errors). Sizes beyond the buffer are errors. */
static fa_status read_element(const uint8_t *buf, size_t len, size_t at, const char *source,
                              const char *what, mat_element *e) {
  if (at > len || len - at < 8)
    return fa_error_set(FA_ERR_FORMAT, "%s: %s is cut off (its 8-byte tag needs more than the %zu "
                        "bytes left): the file is truncated; download it again", source, what,
                        at > len ? 0 : len - at);
  uint32_t first = fa_load_le32(buf + at);
  if (first >> 16) {  /* small data element: type, size and up to 4 bytes in 8 */
    e->type = first & 0xffffu;
    e->nbytes = first >> 16;
    if (e->nbytes > 4)
      return fa_error_set(FA_ERR_FORMAT, "%s: %s is a small element of %u bytes (at most 4): the file "
                          "is corrupt", source, what, e->nbytes);
    e->data = buf + at + 4;
    e->next = at + 8;
    return FA_OK;
  }
  e->type = first;
  e->nbytes = fa_load_le32(buf + at + 4);
  size_t left = len - at - 8;
  if (e->nbytes > left)
    return fa_error_set(FA_ERR_FORMAT, "%s: %s declares %u bytes but only %zu remain: the file is "
                        "truncated or corrupt; download it again", source, what, e->nbytes, left);
  e->data = buf + at + 8;
  size_t end = at + 8 + e->nbytes, padded = at + 8 + (((size_t)e->nbytes + 7) & ~(size_t)7);
  /* payloads are padded to 8 bytes, except compressed ones */
  e->next = e->type == MI_COMPRESSED || padded > len ? end : padded;
  return FA_OK;
}

/* Size in bytes of one value of a numeric MAT type, 0 for other types. */
static size_t value_bytes(uint32_t type) {
  switch (type) {
    case MI_INT8: case MI_UINT8: return 1;
    case MI_INT16: case MI_UINT16: return 2;
    case MI_INT32: case MI_UINT32: case MI_SINGLE: return 4;
    case MI_DOUBLE: case MI_INT64: case MI_UINT64: return 8;
    default: return 0;
  }
}

/* Value i of a numeric element as a double. */
static double value_at(uint32_t type, const uint8_t *data, size_t i) {
  const uint8_t *p = data + i * value_bytes(type);
  union { int8_t i8; uint8_t u8; int16_t i16; uint16_t u16; int32_t i32; uint32_t u32;
          float f32; double f64; int64_t i64; uint64_t u64; } v;
  memcpy(&v, p, value_bytes(type));
  switch (type) {
    case MI_INT8: return v.i8;
    case MI_UINT8: return v.u8;
    case MI_INT16: return v.i16;
    case MI_UINT16: return v.u16;
    case MI_INT32: return v.i32;
    case MI_UINT32: return v.u32;
    case MI_SINGLE: return v.f32;
    case MI_DOUBLE: return v.f64;
    case MI_INT64: return (double)v.i64;
    default: return (double)v.u64;
  }
}

static uint32_t dim_at(const mat_matrix *m, int i) { return fa_load_le32(m->dims + 4 * i); }

/* Parses the sub-elements of a miMATRIX payload: flags, dimensions, name and,
 * for numeric classes, the real part. */
static fa_status parse_matrix(const uint8_t *buf, size_t len, const char *source, mat_matrix *m) {
  mat_element flags = {0}, dims = {0}, name = {0};
  fa_status st = read_element(buf, len, 0, source, "the array flags of a variable", &flags);
  if (st) return st;
  if (flags.type != MI_UINT32 || flags.nbytes != 8)
    return fa_error_set(FA_ERR_FORMAT, "%s: a variable's array flags have type %u and %u bytes "
                        "(expected uint32, 8 bytes): the file is corrupt", source, flags.type, flags.nbytes);
  uint32_t word = fa_load_le32(flags.data);
  m->class_id = word & 0xffu;
  m->complex = (word & MAT_COMPLEX_FLAG) != 0;
  if ((st = read_element(buf, len, flags.next, source, "the dimensions of a variable", &dims))) return st;
  if (dims.type != MI_INT32 || dims.nbytes < 8 || dims.nbytes % 4 != 0)
    return fa_error_set(FA_ERR_FORMAT, "%s: a variable's dimensions have type %u and %u bytes "
                        "(expected at least two int32): the file is corrupt", source, dims.type, dims.nbytes);
  m->ndim = (int)(dims.nbytes / 4);
  m->dims = dims.data;
  if ((st = read_element(buf, len, dims.next, source, "the name of a variable", &name))) return st;
  if (name.type != MI_INT8)
    return fa_error_set(FA_ERR_FORMAT, "%s: a variable's name has type %u (expected int8): the file "
                        "is corrupt", source, name.type);
  size_t name_len = name.nbytes < sizeof m->name ? name.nbytes : sizeof m->name - 1;
  memcpy(m->name, name.data, name_len);
  m->name[name_len] = '\0';
  if (m->class_id < MX_DOUBLE_CLASS || m->class_id > MX_UINT64_CLASS) return FA_OK;  /* not numeric */
  return read_element(buf, len, name.next, source, "the data of a variable", &m->real);
}

/* Inflates a miCOMPRESSED payload, which holds one element; *m is filled
 * when it is a matrix (m->owned then holds the buffer). */
static fa_status parse_compressed(const uint8_t *data, size_t len, const char *source, mat_matrix *m) {
  fa_inflater in;
  fa_status st = fa_inflate_begin(&in, data, len, FA_ZLIB_STREAM, source);
  if (st) return st;
  uint8_t tag[8];
  if (!(st = fa_inflate_exact(&in, tag, sizeof tag, "a compressed variable's tag"))) {
    uint32_t type = fa_load_le32(tag), nbytes = fa_load_le32(tag + 4);
    if (type != MI_MATRIX) {
      fa_inflate_end(&in);
      return FA_OK;  /* not a variable we read: skipped */
    }
    st = fa_check_inflated_size(nbytes, len, source, "a compressed variable");
    if (!st && !(m->owned = malloc(nbytes ? nbytes : 1)))
      st = fa_error_set(FA_ERR_NOMEM, "%s: cannot allocate %u bytes for a variable", source, nbytes);
    if (!st) st = fa_inflate_exact(&in, m->owned, nbytes, "a compressed variable");
    if (!st) st = fa_inflate_expect_end(&in, "a compressed variable");
    if (!st) st = parse_matrix(m->owned, nbytes, source, m);
  }
  fa_inflate_end(&in);
  return st;
}

/* Checks X: uint8, 32x32x3xN, real, all values present; sets *n. */
static fa_status check_images(const mat_matrix *x, const char *source, int *n) {
  if (x->class_id != MX_UINT8_CLASS || x->complex)
    return fa_error_set(FA_ERR_FORMAT, "%s: X is of MATLAB class %u%s, but SVHN's X is real uint8 "
                        "(class 9): this is not an SVHN file", source, x->class_id, x->complex ? ", complex" : "");
  uint64_t count = x->ndim == 4 ? dim_at(x, 3) : 1;
  if (x->ndim < 3 || x->ndim > 4 || dim_at(x, 0) != SIDE || dim_at(x, 1) != SIDE || dim_at(x, 2) != CHANNELS ||
      count == 0 || count > INT32_MAX / IMAGE_BYTES)
    return fa_error_set(FA_ERR_FORMAT, "%s: X has %d dimensions %ux%ux%u%s, but SVHN's X is 32x32x3xN "
                        "with N >= 1: this is not an SVHN file or it is corrupt", source, x->ndim,
                        dim_at(x, 0), dim_at(x, 1), x->ndim > 2 ? dim_at(x, 2) : 1, x->ndim > 3 ? "x..." : "");
  if (x->real.type != MI_UINT8 || x->real.nbytes != count * IMAGE_BYTES)
    return fa_error_set(FA_ERR_FORMAT, "%s: X declares %llu pixels but holds %u bytes of type %u "
                        "(expected uint8, type 2): the file is truncated or corrupt; download it again",
                        source, (unsigned long long)(count * IMAGE_BYTES), x->real.nbytes, x->real.type);
  *n = (int)count;
  return FA_OK;
}

/* Converts y (n values 1..10, 10 meaning digit 0) into labels 0..9. */
static fa_status convert_labels(const mat_matrix *y, int n, const char *source, uint8_t *labels) {
  if (y->class_id < MX_DOUBLE_CLASS || y->class_id > MX_UINT64_CLASS)
    return fa_error_set(FA_ERR_FORMAT, "%s: y is of MATLAB class %u, not a numeric array: this is not "
                        "an SVHN file", source, y->class_id);
  uint64_t count = y->ndim == 2 ? (uint64_t)dim_at(y, 0) * dim_at(y, 1) : 0;
  if (y->complex || count != (uint64_t)n || (dim_at(y, 0) != 1 && dim_at(y, 1) != 1))
    return fa_error_set(FA_ERR_FORMAT, "%s: y has %d dimensions %ux%u%s%s, but SVHN's y is a real vector "
                        "of one label per image of X (%d): the file is corrupt", source, y->ndim,
                        dim_at(y, 0), dim_at(y, 1), y->ndim > 2 ? "x..." : "", y->complex ? ", complex" : "", n);
  size_t size = value_bytes(y->real.type);
  if (size == 0 || y->real.nbytes != count * size)
    return fa_error_set(FA_ERR_FORMAT, "%s: y declares %d labels but holds %u bytes of MAT type %u: the "
                        "file is truncated or corrupt; download it again", source, n, y->real.nbytes, y->real.type);
  for (int i = 0; i < n; i++) {
    double v = value_at(y->real.type, y->real.data, (size_t)i);
    if (!(v >= 1 && v <= CLASSES) || v != (int)v)
      return fa_error_set(FA_ERR_FORMAT, "%s: label %d is %g; SVHN labels are 1..10 (10 for digit 0): "
                          "the file is corrupt", source, i, v);
    labels[i] = (uint8_t)((int)v % CLASSES);
  }
  return FA_OK;
}

/* X (column-major 32x32x3xN: row fastest) -> images (N, 3, 32, 32). */
static void transpose_images(const uint8_t *x, int n, uint8_t *images) {
  for (size_t plane = 0; plane < (size_t)n * CHANNELS; plane++) {
    const uint8_t *src = x + plane * SIDE * SIDE;  /* src[col * 32 + row] */
    uint8_t *dst = images + plane * SIDE * SIDE;   /* dst[row * 32 + col] */
    for (int row = 0; row < SIDE; row++)
      for (int col = 0; col < SIDE; col++) dst[row * SIDE + col] = src[col * SIDE + row];
  }
}

static fa_status check_header(const uint8_t *bytes, size_t len, const char *source) {
  if (len < MAT_HEADER_BYTES)
    return fa_error_set(FA_ERR_FORMAT, "%s: %zu bytes, shorter than a MAT-file's 128-byte header: the "
                        "file is empty or truncated; download it again", source, len);
  if (bytes[126] == 'M' && bytes[127] == 'I')
    return fa_error_set(FA_ERR_FORMAT, "%s: a big-endian MAT-file; only little-endian ones, as SVHN is "
                        "published, are read", source);
  if (bytes[126] != 'I' || bytes[127] != 'M')
    return fa_error_set(FA_ERR_FORMAT, "%s: not a MATLAB 5 MAT-file (no 'IM' endian mark at byte 126): "
                        "expected SVHN's train_32x32.mat or test_32x32.mat", source);
  unsigned version = bytes[124] | bytes[125] << 8;
  if (version != 0x0100)
    return fa_error_set(FA_ERR_FORMAT, "%s: MAT-file version 0x%04x%s; only MATLAB 5 MAT-files (version "
                        "0x0100), the format SVHN is published in, are read", source, version,
                        version == 0x0200 ? " (MATLAB 7.3, HDF5): re-save it with save -v7" : "");
  return FA_OK;
}

fa_status fa_svhn_mat_parse(const uint8_t *bytes, size_t len, const char *source, fa_dataset *out) {
  memset(out, 0, sizeof *out);
  mat_matrix x = {0}, y = {0};
  int have_x = 0, have_y = 0;
  fa_status st = check_header(bytes, len, source);
  for (size_t at = MAT_HEADER_BYTES; !st && at < len;) {
    mat_element e = {0};
    if ((st = read_element(bytes, len, at, source, "a top-level element", &e))) break;
    at = e.next;
    mat_matrix m = {0};
    if (e.type == MI_MATRIX) st = parse_matrix(e.data, e.nbytes, source, &m);
    else if (e.type == MI_COMPRESSED) st = parse_compressed(e.data, e.nbytes, source, &m);
    int is_x = !st && strcmp(m.name, "X") == 0, is_y = !st && strcmp(m.name, "y") == 0;
    if ((is_x && have_x) || (is_y && have_y))
      st = fa_error_set(FA_ERR_FORMAT, "%s: two variables named %s: the file is corrupt", source, m.name);
    else if (is_x) x = m, have_x = 1;
    else if (is_y) y = m, have_y = 1;
    if (st || !(is_x || is_y)) free(m.owned);
    if (st) break;
  }
  if (!st && !(have_x && have_y))
    st = fa_error_set(FA_ERR_FORMAT, "%s: no variable %s in the MAT-file; SVHN's files hold X (images) "
                      "and y (labels): this is not an SVHN file", source, have_x ? "y" : "X");
  int n = 0;
  if (!st) st = check_images(&x, source, &n);
  if (!st) st = fa_dataset_alloc(out, n, CHANNELS, SIDE, SIDE, CLASSES, source);
  if (!st) st = convert_labels(&y, n, source, out->labels);
  if (!st) transpose_images(x.real.data, n, out->images);
  if (st) fa_dataset_free(out);
  free(x.owned);
  free(y.owned);
  return st;
}

fa_status fa_svhn_mat_read(const char *path, fa_dataset *out) {
  memset(out, 0, sizeof *out);
  uint8_t *bytes;
  size_t len;
  fa_status st = fa_file_read_all(path, FA_DATA_MAX_BYTES, &bytes, &len);
  if (st) return st;
  st = fa_svhn_mat_parse(bytes, len, path, out);
  free(bytes);
  return st;
}
