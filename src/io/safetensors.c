/* Safetensors reader and writer: see safetensors.h for the rules enforced. */
#include "io/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data are little-endian; this reader maps them directly"
#endif

#define ST_ALIGN 64
#define ST_MAX_INT ((uint64_t)1 << 53) /* largest integer a JSON double holds exactly */
#define ST_NAME_SHOWN "%.80s"          /* names in messages are cut to 80 bytes */

static const struct {
  const char *name;
  size_t size;
} st_dtypes[FA_DTYPE_COUNT] = {
    [FA_DTYPE_F64] = {"F64", 8}, [FA_DTYPE_F32] = {"F32", 4},  [FA_DTYPE_F16] = {"F16", 2},
    [FA_DTYPE_BF16] = {"BF16", 2}, [FA_DTYPE_I64] = {"I64", 8}, [FA_DTYPE_I32] = {"I32", 4},
    [FA_DTYPE_I16] = {"I16", 2}, [FA_DTYPE_I8] = {"I8", 1},     [FA_DTYPE_U64] = {"U64", 8},
    [FA_DTYPE_U32] = {"U32", 4}, [FA_DTYPE_U16] = {"U16", 2},   [FA_DTYPE_U8] = {"U8", 1},
    [FA_DTYPE_BOOL] = {"BOOL", 1},
};

const char *fa_st_dtype_name(fa_st_dtype dtype) {
  return (unsigned)dtype < FA_DTYPE_COUNT ? st_dtypes[dtype].name : "?";
}

size_t fa_st_dtype_size(fa_st_dtype dtype) {
  return (unsigned)dtype < FA_DTYPE_COUNT ? st_dtypes[dtype].size : 0;
}

struct fa_st_file {
  char *what;   /* the path or the caller's label, for messages */
  cJSON *json;  /* the parsed header: owns names and metadata strings */
  void *data;   /* ST_ALIGN-aligned tensor bytes */
  int count;
  fa_st_tensor *tensors; /* header order */
  int *by_name;          /* indices sorted by name, for fa_st_find */
  int n_meta;
  const char **meta_keys, **meta_values;
};

/* ---------- checks shared by the reader and the writer ---------- */

/* Well-formed UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF) with no NUL byte. */
static bool st_utf8_ok(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    size_t len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c == 0) return false;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (n - i < len) return false;
    if (s[i + 1] < lo || s[i + 1] > hi) return false;
    for (size_t k = 2; k < len; k++)
      if (s[i + k] < 0x80 || s[i + k] > 0xBF) return false;
    i += len;
  }
  return true;
}

/* Bytes of a tensor of this shape, or false on a negative dimension or
 * overflow. A zero dimension makes it empty, whatever the others are. */
static bool st_nbytes(fa_st_dtype dtype, int ndim, const int64_t *shape, size_t *out) {
  size_t n = fa_st_dtype_size(dtype);
  bool empty = false;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] < 0) return false;
    empty |= shape[d] == 0;
  }
  for (int d = 0; d < ndim && !empty; d++)
    if (__builtin_mul_overflow(n, (uint64_t)shape[d], &n)) return false;
  *out = empty ? 0 : n;
  return true;
}

static void st_shape_str(char *buf, size_t size, int ndim, const int64_t *shape) {
  size_t at = (size_t)snprintf(buf, size, "[");
  for (int d = 0; d < ndim && at < size; d++)
    at += (size_t)snprintf(buf + at, size - at, d ? ", %lld" : "%lld", (long long)shape[d]);
  if (at < size) snprintf(buf + at, size - at, "]");
}

static int st_cmp_names(const void *a, const void *b, void *names) {
  const char *const *s = names;
  return strcmp(s[*(const int *)a], s[*(const int *)b]);
}

/* Sorts idx[0..n) by names[idx[i]]; returns the index of a name that occurs
 * twice, or -1. */
static int st_sort_by_name(const char *const *names, int *idx, int n) {
  qsort_r(idx, (size_t)n, sizeof *idx, st_cmp_names, (void *)names);
  for (int i = 1; i < n; i++)
    if (strcmp(names[idx[i - 1]], names[idx[i]]) == 0) return idx[i];
  return -1;
}

/* ---------- reader ---------- */

/* Header JSON escapes "\u0000" would cut a name short silently in cJSON's
 * C strings: refuse them. Escapes are two characters, so stepping over
 * each backslash pair finds them exactly. */
static bool st_has_nul_escape(const char *s, size_t n) {
  for (size_t i = 0; i + 1 < n; i++) {
    if (s[i] != '\\') continue;
    if (s[i + 1] == 'u' && n - i >= 6 && memcmp(s + i + 2, "0000", 4) == 0) return true;
    i++;
  }
  return false;
}

/* A non-negative integral JSON number no larger than `max`. */
static bool st_uint(const cJSON *item, uint64_t max, uint64_t *out) {
  if (!cJSON_IsNumber(item)) return false;
  double d = item->valuedouble;
  if (!(d >= 0 && d <= (double)max) || d != (double)(uint64_t)d) return false;
  *out = (uint64_t)d;
  return true;
}

static fa_st_file *st_fail(fa_st_file *f) {
  fa_st_close(f);
  return NULL;
}

typedef struct {
  uint64_t begin, end;
} st_range;

/* One entry {"dtype", "shape", "data_offsets"} into t and its byte range. */
static fa_status st_parse_entry(const char *what, const cJSON *e, uint64_t dlen, fa_st_tensor *t,
                                st_range *r) {
  const char *name = e->string;
  if (!cJSON_IsObject(e))
    return fa_error_set(FA_ERR_FORMAT, "%s: entry \"" ST_NAME_SHOWN "\" is not a JSON object", what,
                        name);
  const cJSON *dtype = NULL, *shape = NULL, *offsets = NULL, *k;
  cJSON_ArrayForEach(k, e) {
    const cJSON **slot = strcmp(k->string, "dtype") == 0          ? &dtype
                         : strcmp(k->string, "shape") == 0        ? &shape
                         : strcmp(k->string, "data_offsets") == 0 ? &offsets
                                                                  : NULL;
    if (!slot)
      return fa_error_set(FA_ERR_FORMAT, "%s: tensor \"" ST_NAME_SHOWN "\" has an unknown key \"%.40s\"",
                          what, name, k->string);
    if (*slot)
      return fa_error_set(FA_ERR_FORMAT, "%s: tensor \"" ST_NAME_SHOWN "\" has key \"%s\" twice", what,
                          name, k->string);
    *slot = k;
  }
  if (!dtype || !shape || !offsets)
    return fa_error_set(FA_ERR_FORMAT, "%s: tensor \"" ST_NAME_SHOWN "\" lacks \"%s\"", what, name,
                        !dtype ? "dtype" : !shape ? "shape" : "data_offsets");

  t->name = name;
  if (!cJSON_IsString(dtype))
    return fa_error_set(FA_ERR_FORMAT, "%s: tensor \"" ST_NAME_SHOWN "\": dtype is not a string", what,
                        name);
  t->dtype = FA_DTYPE_COUNT;
  for (int d = 0; d < FA_DTYPE_COUNT; d++)
    if (strcmp(dtype->valuestring, st_dtypes[d].name) == 0) t->dtype = (fa_st_dtype)d;
  if (t->dtype == FA_DTYPE_COUNT)
    return fa_error_set(FA_ERR_FORMAT, "%s: tensor \"" ST_NAME_SHOWN "\" has the unknown dtype \"%.20s\" "
                        "(known: F64 F32 F16 BF16 I64 I32 I16 I8 U64 U32 U16 U8 BOOL)", what, name,
                        dtype->valuestring);

  int ndim = cJSON_IsArray(shape) ? cJSON_GetArraySize(shape) : -1;
  if (ndim < 0 || ndim > FA_ST_MAX_DIMS)
    return fa_error_set(FA_ERR_FORMAT, "%s: tensor \"" ST_NAME_SHOWN "\": shape must be an array of at most %d "
                        "dimensions", what, name, FA_ST_MAX_DIMS);
  t->ndim = ndim;
  int d = 0;
  cJSON_ArrayForEach(k, shape) {
    uint64_t v;
    if (!st_uint(k, ST_MAX_INT, &v))
      return fa_error_set(FA_ERR_FORMAT, "%s: tensor \"" ST_NAME_SHOWN "\": dimension %d is not a "
                          "non-negative integer", what, name, d);
    t->shape[d++] = (int64_t)v;
  }
  if (!st_nbytes(t->dtype, ndim, t->shape, &t->nbytes))
    return fa_error_set(FA_ERR_FORMAT, "%s: tensor \"" ST_NAME_SHOWN "\": the byte count of its shape "
                        "overflows", what, name);

  if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2 ||
      !st_uint(offsets->child, ST_MAX_INT, &r->begin) ||
      !st_uint(offsets->child->next, ST_MAX_INT, &r->end))
    return fa_error_set(FA_ERR_FORMAT, "%s: tensor \"" ST_NAME_SHOWN "\": data_offsets must be two "
                        "non-negative integers [begin, end]", what, name);
  if (r->begin > r->end || r->end > dlen)
    return fa_error_set(FA_ERR_FORMAT, "%s: tensor \"" ST_NAME_SHOWN "\": data_offsets [%llu, %llu] are "
                        "not a range within the %llu data bytes (file truncated?)", what, name,
                        (unsigned long long)r->begin, (unsigned long long)r->end,
                        (unsigned long long)dlen);
  if (r->end - r->begin != t->nbytes) {
    char s[256];
    st_shape_str(s, sizeof s, ndim, t->shape);
    return fa_error_set(FA_ERR_FORMAT, "%s: tensor \"" ST_NAME_SHOWN "\": %s %s needs %zu bytes but "
                        "data_offsets span %llu", what, name, fa_st_dtype_name(t->dtype), s, t->nbytes,
                        (unsigned long long)(r->end - r->begin));
  }
  return FA_OK;
}

static fa_status st_parse_meta(fa_st_file *f, const cJSON *m) {
  if (!cJSON_IsObject(m))
    return fa_error_set(FA_ERR_FORMAT, "%s: __metadata__ is not a JSON object", f->what);
  int n = cJSON_GetArraySize(m);
  f->meta_keys = malloc((size_t)n * sizeof *f->meta_keys + 1);
  f->meta_values = malloc((size_t)n * sizeof *f->meta_values + 1);
  int *idx = malloc((size_t)n * sizeof *idx + 1);
  if (!f->meta_keys || !f->meta_values || !idx) {
    free(idx);
    return fa_error_set(FA_ERR_NOMEM, "%s: out of memory for %d metadata entries", f->what, n);
  }
  const cJSON *k;
  cJSON_ArrayForEach(k, m) {
    if (!cJSON_IsString(k)) {
      free(idx);
      return fa_error_set(FA_ERR_FORMAT, "%s: metadata value of \"" ST_NAME_SHOWN "\" is not a string",
                          f->what, k->string);
    }
    f->meta_keys[f->n_meta] = k->string;
    f->meta_values[f->n_meta] = k->valuestring;
    idx[f->n_meta] = f->n_meta;
    f->n_meta++;
  }
  int dup = st_sort_by_name(f->meta_keys, idx, n);
  free(idx);
  if (dup >= 0)
    return fa_error_set(FA_ERR_FORMAT, "%s: metadata key \"" ST_NAME_SHOWN "\" appears twice", f->what,
                        f->meta_keys[dup]);
  return FA_OK;
}

static int st_cmp_ranges(const void *a, const void *b, void *ranges) {
  const st_range *r = ranges, *x = &r[*(const int *)a], *y = &r[*(const int *)b];
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end) return x->end < y->end ? -1 : 1;
  return 0;
}

/* The ranges must tile [0, dlen) exactly: no overlap, no hole. */
static fa_status st_check_tiling(fa_st_file *f, const st_range *r, uint64_t dlen) {
  int *idx = malloc((size_t)f->count * sizeof *idx + 1);
  if (!idx) return fa_error_set(FA_ERR_NOMEM, "%s: out of memory", f->what);
  for (int i = 0; i < f->count; i++) idx[i] = i;
  qsort_r(idx, (size_t)f->count, sizeof *idx, st_cmp_ranges, (void *)r);
  uint64_t at = 0;
  fa_status st = FA_OK;
  for (int i = 0; i < f->count && st == FA_OK; i++) {
    const st_range *x = &r[idx[i]];
    if (x->begin < at)
      st = fa_error_set(FA_ERR_FORMAT, "%s: tensor \"" ST_NAME_SHOWN "\" (bytes %llu..%llu) overlaps "
                        "the previous tensor, which ends at %llu", f->what, f->tensors[idx[i]].name,
                        (unsigned long long)x->begin, (unsigned long long)x->end, (unsigned long long)at);
    else if (x->begin > at)
      st = fa_error_set(FA_ERR_FORMAT, "%s: data bytes %llu..%llu belong to no tensor (the data "
                        "buffer must be fully indexed)", f->what, (unsigned long long)at,
                        (unsigned long long)x->begin);
    at = x->end;
  }
  free(idx);
  if (st == FA_OK && at != dlen)
    st = fa_error_set(FA_ERR_FORMAT, "%s: data bytes %llu..%llu belong to no tensor (the data buffer "
                      "must be fully indexed)", f->what, (unsigned long long)at, (unsigned long long)dlen);
  return st;
}

static void *st_aligned_alloc(size_t n) {
  size_t size = (n + ST_ALIGN - 1) / ST_ALIGN * ST_ALIGN;
  return aligned_alloc(ST_ALIGN, size ? size : ST_ALIGN);
}

/* Points each tensor into the data; if some offset is not a multiple of the
 * element size, first copies every tensor to a 64-byte boundary of a new
 * buffer. */
static fa_status st_place(fa_st_file *f, const st_range *r) {
  bool aligned = true;
  size_t total = 0;
  for (int i = 0; i < f->count; i++) {
    aligned &= r[i].begin % fa_st_dtype_size(f->tensors[i].dtype) == 0;
    total += (f->tensors[i].nbytes + ST_ALIGN - 1) / ST_ALIGN * ST_ALIGN; /* <= data + 64 * count */
  }
  unsigned char *src = f->data;
  if (aligned) {
    for (int i = 0; i < f->count; i++) f->tensors[i].data = src + r[i].begin;
    return FA_OK;
  }
  unsigned char *dst = st_aligned_alloc(total);
  if (!dst) return fa_error_set(FA_ERR_NOMEM, "%s: out of memory realigning %zu bytes", f->what, total);
  size_t at = 0;
  for (int i = 0; i < f->count; i++) {
    memcpy(dst + at, src + r[i].begin, f->tensors[i].nbytes);
    f->tensors[i].data = dst + at;
    at += (f->tensors[i].nbytes + ST_ALIGN - 1) / ST_ALIGN * ST_ALIGN;
  }
  free(src);
  f->data = dst;
  return FA_OK;
}

/* Builds a file from its header (NUL-terminated copy, hlen bytes) and its
 * data (ST_ALIGN-aligned, dlen bytes), both already read; takes the data. */
static fa_st_file *st_build(const char *what, const char *header, size_t hlen, void *data,
                            uint64_t dlen) {
  fa_st_file *f = calloc(1, sizeof *f);
  if (!f || !(f->what = strdup(what))) {
    free(f);
    free(data);
    fa_error_set(FA_ERR_NOMEM, "%s: out of memory", what);
    return NULL;
  }
  f->data = data;
  if (!st_utf8_ok((const unsigned char *)header, hlen)) {
    fa_error_set(FA_ERR_FORMAT, "%s: the header is not UTF-8 text (a NUL byte or an invalid "
                 "sequence): not a safetensors file, or a corrupt one", what);
    return st_fail(f);
  }
  if (st_has_nul_escape(header, hlen)) {
    fa_error_set(FA_ERR_FORMAT, "%s: the header holds a \\u0000 escape, which no name or metadata may "
                 "contain", what);
    return st_fail(f);
  }
  const char *end = NULL;
  f->json = cJSON_ParseWithOpts(header, &end, 1);
  if (!f->json) {
    fa_error_set(FA_ERR_FORMAT, "%s: the header is not valid JSON (error near byte %zu of %zu)", what,
                 end ? (size_t)(end - header) : (size_t)0, hlen);
    return st_fail(f);
  }
  if (!cJSON_IsObject(f->json)) {
    fa_error_set(FA_ERR_FORMAT, "%s: the header is JSON but not an object", what);
    return st_fail(f);
  }

  int n = cJSON_GetArraySize(f->json);
  f->tensors = calloc((size_t)n + 1, sizeof *f->tensors);
  f->by_name = malloc(((size_t)n + 1) * sizeof *f->by_name);
  st_range *r = malloc(((size_t)n + 1) * sizeof *r);
  const char **names = malloc(((size_t)n + 1) * sizeof *names);
  if (!f->tensors || !f->by_name || !r || !names) {
    fa_error_set(FA_ERR_NOMEM, "%s: out of memory for %d header entries", what, n);
    goto fail;
  }
  const cJSON *e, *meta = NULL;
  cJSON_ArrayForEach(e, f->json) {
    if (strcmp(e->string, "__metadata__") == 0) {
      if (meta) {
        fa_error_set(FA_ERR_FORMAT, "%s: __metadata__ appears twice", what);
        goto fail;
      }
      meta = e;
      if (st_parse_meta(f, meta) != FA_OK) goto fail;
      continue;
    }
    if (st_parse_entry(what, e, dlen, &f->tensors[f->count], &r[f->count]) != FA_OK) goto fail;
    names[f->count] = f->tensors[f->count].name;
    f->by_name[f->count] = f->count;
    f->count++;
  }
  int dup = st_sort_by_name(names, f->by_name, f->count);
  if (dup >= 0) {
    fa_error_set(FA_ERR_FORMAT, "%s: tensor name \"" ST_NAME_SHOWN "\" appears twice", what, names[dup]);
    goto fail;
  }
  if (st_check_tiling(f, r, dlen) != FA_OK || st_place(f, r) != FA_OK) goto fail;
  free(r);
  free(names);
  return f;
fail:
  free(r);
  free(names);
  return st_fail(f);
}

/* The header length read from the first 8 bytes, checked against the total
 * size; the data size is what follows the header. */
static fa_status st_check_sizes(const char *what, uint64_t total, const unsigned char *prefix,
                                uint64_t *hlen) {
  if (total < 8)
    return fa_error_set(FA_ERR_FORMAT, "%s: %llu bytes, too short for a safetensors file (8-byte "
                        "header length missing)", what, (unsigned long long)total);
  uint64_t n = 0;
  for (int i = 7; i >= 0; i--) n = n << 8 | prefix[i];
  if (n > FA_ST_MAX_HEADER)
    return fa_error_set(FA_ERR_FORMAT, "%s: header length %llu is absurd (limit %llu): not a "
                        "safetensors file, or a corrupt one", what, (unsigned long long)n,
                        (unsigned long long)FA_ST_MAX_HEADER);
  if (n > total - 8)
    return fa_error_set(FA_ERR_FORMAT, "%s: header length %llu runs past the end of the %llu-byte "
                        "file (truncated?)", what, (unsigned long long)n, (unsigned long long)total);
  *hlen = n;
  return FA_OK;
}

fa_st_file *fa_st_parse(const void *bytes, size_t len, const char *what) {
  const unsigned char *b = bytes;
  uint64_t hlen = 0;
  if (st_check_sizes(what, len, b, &hlen) != FA_OK) return NULL;
  size_t dlen = len - 8 - (size_t)hlen;
  char *header = malloc((size_t)hlen + 1);
  void *data = st_aligned_alloc(dlen);
  if (!header || !data) {
    free(header);
    free(data);
    fa_error_set(FA_ERR_NOMEM, "%s: out of memory for %zu bytes", what, len);
    return NULL;
  }
  memcpy(header, b + 8, (size_t)hlen);
  header[hlen] = '\0';
  if (dlen) memcpy(data, b + 8 + hlen, dlen);
  fa_st_file *f = st_build(what, header, (size_t)hlen, data, dlen);
  free(header);
  return f;
}

/* Reads exactly n bytes; false on error or early end of file. */
static bool st_read_all(int fd, void *buf, size_t n) {
  unsigned char *p = buf;
  while (n) {
    ssize_t k = read(fd, p, n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    p += k;
    n -= (size_t)k;
  }
  return true;
}

fa_st_file *fa_st_open(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    fa_error_set(FA_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    return NULL;
  }
  struct stat sb;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    fa_error_set(FA_ERR_IO, "%s is not a regular file", path);
    close(fd);
    return NULL;
  }
  uint64_t total = (uint64_t)sb.st_size, hlen = 0;
  unsigned char prefix[8] = {0};
  if (total >= 8 && !st_read_all(fd, prefix, 8)) {
    fa_error_set(FA_ERR_IO, "cannot read %s: %s", path, errno ? strerror(errno) : "early end of file");
    close(fd);
    return NULL;
  }
  if (st_check_sizes(path, total, prefix, &hlen) != FA_OK) {
    close(fd);
    return NULL;
  }
  size_t dlen = (size_t)(total - 8 - hlen);
  char *header = malloc((size_t)hlen + 1);
  void *data = st_aligned_alloc(dlen);
  fa_st_file *f = NULL;
  if (!header || !data) {
    fa_error_set(FA_ERR_NOMEM, "%s: out of memory for %llu bytes", path, (unsigned long long)total);
    free(data);
  } else if (!st_read_all(fd, header, (size_t)hlen) || !st_read_all(fd, data, dlen)) {
    fa_error_set(FA_ERR_IO, "cannot read %s (%s): was it changed while being read?", path,
                 errno ? strerror(errno) : "early end of file");
    free(data);
  } else {
    header[hlen] = '\0';
    f = st_build(path, header, (size_t)hlen, data, dlen);
  }
  free(header);
  close(fd);
  return f;
}

void fa_st_close(fa_st_file *f) {
  if (!f) return;
  cJSON_Delete(f->json);
  free(f->data);
  free(f->tensors);
  free(f->by_name);
  free(f->meta_keys);
  free(f->meta_values);
  free(f->what);
  free(f);
}

int fa_st_count(const fa_st_file *f) { return f->count; }

const fa_st_tensor *fa_st_get(const fa_st_file *f, int i) {
  return i >= 0 && i < f->count ? &f->tensors[i] : NULL;
}

const fa_st_tensor *fa_st_find(const fa_st_file *f, const char *name) {
  int lo = 0, hi = f->count;
  while (lo < hi) {
    int mid = lo + (hi - lo) / 2;
    int c = strcmp(f->tensors[f->by_name[mid]].name, name);
    if (c == 0) return &f->tensors[f->by_name[mid]];
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

int fa_st_meta_count(const fa_st_file *f) { return f->n_meta; }

const char *fa_st_meta_key(const fa_st_file *f, int i) {
  return i >= 0 && i < f->n_meta ? f->meta_keys[i] : NULL;
}

const char *fa_st_meta(const fa_st_file *f, const char *key) {
  for (int i = 0; i < f->n_meta; i++)
    if (strcmp(f->meta_keys[i], key) == 0) return f->meta_values[i];
  return NULL;
}

static double st_load_as_double(const fa_st_tensor *t, size_t i) {
  switch (t->dtype) {
    case FA_DTYPE_F64: return ((const double *)t->data)[i];
    case FA_DTYPE_F32: return ((const float *)t->data)[i];
    case FA_DTYPE_I64: return (double)((const int64_t *)t->data)[i];
    case FA_DTYPE_I32: return ((const int32_t *)t->data)[i];
    default: return ((const uint8_t *)t->data)[i];
  }
}

fa_status fa_st_copy(const fa_st_file *f, const char *name, fa_st_dtype to, int ndim,
                     const int64_t *shape, void *out) {
  const fa_st_tensor *t = fa_st_find(f, name);
  if (!t) return fa_error_set(FA_ERR_FORMAT, "%s has no tensor \"" ST_NAME_SHOWN "\"", f->what, name);
  bool same = ndim == t->ndim;
  for (int d = 0; same && d < ndim; d++) same = shape[d] == t->shape[d];
  if (!same) {
    char want[256], have[256];
    st_shape_str(want, sizeof want, ndim, shape);
    st_shape_str(have, sizeof have, t->ndim, t->shape);
    return fa_error_set(FA_ERR_FORMAT, "%s: tensor \"" ST_NAME_SHOWN "\" has shape %s, expected %s",
                        f->what, name, have, want);
  }
  if (t->dtype == to) {
    memcpy(out, t->data, t->nbytes);
    return FA_OK;
  }
  bool from_ok = t->dtype == FA_DTYPE_F64 || t->dtype == FA_DTYPE_F32 || t->dtype == FA_DTYPE_I64 ||
                 t->dtype == FA_DTYPE_I32 || t->dtype == FA_DTYPE_U8;
  if (!from_ok || (to != FA_DTYPE_F32 && to != FA_DTYPE_F64))
    return fa_error_set(FA_ERR_FORMAT, "%s: tensor \"" ST_NAME_SHOWN "\" is %s; cannot convert it to %s",
                        f->what, name, fa_st_dtype_name(t->dtype), fa_st_dtype_name(to));
  size_t n = t->nbytes / fa_st_dtype_size(t->dtype);
  for (size_t i = 0; i < n; i++) {
    double v = st_load_as_double(t, i);
    if (to == FA_DTYPE_F64)
      ((double *)out)[i] = v;
    else
      ((float *)out)[i] = (float)v;
  }
  return FA_OK;
}

/* ---------- writer ---------- */

static fa_status st_check_write_args(const fa_st_tensor *t, int n, const char *const *keys,
                                     const char *const *values, int n_meta) {
  if (n < 0 || n_meta < 0 || (n > 0 && !t) || (n_meta > 0 && (!keys || !values)))
    return fa_error_set(FA_ERR_INVALID, "fa_st_write: bad tensor or metadata arrays");
  for (int i = 0; i < n; i++) {
    size_t nbytes;
    if (!t[i].name || !st_utf8_ok((const unsigned char *)t[i].name, strlen(t[i].name)) ||
        strcmp(t[i].name, "__metadata__") == 0)
      return fa_error_set(FA_ERR_INVALID, "fa_st_write: tensor %d has no name, a name that is not "
                          "UTF-8, or the reserved name __metadata__", i);
    if ((unsigned)t[i].dtype >= FA_DTYPE_COUNT || t[i].ndim < 0 || t[i].ndim > FA_ST_MAX_DIMS ||
        !st_nbytes(t[i].dtype, t[i].ndim, t[i].shape, &nbytes) || nbytes != t[i].nbytes ||
        (nbytes > 0 && !t[i].data))
      return fa_error_set(FA_ERR_INVALID, "fa_st_write: tensor \"" ST_NAME_SHOWN "\": bad dtype, shape "
                          "or data, or nbytes that does not match its shape", t[i].name);
  }
  for (int i = 0; i < n_meta; i++)
    if (!keys[i] || !values[i] || !st_utf8_ok((const unsigned char *)keys[i], strlen(keys[i])) ||
        !st_utf8_ok((const unsigned char *)values[i], strlen(values[i])))
      return fa_error_set(FA_ERR_INVALID, "fa_st_write: metadata entry %d is missing or not UTF-8", i);

  int m = n > n_meta ? n : n_meta;
  int *idx = malloc((size_t)m * sizeof *idx + 1);
  const char **names = malloc((size_t)m * sizeof *names + 1);
  fa_status st = FA_OK;
  if (!idx || !names) {
    st = fa_error_set(FA_ERR_NOMEM, "fa_st_write: out of memory");
  } else {
    for (int i = 0; i < n; i++) names[i] = t[i].name, idx[i] = i;
    int dup = st_sort_by_name(names, idx, n);
    if (dup >= 0) st = fa_error_set(FA_ERR_INVALID, "fa_st_write: tensor name \"" ST_NAME_SHOWN "\" "
                                    "appears twice", names[dup]);
    for (int i = 0; i < n_meta; i++) idx[i] = i;
    dup = st == FA_OK ? st_sort_by_name(keys, idx, n_meta) : -1;
    if (dup >= 0) st = fa_error_set(FA_ERR_INVALID, "fa_st_write: metadata key \"" ST_NAME_SHOWN "\" "
                                    "appears twice", keys[dup]);
  }
  free(idx);
  free(names);
  return st;
}

/* Data order: larger elements first (stable), so that every offset is a
 * multiple of its element size without padding. */
static int st_cmp_layout(const void *a, const void *b, void *tensors) {
  const fa_st_tensor *t = tensors;
  int i = *(const int *)a, j = *(const int *)b;
  size_t si = fa_st_dtype_size(t[i].dtype), sj = fa_st_dtype_size(t[j].dtype);
  if (si != sj) return si > sj ? -1 : 1;
  return (i > j) - (i < j);
}

static cJSON *st_raw_uint(uint64_t v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
  return cJSON_CreateRaw(buf);
}

/* The header JSON, padded with spaces so that 8 + its length is a multiple
 * of 8; offsets come from `order`. NULL when out of memory. */
static char *st_header(const fa_st_tensor *t, int n, const int *order, const char *const *keys,
                       const char *const *values, int n_meta, size_t *len) {
  uint64_t *begin = malloc((size_t)n * sizeof *begin + 1);
  cJSON *root = cJSON_CreateObject();
  bool ok = begin && root;
  uint64_t at = 0;
  for (int k = 0; ok && k < n; k++) {
    begin[order[k]] = at;
    at += t[order[k]].nbytes;
  }
  if (ok && n_meta > 0) {
    cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
    for (int i = 0; ok && i < n_meta; i++) ok = meta && cJSON_AddStringToObject(meta, keys[i], values[i]);
  }
  for (int i = 0; ok && i < n; i++) {
    cJSON *e = cJSON_AddObjectToObject(root, t[i].name);
    ok = e && cJSON_AddStringToObject(e, "dtype", fa_st_dtype_name(t[i].dtype));
    cJSON *shape = ok ? cJSON_AddArrayToObject(e, "shape") : NULL;
    cJSON *offsets = shape ? cJSON_AddArrayToObject(e, "data_offsets") : NULL;
    ok = offsets != NULL;
    for (int d = 0; ok && d < t[i].ndim; d++) ok = cJSON_AddItemToArray(shape, st_raw_uint((uint64_t)t[i].shape[d]));
    ok = ok && cJSON_AddItemToArray(offsets, st_raw_uint(begin[i])) &&
         cJSON_AddItemToArray(offsets, st_raw_uint(begin[i] + t[i].nbytes));
  }
  char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
  char *padded = NULL;
  if (text) {
    size_t raw = strlen(text), full = (raw + 8 + 7) / 8 * 8 - 8;
    padded = malloc(full + 1);
    if (padded) {
      memcpy(padded, text, raw);
      memset(padded + raw, ' ', full - raw);
      padded[full] = '\0';
      *len = full;
    }
  }
  cJSON_free(text);
  cJSON_Delete(root);
  free(begin);
  return padded;
}

static bool st_write_all(int fd, const void *buf, size_t n) {
  const unsigned char *p = buf;
  while (n) {
    ssize_t k = write(fd, p, n);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return false;
    p += k;
    n -= (size_t)k;
  }
  return true;
}

/* Creates `<path>.tmp.<pid>.<n>` exclusively, honouring the umask. */
static int st_create_temp(const char *path, char **tmp) {
  static _Atomic unsigned serial = 0;
  size_t size = strlen(path) + 48;
  *tmp = malloc(size);
  if (!*tmp) return -1;
  for (int tries = 0; tries < 100; tries++) {
    snprintf(*tmp, size, "%s.tmp.%ld.%u", path, (long)getpid(), atomic_fetch_add(&serial, 1));
    int fd = open(*tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  return -1;
}

/* fsync of the directory holding `path`, so that the rename is durable. */
static bool st_sync_dir(const char *path) {
  const char *slash = strrchr(path, '/');
  char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
  int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
  free(dir);
  if (fd < 0) return false;
  bool ok = fsync(fd) == 0 || errno == EINVAL; /* some file systems cannot sync a directory */
  close(fd);
  return ok;
}

fa_status fa_st_write(const char *path, const fa_st_tensor *tensors, int n,
                      const char *const *meta_keys, const char *const *meta_values, int n_meta) {
  fa_status st = st_check_write_args(tensors, n, meta_keys, meta_values, n_meta);
  if (st != FA_OK) return st;
  int *order = malloc((size_t)n * sizeof *order + 1);
  if (!order) return fa_error_set(FA_ERR_NOMEM, "writing %s: out of memory", path);
  for (int i = 0; i < n; i++) order[i] = i;
  qsort_r(order, (size_t)n, sizeof *order, st_cmp_layout, (void *)tensors);

  size_t hlen = 0;
  char *header = st_header(tensors, n, order, meta_keys, meta_values, n_meta, &hlen);
  char *tmp = NULL;
  int fd = header ? st_create_temp(path, &tmp) : -1;
  if (!header || !tmp) {
    st = fa_error_set(FA_ERR_NOMEM, "writing %s: out of memory", path);
  } else if (fd < 0) {
    st = fa_error_set(FA_ERR_IO, "cannot create a temporary file next to %s: %s", path, strerror(errno));
  } else {
    unsigned char prefix[8];
    for (int i = 0; i < 8; i++) prefix[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    bool ok = st_write_all(fd, prefix, 8) && st_write_all(fd, header, hlen);
    for (int k = 0; ok && k < n; k++) ok = st_write_all(fd, tensors[order[k]].data, tensors[order[k]].nbytes);
    ok = ok && fsync(fd) == 0;
    int err = ok ? 0 : errno;
    if (close(fd) != 0 && ok) ok = false, err = errno;
    if (ok && rename(tmp, path) != 0) ok = false, err = errno;
    if (!ok) {
      st = fa_error_set(FA_ERR_IO, "cannot write %s: %s (the previous file, if any, is unchanged)", path,
                        strerror(err));
      unlink(tmp);
    } else if (!st_sync_dir(path)) {
      st = fa_error_set(FA_ERR_IO, "wrote %s but could not sync its directory: %s (the new file may not "
                        "survive a crash)", path, strerror(errno));
    }
  }
  free(tmp);
  free(header);
  free(order);
  return st;
}
