/* Checkpoints (src/train/checkpoint.h):
 *  - round trip of every architecture, with an optimiser store beside it:
 *    the same bits back, the metadata and the model config back, and a model
 *    rebuilt from the file alone;
 *  - every bad file or mismatch (missing, extra, wrong shape or dtype, wrong
 *    architecture or config, truncated, not safetensors, no metadata) gives a
 *    clear message and leaves the target model untouched;
 *  - F64, F16 and BF16 tensors are converted;
 *  - PyTorch -> C: fixtures made by scripts/gen_ckpt_fixture.py through
 *    scripts/torch_to_safetensors.py load and give PyTorch's logits (1e-5);
 *  - C -> PyTorch: when /usr/bin/python3 has torch, checkpoints written here
 *    load in PyTorch with strict=True (scripts/load_in_pytorch.py) and give
 *    the logits computed here (1e-5); skipped with a message otherwise. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/rng.h"
#include "core/update.h"
#include "io/safetensors.h"
#include "train/checkpoint.h"
#include "testlib.h"

static const char *tmpdir;
static fa_arena *arena;

static const char *tmp_path(const char *name) {
  static char buf[4][4096];
  static int slot;
  slot = (slot + 1) % 4;
  snprintf(buf[slot], sizeof buf[slot], "%s/%s", tmpdir, name);
  return buf[slot];
}

static fa_model_config cfg(fa_arch arch, int c, int h, int w, int classes, int layers, int filters, int width) {
  return (fa_model_config){arch, c, h, w, classes, layers, filters, width};
}

/* Every tensor random (variances positive), so a misplaced tensor shows. */
static fa_model *random_model(const fa_model_config *c, uint64_t seed) {
  fa_model *m = fa_model_create(c);
  if (!m) return NULL;
  fa_rng rng = fa_rng_stream(seed, FA_STREAM_INIT);
  fa_store *s = fa_model_store(m);
  for (int i = 0; i < fa_store_count(s); i++) {
    fa_tensor *t = fa_store_get(s, i);
    bool var = strstr(fa_tensor_name(t), "running_var") != NULL;
    float scale = fa_tensor_ndim(t) > 1 ? sqrtf(2.0f / (float)fa_tensor_row_numel(t)) : 0.5f;
    fa_fill_uniform(t, 0, fa_tensor_numel(t), &rng, var ? 0.5f : -scale, var ? 1.5f : scale);
  }
  return m;
}

/* A copy of every value in a store, to check that a failed load changed nothing. */
static float *snapshot(const fa_store *s) {
  size_t n = 0;
  for (int i = 0; i < fa_store_count(s); i++) n += fa_tensor_numel(fa_store_get(s, i));
  float *buf = malloc(sizeof(float) * (n + 1)), *at = buf;
  for (int i = 0; i < fa_store_count(s); i++) {
    const fa_tensor *t = fa_store_get(s, i);
    fa_tensor_read(t, 0, fa_tensor_numel(t), at);
    at += fa_tensor_numel(t);
  }
  return buf;
}

static bool matches_snapshot(const fa_store *s, const float *buf) {
  for (int i = 0; i < fa_store_count(s); i++) {
    const fa_tensor *t = fa_store_get(s, i);
    if (memcmp(buf, fa_test_values(t), sizeof(float) * fa_tensor_numel(t)) != 0) return false;
    buf += fa_tensor_numel(t);
  }
  return true;
}

static bool same_bits(const fa_store *a, const fa_store *b) {
  float *snap = snapshot(a);
  bool same = fa_store_count(a) == fa_store_count(b) && matches_snapshot(b, snap);
  free(snap);
  return same;
}

/* An optimiser-like store: one moment per parameter of the model. */
static fa_store *fake_optimizer(const fa_model *m, uint64_t seed) {
  fa_store *opt = fa_store_create();
  fa_rng rng = fa_rng_stream(seed, FA_STREAM_ATTACK);
  const fa_store *s = fa_model_store(m);
  for (int i = 0; i < fa_store_count(s); i++) {
    const fa_tensor *t = fa_store_get(s, i);
    char name[256];
    snprintf(name, sizeof name, "exp_avg.%s", fa_tensor_name(t));
    fa_tensor *o = fa_store_new(opt, name, fa_tensor_ndim(t), fa_tensor_shape(t));
    fa_fill_uniform(o, 0, fa_tensor_numel(o), &rng, -1, 1);
  }
  return opt;
}

static const char *const meta_keys[] = {"dataset", "flags", "epoch", "iteration", "rng.shuffle"};
static const char *const meta_values[] = {"cifar10", "--eps=8 --attack=fgsm --n_filters_cnn=4", "30", "11700",
                                          "42"};
static const fa_ckpt_meta_list run_meta = {meta_keys, meta_values, 5};

/* ---------------------------------------------------------- round trips */

static void check_round_trip(const fa_model_config *c, const char *file) {
  fa_model *m = random_model(c, 1);
  FA_CHECK(m, "%s: %s", file, fa_error_message());
  if (!m) return;
  fa_store *opt = fake_optimizer(m, 2);
  fa_ckpt_extra extra = {"optimizer.", opt};
  const char *path = tmp_path(file);
  FA_CHECK(fa_ckpt_save(path, m, 123, &extra, 1, run_meta) == FA_OK, "%s", fa_error_message());

  fa_checkpoint *ck = fa_ckpt_open(path);
  FA_CHECK(ck, "%s", fa_error_message());
  if (!ck) return;
  for (int i = 0; i < run_meta.n; i++) {
    const char *v = fa_ckpt_meta(ck, meta_keys[i]);
    FA_CHECK(v && strcmp(v, meta_values[i]) == 0, "%s: metadata %s = %s", file, meta_keys[i], v ? v : "(none)");
  }
  FA_CHECK(strcmp(fa_ckpt_meta(ck, "arch"), fa_arch_name(c->arch)) == 0, "%s: arch", file);
  FA_CHECK(strcmp(fa_ckpt_meta(ck, "extra_prefixes"), "optimizer.") == 0, "%s: extra_prefixes", file);
  fa_model_config back;
  FA_CHECK(fa_ckpt_config(ck, &back) == FA_OK, "%s", fa_error_message());
  FA_CHECK(back.arch == c->arch && back.in_channels == c->in_channels && back.height == c->height &&
               back.width == c->width && back.n_classes == c->n_classes,
           "%s: config read back differs", file);
  if (c->arch == FA_ARCH_CNN)
    FA_CHECK(back.n_layers == c->n_layers && back.n_filters == c->n_filters, "%s: cnn shape read back", file);
  if (c->arch == FA_ARCH_RESNET18) FA_CHECK(back.resnet_width == c->resnet_width, "%s: resnet width", file);

  /* into a fresh model and optimiser store */
  fa_model *fresh = fa_model_create(c);
  fa_store *fresh_opt = fake_optimizer(fresh, 3);
  fa_ckpt_extra fresh_extra = {"optimizer.", fresh_opt};
  int64_t nbt = -1;
  FA_CHECK(fa_ckpt_load(ck, fresh, &fresh_extra, 1, &nbt) == FA_OK, "%s", fa_error_message());
  FA_CHECK(same_bits(fa_model_store(m), fa_model_store(fresh)), "%s: model bits differ", file);
  FA_CHECK(same_bits(opt, fresh_opt), "%s: optimiser bits differ", file);
  int64_t want_nbt = c->arch == FA_ARCH_RESNET18 ? 123 : 0; /* only batch norms carry it */
  FA_CHECK(nbt == want_nbt, "%s: num_batches_tracked %lld", file, (long long)nbt);

  /* the model alone (the optimiser state in the file is skipped), from the file alone */
  fa_model *rebuilt = fa_ckpt_load_model(ck);
  FA_CHECK(rebuilt, "%s: %s", file, fa_error_message());
  if (rebuilt) FA_CHECK(same_bits(fa_model_store(m), fa_model_store(rebuilt)), "%s: rebuilt bits differ", file);

  fa_model_destroy(rebuilt);
  fa_model_destroy(fresh);
  fa_store_destroy(fresh_opt);
  fa_ckpt_close(ck);
  fa_store_destroy(opt);
  fa_model_destroy(m);
}

/* ----------------------------------------------------------- bad inputs */

/* A copy of a checkpoint's tensors and metadata that a test can alter
 * before writing it back with fa_st_write, without the tensors' checksums
 * (as PyTorch, or fastadv before checksums, wrote it), so that the other
 * checks are what refuses it. */
typedef struct {
  fa_st_file *src;
  fa_st_tensor t[256];
  int n;
  const char *keys[32], *values[32];
  int n_meta;
} editable;

static void edit_open(editable *e, const char *path) {
  e->src = fa_st_open(path);
  e->n = fa_st_count(e->src);
  for (int i = 0; i < e->n; i++) e->t[i] = *fa_st_get(e->src, i);
  e->n_meta = 0;
  for (int i = 0; i < fa_st_meta_count(e->src); i++) {
    const char *key = fa_st_meta_key(e->src, i);
    if (strncmp(key, "crc32:", 6) == 0) continue;
    FA_CHECK(e->n_meta < 32, "too many metadata entries to edit");
    if (e->n_meta == 32) break;
    e->keys[e->n_meta] = key;
    e->values[e->n_meta++] = fa_st_meta(e->src, key);
  }
}

static fa_st_tensor *edit_find(editable *e, const char *name) {
  for (int i = 0; i < e->n; i++)
    if (strcmp(e->t[i].name, name) == 0) return &e->t[i];
  return NULL;
}

static void edit_remove(editable *e, const char *name) {
  fa_st_tensor *t = edit_find(e, name);
  if (t) *t = e->t[--e->n];
}

static void edit_drop_meta(editable *e, const char *key) {
  for (int i = 0; i < e->n_meta; i++)
    if (strcmp(e->keys[i], key) == 0) {
      e->keys[i] = e->keys[--e->n_meta];
      e->values[i] = e->values[e->n_meta];
      return;
    }
}

static void edit_set_meta(editable *e, const char *key, const char *value) {
  for (int i = 0; i < e->n_meta; i++)
    if (strcmp(e->keys[i], key) == 0) e->values[i] = value;
}

static const char *edit_write(editable *e, const char *file) {
  const char *path = tmp_path(file);
  FA_CHECK(fa_st_write(path, e->t, e->n, e->keys, e->values, e->n_meta) == FA_OK, "%s", fa_error_message());
  fa_st_close(e->src);
  return path;
}

/* Loading `path` into `target` fails with a message holding every one of
 * `phrases`, and leaves the target untouched. */
static void check_refused(const char *path, fa_model *target, const char *const *phrases, int n_phrases) {
  float *before = snapshot(fa_model_store(target));
  fa_error_clear();
  fa_checkpoint *ck = fa_ckpt_open(path);
  fa_status st = ck ? fa_ckpt_load(ck, target, NULL, 0, NULL) : fa_error_code();
  const char *msg = fa_error_message();
  FA_CHECK(st != FA_OK, "%s loaded", path);
  for (int i = 0; i < n_phrases; i++) FA_CHECK(strstr(msg, phrases[i]), "message lacks \"%s\": %s", phrases[i], msg);
  FA_CHECK(matches_snapshot(fa_model_store(target), before), "%s: the target model changed", path);
  printf("refused as expected: %s\n", msg);
  fa_ckpt_close(ck);
  free(before);
}
#define REFUSED(path, target, ...)                                       \
  do {                                                                   \
    const char *const phrases_[] = {__VA_ARGS__};                        \
    check_refused(path, target, phrases_, sizeof phrases_ / sizeof *phrases_); \
  } while (0)

static void check_bad_inputs(void) {
  fa_model_config c = cfg(FA_ARCH_CNN, 3, 8, 8, 10, 2, 4, 0);
  fa_model *m = random_model(&c, 5);
  char good[4096]; /* tmp_path's buffers are reused */
  snprintf(good, sizeof good, "%s", tmp_path("good.safetensors"));
  FA_CHECK(fa_ckpt_save(good, m, 0, NULL, 0, run_meta) == FA_OK, "%s", fa_error_message());
  fa_model *target = random_model(&c, 6);
  static float big[10 * 300];
  editable e;

  edit_open(&e, good);
  edit_remove(&e, "_model.2.bias");
  REFUSED(edit_write(&e, "missing.safetensors"), target, "\"_model.2.bias\" is missing", "left unchanged");

  edit_open(&e, good);
  e.t[e.n++] = (fa_st_tensor){"_model.9.weight", FA_DTYPE_F32, 1, {4}, 16, big};
  REFUSED(edit_write(&e, "extra.safetensors"), target, "\"_model.9.weight\" is in the file but not in the model");

  edit_open(&e, good);
  *edit_find(&e, "_model.5.weight") = (fa_st_tensor){"_model.5.weight", FA_DTYPE_F32, 2, {10, 300}, sizeof big, big};
  REFUSED(edit_write(&e, "shape.safetensors"), target,
          "\"_model.5.weight\" has shape (10, 300) in the file but (10, 256) in the model");

  edit_open(&e, good);
  edit_find(&e, "_model.0.weight")->dtype = FA_DTYPE_I32; /* same size, so only the dtype is wrong */
  REFUSED(edit_write(&e, "dtype.safetensors"), target, "\"_model.0.weight\" is I32");

  edit_open(&e, good); /* five problems: four named, one counted */
  for (const char *const *n = (const char *const[]){"_model.0.weight", "_model.0.bias", "_model.2.weight",
                                                    "_model.2.bias", "_model.5.bias", NULL};
       *n; n++)
    edit_remove(&e, *n);
  REFUSED(edit_write(&e, "many.safetensors"), target, "(5 problems)", "and 1 more");

  /* the same architecture with other settings: the file's metadata is quoted */
  fa_model_config c8 = cfg(FA_ARCH_CNN, 3, 8, 8, 10, 2, 8, 0);
  fa_model *m8 = random_model(&c8, 7);
  const char *wide = tmp_path("wide.safetensors");
  FA_CHECK(fa_ckpt_save(wide, m8, 0, NULL, 0, run_meta) == FA_OK, "%s", fa_error_message());
  REFUSED(wide, target, "does not fit the model, a cnn (n_layers 2, n_filters 4)",
          "The file holds a cnn (n_layers 2, n_filters 8)");
  fa_model_destroy(m8);

  /* another architecture */
  fa_model_config lc = cfg(FA_ARCH_LENET, 3, 8, 8, 10, 0, 0, 0);
  fa_model *lenet = random_model(&lc, 8);
  REFUSED(good, lenet, "holds a cnn model, not a lenet", "--model cnn");
  fa_model_destroy(lenet);

  /* files that are not checkpoints at all */
  size_t len = 0;
  FILE *fp = fopen(good, "rb");
  fseek(fp, 0, SEEK_END);
  len = (size_t)ftell(fp);
  rewind(fp);
  char *bytes = malloc(len);
  FA_CHECK(fread(bytes, 1, len, fp) == len, "read %s", good);
  fclose(fp);
  const size_t cuts[] = {len - 1, len / 2, 100, 5};
  for (int i = 0; i < 4; i++) {
    const char *path = tmp_path("truncated.safetensors");
    fp = fopen(path, "wb");
    fwrite(bytes, 1, cuts[i], fp);
    fclose(fp);
    REFUSED(path, target, "truncated.safetensors");
  }
  free(bytes);
  const char *text = tmp_path("notes.txt");
  fp = fopen(text, "w");
  fputs("these are my notes, not a checkpoint\n", fp);
  fclose(fp);
  REFUSED(text, target, "notes.txt");
  REFUSED(tmp_path("no_such_file.safetensors"), target, "no_such_file.safetensors");

  /* the optimiser state asked for but absent */
  fa_checkpoint *ck = fa_ckpt_open(good);
  fa_store *opt = fake_optimizer(target, 9);
  fa_ckpt_extra extra = {"optimizer.", opt};
  float *before = snapshot(fa_model_store(target));
  FA_CHECK(fa_ckpt_load(ck, target, &extra, 1, NULL) != FA_OK && strstr(fa_error_message(), "optimizer.exp_avg."),
           "missing optimiser state: %s", fa_error_message());
  FA_CHECK(matches_snapshot(fa_model_store(target), before), "target changed");
  free(before);
  fa_store_destroy(opt);
  fa_ckpt_close(ck);

  /* metadata: none (a plain safetensors of the right tensors) and damaged */
  edit_open(&e, good);
  edit_drop_meta(&e, "arch");
  ck = fa_ckpt_open(edit_write(&e, "no_arch.safetensors"));
  fa_model_config got;
  FA_CHECK(fa_ckpt_config(ck, &got) != FA_OK && strstr(fa_error_message(), "torch_to_safetensors.py"),
           "no arch: %s", fa_error_message());
  FA_CHECK(!fa_ckpt_load_model(ck), "a model from a file without arch");
  FA_CHECK(fa_ckpt_load(ck, target, NULL, 0, NULL) == FA_OK, "an existing model loads without metadata: %s",
           fa_error_message());
  FA_CHECK(same_bits(fa_model_store(m), fa_model_store(target)), "loaded bits");
  fa_ckpt_close(ck);

  edit_open(&e, good);
  edit_set_meta(&e, "n_filters", "four");
  ck = fa_ckpt_open(edit_write(&e, "bad_meta.safetensors"));
  FA_CHECK(fa_ckpt_config(ck, &got) != FA_OK && strstr(fa_error_message(), "\"n_filters\" is \"four\""), "%s",
           fa_error_message());
  fa_ckpt_close(ck);

  edit_open(&e, good);
  edit_set_meta(&e, "height", "0");
  ck = fa_ckpt_open(edit_write(&e, "zero_height.safetensors"));
  FA_CHECK(!fa_ckpt_load_model(ck) && strstr(fa_error_message(), "cannot be built"), "%s", fa_error_message());
  fa_ckpt_close(ck);

  /* bad saves: a reserved metadata key, a directory that does not exist */
  const char *const bad_keys[] = {"arch"}, *const bad_values[] = {"cnn"};
  FA_CHECK(fa_ckpt_save(tmp_path("x.safetensors"), m, 0, NULL, 0, (fa_ckpt_meta_list){bad_keys, bad_values, 1}) ==
                   FA_ERR_INVALID &&
               strstr(fa_error_message(), "\"arch\" is written from the model config"),
           "%s", fa_error_message());
  FA_CHECK(fa_ckpt_save(tmp_path("no/such/dir/x.safetensors"), m, 0, NULL, 0, run_meta) != FA_OK &&
               strstr(fa_error_message(), "no/such/dir"),
           "%s", fa_error_message());
  fa_ckpt_extra bad_extra = {"", fa_model_store(m)};
  FA_CHECK(fa_ckpt_save(tmp_path("x.safetensors"), m, 0, &bad_extra, 1, run_meta) == FA_ERR_INVALID,
           "an extra store without prefix");

  fa_model_destroy(target);
  fa_model_destroy(m);
}

/* num_batches_tracked: optional (older PyTorch files lack it), but an I64
 * scalar when present. */
/* Checksums: fastadv writes one per tensor; a flipped bit in any tensor's
 * data, a tensor without its checksum, a checksum without its tensor or a
 * checksum that is not 8 hex digits is refused at open, naming the tensor.
 * Files without checksums (PyTorch's) open as before: the fixtures. */
static void check_checksums(void) {
  fa_model_config c = cfg(FA_ARCH_CNN, 3, 8, 8, 10, 2, 4, 0);
  fa_model *m = random_model(&c, 11);
  fa_store *opt = fake_optimizer(m, 12);
  fa_ckpt_extra extra = {"optimizer.", opt};
  const char *names[] = {"_model.0.weight", "_model.5.bias", "optimizer.exp_avg._model.2.weight"};
  for (int i = 0; i < 3; i++) {
    const char *path = tmp_path("flipped.safetensors");
    FA_CHECK(fa_ckpt_save(path, m, 0, &extra, 1, run_meta) == FA_OK, "%s", fa_error_message());
    fa_checkpoint *ck = fa_ckpt_open(path);
    FA_CHECK(ck != NULL, "an intact file opens: %s", fa_error_message());
    fa_ckpt_close(ck);
    FA_CHECK(fa_test_flip_bit(path, names[i]), "cannot flip a bit of %s", names[i]);
    char want[128];
    snprintf(want, sizeof want, "\"%s\" does not match its checksum", names[i]);
    fa_model *target = random_model(&c, 13);
    REFUSED(path, target, want, "the file is damaged");
    fa_model_destroy(target);
  }
  char good[4096];
  snprintf(good, sizeof good, "%s", tmp_path("good_crc.safetensors"));
  FA_CHECK(fa_ckpt_save(good, m, 0, NULL, 0, run_meta) == FA_OK, "%s", fa_error_message());
  fa_st_file *src = fa_st_open(good);
  int n = fa_st_count(src), n_meta = fa_st_meta_count(src);
  fa_st_tensor t[16];
  const char *keys[64], *values[64];
  for (int i = 0; i < n && i < 16; i++) t[i] = *fa_st_get(src, i);
  for (int i = 0; i < n_meta && i < 64; i++) keys[i] = fa_st_meta_key(src, i), values[i] = fa_st_meta(src, keys[i]);
  FA_CHECK(n == 6 && n_meta == 10 + 5 + 6, "%d tensors, %d metadata entries (want 6, 10 + 5 + 6 checksums)", n,
           n_meta);
  fa_model *target = random_model(&c, 14);
  /* the last metadata entries are the checksums, in the tensors' order */
  const char *path = tmp_path("no_crc.safetensors");
  FA_CHECK(fa_st_write(path, t, n, keys, values, n_meta - 1) == FA_OK, "%s", fa_error_message());
  REFUSED(path, target, "has no checksum, though the file's other tensors have");
  path = tmp_path("orphan_crc.safetensors");
  FA_CHECK(fa_st_write(path, t, n - 1, keys, values, n_meta) == FA_OK, "%s", fa_error_message());
  REFUSED(path, target, "holds the checksum of", "a tensor the file does not have");
  values[n_meta - 1] = "12345g78";
  path = tmp_path("bad_crc.safetensors");
  FA_CHECK(fa_st_write(path, t, n, keys, values, n_meta) == FA_OK, "%s", fa_error_message());
  REFUSED(path, target, "is \"12345g78\", not 8 hexadecimal digits");
  fa_st_close(src);
  fa_model_destroy(target);
  fa_store_destroy(opt);
  fa_model_destroy(m);
}

/* A NaN or an Inf in a file without checksums (PyTorch's, an edited one) is
 * refused by every load, naming the tensor; also one that appears only in
 * the conversion to float32 (an F64 1e300). Bad metadata dimensions are
 * refused before any size is computed from them (no int overflow). */
static void check_values_and_dimensions(void) {
  fa_model_config c = cfg(FA_ARCH_CNN, 3, 8, 8, 10, 2, 4, 0);
  fa_model *m = random_model(&c, 15), *target = random_model(&c, 16);
  char good[4096];
  snprintf(good, sizeof good, "%s", tmp_path("values.safetensors"));
  FA_CHECK(fa_ckpt_save(good, m, 0, NULL, 0, run_meta) == FA_OK, "%s", fa_error_message());
  static float bad[10 * 256];
  static double huge[4];
  editable e;
  edit_open(&e, good);
  memcpy(bad, edit_find(&e, "_model.5.weight")->data, sizeof bad);
  bad[17] = NAN;
  edit_find(&e, "_model.5.weight")->data = bad;
  const char *path = edit_write(&e, "nan.safetensors");
  REFUSED(path, target, "\"_model.5.weight\" holds NaN at element 17", "left unchanged");
  fa_checkpoint *ck = fa_ckpt_open(path);
  fa_model *loaded = ck ? fa_ckpt_load_model(ck) : NULL;
  FA_CHECK(ck && !loaded && strstr(fa_error_message(), "\"_model.5.weight\" holds NaN at element 17"),
           "fa_ckpt_load_model of a NaN: %s", fa_error_message());
  fa_model_destroy(loaded);
  fa_ckpt_close(ck);

  edit_open(&e, good);
  huge[2] = -1e300;
  *edit_find(&e, "_model.2.bias") = (fa_st_tensor){"_model.2.bias", FA_DTYPE_F64, 1, {4}, sizeof huge, huge};
  REFUSED(edit_write(&e, "f64_inf.safetensors"), target, "\"_model.2.bias\" holds -Inf at element 2");

  edit_open(&e, good);
  edit_set_meta(&e, "n_filters", "1048576");
  edit_set_meta(&e, "height", "2048");
  edit_set_meta(&e, "width", "2048");
  path = edit_write(&e, "huge_dims.safetensors");
  ck = fa_ckpt_open(path);
  loaded = ck ? fa_ckpt_load_model(ck) : NULL;
  FA_CHECK(ck && !loaded && strstr(fa_error_message(), "cannot be built") &&
               strstr(fa_error_message(), "at most 65536 (got 3 channels, 2048x2048, 10 classes, 1048576 filters"),
           "dimensions beyond the limits: %s", fa_error_message());
  printf("refused as expected: %s\n", fa_error_message());
  fa_model_destroy(loaded);
  fa_ckpt_close(ck);
  fa_model_config wide = cfg(FA_ARCH_CNN, 1, 65536, 65536, 10, 1, 1, 0); /* 2^32 features */
  FA_CHECK(!fa_model_create(&wide) && strstr(fa_error_message(), "make 4294967296 features"),
           "a cnn of 2^32 features: %s", fa_error_message());
  fa_model_destroy(target);
  fa_model_destroy(m);
}

static void check_num_batches_tracked(void) {
  const char *src = fa_test_source_path("tests/fixtures/ckpt_resnet18w2.safetensors");
  fa_checkpoint *ck = fa_ckpt_open(src);
  fa_model *target = ck ? fa_ckpt_load_model(ck) : NULL;
  fa_ckpt_close(ck);
  FA_CHECK(target, "%s", fa_error_message());
  if (!target) return;
  editable e;
  edit_open(&e, src);
  for (int i = 0; i < e.n; i++)
    if (strstr(e.t[i].name, ".num_batches_tracked")) e.t[i--] = e.t[--e.n];
  ck = fa_ckpt_open(edit_write(&e, "no_nbt.safetensors"));
  int64_t nbt = -1;
  FA_CHECK(fa_ckpt_load(ck, target, NULL, 0, &nbt) == FA_OK && nbt == 0, "without num_batches_tracked: %s",
           fa_error_message());
  fa_ckpt_close(ck);

  static const float one = 1;
  edit_open(&e, src);
  *edit_find(&e, "layer2.1.bn2.num_batches_tracked") =
      (fa_st_tensor){"layer2.1.bn2.num_batches_tracked", FA_DTYPE_F32, 0, {0}, sizeof one, &one};
  REFUSED(edit_write(&e, "f32_nbt.safetensors"), target, "\"layer2.1.bn2.num_batches_tracked\" is F32",
          "PyTorch writes an I64 scalar");
  fa_model_destroy(target);
}

/* ------------------------------------------------------ dtype conversion */

static uint16_t to_half(float v) { /* exact for the values used here: k/8, |k| < 64 */
  if (v == 0) return 0;
  uint32_t bits;
  memcpy(&bits, &v, 4);
  uint32_t sign = (bits >> 16) & 0x8000, exp = ((bits >> 23) & 0xff) - 127 + 15, mant = (bits >> 13) & 0x3ff;
  return (uint16_t)(sign | exp << 10 | mant);
}

static void check_conversions(void) {
  fa_model_config c = cfg(FA_ARCH_CNN, 1, 4, 4, 2, 1, 2, 0);
  fa_model *m = fa_model_create(&c);
  fa_store *s = fa_model_store(m);
  for (int i = 0; i < fa_store_count(s); i++) {
    fa_tensor *t = fa_store_get(s, i);
    float v[64];  /* the largest tensor of this cnn: (2, 32) */
    for (size_t j = 0; j < fa_tensor_numel(t); j++) v[j] = (float)((int)((j * 7 + (size_t)i) % 61) - 30) / 8;
    fa_tensor_write(t, 0, fa_tensor_numel(t), v);
  }
  const char *path = tmp_path("convert_src.safetensors");
  FA_CHECK(fa_ckpt_save(path, m, 0, NULL, 0, run_meta) == FA_OK, "%s", fa_error_message());
  editable e;
  edit_open(&e, path);
  fa_tensor *w = fa_store_find(s, "_model.0.weight"), *b = fa_store_find(s, "_model.0.bias"),
            *lw = fa_store_find(s, "_model.3.weight");
  double w64[18];
  uint16_t b16[2], lw16[64];
  const float *wv = fa_test_values(w), *bv = fa_test_values(b), *lwv = fa_test_values(lw);
  for (int j = 0; j < 18; j++) w64[j] = wv[j];
  for (int j = 0; j < 2; j++) b16[j] = to_half(bv[j]);
  for (int j = 0; j < 64; j++) {
    uint32_t bits;
    memcpy(&bits, &lwv[j], 4);
    lw16[j] = (uint16_t)(bits >> 16); /* bfloat16: exact for k/8 */
  }
  fa_st_tensor *t = edit_find(&e, "_model.0.weight");
  t->dtype = FA_DTYPE_F64, t->nbytes = sizeof w64, t->data = w64;
  t = edit_find(&e, "_model.0.bias");
  t->dtype = FA_DTYPE_F16, t->nbytes = sizeof b16, t->data = b16;
  t = edit_find(&e, "_model.3.weight");
  t->dtype = FA_DTYPE_BF16, t->nbytes = sizeof lw16, t->data = lw16;
  fa_checkpoint *ck = fa_ckpt_open(edit_write(&e, "converted.safetensors"));
  fa_model *back = fa_model_create(&c);
  FA_CHECK(fa_ckpt_load(ck, back, NULL, 0, NULL) == FA_OK, "%s", fa_error_message());
  FA_CHECK(same_bits(s, fa_model_store(back)), "F64 / F16 / BF16 values converted exactly");
  fa_ckpt_close(ck);
  fa_model_destroy(back);
  fa_model_destroy(m);
}

/* ------------------------------------------------------- PyTorch -> C */

static fa_tensor *eval_logits(fa_model *m, int n, const float *x) {
  const fa_model_config *c = fa_model_get_config(m);
  int shape[4] = {n, c->in_channels, c->height, c->width};
  return fa_model_forward(m, fa_tensor_from(4, shape, x), false);
}

static void check_pytorch_fixture(const char *name, int64_t want_nbt) {
  char file[128], key[64];
  snprintf(file, sizeof file, "tests/fixtures/ckpt_%s.safetensors", name);
  fa_checkpoint *ck = fa_ckpt_open(fa_test_source_path(file));
  FA_CHECK(ck, "%s", fa_error_message());
  if (!ck) return;
  fa_model *m = fa_ckpt_load_model(ck);
  FA_CHECK(m, "%s: %s", name, fa_error_message());
  int64_t nbt = -1;
  if (m) FA_CHECK(fa_ckpt_load(ck, m, NULL, 0, &nbt) == FA_OK && nbt == want_nbt, "%s: nbt %lld", name, (long long)nbt);
  FA_CHECK(strcmp(fa_ckpt_meta(ck, "epoch"), "3") == 0 && strcmp(fa_ckpt_meta(ck, "dataset"), "cifar10") == 0,
           "%s: metadata from torch_to_safetensors.py --meta", name);
  fa_st_file *ref = fa_st_open(fa_test_source_path("tests/fixtures/ckpt_logits.safetensors"));
  FA_CHECK(ref, "%s", fa_error_message());
  if (m && ref) {
    const int64_t xs[4] = {4, 3, 32, 32}, ls[2] = {4, 10};
    static float x[4 * 3 * 32 * 32];
    double want[40];
    snprintf(key, sizeof key, "%s.x_u8", name);
    FA_CHECK(fa_st_copy(ref, key, FA_DTYPE_F32, 4, xs, x) == FA_OK, "%s", fa_error_message());
    for (size_t i = 0; i < sizeof x / sizeof *x; i++) x[i] /= 255.0f; /* as PyTorch: float32 division */
    snprintf(key, sizeof key, "%s.logits", name);
    FA_CHECK(fa_st_copy(ref, key, FA_DTYPE_F64, 2, ls, want) == FA_OK, "%s", fa_error_message());
    fa_arena_mark mark = fa_arena_get_mark(arena);
    fa_tensor *logits = eval_logits(m, 4, x);
    FA_CHECK(logits, "%s", fa_error_message());
    if (logits) {
      double err = fa_test_rel_err(fa_test_values(logits), want, 40);
      printf("PyTorch -> C, %s: logits relative error %.3g\n", name, err);
      FA_CHECK(err < 1e-5, "%s: logits differ from PyTorch's: %g", name, err);
    }
    fa_arena_release(arena, mark);
  }
  fa_st_close(ref);
  fa_model_destroy(m);
  fa_ckpt_close(ck);
}

/* ------------------------------------------------------- C -> PyTorch */

static bool have_torch(void) {
  return access("/usr/bin/python3", X_OK) == 0 && system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0;
}

/* Writes a checkpoint (with optimiser state, which PyTorch must skip) and a
 * data file with inputs and the logits computed here; the script loads the
 * checkpoint with strict=True and compares its logits with ours. */
static void check_loads_in_pytorch(const fa_model_config *c, const char *name) {
  fa_model *m = random_model(c, 11);
  fa_store *opt = fake_optimizer(m, 12);
  fa_ckpt_extra extra = {"optimizer.", opt};
  char file[128];
  snprintf(file, sizeof file, "%s.safetensors", name);
  const char *ckpt = tmp_path(file);
  FA_CHECK(fa_ckpt_save(ckpt, m, 5, &extra, 1, run_meta) == FA_OK, "%s", fa_error_message());

  enum { N = 4 };
  size_t per = (size_t)c->in_channels * (size_t)c->height * (size_t)c->width;
  float *x = malloc(sizeof(float) * N * per);
  fa_rng rng = fa_rng_stream(13, FA_STREAM_ATTACK);
  fa_rng_fill_uniform(&rng, x, N * per, 0, 1);
  fa_arena_mark mark = fa_arena_get_mark(arena);
  fa_tensor *logits = eval_logits(m, N, x);
  FA_CHECK(logits, "%s", fa_error_message());
  if (logits) {
    const fa_st_tensor data[2] = {
        {"x", FA_DTYPE_F32, 4, {N, c->in_channels, c->height, c->width}, sizeof(float) * N * per, x},
        {"logits", FA_DTYPE_F32, 2, {N, c->n_classes}, sizeof(float) * fa_tensor_numel(logits),
         fa_test_values(logits)}};
    snprintf(file, sizeof file, "%s_data.safetensors", name);
    const char *data_path = tmp_path(file);
    FA_CHECK(fa_st_write(data_path, data, 2, NULL, NULL, 0) == FA_OK, "%s", fa_error_message());
    char cmd[12288];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s' --data '%s' --compare-logits --tol 1e-5",
             fa_test_source_path("scripts/load_in_pytorch.py"), ckpt, data_path);
    printf("C -> PyTorch, %s:\n", name);
    fflush(stdout);
    FA_CHECK(system(cmd) == 0, "%s: the checkpoint written here does not load in PyTorch or its logits differ", name);
  }
  fa_arena_release(arena, mark);
  free(x);
  fa_store_destroy(opt);
  fa_model_destroy(m);
}

int main(void) {
  tmpdir = fa_test_tmpdir("test_checkpoint");
  arena = fa_arena_create((size_t)1 << 30);
  fa_arena_set_current(arena);

  const fa_model_config resnet = cfg(FA_ARCH_RESNET18, 3, 32, 32, 10, 0, 0, 4);
  const fa_model_config cnn = cfg(FA_ARCH_CNN, 3, 32, 32, 10, 2, 4, 0);
  const fa_model_config lenet = cfg(FA_ARCH_LENET, 1, 28, 28, 10, 0, 0, 0);
  const fa_model_config binary = cfg(FA_ARCH_CNN, 1, 32, 32, 2, 1, 16, 0);
  check_round_trip(&resnet, "resnet18.safetensors");
  check_round_trip(&cnn, "cnn.safetensors");
  check_round_trip(&lenet, "lenet.safetensors");
  check_round_trip(&binary, "cnn_binary_gs.safetensors");
  check_bad_inputs();
  check_checksums();
  check_values_and_dimensions();
  check_num_batches_tracked();
  check_conversions();
  check_pytorch_fixture("cnn4", 0);
  check_pytorch_fixture("resnet18w2", 7);

  if (have_torch()) {
    check_loads_in_pytorch(&resnet, "to_pytorch_resnet18");
    check_loads_in_pytorch(&cnn, "to_pytorch_cnn");
    check_loads_in_pytorch(&lenet, "to_pytorch_lenet");
  } else {
    printf("SKIP C -> PyTorch checks: /usr/bin/python3 cannot import torch (install python3-torch)\n");
  }
  fa_arena_destroy(arena);
  return fa_test_exit();
}
