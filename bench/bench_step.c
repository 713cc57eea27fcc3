/* Training-step and robust-evaluation benchmark: one configuration per run
 * (run each in a fresh process, so that the peak memory is its own), printed
 * as one JSON line. bench/compare_pytorch.py runs these next to the PyTorch
 * peer bench/bench_step_torch.py and prints the table.
 *
 *   usage: bench_step MODEL WORKLOAD [reps] [warmup] [batch] [precision]
 *     MODEL     cnn (1 layer of 4 filters) | resnet18 (PreAct), 3x32x32, 10 classes
 *     WORKLOAD  fgsm       FGSM step, zero init, eps 8/255, alpha 1.25
 *               gradalign  the same + GradAlign, lambda 0.2 (double backprop)
 *               pgd10      PGD-10 training step, random init, alpha 2/255
 *               pgdI-R     evaluation PGD with I iterations and R restarts
 *                          (eps 8/255, alpha eps/4, eval mode), then the clean
 *                          and adversarial forward passes: e.g. pgd50-10
 *               sgemm      the machine's square SGEMM rate (GFLOP/s)
 *     precision f32 | bf16: the training step's (or the evaluation's) convolutions and matrix
 *               products in bfloat16, as --half_prec (core/context.h)
 *   defaults: reps 5, warmup 1, batch 128, f32; threads from OMP_NUM_THREADS.
 *
 * A training step is fa_train_step (attack, loss, parameter gradients) and
 * the optimiser step (Adam for the cnn, SGD for resnet18), as in training.
 * Random images in [0, 1] and random labels; the paper's initialisation.
 * GFLOP/s counts convolutions at their direct-algorithm cost and GEMMs
 * (fa_cpu_flops_done). Peak memory is the process's VmHWM. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adv/registry.h"
#include "backend/cpu/conv.h"
#include "core/arena.h"
#include "core/autograd.h"
#include "core/context.h"
#include "core/ops.h"
#include "core/update.h"
#include "nn/model.h"
#include "optim/optim.h"
#include "timing.h"
#include "train/step.h"

typedef struct {
  fa_model *model;
  fa_optimizer *opt;
  fa_trainer trainer;      /* training workloads */
  int pgd_iters, restarts; /* evaluation workloads (restarts > 0) */
  fa_rng eval_rng;
  fa_tensor *x;            /* persistent batch (B, 3, 32, 32) */
  fa_tensor *y;            /* its labels (B) */
  fa_arena *arena;
} bench_case;

static void die(const char *what) {
  fprintf(stderr, "bench_step: %s: %s\n", what, fa_error_message());
  exit(1);
}

static void run_train_step(void *ctx) {
  bench_case *c = ctx;
  fa_arena_mark mark = fa_arena_get_mark(c->arena);
  fa_step_stats stats = {0};
  if (fa_train_step(&c->trainer, c->x, c->y, 1.0f, &stats) != FA_OK) die("training step");
  fa_arena_release(c->arena, mark);
  if (fa_optimizer_step(c->opt, 1e-3f) != FA_OK) die("optimiser step");
  fa_context_synchronize(fa_tensor_context(c->x)); /* the device's queue done: the step's whole time */
}

/* evaluate.c's work for one batch: PGD with restarts, then clean and adversarial accuracy */
static void run_eval(void *ctx) {
  bench_case *c = ctx;
  fa_arena_mark mark = fa_arena_get_mark(c->arena);
  fa_attack_options options = {.n_iters = c->pgd_iters, .n_restarts = c->restarts};
  fa_eval_attack_input in = {.model = c->model, .x = c->x, .y = c->y, .eps = fa_pixels_of(8).value,
                             .options = &options, .rng = &c->eval_rng};
  fa_tensor *delta = fa_eval_attack_find("pgd")->perturb(&in);
  bool was = fa_set_grad_enabled(false);
  fa_tensor *clean = delta ? fa_model_forward(c->model, c->x, false) : NULL;
  fa_tensor *adv = clean ? fa_model_forward(c->model, fa_add(c->x, delta), false) : NULL;
  fa_set_grad_enabled(was);
  if (!adv) die("evaluation");
  fa_context_synchronize(fa_tensor_context(adv));
  fa_arena_release(c->arena, mark);
}

static fa_train_config train_config(const char *workload, int batch) {
  fa_train_config cfg;
  fa_train_config_defaults(&cfg);
  cfg.batch_size = batch;
  cfg.eps = fa_pixels_of(8);
  if (!strcmp(workload, "pgd10")) {
    cfg.attack = fa_train_attack_find("pgd");
    cfg.attack_init = FA_INIT_RANDOM;
    cfg.pgd_train_n_iters = 10;
    cfg.pgd_alpha_train = fa_pixels_of(2);
  } else {
    cfg.attack = fa_train_attack_find("fgsm");
    cfg.attack_init = FA_INIT_ZERO;
    cfg.fgsm_alpha = 1.25f;
    cfg.grad_align_cos_lambda = strcmp(workload, "gradalign") ? 0.0f : 0.2f;
  }
  return cfg;
}

static int sgemm_only(void) {
  fa_rng rng = fa_rng_stream(1, FA_STREAM_INIT);
  double gf = fa_bench_square_sgemm(&rng, 5, false);
  printf("{\"impl\": \"fastadv\", \"workload\": \"sgemm\", \"threads\": %d, \"gflops\": %.1f}\n",
         omp_get_max_threads(), gf);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "sgemm")) return sgemm_only();
  if (argc < 3) {
    fprintf(stderr, "usage: bench_step cnn|resnet18 fgsm|gradalign|pgd10|pgdI-R [reps] [warmup] [batch] [f32|bf16]\n"
                    "       bench_step sgemm\n");
    return 2;
  }
  const char *arch = argv[1], *workload = argv[2];
  int reps = argc > 3 ? atoi(argv[3]) : 5, warmup = argc > 4 ? atoi(argv[4]) : 1;
  int batch = argc > 5 ? atoi(argv[5]) : 128;
  const char *precision = argc > 6 ? argv[6] : "f32";
  bench_case c = {0};
  bool eval = sscanf(workload, "pgd%d-%d", &c.pgd_iters, &c.restarts) == 2;
  bool train = !strcmp(workload, "fgsm") || !strcmp(workload, "gradalign") || !strcmp(workload, "pgd10");
  if ((!eval && !train) || (eval && (c.pgd_iters < 1 || c.restarts < 1)) || reps < 1 ||
      reps > FA_BENCH_MAX_REPS || warmup < 0 || batch < 2 || (strcmp(precision, "f32") && strcmp(precision, "bf16"))) {
    fprintf(stderr, "bench_step: bad workload or counts (see the usage at the top of bench/bench_step.c)\n");
    return 2;
  }
  fa_model_config mc = {.in_channels = 3, .height = 32, .width = 32, .n_classes = 10, .n_layers = 1,
                        .n_filters = 4, .resnet_width = 64};
  if (!fa_arch_from_name(arch, &mc.arch) || mc.arch == FA_ARCH_LENET) {
    fprintf(stderr, "bench_step: model must be cnn or resnet18\n");
    return 2;
  }
  fa_context *ctx = fa_context_create("cpu"); /* its state counts the operations */
  if (!ctx) die("context");
  fa_context_set_current(ctx);
  fa_context_set_bf16(ctx, !strcmp(precision, "bf16"));
  fa_cpu_state *cpu = fa_context_backend_state(ctx);
  c.model = fa_model_create(&mc);
  if (!c.model) die("model");
  fa_rng init = fa_rng_stream(0, FA_STREAM_INIT);
  if (fa_model_init(c.model, &init) != FA_OK) die("init");
  fa_store *store = fa_model_store(c.model);
  c.opt = mc.arch == FA_ARCH_CNN ? fa_adam_create(store, 0.9f, 0.999f, 1e-8f, 5e-4f)
                                 : fa_sgd_create(store, 0.9f, 5e-4f);
  c.arena = fa_arena_create((size_t)16 << 30);
  if (!c.opt || !c.arena) die("setup");
  fa_arena_set_current(c.arena);

  fa_rng data = fa_rng_stream(2, FA_STREAM_INIT);
  int *labels = malloc((size_t)batch * sizeof *labels);
  if (!labels) die("batch");
  for (int i = 0; i < batch; i++) labels[i] = i % 10;
  c.x = fa_uniform(4, (int[]){batch, 3, 32, 32}, &data, 0.0f, 1.0f);
  c.y = fa_labels_from(batch, labels, 10);
  free(labels);
  if (!c.x || !c.y) die("batch");

  fa_train_config cfg = train_config(workload, batch);
  c.eval_rng = fa_rng_stream(0, FA_STREAM_EVAL);
  if (train && fa_trainer_init(&c.trainer, &cfg, c.model, NULL) != FA_OK) die("trainer");
  fa_bench_fn fn = train ? run_train_step : run_eval;

  for (int w = 0; w < warmup; w++) fn(&c);
  double flops0 = fa_cpu_flops_done(cpu);
  double seconds = fa_bench_median_seconds(fn, &c, 0, reps);
  double flops = (fa_cpu_flops_done(cpu) - flops0) / reps;
  printf("{\"impl\": \"fastadv\", \"model\": \"%s\", \"workload\": \"%s\", \"precision\": \"%s\", \"batch\": %d, "
         "\"threads\": %d, \"reps\": %d, \"seconds\": %.6f, \"img_per_s\": %.3f, \"gflop\": %.3f, \"gflops\": %.2f, "
         "\"arena_mib\": %.1f, \"peak_rss_mib\": %.1f}\n",
         arch, workload, precision, batch, omp_get_max_threads(), reps, seconds, batch / seconds, flops * 1e-9,
         flops * 1e-9 / seconds, fa_arena_high_water(c.arena) / 1048576.0, fa_bench_peak_rss_mib());
  if (train) fa_trainer_free(&c.trainer);
  fa_arena_destroy(c.arena);
  fa_optimizer_destroy(c.opt);
  fa_model_destroy(c.model);
  fa_context_destroy(ctx);
  return 0;
}
