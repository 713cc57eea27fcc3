// fuzz-build: src/train/resume.c -Wno-pass-failed -Wno-psabi src/train/config.c src/train/run_name.c src/adv/*.c src/train/checkpoint.c src/io/safetensors.c src/io/metrics.c src/io/json.c src/io/progress.c src/nn/*.c src/optim/*.c src/core/*.c src/backend/*.c src/backend/cpu/*.c src/backend/ref/*.c src/train/co_monitor.c src/data/loader.c src/data/augment.c -I/usr/include/x86_64-linux-gnu/openblas-openmp -L/usr/lib/x86_64-linux-gnu/openblas-openmp -lopenblas -ldnnl -lcjson -lz -lm -lpthread -fopenmp
/* libFuzzer target for the checkpoint loader as --resume uses it: the
 * input is written to a memory file and read with fa_resume_load into a
 * tiny cnn (1x2x2 inputs, 1 filter, 2 classes) with its Adam state and best
 * model, then the loader is set to the state read. Any input must be
 * refused with a message naming the file, or load a point that agrees
 * with the run (a place in it, finite numbers), and a batch can be drawn.
 * The seed (fuzz/corpus/resume/) is a valid checkpoint of this run,
 * written by the target itself with FA_FUZZ_WRITE_SEED=<path>. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/context.h"
#include "optim/optim.h"
#include "train/resume.h"

#define REQUIRE(cond) \
  do {                \
    if (!(cond)) abort(); \
  } while (0)

enum { N_EXAMPLES = 12, BATCH = 4 };

static fa_train_config config;
static fa_model *model;
static fa_optimizer *opt;
static fa_store *best;
static fa_dataset data;
static fa_loader *loader;
static uint8_t images[N_EXAMPLES * 4], labels[N_EXAMPLES];

static void write_seed(const char *path) {
  fa_resume_point p = {.iteration = 2, .epoch = 1, .batch = 1, .rep = 0, .best_train_pgd = 0.25,
                       .since_report = {.loss = 2.5, .correct = 1, .n = BATCH}, .run_name = "fuzz run"};
  fa_loader_begin_epoch(loader);
  fa_loader_begin_epoch(loader);
  float x[BATCH * 4];
  int y[BATCH];
  fa_loader_next(loader, x, y);
  p.loader = fa_loader_get_state(loader);
  REQUIRE(fa_tensor_write(fa_store_find(fa_optimizer_state(opt), "step"), 0, 1, (float[]){1}) == FA_OK);
  fa_resume_stores s = {model, fa_optimizer_state(opt), best, NULL};
  REQUIRE(fa_resume_save(path, &config, &s, &p) == FA_OK);
  fa_resume_point back;
  if (fa_resume_load(path, &config, fa_loader_batches_per_epoch(loader), &s, &back) != FA_OK) {
    fprintf(stderr, "the seed does not load: %s\n", fa_error_message());
    abort();
  }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fa_context *ctx = fa_context_create(FA_DEFAULT_BACKEND); /* where the stores live, for the process */
  REQUIRE(ctx);
  fa_context_set_current(ctx);
  fa_train_config_defaults(&config);
  strcpy(config.dataset, "fmnist");
  strcpy(config.model, "cnn");
  config.n_filters_cnn = 1;
  config.epochs = 2;
  config.batch_size = BATCH;
  fa_model_config mc = {.arch = FA_ARCH_CNN, .in_channels = 1, .height = 2, .width = 2, .n_classes = 2,
                        .n_layers = 1, .n_filters = 1};
  model = fa_model_create(&mc);
  fa_rng init = fa_rng_stream(0, FA_STREAM_INIT);
  fa_model_init(model, &init);
  fa_store *params = fa_model_store(model);
  opt = fa_adam_create(params, 0.9f, 0.999f, 1e-8f, config.weight_decay);
  best = fa_store_create();
  for (int i = 0; i < fa_store_count(params); i++) {
    const fa_tensor *t = fa_store_get(params, i);
    fa_store_new(best, fa_tensor_name(t), fa_tensor_ndim(t), fa_tensor_shape(t));
  }
  for (int i = 0; i < N_EXAMPLES * 4; i++) images[i] = (uint8_t)(i * 37);
  for (int i = 0; i < N_EXAMPLES; i++) labels[i] = (uint8_t)(i % 2);
  data = (fa_dataset){.n = N_EXAMPLES, .c = 1, .h = 2, .w = 2, .n_classes = 2, .images = images, .labels = labels};
  fa_loader_config lc = {.mode = FA_LOADER_TRAIN, .batch_size = BATCH};
  loader = fa_loader_create(&data, &lc, fa_rng_stream(0, FA_STREAM_SHUFFLE), fa_rng_stream(0, FA_STREAM_AUGMENT));
  REQUIRE(model && opt && best && loader);
  const char *seed = getenv("FA_FUZZ_WRITE_SEED");
  if (seed) write_seed(seed);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t size) {
  int fd = memfd_create("fuzz-resume", 0);
  REQUIRE(fd >= 0 && write(fd, bytes, size) == (ssize_t)size);
  char path[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  fa_error_clear();
  fa_resume_point p;
  memset(&p, 0xA5, sizeof p);
  fa_resume_stores s = {model, fa_optimizer_state(opt), best, NULL};
  int batches = fa_loader_batches_per_epoch(loader);
  fa_status st = fa_resume_load(path, &config, batches, &s, &p);
  if (st != FA_OK) {
    const char *m = fa_error_message();
    if (fa_error_code() == FA_OK || !strstr(m, path) || strchr(m, '\n')) {
      fprintf(stderr, "a refusal without the file's name, or on two lines: %s\n", m);
      abort();
    }
  } else {
    REQUIRE(p.iteration == fa_resume_iteration_at(p.epoch, p.batch, p.rep, batches, config.minibatch_replay));
    REQUIRE(p.epoch <= config.epochs + 1 && isfinite(p.best_train_pgd) && isfinite(p.since_report.loss));
    REQUIRE(p.run_name[0] && memchr(p.run_name, '\0', sizeof p.run_name));
    if (fa_loader_set_state(loader, &p.loader) == FA_OK) {
      float x[BATCH * 4];
      int y[BATCH];
      int n = fa_loader_next(loader, x, y);
      REQUIRE(n == 0 || n == BATCH);
      for (int i = 0; i < n; i++) REQUIRE(y[i] == 0 || y[i] == 1);
    }
  }
  close(fd);
  return 0;
}
