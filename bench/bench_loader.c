/* Data loader throughput on CIFAR-10-shaped data: reading the published
 * files, then shuffling, augmenting (crop 32 with 4 px padding, flip),
 * converting to float and batching (batch 128, train mode), on one core
 * (no prefetch thread), and with the prefetch thread; then the time a
 * training loop spends waiting in fa_loader_next while it "trains" (sleeps)
 * 2 ms per batch, without and with prefetch.
 *   build/bench/bench_loader [epochs]
 * Uses ../shared/data/cifar10 when present, random images otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "core/rng.h"
#include "data/dataset.h"
#include "data/loader.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static fa_status random_cifar_shaped(fa_dataset *ds) {
  fa_status st = fa_dataset_alloc(ds, 50000, 3, 32, 32, 10, "bench");
  if (st) return st;
  fa_rng r = fa_rng_stream(1, FA_STREAM_INIT);
  for (size_t i = 0; i < (size_t)ds->n * 3072; i++) ds->images[i] = (uint8_t)fa_rng_u32(&r);
  for (int i = 0; i < ds->n; i++) ds->labels[i] = (uint8_t)(i % 10);
  ds->train_augment = FA_AUGMENT_CROP_FLIP;
  return FA_OK;
}

/* Images per second over `epochs` epochs; a checksum keeps the work honest.
 * With train_us > 0 the consumer sleeps that long per batch. *waited gets
 * the seconds per batch spent inside fa_loader_next. */
static double run_epochs(const fa_dataset *ds, int prefetch, int epochs, int train_us, double *cpu_seconds,
                         double *waited) {
  enum { B = 128 };
  fa_loader_config cfg = {FA_LOADER_TRAIN, B, 0, ds->train_augment, prefetch};
  fa_loader *l = fa_loader_create(ds, &cfg, fa_rng_stream(0, FA_STREAM_SHUFFLE), fa_rng_stream(0, FA_STREAM_AUGMENT));
  if (!l) {
    fprintf(stderr, "%s\n", fa_error_message());
    exit(1);
  }
  float *x = malloc(sizeof(float) * B * 3072);
  int y[B];
  double checksum = 0, t0 = now(), c0 = cpu_now();
  long images = 0, batches = 0;
  double in_next = 0;
  for (int e = 0; e < epochs; e++) {
    fa_loader_begin_epoch(l);
    for (;;) {
      double t = now();
      int n = fa_loader_next(l, x, y);
      in_next += now() - t;
      if (n == 0) break;
      images += n;
      batches++;
      checksum += x[n * 3072 - 1] + y[0];
      if (train_us) usleep((useconds_t)train_us);
    }
  }
  double seconds = now() - t0;
  *cpu_seconds = cpu_now() - c0;
  *waited = in_next / (double)batches;
  fa_loader_free(l);
  free(x);
  if (checksum < 0) printf("impossible\n");
  return (double)images / seconds;
}

int main(int argc, char **argv) {
  int epochs = argc > 1 ? atoi(argv[1]) : 3;
  fa_dataset ds;
  double t0 = now();
  const char *source = "CIFAR-10 train (" FA_SHARED_DIR "/data)";
  if (fa_dataset_load("cifar10", "train", FA_SHARED_DIR "/data", &ds) != FA_OK) {
    printf("CIFAR-10 not found (%s); using 50,000 random images\n", fa_error_message());
    source = "random CIFAR-shaped images";
    if (random_cifar_shaped(&ds) != FA_OK) return 1;
  } else {
    double seconds = now() - t0;
    printf("read CIFAR-10 train: %d images in %.3f s = %.0f images/s\n", ds.n, seconds, ds.n / seconds);
  }
  double cpu, waited;
  double one_core = run_epochs(&ds, 0, epochs, 0, &cpu, &waited);
  printf("%s, batch 128, crop+flip+float, %d epochs, one thread: %.0f images/s (%.0f images per cpu second)\n",
         source, epochs, one_core, epochs * (double)(ds.n / 128 * 128) / cpu);
  double prefetched = run_epochs(&ds, 1, epochs, 0, &cpu, &waited);
  printf("same with the prefetch thread (consumer does no work): %.0f images/s (cpu %.2f s, both threads)\n",
         prefetched, cpu);
  for (int prefetch = 0; prefetch <= 1; prefetch++) {
    run_epochs(&ds, prefetch, 1, 2000, &cpu, &waited);
    printf("training loop sleeping 2 ms per batch, prefetch %s: %.1f us per batch waiting in fa_loader_next\n",
           prefetch ? "on " : "off", 1e6 * waited);
  }
  fa_dataset_free(&ds);
  return 0;
}
