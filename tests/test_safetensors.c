/* Safetensors: a file written by PyTorch (through scripts/safetensors_py.py)
 * reads with the right values; round trips of every dtype with metadata;
 * hostile headers are refused with a clear message; a failed write leaves
 * the previous file intact and no temporary file behind. */
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "testlib.h"

static const char *tmpdir;

static char *read_whole(const char *path, size_t *len) {
  FILE *fp = fopen(path, "rb");
  if (!fp) return NULL;
  fseek(fp, 0, SEEK_END);
  *len = (size_t)ftell(fp);
  rewind(fp);
  char *buf = malloc(*len + 1);
  if (buf && fread(buf, 1, *len, fp) != *len) *len = 0;
  fclose(fp);
  return buf;
}

static const char *tmp_path(const char *name) {
  static char buf[2][4096];
  static int slot;
  slot ^= 1;
  snprintf(buf[slot], sizeof buf[slot], "%s/%s", tmpdir, name);
  return buf[slot];
}

/* ---------- the reference set shared with scripts/st_fixture.py ---------- */

static float conv1[24];
static double ref64[6];
static const int64_t labels[3] = {3, -1, ((int64_t)1 << 40) + 5};
static const int64_t nbt = 7;
static const int32_t i32[2] = {INT32_MIN, INT32_MAX};
static const uint8_t u8[3] = {0, 255, 128}, mask[3] = {1, 0, 1};
static const uint16_t half[2] = {0x3e00, 0xc000}; /* 1.5, -2.0 in IEEE half */

static void fill_reference(fa_st_tensor *t) {
  for (int i = 0; i < 24; i++) conv1[i] = (float)i / 8 - 1;
  for (int i = 0; i < 6; i++) ref64[i] = (i - 3.0) / 7;
  const fa_st_tensor ts[9] = {
      {"conv1.weight", FA_DTYPE_F32, 4, {2, 3, 2, 2}, sizeof conv1, conv1},
      {"ref.f64", FA_DTYPE_F64, 2, {2, 3}, sizeof ref64, ref64},
      {"labels", FA_DTYPE_I64, 1, {3}, sizeof labels, labels},
      {"layer1.0.bn1.num_batches_tracked", FA_DTYPE_I64, 0, {0}, sizeof nbt, &nbt},
      {"i32", FA_DTYPE_I32, 1, {2}, sizeof i32, i32},
      {"u8", FA_DTYPE_U8, 1, {3}, sizeof u8, u8},
      {"mask", FA_DTYPE_BOOL, 1, {3}, sizeof mask, mask},
      {"half", FA_DTYPE_F16, 1, {2}, sizeof half, half},
      {"empty", FA_DTYPE_F32, 2, {0, 3}, 0, NULL},
  };
  memcpy(t, ts, sizeof ts);
}
static const char *const ref_keys[3] = {"epoch", "note", "rng"};
static const char *const ref_values[3] = {"3", u8"\u00fcn\u00efc\u00f6d\u00e9 \u2713",
                                          "{\"seed\": 0}"};

/* f holds exactly the reference tensors and metadata, aligned. */
static void check_reference(const fa_st_file *f, const char *label) {
  fa_st_tensor want[9];
  fill_reference(want);
  FA_CHECK(fa_st_count(f) == 9, "%s: %d tensors", label, fa_st_count(f));
  for (int i = 0; i < 9 && i < fa_st_count(f); i++) {
    const fa_st_tensor *t = fa_st_get(f, i);
    FA_CHECK(strcmp(t->name, want[i].name) == 0, "%s: tensor %d is %s, want %s", label, i, t->name, want[i].name);
    FA_CHECK(fa_st_find(f, want[i].name) == t, "%s: find %s", label, want[i].name);
    int same = t->dtype == want[i].dtype && t->ndim == want[i].ndim && t->nbytes == want[i].nbytes;
    for (int d = 0; same && d < t->ndim; d++) same = t->shape[d] == want[i].shape[d];
    FA_CHECK(same, "%s: %s: dtype/shape/nbytes", label, t->name);
    FA_CHECK(t->data && (uintptr_t)t->data % fa_st_dtype_size(t->dtype) == 0, "%s: %s aligned", label, t->name);
    FA_CHECK(same && (t->nbytes == 0 || memcmp(t->data, want[i].data, t->nbytes) == 0), "%s: %s values",
             label, t->name);
  }
  FA_CHECK(fa_st_meta_count(f) == 3, "%s: metadata count %d", label, fa_st_meta_count(f));
  for (int i = 0; i < 3; i++) {
    const char *v = fa_st_meta(f, ref_keys[i]);
    FA_CHECK(v && strcmp(v, ref_values[i]) == 0, "%s: metadata %s = %s", label, ref_keys[i], v ? v : "(null)");
    FA_CHECK(fa_st_meta_key(f, i) && strcmp(fa_st_meta_key(f, i), ref_keys[i]) == 0, "%s: key order", label);
  }
  FA_CHECK(fa_st_find(f, "absent") == NULL && fa_st_meta(f, "absent") == NULL, "%s: absent names", label);
}

static void test_python_fixture(void) {
  const char *path = fa_test_source_path("tests/fixtures/st_python.safetensors");
  fa_st_file *f = fa_st_open(path);
  FA_CHECK(f != NULL, "open python fixture: %s", fa_error_message());
  if (!f) return;
  check_reference(f, "python fixture");

  /* conversions for fixtures: F64 -> F32, F32 -> F64, I64 -> F64, and a shape check */
  float r32[6];
  double c64[24], l64[3];
  FA_CHECK(fa_st_copy(f, "ref.f64", FA_DTYPE_F32, 2, (int64_t[]){2, 3}, r32) == FA_OK, "%s", fa_error_message());
  FA_CHECK(r32[0] == (float)(-3.0 / 7) && r32[5] == (float)(2.0 / 7), "F64 -> F32 values");
  FA_CHECK(fa_st_copy(f, "conv1.weight", FA_DTYPE_F64, 4, (int64_t[]){2, 3, 2, 2}, c64) == FA_OK, "F32 -> F64");
  FA_CHECK(c64[0] == -1 && c64[23] == 23.0 / 8 - 1, "F32 -> F64 values");
  FA_CHECK(fa_st_copy(f, "labels", FA_DTYPE_F64, 1, (int64_t[]){3}, l64) == FA_OK && l64[2] == 1099511627781.0,
           "I64 -> F64");
  FA_CHECK(fa_st_copy(f, "ref.f64", FA_DTYPE_F32, 2, (int64_t[]){3, 2}, r32) == FA_ERR_FORMAT &&
               strstr(fa_error_message(), "has shape [2, 3], expected [3, 2]"),
           "shape mismatch: %s", fa_error_message());
  FA_CHECK(fa_st_copy(f, "nope", FA_DTYPE_F32, 1, (int64_t[]){1}, r32) == FA_ERR_FORMAT &&
               strstr(fa_error_message(), "no tensor \"nope\""),
           "missing tensor: %s", fa_error_message());
  FA_CHECK(fa_st_copy(f, "half", FA_DTYPE_F32, 1, (int64_t[]){2}, r32) == FA_ERR_FORMAT &&
               strstr(fa_error_message(), "cannot convert"),
           "F16 -> F32 unsupported: %s", fa_error_message());
  fa_st_close(f);
}

/* The C writer makes the same bytes as the Python helper from the same
 * tensors, and reads back what it wrote. The file stays in the test
 * directory for `scripts/st_fixture.py check`. */
static void test_write_reference(void) {
  fa_st_tensor t[9];
  fill_reference(t);
  const char *path = tmp_path("c_written.safetensors");
  FA_CHECK(fa_st_write(path, t, 9, ref_keys, ref_values, 3) == FA_OK, "write: %s", fa_error_message());
  fa_st_file *f = fa_st_open(path);
  FA_CHECK(f != NULL, "reopen: %s", fa_error_message());
  if (f) check_reference(f, "C round trip");
  fa_st_close(f);
  size_t la = 0, lb = 0;
  char *a = read_whole(path, &la), *b = read_whole(fa_test_source_path("tests/fixtures/st_python.safetensors"), &lb);
  FA_CHECK(a && b && la == lb && memcmp(a, b, la) == 0, "C and Python writers agree byte for byte (%zu vs %zu)",
           la, lb);
  free(a);
  free(b);
}

/* Several tensors of every dtype, in mixed order of element size. */
static void test_round_trip_all_dtypes(void) {
  enum { PER = 2, N = FA_DTYPE_COUNT * PER };
  fa_st_tensor t[N];
  char names[N][32];
  unsigned char *bufs[N];
  for (int i = 0; i < N; i++) {
    fa_st_dtype d = (fa_st_dtype)(i % FA_DTYPE_COUNT);
    snprintf(names[i], sizeof names[i], "t%d.%s", i, fa_st_dtype_name(d));
    int64_t rows = 1 + i % 3, cols = 5 + i;
    size_t nbytes = (size_t)(rows * cols) * fa_st_dtype_size(d);
    bufs[i] = malloc(nbytes);
    for (size_t k = 0; k < nbytes; k++) bufs[i][k] = (unsigned char)(k * 31 + (size_t)i);
    t[i] = (fa_st_tensor){names[i], d, 2, {rows, cols}, nbytes, bufs[i]};
  }
  const char *keys[2] = {"model", "args"}, *values[2] = {"PreActResNet18", "{\"eps\": 8, \"lr\": \"cyclic\"}"};
  const char *path = tmp_path("all_dtypes.safetensors");
  FA_CHECK(fa_st_write(path, t, N, keys, values, 2) == FA_OK, "write all dtypes: %s", fa_error_message());
  fa_st_file *f = fa_st_open(path);
  FA_CHECK(f && fa_st_count(f) == N, "reopen all dtypes: %s", fa_error_message());
  for (int i = 0; f && i < N; i++) {
    const fa_st_tensor *r = fa_st_find(f, names[i]);
    FA_CHECK(r && r == fa_st_get(f, i) && r->dtype == t[i].dtype && r->ndim == 2 && r->shape[0] == t[i].shape[0] &&
                 r->shape[1] == t[i].shape[1] && r->nbytes == t[i].nbytes &&
                 memcmp(r->data, bufs[i], r->nbytes) == 0 && (uintptr_t)r->data % fa_st_dtype_size(r->dtype) == 0,
             "round trip of %s", names[i]);
  }
  FA_CHECK(f && strcmp(fa_st_meta(f, "args"), values[1]) == 0, "metadata round trip");
  fa_st_close(f);
  for (int i = 0; i < N; i++) free(bufs[i]);

  /* nothing at all */
  FA_CHECK(fa_st_write(tmp_path("none.safetensors"), NULL, 0, NULL, NULL, 0) == FA_OK, "%s", fa_error_message());
  f = fa_st_open(tmp_path("none.safetensors"));
  FA_CHECK(f && fa_st_count(f) == 0 && fa_st_meta_count(f) == 0, "empty file round trip: %s", fa_error_message());
  fa_st_close(f);
}

static void test_write_rejects_bad_arguments(void) {
  float x[2] = {1, 2};
  const char *path = tmp_path("bad_args.safetensors");
  fa_st_tensor dup[2] = {{"a", FA_DTYPE_F32, 1, {2}, 8, x}, {"a", FA_DTYPE_F32, 1, {2}, 8, x}};
  FA_CHECK(fa_st_write(path, dup, 2, NULL, NULL, 0) == FA_ERR_INVALID && strstr(fa_error_message(), "twice"),
           "duplicate names: %s", fa_error_message());
  fa_st_tensor wrong = {"a", FA_DTYPE_F32, 1, {3}, 8, x};
  FA_CHECK(fa_st_write(path, &wrong, 1, NULL, NULL, 0) == FA_ERR_INVALID, "nbytes mismatch");
  fa_st_tensor reserved = {"__metadata__", FA_DTYPE_F32, 1, {2}, 8, x};
  FA_CHECK(fa_st_write(path, &reserved, 1, NULL, NULL, 0) == FA_ERR_INVALID, "reserved name");
  fa_st_tensor latin1 = {"caf\xe9", FA_DTYPE_F32, 1, {2}, 8, x};
  FA_CHECK(fa_st_write(path, &latin1, 1, NULL, NULL, 0) == FA_ERR_INVALID, "non-UTF-8 name");
  fa_st_tensor neg = {"a", FA_DTYPE_F32, 1, {-2}, 8, x};
  FA_CHECK(fa_st_write(path, &neg, 1, NULL, NULL, 0) == FA_ERR_INVALID, "negative dimension");
  fa_st_tensor neg0 = {"a", FA_DTYPE_F32, 2, {0, -2}, 0, x};
  FA_CHECK(fa_st_write(path, &neg0, 1, NULL, NULL, 0) == FA_ERR_INVALID, "negative with a zero dimension");
  const char *k[2] = {"k", "k"}, *v[2] = {"1", "2"};
  FA_CHECK(fa_st_write(path, NULL, 0, k, v, 2) == FA_ERR_INVALID && strstr(fa_error_message(), "twice"),
           "duplicate metadata keys: %s", fa_error_message());
  FA_CHECK(access(path, F_OK) != 0, "nothing written on bad arguments");
  FA_CHECK(fa_st_write(tmp_path("no/such/dir/x.safetensors"), &dup[0], 1, NULL, NULL, 0) == FA_ERR_IO,
           "missing directory: %s", fa_error_message());
}

/* ---------- hostile files ---------- */

/* A file from its header text and dlen data bytes (a byte pattern). */
static unsigned char *build(const char *header, size_t hlen, size_t dlen, size_t *len) {
  *len = 8 + hlen + dlen;
  unsigned char *b = malloc(*len);
  for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
  memcpy(b + 8, header, hlen);
  for (size_t i = 0; i < dlen; i++) b[8 + hlen + i] = (unsigned char)(i * 7 + 1);
  return b;
}

static void expect_bad_bytes(const void *bytes, size_t len, const char *needle, const char *label) {
  fa_error_clear();
  fa_st_file *f = fa_st_parse(bytes, len, label);
  FA_CHECK(f == NULL, "%s: accepted", label);
  FA_CHECK(fa_error_code() == FA_ERR_FORMAT && strstr(fa_error_message(), label) &&
               strstr(fa_error_message(), needle),
           "%s: message \"%s\" should name it and say \"%s\"", label, fa_error_message(), needle);
  fa_st_close(f);
}

static void expect_bad_n(const char *header, size_t hlen, size_t dlen, const char *needle, const char *label) {
  size_t len;
  unsigned char *b = build(header, hlen, dlen, &len);
  expect_bad_bytes(b, len, needle, label);
  free(b);
}

static void expect_bad(const char *header, size_t dlen, const char *needle, const char *label) {
  expect_bad_n(header, strlen(header), dlen, needle, label);
}

static fa_st_file *parse_ok(const char *header, size_t dlen, const char *label) {
  size_t len;
  unsigned char *b = build(header, strlen(header), dlen, &len);
  fa_st_file *f = fa_st_parse(b, len, label);
  FA_CHECK(f != NULL, "%s: refused: %s", label, fa_error_message());
  free(b);
  return f;
}

#define T(name, dtype, shape, b, e) \
  "\"" name "\":{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":[" #b "," #e "]}"

static void test_hostile_sizes(void) {
  expect_bad_bytes("", 0, "too short", "empty buffer");
  expect_bad_bytes("\x02\0\0\0\0\0\0", 7, "too short", "seven bytes");
  size_t len;
  unsigned char *b = build("{}", 2, 0, &len);
  b[0] = 3; /* header length 3 in a file of 8 + 2 bytes */
  expect_bad_bytes(b, len, "runs past the end", "header past end");
  memset(b, 0xff, 8);
  expect_bad_bytes(b, len, "absurd", "header length 2^64-1");
  free(b);
  /* one byte past the limit, in a file long enough to hold it */
  size_t over = (size_t)FA_ST_MAX_HEADER + 1;
  char *big = malloc(over);
  memset(big, ' ', over);
  big[0] = '{';
  big[over - 1] = '}';
  expect_bad_n(big, over, 0, "absurd", "header past the limit");
  /* at the limit: accepted */
  big[over - 2] = '}';
  unsigned char *at_limit = build(big, over - 1, 0, &len);
  fa_st_file *f = fa_st_parse(at_limit, len, "header at the limit");
  FA_CHECK(f && fa_st_count(f) == 0, "header at the limit: %s", fa_error_message());
  fa_st_close(f);
  free(at_limit);
  free(big);
  expect_bad_n("", 0, 0, "not valid JSON", "empty header");

  /* the same checks through the file system */
  const char *path = tmp_path("short.safetensors");
  FILE *fp = fopen(path, "wb");
  fwrite("\x10\0\0", 1, 3, fp);
  fclose(fp);
  FA_CHECK(fa_st_open(path) == NULL && strstr(fa_error_message(), "too short") && strstr(fa_error_message(), path),
           "short file: %s", fa_error_message());
  FA_CHECK(fa_st_open(tmp_path("missing.safetensors")) == NULL && fa_error_code() == FA_ERR_IO &&
               strstr(fa_error_message(), "cannot open"),
           "missing file: %s", fa_error_message());
  FA_CHECK(fa_st_open(tmpdir) == NULL && strstr(fa_error_message(), "not a regular file"), "directory: %s",
           fa_error_message());
}

static void test_hostile_json(void) {
  expect_bad("{\"a\":", 0, "not valid JSON", "truncated JSON");
  expect_bad("[1, 2]", 0, "not an object", "JSON array");
  expect_bad("\"text\"", 0, "not an object", "JSON string");
  expect_bad("{} x", 0, "not valid JSON", "trailing garbage");
  expect_bad("{}\n{}", 0, "not valid JSON", "two objects");
  expect_bad_n("{\"a\xff\":1}", 8, 0, "not UTF-8", "invalid UTF-8");
  expect_bad_n("{\"\xc0\xaf\":1}", 8, 0, "not UTF-8", "overlong UTF-8");
  expect_bad_n("{}\0   ", 6, 0, "not UTF-8", "NUL byte");
  expect_bad("{" T("a\\u0000b", "F32", "[1]", 0, 4) "}", 4, "\\u0000", "NUL escape");
  /* deep nesting: cJSON stops at its nesting limit (1000) instead of overflowing the stack */
  enum { DEPTH = 100000 };
  char *deep = malloc(2 * DEPTH + 16);
  size_t n = (size_t)sprintf(deep, "{\"a\":");
  memset(deep + n, '[', DEPTH);
  memset(deep + n + DEPTH, ']', DEPTH);
  strcpy(deep + n + 2 * DEPTH, "}");
  expect_bad(deep, 0, "not valid JSON", "deep nesting");
  free(deep);
  expect_bad("{\"a\":3}", 0, "not a JSON object", "entry not an object");
  expect_bad("{\"a\":[]}", 0, "not a JSON object", "entry an array");
}

static void test_hostile_entries(void) {
  expect_bad("{" T("a", "F8", "[1]", 0, 1) "}", 1, "unknown dtype \"F8\"", "unknown dtype");
  expect_bad("{\"a\":{\"dtype\":5,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "dtype is not a string",
             "numeric dtype");
  expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "lacks \"data_offsets\"", "missing offsets");
  expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4, "unknown key",
             "extra key");
  expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
             "key \"shape\" twice", "duplicate key in entry");
  expect_bad("{" T("a", "F32", "7", 0, 4) "}", 4, "shape must be an array", "shape not array");
  expect_bad("{" T("a", "F32", "[1,1,1,1,1,1,1,1,1]", 0, 4) "}", 4, "at most 8", "rank 9");
  expect_bad("{" T("a", "F32", "[-1]", 0, 4) "}", 4, "dimension 0 is not", "negative dimension");
  expect_bad("{" T("a", "F32", "[1.5]", 0, 4) "}", 4, "dimension 0 is not", "fractional dimension");
  expect_bad("{" T("a", "F32", "[\"1\"]", 0, 4) "}", 4, "dimension 0 is not", "string dimension");
  expect_bad("{" T("a", "F32", "[1e300]", 0, 4) "}", 4, "dimension 0 is not", "huge dimension");
  expect_bad("{" T("a", "F64", "[4294967296,4294967296]", 0, 8) "}", 8, "overflows", "byte count overflow");
  expect_bad("{" T("a", "F32", "[2]", 0, 4) "}", 4, "needs 8 bytes but data_offsets span 4", "size mismatch");
  expect_bad("{" T("a", "F32", "[1]", 0.5, 4) "}", 4, "two non-negative integers", "fractional offset");
  expect_bad("{" T("a", "F32", "[1]", -4, 0) "}", 4, "two non-negative integers", "negative offset");
  expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8, "two non-negative",
             "three offsets");
  expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\"0\",\"4\"]}}", 4, "two non-negative",
             "string offsets");
  expect_bad("{" T("a", "F32", "[1]", 1e400, 4) "}", 4, "two non-negative", "infinite offset");
  expect_bad("{" T("a", "F32", "[1]", 4, 0) "}", 4, "not a range", "begin after end");
  expect_bad("{" T("a", "F32", "[1]", 4, 8) "}", 4, "not a range", "end past data");
  expect_bad("{" T("a", "F32", "[1]", 0, 4) "," T("a", "F32", "[1]", 4, 8) "}", 8, "\"a\" appears twice",
             "duplicate names");
  expect_bad("{" T("a", "F32", "[2]", 0, 8) "," T("b", "F32", "[1]", 4, 8) "}", 8, "overlaps", "overlap");
  expect_bad("{" T("a", "F32", "[1]", 0, 4) "," T("b", "F32", "[1]", 8, 12) "}", 12, "bytes 4..8 belong to no",
             "hole");
  expect_bad("{" T("a", "F32", "[1]", 4, 8) "}", 8, "bytes 0..4 belong to no", "leading hole");
  expect_bad("{" T("a", "F32", "[1]", 0, 4) "}", 9, "bytes 4..9 belong to no", "trailing bytes");
}

static void test_hostile_metadata(void) {
  expect_bad("{\"__metadata__\":{\"a\":1}}", 0, "metadata value of \"a\" is not a string", "numeric metadata");
  expect_bad("{\"__metadata__\":{\"a\":null}}", 0, "not a string", "null metadata");
  expect_bad("{\"__metadata__\":[\"a\"]}", 0, "__metadata__ is not a JSON object", "metadata array");
  expect_bad("{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", 0, "key \"a\" appears twice", "duplicate metadata");
  expect_bad("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "__metadata__ appears twice", "two metadata");
}

/* Legal but unusual files. */
static void test_unusual_but_valid(void) {
  fa_st_file *f = parse_ok("  {}     ", 0, "padded empty");
  FA_CHECK(f && fa_st_count(f) == 0, "padded empty header");
  fa_st_close(f);

  /* U8[3] first makes the F32 start at byte 3: the reader realigns */
  f = parse_ok("{" T("b", "U8", "[3]", 0, 3) "," T("w", "F32", "[2]", 3, 11) "," T("z", "F64", "[0,5]", 11, 11)
               "," T("s", "I64", "[]", 11, 19) "}",
               19, "unaligned");
  const fa_st_tensor *w = f ? fa_st_find(f, "w") : NULL, *s = f ? fa_st_find(f, "s") : NULL;
  FA_CHECK(w && (uintptr_t)w->data % 4 == 0 && s && (uintptr_t)s->data % 8 == 0, "realigned data pointers");
  const unsigned char want_w[8] = {3 * 7 + 1, 4 * 7 + 1, 5 * 7 + 1, 6 * 7 + 1, 7 * 7 + 1, 8 * 7 + 1, 9 * 7 + 1,
                                   10 * 7 + 1};
  FA_CHECK(w && memcmp(w->data, want_w, 8) == 0, "realigned values");
  FA_CHECK(s && s->ndim == 0 && s->nbytes == 8, "scalar");
  const fa_st_tensor *z = f ? fa_st_find(f, "z") : NULL;
  FA_CHECK(z && z->nbytes == 0 && z->shape[1] == 5 && z->data != NULL, "empty tensor has a pointer");
  fa_st_close(f);

  /* a zero dimension makes the byte count zero, whatever the other dimensions */
  f = parse_ok("{" T("a", "F32", "[0,9007199254740992,9007199254740992]", 0, 0) "}", 0, "zero dimension");
  fa_st_close(f);
  /* numbers are integers by value (documented leniency of a double-based parser) */
  f = parse_ok("{" T("a", "F32", "[1.0]", 0e0, 4.0) "}", 4, "integral doubles");
  fa_st_close(f);
}

/* ---------- atomic writes ---------- */

static int count_temp_files(void) {
  DIR *d = opendir(tmpdir);
  int n = 0;
  for (struct dirent *e; d && (e = readdir(d));) n += strstr(e->d_name, ".tmp.") != NULL;
  if (d) closedir(d);
  return n;
}

static void test_atomic_write(void) {
  const char *path = tmp_path("ckpt.safetensors");
  float small[4] = {1, 2, 3, 4};
  fa_st_tensor old = {"w", FA_DTYPE_F32, 1, {4}, sizeof small, small};
  const char *k = "epoch", *v = "1";
  FA_CHECK(fa_st_write(path, &old, 1, &k, &v, 1) == FA_OK, "first write: %s", fa_error_message());
  size_t before_len = 0;
  char *before = read_whole(path, &before_len);

  /* a file-size limit below what the new checkpoint needs: write fails with EFBIG */
  enum { BIG = 1 << 20 };
  float *big = calloc(BIG, sizeof *big);
  fa_st_tensor next = {"w", FA_DTYPE_F32, 1, {BIG}, BIG * sizeof *big, big};
  struct rlimit saved;
  getrlimit(RLIMIT_FSIZE, &saved);
  struct rlimit limit = {64 << 10, saved.rlim_max};
  void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
  FA_CHECK(setrlimit(RLIMIT_FSIZE, &limit) == 0, "setrlimit");
  fa_status st = fa_st_write(path, &next, 1, &k, &v, 1);
  setrlimit(RLIMIT_FSIZE, &saved);
  signal(SIGXFSZ, old_handler);
  FA_CHECK(st == FA_ERR_IO && strstr(fa_error_message(), "unchanged"), "write past the size limit: %s",
           fa_error_message());
  size_t after_len = 0;
  char *after = read_whole(path, &after_len);
  FA_CHECK(before && after && before_len == after_len && memcmp(before, after, before_len) == 0,
           "old checkpoint intact after a failed write");
  FA_CHECK(count_temp_files() == 0, "no temporary file left behind");
  free(after);

  /* a read-only directory (only meaningful when not root: root ignores modes) */
  if (geteuid() != 0) {
    FA_CHECK(chmod(tmpdir, 0555) == 0, "chmod");
    st = fa_st_write(path, &next, 1, &k, &v, 1);
    chmod(tmpdir, 0755);
    FA_CHECK(st == FA_ERR_IO && strstr(fa_error_message(), "temporary"), "read-only directory: %s",
             fa_error_message());
    after = read_whole(path, &after_len);
    FA_CHECK(after && after_len == before_len && memcmp(before, after, before_len) == 0, "intact (read-only)");
    free(after);
  }
  /* and with no limit, the new file replaces the old one */
  FA_CHECK(fa_st_write(path, &next, 1, &k, &v, 1) == FA_OK, "%s", fa_error_message());
  fa_st_file *f = fa_st_open(path);
  FA_CHECK(f && fa_st_find(f, "w") && fa_st_find(f, "w")->shape[0] == BIG, "replaced: %s", fa_error_message());
  fa_st_close(f);
  FA_CHECK(count_temp_files() == 0, "no temporary file after success");
  free(before);
  free(big);
}

int main(void) {
  tmpdir = fa_test_tmpdir("test_safetensors");
  test_python_fixture();
  test_write_reference();
  test_round_trip_all_dtypes();
  test_write_rejects_bad_arguments();
  test_hostile_sizes();
  test_hostile_json();
  test_hostile_entries();
  test_hostile_metadata();
  test_unusual_but_valid();
  test_atomic_write();
  return fa_test_exit();
}
