#include "testlib.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "core/context.h"
#include "core/error.h"
#include "core/tensor.h"
#include "io/safetensors.h"
#include "nn/model.h"

int fa_test_failures = 0;
int fa_test_checks = 0;

/* Every test program computes in one context, current before main starts:
 * on the backend $FASTADV_BACKEND names, else the default. */
static fa_context *test_context;

__attribute__((constructor)) static void make_test_context(void) {
  const char *backend = getenv("FASTADV_BACKEND");
  test_context = fa_context_create(backend && *backend ? backend : FA_DEFAULT_BACKEND);
  if (!test_context) {
    fprintf(stderr, "test: %s\n", fa_error_message());
    exit(1);
  }
  fa_context_set_current(test_context);
}

__attribute__((destructor)) static void destroy_test_context(void) { fa_context_destroy(test_context); }

double fa_test_rel_err(const float *a, const double *b, size_t n) {
  double diff = 0, ref = 0;
  for (size_t i = 0; i < n; i++) {
    double d = (double)a[i] - b[i];
    diff += d * d;
    ref += b[i] * b[i];
  }
  if (ref == 0) return sqrt(diff);
  return sqrt(diff / ref);
}

double fa_test_fixture_err(fa_st_file *f, int n_keys, const char *const keys[], const float *got, size_t n) {
  double *sum = calloc(n ? n : 1, sizeof *sum), *part = malloc((n ? n : 1) * sizeof *part);
  bool ok = sum && part;
  for (int k = 0; k < n_keys && ok; k++) {
    const fa_st_tensor *ref = fa_st_find(f, keys[k]);
    ok = ref && ref->nbytes / fa_st_dtype_size(ref->dtype) == n &&
         fa_st_copy(f, keys[k], FA_DTYPE_F64, ref->ndim, ref->shape, part) == FA_OK;
    FA_CHECK(ok, "%s: missing or wrong size in the fixture", keys[k]);
    for (size_t i = 0; ok && i < n; i++) sum[i] += part[i];
  }
  double err = ok ? fa_test_rel_err(got, sum, n) : INFINITY;
  free(sum);
  free(part);
  return err;
}

double fa_test_rel_err_ff(const float *a, const float *b, size_t n) {
  double diff = 0, ref = 0;
  for (size_t i = 0; i < n; i++) {
    double d = (double)a[i] - (double)b[i];
    diff += d * d;
    ref += (double)b[i] * b[i];
  }
  if (ref == 0) return sqrt(diff);
  return sqrt(diff / ref);
}

static const char *join(const char *dir, const char *rel) {
  static _Thread_local char buf[4][4096];
  static _Thread_local int slot = 0;
  slot = (slot + 1) % 4;
  snprintf(buf[slot], sizeof buf[slot], "%s/%s", dir, rel);
  return buf[slot];
}

const char *fa_test_source_path(const char *rel) { return join(FA_SOURCE_DIR, rel); }
const char *fa_test_shared_path(const char *rel) { return join(FA_SHARED_DIR, rel); }

const char *fa_test_tmpdir(const char *test_name) {
  static char dir[4096];
  snprintf(dir, sizeof dir, "%s/test-tmp/%s", FA_BUILD_DIR, test_name);
  char cmd[8400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
  if (system(cmd) != 0) {
    fprintf(stderr, "cannot create %s\n", dir);
    exit(1);
  }
  return dir;
}

fa_model *fa_test_hashed_model(const fa_model_config *mc) {
  fa_model *model = fa_model_create(mc);
  if (!model) return NULL;
  fa_rng init = fa_rng_stream(0, FA_STREAM_INIT);
  fa_model_init(model, &init);
  fa_store *store = fa_model_store(model);
  for (int i = 0; i < fa_store_count(store); i++)
    if (fa_tensor_requires_grad(fa_store_get(store, i))) fa_test_fill_hashed(fa_store_get(store, i));
  return model;
}

void fa_test_fill_hashed(fa_tensor *t) {
  const char *name = fa_tensor_name(t);
  const int *shape = fa_tensor_shape(t);
  int ndim = fa_tensor_ndim(t);
  size_t numel = fa_tensor_numel(t);
  float *values = malloc(numel * sizeof *values);
  if (!values) {
    fprintf(stderr, "no memory for %s\n", name);
    exit(1);
  }
  uint32_t key = 2166136261u;
  for (const char *c = name; *c; c++) key = (key ^ (uint8_t)*c) * 16777619u;
  size_t len = strlen(name);
  bool weight = len >= 7 && strcmp(name + len - 7, ".weight") == 0;
  for (size_t i = 0; i < numel; i++) {
    uint32_t x = key + (uint32_t)i * 0x9E3779B9u;
    x ^= x >> 16;
    x *= 0x7FEB352Du;
    x ^= x >> 15;
    x *= 0x846CA68Bu;
    x ^= x >> 16;
    double u = (double)(x >> 8) / 16777216.0 * 2.0 - 1.0, v;
    if (ndim == 4)
      v = u * sqrt(3.0) * sqrt(2.0 / (shape[2] * shape[3] * shape[0]));
    else if (ndim == 2)
      v = u * sqrt(3.0) * sqrt(2.0 / shape[1]);
    else
      v = weight ? 1.0 + 0.1 * u : 0.1 * u;
    values[i] = (float)v;
  }
  fa_tensor_write(t, 0, numel, values);
  free(values);
}

/* the host copies handed out by fa_test_values, freed at exit */
static float **host_copies;
static size_t n_host_copies;

const float *fa_test_values(const fa_tensor *t) {
  float *v = t ? fa_tensor_to_host(t) : NULL;
  float **grown = v ? realloc(host_copies, (n_host_copies + 1) * sizeof *grown) : NULL;
  if (!grown) {
    free(v);
    return NULL;
  }
  host_copies = grown;
  host_copies[n_host_copies++] = v;
  return v;
}

float fa_test_value(const fa_tensor *t, size_t i) {
  float v = NAN;
  if (t) fa_tensor_read(t, i, 1, &v);
  return v;
}

int fa_test_run_fastadv(const char *args, const char *dir, char *out, char *err, size_t size) {
  char command[16384];
  snprintf(command, sizeof command, "'%s/fastadv' %s >'%s/out' 2>'%s/err'", FA_BUILD_DIR, args, dir, dir);
  int status = system(command);
  const char *names[2] = {"out", "err"};
  char *buffers[2] = {out, err};
  for (int i = 0; i < 2; i++) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buffers[i], 1, size - 1, f) : 0;
    buffers[i][n] = '\0';
    if (f) fclose(f);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

char *fa_test_read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  rewind(f);
  char *text = len >= 0 ? calloc(1, (size_t)len + 1) : NULL;
  if (text && fread(text, 1, (size_t)len, f) != (size_t)len) text[0] = '\0';
  fclose(f);
  return text;
}

int fa_test_png_size(const char *path, int *width, int *height, long *bytes) {
  static const unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  unsigned char head[24];
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  size_t n = fread(head, 1, sizeof head, f);
  fseek(f, 0, SEEK_END);
  if (bytes) *bytes = ftell(f);
  fclose(f);
  if (n != sizeof head || memcmp(head, signature, 8) != 0 || memcmp(head + 12, "IHDR", 4) != 0) return 0;
  *width = (head[16] << 24) | (head[17] << 16) | (head[18] << 8) | head[19];
  *height = (head[20] << 24) | (head[21] << 16) | (head[22] << 8) | head[23];
  return 1;
}

bool fa_test_flip_bit(const char *path, const char *name) {
  FILE *f = fopen(path, "r+b");
  uint8_t len8[8];
  uint64_t header_len = 0;
  bool done = f && fread(len8, 1, 8, f) == 8;
  for (int i = 7; i >= 0 && done; i--) header_len = header_len << 8 | len8[i];
  char *header = done && header_len < ((uint64_t)1 << 24) ? calloc(header_len + 1, 1) : NULL;
  done = header && fread(header, 1, header_len, f) == header_len;
  cJSON *root = done ? cJSON_Parse(header) : NULL;
  cJSON *offsets = cJSON_GetObjectItem(cJSON_GetObjectItem(root, name), "data_offsets");
  done = cJSON_GetArraySize(offsets) == 2;
  if (done) {
    /* the middle byte of the tensor's data: after the 8 length bytes and the header */
    double begin = cJSON_GetArrayItem(offsets, 0)->valuedouble, end = cJSON_GetArrayItem(offsets, 1)->valuedouble;
    long at = (long)(8 + header_len) + (long)((begin + end) / 2);
    int byte = end > begin && fseek(f, at, SEEK_SET) == 0 ? fgetc(f) : EOF;
    done = byte != EOF && fseek(f, at, SEEK_SET) == 0 && fputc(byte ^ 0x10, f) != EOF;
  }
  cJSON_Delete(root);
  free(header);
  if (f) done = fclose(f) == 0 && done;
  return done;
}

int fa_test_exit(void) {
  for (size_t i = 0; i < n_host_copies; i++) free(host_copies[i]);
  free(host_copies);
  host_copies = NULL;
  n_host_copies = 0;
  if (fa_test_failures) {
    fprintf(stderr, "%d of %d checks failed\n", fa_test_failures, fa_test_checks);
    return 1;
  }
  printf("all %d checks passed\n", fa_test_checks);
  return 0;
}

bool fa_test_compare_models(const char *path_a, const char *path_b, fa_test_model_diff *out) {
  *out = (fa_test_model_diff){.identical = true};
  fa_st_file *a = fa_st_open(path_a), *b = a ? fa_st_open(path_b) : NULL;
  bool ok = a && b;
  if (ok && fa_st_count(a) != fa_st_count(b)) ok = false, fa_error_set(FA_ERR_INVALID, "different numbers of tensors");
  for (int i = 0; ok && i < fa_st_count(a); i++) {
    const fa_st_tensor *ta = fa_st_get(a, i), *tb = fa_st_find(b, ta->name);
    if (!tb || tb->nbytes != ta->nbytes || ta->dtype != FA_DTYPE_F32 || tb->dtype != FA_DTYPE_F32) {
      fa_error_set(FA_ERR_INVALID, "tensor %s differs in name, size or dtype", ta->name);
      ok = false;
      break;
    }
    const float *x = ta->data, *y = tb->data;
    size_t m = ta->nbytes / sizeof(float);
    out->identical &= memcmp(x, y, ta->nbytes) == 0;
    for (size_t j = 0; j < m; j++) {
      out->max_diff = fmax(out->max_diff, fabs((double)x[j] - y[j]));
      out->max_abs = fmax(out->max_abs, fabs((double)x[j]));
    }
    out->n += m;
  }
  if (a) fa_st_close(a);
  if (b) fa_st_close(b);
  return ok;
}
