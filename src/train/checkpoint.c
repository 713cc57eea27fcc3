#include "train/checkpoint.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/finite.h"
#include "io/safetensors.h"

#define NBT_SUFFIX ".num_batches_tracked"
#define BN_MARK ".running_mean"
#define MAX_LISTED 4 /* problems named in a load error; the rest are counted */
#define CRC_KEY "crc32:"  /* metadata "crc32:<tensor>" = the CRC-32 of its data, 8 hex digits */

static const char *const config_keys[] = {"checkpoint_version", "arch",    "in_channels",  "height",
                                          "width",              "n_classes", "n_layers",   "n_filters",
                                          "resnet_width",       "extra_prefixes"};
enum { N_CONFIG_KEYS = sizeof config_keys / sizeof config_keys[0] };

struct fa_checkpoint {
  char *path;
  fa_st_file *file;
};

/* ---------------------------------------------------------------- helpers */

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool starts_with(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

/* "<a><b>" in fresh memory, NULL when out of memory. */
static char *concat(const char *a, const char *b) {
  size_t na = strlen(a), nb = strlen(b);
  char *s = malloc(na + nb + 1);
  if (s) {
    memcpy(s, a, na);
    memcpy(s + na, b, nb + 1);
  }
  return s;
}

/* The batch norm named by "<bn>.running_mean" -> "<bn>.num_batches_tracked". */
static char *nbt_name(const char *running_mean) {
  size_t n = strlen(running_mean) - strlen(BN_MARK);
  char *s = malloc(n + sizeof NBT_SUFFIX);
  if (s) {
    memcpy(s, running_mean, n);
    memcpy(s + n, NBT_SUFFIX, sizeof NBT_SUFFIX);
  }
  return s;
}

static const char *describe_config(const fa_model_config *c, char *buf, size_t len) {
  char detail[64] = "";
  if (c->arch == FA_ARCH_CNN)
    snprintf(detail, sizeof detail, " (n_layers %d, n_filters %d)", c->n_layers, c->n_filters);
  else if (c->arch == FA_ARCH_RESNET18)
    snprintf(detail, sizeof detail, " (width %d)", c->resnet_width > 0 ? c->resnet_width : 64);
  snprintf(buf, len, "%s%s on %dx%dx%d, %d classes", fa_arch_name(c->arch), detail, c->in_channels, c->height,
           c->width, c->n_classes);
  return buf;
}

static void shape_str(int ndim, const int64_t *shape, char *buf, size_t len) {
  size_t at = (size_t)snprintf(buf, len, "(");
  for (int i = 0; i < ndim && at < len; i++)
    at += (size_t)snprintf(buf + at, len - at, "%s%lld", i ? ", " : "", (long long)shape[i]);
  if (at < len) snprintf(buf + at, len - at, ")");
}

static void tensor_shape64(const fa_tensor *t, int64_t *shape) {
  for (int i = 0; i < fa_tensor_ndim(t); i++) shape[i] = fa_tensor_dim(t, i);
}

/* ------------------------------------------------------------------- save */

/* What is made for the file (prefixed and num_batches_tracked names, the
 * tensors' values copied to the host); freed together. */
typedef struct {
  void **names;
  int n;
} name_pool;

static const char *pool_add(name_pool *p, char *name) {
  if (name) p->names[p->n++] = name;
  return name;
}

static const float *pool_add_values(name_pool *p, float *values) {
  if (values) p->names[p->n++] = values;
  return values;
}

static void pool_free(name_pool *p) {
  for (int i = 0; i < p->n; i++) free(p->names[i]);
  free(p->names);
}

/* The CRC-32 (zlib's, as gzip's) of a tensor's data bytes. */
static uint32_t tensor_crc(const fa_st_tensor *t) {
  return (uint32_t)crc32_z(crc32_z(0L, Z_NULL, 0), t->data, t->nbytes);
}

static fa_status check_save_args(const fa_ckpt_extra *extras, int n_extras, fa_ckpt_meta_list meta) {
  for (int i = 0; i < n_extras; i++) {
    const char *p = extras[i].prefix;
    if (!p || !*p || strchr(p, ','))
      return fa_error_set(FA_ERR_INVALID, "checkpoint: an extra store needs a non-empty prefix without commas "
                                          "(such as \"optimizer.\"), not \"%s\"", p ? p : "(null)");
  }
  for (int i = 0; i < meta.n; i++) {
    if (!meta.keys[i] || !meta.values[i])
      return fa_error_set(FA_ERR_INVALID, "checkpoint: metadata pair %d has no key or no value", i);
    for (int k = 0; k < N_CONFIG_KEYS; k++)
      if (strcmp(meta.keys[i], config_keys[k]) == 0)
        return fa_error_set(FA_ERR_INVALID, "checkpoint: metadata key \"%s\" is written from the model config; "
                                            "do not pass it", meta.keys[i]);
    if (starts_with(meta.keys[i], CRC_KEY))
      return fa_error_set(FA_ERR_INVALID, "checkpoint: metadata keys beginning with \"" CRC_KEY "\" hold the "
                                          "tensors' checksums; do not pass \"%s\"", meta.keys[i]);
  }
  return FA_OK;
}

static int add_store(fa_st_tensor *t, int n, const fa_store *store, const char *prefix, name_pool *pool) {
  for (int i = 0; i < fa_store_count(store); i++) {
    const fa_tensor *p = fa_store_get(store, i);
    const char *name = prefix ? pool_add(pool, concat(prefix, fa_tensor_name(p))) : fa_tensor_name(p);
    const float *values = pool_add_values(pool, fa_tensor_to_host(p));
    if (!name || !values) return -1;
    fa_st_tensor *e = &t[n++];
    *e = (fa_st_tensor){name, FA_DTYPE_F32, fa_tensor_ndim(p), {0}, fa_tensor_numel(p) * sizeof(float), values};
    tensor_shape64(p, e->shape);
  }
  return n;
}

fa_status fa_ckpt_save(const char *path, const fa_model *model, int64_t num_batches_tracked,
                       const fa_ckpt_extra *extras, int n_extras, fa_ckpt_meta_list meta) {
  fa_status st = check_save_args(extras, n_extras, meta);
  if (st) return st;
  const fa_store *store = fa_model_store(model);
  int n_max = 2 * fa_store_count(store), n_names = fa_store_count(store), prefix_len = 1;
  for (int i = 0; i < n_extras; i++) {
    n_max += fa_store_count(extras[i].store);
    n_names += fa_store_count(extras[i].store);
    prefix_len += (int)strlen(extras[i].prefix) + 1;
  }
  fa_st_tensor *t = malloc(sizeof *t * (size_t)(n_max + 1));
  /* the prefixed and num_batches_tracked names, the values, then one "crc32:<name>" key per tensor */
  name_pool pool = {malloc(sizeof(void *) * (size_t)(n_names + 2 * n_max + 1)), 0};
  char *prefixes = malloc((size_t)prefix_len);
  char(*crc_text)[9] = malloc(sizeof *crc_text * (size_t)(n_max + 1));
  int n = (t && pool.names && prefixes && crc_text) ? add_store(t, 0, store, NULL, &pool) : -1;
  for (int i = 0; i < fa_store_count(store) && n >= 0; i++) {
    const char *p = fa_tensor_name(fa_store_get(store, i));
    if (!ends_with(p, BN_MARK)) continue;
    const char *name = pool_add(&pool, nbt_name(p));
    if (!name) n = -1;
    else t[n++] = (fa_st_tensor){name, FA_DTYPE_I64, 0, {0}, sizeof num_batches_tracked, &num_batches_tracked};
  }
  for (int i = 0; i < n_extras && n >= 0; i++) n = add_store(t, n, extras[i].store, extras[i].prefix, &pool);
  int n_meta = N_CONFIG_KEYS + meta.n + (n > 0 ? n : 0);
  const char **keys = malloc(sizeof *keys * (size_t)n_meta), **vals = malloc(sizeof *vals * (size_t)n_meta);
  for (int i = 0; i < n && keys && vals; i++) {
    keys[N_CONFIG_KEYS + meta.n + i] = pool_add(&pool, concat(CRC_KEY, t[i].name));
    snprintf(crc_text[i], sizeof crc_text[i], "%08" PRIx32, tensor_crc(&t[i]));
    vals[N_CONFIG_KEYS + meta.n + i] = crc_text[i];
    if (!keys[N_CONFIG_KEYS + meta.n + i]) n = -1;
  }
  if (n < 0 || !keys || !vals) {
    st = fa_error_set(FA_ERR_NOMEM, "out of memory saving checkpoint %s", path);
  } else {
    prefixes[0] = '\0';
    for (int i = 0; i < n_extras; i++) {
      if (i) strcat(prefixes, ",");
      strcat(prefixes, extras[i].prefix);
    }
    const fa_model_config *c = fa_model_get_config(model);
    char num[7][16];
    const int ints[7] = {c->in_channels, c->height, c->width, c->n_classes, c->n_layers, c->n_filters,
                         c->resnet_width > 0 ? c->resnet_width : 64};
    const char *values[N_CONFIG_KEYS] = {"1", fa_arch_name(c->arch)};
    for (int i = 0; i < 7; i++) {
      snprintf(num[i], sizeof num[i], "%d", ints[i]);
      values[2 + i] = num[i];
    }
    values[N_CONFIG_KEYS - 1] = prefixes;
    for (int i = 0; i < N_CONFIG_KEYS; i++) keys[i] = config_keys[i], vals[i] = values[i];
    for (int i = 0; i < meta.n; i++) keys[N_CONFIG_KEYS + i] = meta.keys[i], vals[N_CONFIG_KEYS + i] = meta.values[i];
    st = fa_st_write(path, t, n, keys, vals, n_meta);
  }
  free(keys);
  free(vals);
  free(crc_text);
  free(prefixes);
  pool_free(&pool);
  free(t);
  return st;
}

/* ------------------------------------------------------------ open, config */

static int count_checksums(const fa_st_file *file) {
  int n_crc = 0;
  for (int i = 0; i < fa_st_meta_count(file); i++) n_crc += starts_with(fa_st_meta_key(file, i), CRC_KEY);
  return n_crc;
}

/* Every tensor's data against its "crc32:<name>" metadata when the file has
 * checksums (fastadv writes one per tensor; PyTorch and fastadv before
 * checksums wrote none, and such files load unverified). */
static fa_status verify_checksums(const char *path, const fa_st_file *file) {
  int n_crc = count_checksums(file);
  if (n_crc == 0) return FA_OK;
  char why[640] = "";
  for (int i = 0; i < fa_st_count(file) && !*why; i++) {
    const fa_st_tensor *t = fa_st_get(file, i);
    char *key = concat(CRC_KEY, t->name);
    if (!key) return fa_error_set(FA_ERR_NOMEM, "out of memory checking checkpoint %s", path);
    const char *text = fa_st_meta(file, key);
    free(key);
    uint32_t computed = tensor_crc(t);
    if (!text)
      snprintf(why, sizeof why, "\"%.200s\" has no checksum, though the file's other tensors have", t->name);
    else if (strlen(text) != 8 || strspn(text, "0123456789abcdefABCDEF") != 8)
      snprintf(why, sizeof why, "the checksum of \"%.200s\" is \"%.16s\", not 8 hexadecimal digits", t->name, text);
    else if (strtoul(text, NULL, 16) != computed)
      snprintf(why, sizeof why, "\"%.200s\" does not match its checksum (CRC-32 %s recorded, %08" PRIx32 " computed)",
               t->name, text, computed);
  }
  for (int i = 0; i < fa_st_meta_count(file) && !*why && n_crc != fa_st_count(file); i++) {
    const char *key = fa_st_meta_key(file, i);
    if (starts_with(key, CRC_KEY) && !fa_st_find(file, key + strlen(CRC_KEY)))
      snprintf(why, sizeof why, "its metadata holds the checksum of \"%.200s\", a tensor the file does not have",
               key + strlen(CRC_KEY));
  }
  if (!*why) return FA_OK;
  return fa_error_set(FA_ERR_FORMAT, "checkpoint %s: %s: the file is damaged (a flipped bit, a failing disk or copy) "
                                     "or was edited; use an intact copy", path, why);
}

fa_checkpoint *fa_ckpt_open(const char *path) {
  fa_st_file *file = fa_st_open(path);
  if (!file) return NULL;
  if (verify_checksums(path, file) != FA_OK) {
    fa_st_close(file);
    return NULL;
  }
  fa_checkpoint *ckpt = malloc(sizeof *ckpt);
  char *copy = malloc(strlen(path) + 1);
  if (!ckpt || !copy) {
    free(ckpt);
    free(copy);
    fa_st_close(file);
    fa_error_set(FA_ERR_NOMEM, "out of memory opening checkpoint %s", path);
    return NULL;
  }
  strcpy(copy, path);
  *ckpt = (fa_checkpoint){copy, file};
  return ckpt;
}

void fa_ckpt_close(fa_checkpoint *ckpt) {
  if (!ckpt) return;
  fa_st_close(ckpt->file);
  free(ckpt->path);
  free(ckpt);
}

bool fa_ckpt_has_checksums(const fa_checkpoint *ckpt) { return count_checksums(ckpt->file) > 0; }

const char *fa_ckpt_meta(const fa_checkpoint *ckpt, const char *key) { return fa_st_meta(ckpt->file, key); }

static const char *const no_config_hint =
    "fastadv checkpoints and files made by scripts/torch_to_safetensors.py carry it; "
    "convert a PyTorch state_dict with that script (--arch ...)";

static fa_status meta_int(const fa_checkpoint *ckpt, const char *key, int *out) {
  const char *s = fa_ckpt_meta(ckpt, key);
  if (!s) return fa_error_set(FA_ERR_FORMAT, "checkpoint %s has no \"%s\" in its metadata: %s", ckpt->path, key,
                              no_config_hint);
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (end == s || *end || errno || v < 0 || v > INT_MAX)
    return fa_error_set(FA_ERR_FORMAT, "checkpoint %s: metadata \"%s\" is \"%s\", not a non-negative integer; "
                                       "the file is damaged or was not written by fastadv", ckpt->path, key, s);
  *out = (int)v;
  return FA_OK;
}

fa_status fa_ckpt_config(const fa_checkpoint *ckpt, fa_model_config *config) {
  fa_model_config c = {0};
  const char *arch = fa_ckpt_meta(ckpt, "arch");
  if (!arch)
    return fa_error_set(FA_ERR_FORMAT, "checkpoint %s does not say which model it holds (no \"arch\" in its "
                                       "metadata): %s", ckpt->path, no_config_hint);
  if (!fa_arch_from_name(arch, &c.arch))
    return fa_error_set(FA_ERR_FORMAT, "checkpoint %s holds a \"%s\" model; this build knows resnet18, cnn and "
                                       "lenet", ckpt->path, arch);
  fa_status st = meta_int(ckpt, "in_channels", &c.in_channels);
  if (!st) st = meta_int(ckpt, "height", &c.height);
  if (!st) st = meta_int(ckpt, "width", &c.width);
  if (!st) st = meta_int(ckpt, "n_classes", &c.n_classes);
  if (!st && c.arch == FA_ARCH_CNN) st = meta_int(ckpt, "n_layers", &c.n_layers);
  if (!st && c.arch == FA_ARCH_CNN) st = meta_int(ckpt, "n_filters", &c.n_filters);
  if (!st && c.arch == FA_ARCH_RESNET18) st = meta_int(ckpt, "resnet_width", &c.resnet_width);
  if (!st) *config = c;
  return st;
}

/* ------------------------------------------------------------------- load */

/* Problems found while matching the file to the model: the first few are
 * named, the rest counted. */
typedef struct {
  char text[480];
  size_t len;
  int count;
} problems;

static void problem(problems *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(problems *p, const char *fmt, ...) {
  if (p->count++ >= MAX_LISTED || p->len >= sizeof p->text) return;
  if (p->len) p->len += (size_t)snprintf(p->text + p->len, sizeof p->text - p->len, "; ");
  if (p->len >= sizeof p->text) return;
  va_list ap;
  va_start(ap, fmt);
  p->len += (size_t)vsnprintf(p->text + p->len, sizeof p->text - p->len, fmt, ap);
  va_end(ap);
}

static bool is_float_dtype(fa_st_dtype d) {
  return d == FA_DTYPE_F32 || d == FA_DTYPE_F64 || d == FA_DTYPE_F16 || d == FA_DTYPE_BF16;
}

/* The model or extra tensor that file name `name` is meant for, or NULL. */
static fa_tensor *target_of(const char *name, const fa_model *model, const fa_ckpt_extra *extras, int n_extras) {
  fa_tensor *t = fa_store_find(fa_model_store(model), name);
  for (int i = 0; i < n_extras && !t; i++)
    if (starts_with(name, extras[i].prefix)) t = fa_store_find(extras[i].store, name + strlen(extras[i].prefix));
  return t;
}

/* Whether `name` belongs to an extra store listed in the file's metadata. */
static bool in_file_extra(const fa_checkpoint *ckpt, const char *name) {
  const char *list = fa_ckpt_meta(ckpt, "extra_prefixes");
  while (list && *list) {
    size_t n = strcspn(list, ",");
    if (n && strncmp(name, list, n) == 0) return true;
    list += n + (list[n] == ',');
  }
  return false;
}

static void check_tensor(problems *p, const fa_st_tensor *f, const fa_tensor *t) {
  int64_t want[FA_MAX_DIMS];
  tensor_shape64(t, want);
  bool same = f->ndim == fa_tensor_ndim(t);
  for (int i = 0; same && i < f->ndim; i++) same = f->shape[i] == want[i];
  if (!same) {
    char a[96], b[96];
    shape_str(f->ndim, f->shape, a, sizeof a);
    shape_str(fa_tensor_ndim(t), want, b, sizeof b);
    problem(p, "\"%s\" has shape %s in the file but %s in the model", f->name, a, b);
  } else if (!is_float_dtype(f->dtype)) {
    problem(p, "\"%s\" is %s in the file; a parameter must be F32 (or F64, F16, BF16)", f->name,
            fa_st_dtype_name(f->dtype));
  }
}

static void check_store(problems *p, const fa_checkpoint *ckpt, const fa_store *store, const char *prefix) {
  for (int i = 0; i < fa_store_count(store); i++) {
    const fa_tensor *t = fa_store_get(store, i);
    char name[512];
    snprintf(name, sizeof name, "%s%s", prefix, fa_tensor_name(t));
    const fa_st_tensor *f = fa_st_find(ckpt->file, name);
    if (!f) problem(p, "\"%s\" is missing", name);
    else check_tensor(p, f, t);
  }
}

/* File tensors that nothing asked for: num_batches_tracked of the model's
 * batch norms (I64 scalars) and unrequested extra stores are fine. */
static void check_leftovers(problems *p, const fa_checkpoint *ckpt, const fa_model *model,
                            const fa_ckpt_extra *extras, int n_extras) {
  for (int i = 0; i < fa_st_count(ckpt->file); i++) {
    const fa_st_tensor *f = fa_st_get(ckpt->file, i);
    if (target_of(f->name, model, extras, n_extras)) continue;
    if (ends_with(f->name, NBT_SUFFIX)) {
      char bn[512];
      snprintf(bn, sizeof bn, "%.*s%s", (int)(strlen(f->name) - strlen(NBT_SUFFIX)), f->name, BN_MARK);
      if (fa_store_find(fa_model_store(model), bn)) {
        if (f->dtype != FA_DTYPE_I64 || f->ndim != 0)
          problem(p, "\"%s\" is %s with %d dimensions; PyTorch writes an I64 scalar", f->name,
                  fa_st_dtype_name(f->dtype), f->ndim);
        continue;
      }
    }
    bool requested = false;
    for (int k = 0; k < n_extras; k++) requested = requested || starts_with(f->name, extras[k].prefix);
    if (!requested && in_file_extra(ckpt, f->name)) continue;
    problem(p, "\"%s\" is in the file but not in the model", f->name);
  }
}

static fa_status mismatch(const fa_checkpoint *ckpt, const fa_model *model, const problems *p) {
  char want[128], have[128] = "", more[32] = "";
  describe_config(fa_model_get_config(model), want, sizeof want);
  fa_model_config c;
  if (fa_ckpt_config(ckpt, &c) == FA_OK) describe_config(&c, have, sizeof have);
  if (p->count > MAX_LISTED) snprintf(more, sizeof more, "; and %d more", p->count - MAX_LISTED);
  const char *hint = "The file is damaged or was edited: save or convert it again "
                     "(scripts/torch_to_safetensors.py for PyTorch state_dicts)";
  char other[256];
  if (!fa_ckpt_meta(ckpt, "arch")) {
    hint = "The file does not say which model it holds (no fastadv metadata), so the model was built from the "
           "caller's settings (fastadv eval: --model, --n_layers, --n_filters_cnn and the data set's images): give "
           "those the model was trained with";
  } else if (*have && strcmp(have, want) != 0) {
    snprintf(other, sizeof other, "The file holds a %s: build the model from the file's metadata (fastadv eval "
                                  "does) or give the settings it was trained with", have);
    hint = other;
  }
  return fa_error_set(FA_ERR_FORMAT, "checkpoint %s does not fit the model, a %s (%d problem%s): %s%s. %s; "
                                     "the model was left unchanged.",
                      ckpt->path, want, p->count, p->count == 1 ? "" : "s", p->text, more, hint);
}

static float half_to_float(uint16_t h) {
  unsigned exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  float v;
  if (exp == 0) v = ldexpf((float)mant, -24);
  else if (exp == 31) v = mant ? NAN : INFINITY;
  else v = ldexpf((float)(mant | 0x400), (int)exp - 25);
  return (h & 0x8000) ? -v : v;
}

static float bf16_to_float(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float v;
  memcpy(&v, &bits, sizeof v);
  return v;
}

/* Converts a checked file tensor of numel elements to float32 into out
 * (cannot fail: shapes and dtypes were checked before). */
static void convert_tensor(const fa_checkpoint *ckpt, const fa_st_tensor *f, float *out, size_t numel) {
  if (f->dtype == FA_DTYPE_F32 || f->dtype == FA_DTYPE_F64) {
    fa_st_copy(ckpt->file, f->name, FA_DTYPE_F32, f->ndim, f->shape, out);
    return;
  }
  const unsigned char *src = f->data;
  for (size_t i = 0; i < numel; i++) {
    uint16_t h;
    memcpy(&h, src + 2 * i, 2);
    out[i] = f->dtype == FA_DTYPE_F16 ? half_to_float(h) : bf16_to_float(h);
  }
}

/* Refuses a NaN or an Inf among the values a load would copy into the store
 * (F32 scanned in place, other dtypes after conversion), before any copy. */
static fa_status check_finite(const fa_checkpoint *ckpt, const fa_store *store, const char *prefix) {
  for (int i = 0; i < fa_store_count(store); i++) {
    const fa_tensor *t = fa_store_get(store, i);
    size_t numel = fa_tensor_numel(t);
    char name[512];
    snprintf(name, sizeof name, "%s%s", prefix, fa_tensor_name(t));
    const fa_st_tensor *f = fa_st_find(ckpt->file, name);
    float *scratch = f->dtype == FA_DTYPE_F32 ? NULL : malloc(numel * sizeof(float));
    if (f->dtype != FA_DTYPE_F32 && !scratch)
      return fa_error_set(FA_ERR_NOMEM, "out of memory loading checkpoint %s", ckpt->path);
    if (scratch) convert_tensor(ckpt, f, scratch, numel);
    const float *values = scratch ? scratch : f->data;
    size_t at;
    bool finite = fa_all_finite(values, numel, &at);
    float bad = finite ? 0.0f : values[at];
    free(scratch);
    if (!finite)
      return fa_error_set(FA_ERR_FORMAT, "checkpoint %s: \"%s\" holds %s at element %zu, and a model with a "
                          "non-finite value computes nothing meaningful (fastadv never saves one): the file is "
                          "damaged or was edited, or the model diverged before it was saved; use an intact or "
                          "earlier checkpoint. The model was left unchanged", ckpt->path, name,
                          fa_nonfinite_name(bad), at);
  }
  return FA_OK;
}

/* The file's values into the store's tensors, through scratch (the largest tensor's floats). */
static fa_status copy_store(const fa_checkpoint *ckpt, fa_store *store, const char *prefix, float *scratch) {
  fa_status st = FA_OK;
  for (int i = 0; st == FA_OK && i < fa_store_count(store); i++) {
    fa_tensor *t = fa_store_get(store, i);
    char name[512];
    snprintf(name, sizeof name, "%s%s", prefix, fa_tensor_name(t));
    convert_tensor(ckpt, fa_st_find(ckpt->file, name), scratch, fa_tensor_numel(t));
    st = fa_tensor_write(t, 0, fa_tensor_numel(t), scratch);
  }
  return st;
}

static size_t largest_tensor(const fa_store *store, size_t at_least) {
  for (int i = 0; i < fa_store_count(store); i++)
    if (fa_tensor_numel(fa_store_get(store, i)) > at_least) at_least = fa_tensor_numel(fa_store_get(store, i));
  return at_least;
}

fa_status fa_ckpt_load(const fa_checkpoint *ckpt, fa_model *model, const fa_ckpt_extra *extras, int n_extras,
                       int64_t *num_batches_tracked) {
  const fa_model_config *c = fa_model_get_config(model);
  const char *arch = fa_ckpt_meta(ckpt, "arch");
  fa_arch file_arch;
  if (arch && !fa_arch_from_name(arch, &file_arch))
    return fa_error_set(FA_ERR_FORMAT, "checkpoint %s holds a \"%s\" model, which this build does not know; the "
                                       "model was left unchanged", ckpt->path, arch);
  if (arch && file_arch != c->arch)
    return fa_error_set(FA_ERR_INVALID, "checkpoint %s holds a %s model, not a %s: use --model %s (or let the "
                                        "file's metadata choose the model); the model was left unchanged",
                        ckpt->path, arch, fa_arch_name(c->arch), arch);
  problems p = {.len = 0};
  check_store(&p, ckpt, fa_model_store(model), "");
  for (int i = 0; i < n_extras; i++) check_store(&p, ckpt, extras[i].store, extras[i].prefix);
  check_leftovers(&p, ckpt, model, extras, n_extras);
  if (p.count) return mismatch(ckpt, model, &p);
  fa_status st = check_finite(ckpt, fa_model_store(model), "");
  for (int i = 0; i < n_extras && st == FA_OK; i++) st = check_finite(ckpt, extras[i].store, extras[i].prefix);
  if (st != FA_OK) return st;

  size_t largest = largest_tensor(fa_model_store(model), 1);
  for (int i = 0; i < n_extras; i++) largest = largest_tensor(extras[i].store, largest);
  float *scratch = malloc(largest * sizeof *scratch);
  if (!scratch) return fa_error_set(FA_ERR_NOMEM, "out of memory loading checkpoint %s", ckpt->path);
  st = copy_store(ckpt, fa_model_store(model), "", scratch);
  for (int i = 0; i < n_extras && st == FA_OK; i++) st = copy_store(ckpt, extras[i].store, extras[i].prefix, scratch);
  free(scratch);
  if (st != FA_OK) return st;
  if (num_batches_tracked) {
    *num_batches_tracked = 0;
    for (int i = 0; i < fa_st_count(ckpt->file); i++) {
      const fa_st_tensor *f = fa_st_get(ckpt->file, i);
      int64_t v;
      if (f->dtype != FA_DTYPE_I64 || f->ndim != 0 || !ends_with(f->name, NBT_SUFFIX)) continue;
      memcpy(&v, f->data, sizeof v);
      if (v > *num_batches_tracked) *num_batches_tracked = v;
    }
  }
  return FA_OK;
}

fa_model *fa_ckpt_load_model_as(const fa_checkpoint *ckpt, const fa_model_config *config, const char *prefix) {
  fa_model_config c;
  if (!config && fa_ckpt_config(ckpt, &c)) return NULL;
  fa_model *model = fa_model_create(config ? config : &c);
  /* under a prefix: the model's own tensors go into a scratch model, checked and dropped */
  fa_model *scratch = model && *prefix ? fa_model_create(config ? config : &c) : NULL;
  if (!model || (*prefix && !scratch)) {
    char why[512];
    snprintf(why, sizeof why, "%s", fa_error_message());
    fa_error_set(FA_ERR_FORMAT, "checkpoint %s: %s cannot be built: %s", ckpt->path,
                 config ? "the model" : "the model its metadata describes", why);
    fa_model_destroy(model);
    return NULL;
  }
  fa_ckpt_extra under_prefix = {prefix, fa_model_store(model)};
  fa_status st = *prefix ? fa_ckpt_load(ckpt, scratch, &under_prefix, 1, NULL) : fa_ckpt_load(ckpt, model, NULL, 0, NULL);
  fa_model_destroy(scratch);
  if (st != FA_OK) {
    fa_model_destroy(model);
    return NULL;
  }
  return model;
}

fa_model *fa_ckpt_load_model(const fa_checkpoint *ckpt) { return fa_ckpt_load_model_as(ckpt, NULL, ""); }
