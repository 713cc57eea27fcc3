/* `fastadv inspect` on a checkpoint written here: the filter grid and the
 * feature maps as PNG images of the sizes the layout gives, and clear
 * errors for a missing or broken checkpoint. */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "analysis/image.h"
#include "core/rng.h"
#include "nn/model.h"
#include "train/checkpoint.h"
#include "testlib.h"

#define FMNIST "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"

static char out[65536], err[65536];

/* The colour map on NaN and Inf: white for NaN (and Inf / Inf), the end
 * colours for +-Inf, never an index outside the map. */
static void colours_of_non_finite(void) {
  fa_image img;
  FA_CHECK(fa_image_create(&img, 4, 2) == FA_OK, "a canvas");
  const float v[4] = {NAN, INFINITY, -INFINITY, 0};
  fa_image_draw_diverging(&img, 0, 0, v, 1, 4, 1, 1);
  fa_image_draw_diverging(&img, 0, 1, v + 1, 1, 1, 1, INFINITY);
  static const uint8_t want[5][3] = {{255, 255, 255}, {128, 0, 0}, {0, 0, 77}, {255, 255, 255}, {255, 255, 255}};
  const uint8_t *px[5] = {img.rgb, img.rgb + 3, img.rgb + 6, img.rgb + 9, img.rgb + 12};
  for (int i = 0; i < 5; i++)
    FA_CHECK(memcmp(px[i], want[i], 3) == 0, "pixel %d: %d %d %d", i, px[i][0], px[i][1], px[i][2]);
  fa_image_free(&img);
}

/* A checkpoint of the model with the last value of a first-layer tensor replaced: refused
 * (exit 1) naming the tensor, not a crash. */
static void non_finite_refused(const char *dir, const char *tensor, float value) {
  char ckpt[4200], args[16384];
  snprintf(ckpt, sizeof ckpt, "%s/bad_%s.safetensors", dir, tensor);
  fa_model_config mc = {.arch = FA_ARCH_CNN, .in_channels = 1, .height = 28, .width = 28, .n_classes = 10,
                        .n_layers = 1, .n_filters = 4};
  fa_model *model = fa_model_create(&mc);
  fa_rng rng = fa_rng_stream(0, FA_STREAM_INIT);
  fa_model_init(model, &rng);
  fa_tensor *t = fa_store_find(fa_model_store(model), tensor);
  fa_tensor_write(t, fa_tensor_numel(t) - 1, 1, &value);
  const char *keys[] = {"dataset", "eps"}, *values[] = {"fmnist", "51"};
  FA_CHECK(fa_ckpt_save(ckpt, model, 0, NULL, 0, (fa_ckpt_meta_list){keys, values, 2}) == FA_OK, "checkpoint");
  fa_model_destroy(model);
  for (int what = 0; what < 2; what++) {
    snprintf(args, sizeof args, "inspect --what=%s --model_path='%s' --out='%s/bad.png'",
             what ? "feature_maps" : "filters", ckpt, dir);
    int status = fa_test_run_fastadv(args, dir, out, err, sizeof out);
    FA_CHECK(status == 1 && strstr(err, tensor), "%s = %g, %s: exit %d: %s", tensor, value,
             what ? "feature_maps" : "filters", status, err);
  }
}

int main(void) {
  const char *dir = fa_test_tmpdir("test_analysis_inspect");
  char ckpt[4200], args[16384], png[4200];
  snprintf(ckpt, sizeof ckpt, "%s/cnn4.safetensors", dir);
  fa_model_config mc = {.arch = FA_ARCH_CNN, .in_channels = 1, .height = 28, .width = 28, .n_classes = 10,
                        .n_layers = 1, .n_filters = 4};
  fa_model *model = fa_model_create(&mc);
  fa_rng rng = fa_rng_stream(0, FA_STREAM_INIT);
  fa_model_init(model, &rng);
  const char *keys[] = {"dataset", "eps"}, *values[] = {"fmnist", "51"};
  FA_CHECK(fa_ckpt_save(ckpt, model, 0, NULL, 0, (fa_ckpt_meta_list){keys, values, 2}) == FA_OK, "checkpoint");
  fa_model_destroy(model);

  /* filters: 4 filters of 1 x 3 x 3, 2 per row, 24 px a weight: 2 * 72 + 10 gap + 2 * 10 margin = 174 */
  snprintf(png, sizeof png, "%s/filters.png", dir);
  snprintf(args, sizeof args, "inspect --model_path='%s' --out='%s'", ckpt, png);
  int w = 0, h = 0;
  long bytes = 0;
  FA_CHECK(fa_test_run_fastadv(args, dir, out, err, sizeof out) == 0, "inspect filters: %s", err);
  FA_CHECK(fa_test_png_size(png, &w, &h, &bytes) && w == 174 && h == 174, "filters image %d x %d", w, h);
  FA_CHECK(bytes > 100, "filters image of %ld bytes", bytes);
  FA_CHECK(strstr(out, "filter 4: L2 norm") != NULL, "the filter norms are printed");

  /* feature maps of a Fashion-MNIST image: x and 4 maps of 28 x 28 at 4 px, 2 rows */
  if (access(FMNIST, R_OK) == 0) {
    snprintf(png, sizeof png, "%s/maps.png", dir);
    snprintf(args, sizeof args, "inspect --what=feature_maps --index=3 --model_path='%s' --out='%s'", ckpt, png);
    FA_CHECK(fa_test_run_fastadv(args, dir, out, err, sizeof out) == 0, "inspect feature_maps: %s", err);
    FA_CHECK(fa_test_png_size(png, &w, &h, &bytes) && w == 5 * 112 + 4 * 10 + 20 && h == 2 * 112 + 10 + 20,
             "feature map image %d x %d", w, h);
    FA_CHECK(bytes > 2000, "feature map image of %ld bytes", bytes);
    FA_CHECK(strstr(out, "eta uniform in [-51, 51]/255") && strstr(out, "noise gain"), "eps from the checkpoint: %s", out);
    snprintf(args, sizeof args, "inspect --what=feature_maps --index=10000 --model_path='%s' --out='%s'", ckpt, png);
    FA_CHECK(fa_test_run_fastadv(args, dir, out, err, sizeof out) == 1 && strstr(err, "--index=10000"),
             "an example past the end: %s", err);
  } else {
    printf("skipped the feature maps: %s is not installed (dataset-fashion-mnist)\n", FMNIST);
  }

  /* bad inputs */
  colours_of_non_finite();
  non_finite_refused(dir, "_model.0.weight", NAN);
  non_finite_refused(dir, "_model.0.weight", INFINITY);
  non_finite_refused(dir, "_model.0.bias", -INFINITY);
  snprintf(args, sizeof args, "inspect --model_path='%s/missing.safetensors' --out='%s'", dir, png);
  FA_CHECK(fa_test_run_fastadv(args, dir, out, err, sizeof out) == 1 && strstr(err, "missing.safetensors"),
           "a missing checkpoint is named: %s", err);
  char junk[4200];
  snprintf(junk, sizeof junk, "%s/junk.safetensors", dir);
  FILE *f = fopen(junk, "w");
  fputs("not a safetensors file", f);
  fclose(f);
  snprintf(args, sizeof args, "inspect --model_path='%s' --out='%s'", junk, png);
  FA_CHECK(fa_test_run_fastadv(args, dir, out, err, sizeof out) == 1 && strstr(err, "fastadv inspect:"),
           "a broken checkpoint is an error: %s", err);
  FA_CHECK(fa_test_run_fastadv("inspect --out=x.png", dir, out, err, sizeof out) == 2 && strstr(err, "--model_path"),
           "no checkpoint: %s", err);
  FA_CHECK(fa_test_run_fastadv("inspect --what=weights", dir, out, err, sizeof out) == 2 && strstr(err, "--what"),
           "a bad --what: %s", err);
  return fa_test_exit();
}
