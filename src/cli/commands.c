#include "cli/commands.h"

#include <assert.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/context.h"  /* the backends */
#include "data/dataset.h" /* fa_dataset_format_of */
#include "nn/model.h"     /* FA_CNN_MAX_LAYERS */

/* Enum fields are written as int. */
_Static_assert(sizeof(fa_lr_schedule) == sizeof(int), "enum flags are int-sized");
_Static_assert(sizeof(fa_attack_init) == sizeof(int), "enum flags are int-sized");
_Static_assert(sizeof(fa_on_co) == sizeof(int), "enum flags are int-sized");

static const fa_flag_choice dataset_choices[] = {
    {.name = "cifar10"},        {.name = "svhn"},
    {.name = "mnist"},          {.name = "fmnist"},
    {.name = "cifar10_binary"}, {.name = "cifar10_binary_gs"},
    {.name = NULL}};
static const fa_flag_choice model_choices[] = {
    {.name = "resnet18"}, {.name = "cnn"}, {.name = "lenet"}, {.name = NULL}};
static const fa_flag_choice schedule_choices[] = {
    {.name = "cyclic", .value = FA_SCHEDULE_CYCLIC},
    {.name = "piecewise", .value = FA_SCHEDULE_PIECEWISE},
    {.name = "constant", .value = FA_SCHEDULE_CONSTANT},
    {.name = NULL}};
/* --attack: the registries of src/adv (adv/registry.h). */
static const void *train_attack_at(size_t i) { return fa_train_attack_at(i); }
static const char *train_attack_name(const void *a) { return ((const fa_train_attack *)a)->name; }
static const void *train_attack_find(const char *name) { return fa_train_attack_find(name); }
static const fa_flag_entries train_attacks = {train_attack_at, train_attack_name, train_attack_find};

static const void *eval_attack_at(size_t i) { return fa_eval_attack_at(i); }
static const char *eval_attack_name(const void *a) { return ((const fa_eval_attack *)a)->name; }
static const void *eval_attack_find(const char *name) { return fa_eval_attack_find(name); }
static const fa_flag_entries eval_attacks = {eval_attack_at, eval_attack_name, eval_attack_find};

static const fa_flag_choice train_attack_aliases[] = {
    /* The paper's train.py lists "free" but has no code for it. */
    {.name = "free", .means = "fgsm",
     .alias = "training with fgsm; AT for Free is fgsm with --minibatch_replay > 1, as in the paper's scripts"},
    {.name = NULL}};
static const fa_flag_choice init_choices[] = {
    {.name = "zero", .value = FA_INIT_ZERO}, {.name = "random", .value = FA_INIT_RANDOM}, {.name = NULL}};
static const fa_flag_choice on_co_choices[] = {
    {.name = "warn", .value = FA_ON_CO_WARN}, {.name = "stop", .value = FA_ON_CO_STOP}, {.name = NULL}};
static const fa_flag_choice set_choices[] = {{.name = "test"}, {.name = "train"}, {.name = NULL}};

/* What this CPU build does instead of the paper's GPU options. */
#define GPU_NOTICE "this build has no GPU support; running on the CPU (OMP_NUM_THREADS sets the threads)"

#define DATA_DIR_HELP \
  "where the data set's files are (only there: an error when they are not); when not given: $FASTADV_DATA, " \
  "./data, /usr/share/datasets"

#define T fa_train_config
static const fa_flag train_flags[] = {
    {FA_FLAG_FIELD(T, dataset), .type = FA_FLAG_NAME, .choices = dataset_choices, .help = "the data set"},
    {FA_FLAG_FIELD(T, model), .type = FA_FLAG_NAME, .choices = model_choices,
     .help = "the architecture (resnet18 trains with SGD, cnn and lenet with Adam)"},
    {FA_FLAG_FIELD(T, data_dir), .type = FA_FLAG_STRING, .metavar = "DIR", .help = DATA_DIR_HELP},
    {FA_FLAG_FIELD(T, out_dir), .type = FA_FLAG_STRING, .metavar = "DIR",
     .help = "where models/, logs/ and checkpoints/ are written (checked before the data is read); a run "
             "whose name is taken there is named <name>_2, <name>_3, ..."},
    {FA_FLAG_FIELD(T, checkpoint_every), .type = FA_FLAG_INT, .min = 0, .max = INT_MAX,
     .help = "iterations between resume checkpoints (checkpoints/<run>.safetensors); 0: only at the end"},
    {FA_FLAG_FIELD(T, resume), .type = FA_FLAG_STRING, .metavar = "RUN",
     .help = "continue a stopped run: its name (first line of logs/<run>.log) or its checkpoint file; "
             "give the run's other flags again. Refused while a process still trains the run (it holds "
             "checkpoints/<run>.lock)"},
    {FA_FLAG_FIELD(T, epochs), .type = FA_FLAG_INT, .min = 1, .max = 100000,
     .help = "training epochs, after an epoch 0 of one step that only measures"},
    {FA_FLAG_FIELD(T, batch_size), .type = FA_FLAG_INT, .min = 1, .max = 65536,
     .help = "training batch size"},
    {FA_FLAG_FIELD(T, batch_size_eval), .type = FA_FLAG_INT, .min = 1, .max = 65536,
     .help = "batch size of the final evaluation"},
    {FA_FLAG_FIELD(T, lr_schedule), .type = FA_FLAG_ENUM, .choices = schedule_choices,
     .help = "learning-rate schedule (constant, lr_max throughout, is an extra of fastadv)"},
    {FA_FLAG_FIELD(T, lr_max), .type = FA_FLAG_FLOAT, .min = 0, .max = 100,
     .help = "peak learning rate of the schedule"},
    {FA_FLAG_FIELD(T, weight_decay), .type = FA_FLAG_FLOAT, .min = 0, .max = 1,
     .help = "weight decay (L2), added to the gradient"},
    {FA_FLAG_FIELD(T, attack), .type = FA_FLAG_ENTRY, .entries = &train_attacks, .choices = train_attack_aliases,
     .help = "the training attack (below, with its defaults)"},
    {FA_FLAG_FIELD(T, eps), .type = FA_FLAG_PIXELS, .min = 0, .max = 255,
     .help = "radius of the L-inf ball, in pixel units of 1/255"},
    {FA_FLAG_FIELD(T, attack_init), .type = FA_FLAG_ENUM, .choices = init_choices,
     .help = "start of the fgsm and pgd attacks, 0 or uniform in the eps-ball (random: FGSM-RS); "
             "when not given, the attack's default"},
    {FA_FLAG_FIELD(T, fgsm_alpha), .type = FA_FLAG_FLOAT, .min = 0, .max = 100,
     .help = "FGSM step size, in multiples of eps; when not given, the attack's default"},
    {FA_FLAG_FIELD(T, pgd_train_n_iters), .type = FA_FLAG_INT, .min = 1, .max = 100000,
     .help = "PGD steps per training batch (--attack=pgd or pgd_corner); when not given, the attack's default"},
    {FA_FLAG_FIELD(T, pgd_alpha_train), .type = FA_FLAG_PIXELS, .min = 0, .max = 255,
     .help = "PGD step size in training, in pixel units of 1/255; when not given, the attack's default"},
    {FA_FLAG_FIELD(T, minibatch_replay), .type = FA_FLAG_INT, .min = 1, .max = 1000,
     .help = "iterations on each minibatch; more than 1 with fgsm is AT for Free"},
    {FA_FLAG_FIELD(T, grad_align_cos_lambda), .type = FA_FLAG_FLOAT, .min = 0, .max = 1e6,
     .help = "weight lambda of the GradAlign regulariser lambda * (1 - cos); 0 turns it off"},
    {FA_FLAG_FIELD(T, nfgsm_k), .type = FA_FLAG_FLOAT, .min = 0, .max = 100,
     .help = "N-FGSM's noise, uniform in [-k eps, k eps] (--attack=nfgsm); when not given, the attack's default"},
    {FA_FLAG_FIELD(T, nfgsm_clip), .type = FA_FLAG_BOOL,
     .help = "N-FGSM projects its perturbation onto the eps-ball (--attack=nfgsm; not by default)"},
    {FA_FLAG_FIELD(T, elle_lambda), .type = FA_FLAG_FLOAT, .min = 0, .max = 1e6,
     .help = "weight of ELLE's local-linearity penalty (docs/LATER_METHODS.md), with any attack and GradAlign; "
             "0 turns it off"},
    {FA_FLAG_FIELD(T, elle_adaptive), .type = FA_FLAG_BOOL,
     .help = "ELLE-A: ELLE's weight starts at 0, jumps to --elle_lambda_max when the penalty exceeds the mean "
             "plus two standard deviations of its history, else decays by 0.99 (not with --elle_lambda)"},
    {FA_FLAG_FIELD(T, elle_lambda_max), .type = FA_FLAG_FLOAT, .min = 0, .max = 1e9,
     .help = "ELLE-A's weight after a spike of the penalty (with --elle_adaptive)"},
    {FA_FLAG_FIELD(T, on_co), .type = FA_FLAG_ENUM, .choices = on_co_choices,
     .help = "when the catastrophic-overfitting monitor fires (docs/LATER_METHODS.md): warn (say so in the log, the "
             "progress line and the metrics), or stop the run after the final evaluation of its best and last "
             "models (exit status 5; resume with --on_co=warn to train on)"},
    {FA_FLAG_FIELD(T, attack_iters), .type = FA_FLAG_INT, .min = 1, .max = 100000,
     .help = "PGD steps of the periodic robust accuracy"},
    {FA_FLAG_FIELD(T, eval_iter_freq), .type = FA_FLAG_INT, .min = 1, .max = INT_MAX,
     .help = "iterations between two reports of the periodic statistics"},
    {FA_FLAG_FIELD(T, n_eval_every_k_iter), .type = FA_FLAG_INT, .min = 1, .max = 10000000,
     .help = "examples the periodic statistics are measured on"},
    {FA_FLAG_FIELD(T, n_final_eval), .type = FA_FLAG_INT, .min = 1, .max = INT_MAX,
     .minus_one_means_all = true, .help = "test examples of the final evaluation"},
    {FA_FLAG_FIELD(T, final_eval), .type = FA_FLAG_ENTRY, .entries = &eval_attacks,
     .help = "the final evaluation's attack, an evaluation attack of `fastadv eval --help` with its defaults "
             "(pgd: PGD-50-10; autoattack: the stages of --aa_attacks)"},
    {FA_FLAG_FIELD(T, aa_attacks), .type = FA_FLAG_STRING, .metavar = "LIST",
     .help = "the stages of --final_eval=autoattack: standard, plus, or evaluation attacks separated by commas"},
    {FA_FLAG_FIELD(T, eval_early_stopped_model), .type = FA_FLAG_BOOL,
     .help = "also evaluate the early-stopped model (best train PGD accuracy) at the end"},
    {FA_FLAG_FIELD(T, n_layers), .type = FA_FLAG_INT, .min = 1, .max = FA_CNN_MAX_LAYERS,
     .help = "conv layers of the cnn model"},
    {FA_FLAG_FIELD(T, n_filters_cnn), .type = FA_FLAG_INT, .min = 1, .max = 4096,
     .help = "filters of each conv layer of the cnn model"},
    {FA_FLAG_FIELD(T, seed), .type = FA_FLAG_INT, .min = 0, .max = INT_MAX,
     .help = "random seed of the run (initialisation, shuffling, augmentation, attack noise)"},
    {FA_FLAG_FIELD(T, debug), .type = FA_FLAG_BOOL,
     .help = "a short run: 4 batches per epoch, and a final evaluation with PGD-10-3 instead of PGD-50-10 "
             "(as the paper's train.py)"},
    {FA_FLAG_FIELD(T, half_prec), .type = FA_FLAG_BOOL,
     .help = "the training steps' convolutions and matrix products in bfloat16 with float32 sums and float32 "
             "master weights (no loss scaling: bfloat16 has float32's range); statistics and the final "
             "evaluation stay float32; float32 with a note where the CPU lacks AVX512-BF16"},
    {FA_FLAG_FIELD(T, gpu), .type = FA_FLAG_INT, .min = 0, .max = 1023, .help = "GPU index (GPU builds)",
     .notice = GPU_NOTICE},
    {.name = "fname", .type = FA_FLAG_IGNORED, .metavar = "NAME", .help = "unused, as in the paper's train.py",
     .notice = "ignored, as in the paper's train.py: runs are named from their hyper-parameters"},
};
#undef T

#define E fa_eval_config
static const fa_flag eval_flags[] = {
    {FA_FLAG_FIELD(E, model_path), .type = FA_FLAG_STRING, .metavar = "PATH",
     .help = "the checkpoint: a run name in models/ or a file"},
    {FA_FLAG_FIELD(E, model), .type = FA_FLAG_STRING, .metavar = "NAME",
     .help = "the architecture (resnet18 | cnn | lenet) when the checkpoint does not say (a file without "
             "fastadv's metadata, such as PyTorch's safetensors.torch.save_file of a state_dict: then also "
             "--n_layers, --n_filters_cnn and --dataset); any other name is taken as --model_path, as in the "
             "paper's README"},
    {FA_FLAG_FIELD(E, dataset), .type = FA_FLAG_NAME, .choices = dataset_choices,
     .help = "the data set (when not given: the one the checkpoint was trained on)"},
    {FA_FLAG_FIELD(E, set), .type = FA_FLAG_NAME, .choices = set_choices,
     .help = "the split evaluated on"},
    {FA_FLAG_FIELD(E, data_dir), .type = FA_FLAG_STRING, .metavar = "DIR", .help = DATA_DIR_HELP},
    {FA_FLAG_FIELD(E, out_dir), .type = FA_FLAG_STRING, .metavar = "DIR",
     .help = "the directory holding models/"},
    {FA_FLAG_FIELD(E, attack), .type = FA_FLAG_ENTRY, .entries = &eval_attacks,
     .help = "the evaluation attack (below, with its defaults)"},
    {FA_FLAG_FIELD(E, eps), .type = FA_FLAG_PIXELS, .min = 0, .max = 255,
     .help = "radius of the L-inf ball, in pixel units of 1/255"},
    {FA_FLAG_FIELD(E, n_eval), .type = FA_FLAG_INT, .min = 1, .max = INT_MAX, .minus_one_means_all = true,
     .help = "examples evaluated, the first ones of the split"},
    {FA_FLAG_FIELD(E, batch_size_eval), .type = FA_FLAG_INT, .min = 1, .max = 65536,
     .help = "evaluation batch size; under N processes (mpirun) and not given: at most a quarter of "
             "each process's share of the examples, so that every process gets batches"},
    {FA_FLAG_FIELD(E, attack_iters), .type = FA_FLAG_INT, .min = 1, .max = 100000,
     .help = "steps of each restart (the 50 of PGD-50-10); when not given, the attack's default"},
    {FA_FLAG_FIELD(E, n_restarts), .type = FA_FLAG_INT, .min = 1, .max = 10000,
     .help = "random restarts, each example keeping its strongest; when not given, the attack's default"},
    {FA_FLAG_FIELD(E, n_target_classes), .type = FA_FLAG_INT, .min = 1, .max = FA_MODEL_MAX_DIM - 1,
     .help = "target classes of a targeted attack (apgd_t, fab_t), the classes of the largest clean logits after the "
             "top one, at most the data set's classes - 1; when not given, the attack's default"},
    {FA_FLAG_FIELD(E, n_queries), .type = FA_FLAG_INT, .min = 1, .max = 1000000,
     .help = "iterations of a score-based attack (square), one forward pass each; when not given, the attack's "
             "default"},
    {FA_FLAG_FIELD(E, p_init), .type = FA_FLAG_FLOAT, .min = 1e-6, .max = 1,
     .help = "square's first window share of the image (halved on the paper's schedule); when not given, the "
             "attack's default"},
    {FA_FLAG_FIELD(E, aa_attacks), .type = FA_FLAG_STRING, .metavar = "LIST",
     .help = "autoattack's stages: standard (apgd_ce, apgd_t, fab_t, square), plus, or evaluation attacks "
             "separated by commas (apgd-ce,apgd-t,square); each on the examples still robust"},
    {FA_FLAG_FIELD(E, results_json), .type = FA_FLAG_STRING, .metavar = "FILE",
     .help = "write the results to FILE (RobustBench's shape: clean_acc, autoattack_acc or robust_acc, eps, "
             "n_examples, model, stages, seconds), and each example's as it is done to FILE.examples.jsonl"},
    {FA_FLAG_FIELD(E, resume_eval), .type = FA_FLAG_BOOL,
     .help = "with --results_json: continue a stopped evaluation, skipping the examples FILE.examples.jsonl "
             "holds (give the same command otherwise)"},
    {FA_FLAG_FIELD(E, early_stopped_model), .type = FA_FLAG_BOOL,
     .help = "evaluate the early-stopped model (best training PGD accuracy) instead of the last one: for a run "
             "name or a file <run>.safetensors, <run>_best.safetensors beside it; for a resume checkpoint, the best "
             "model it holds; exit 2 for a file not named .safetensors"},
    {FA_FLAG_FIELD(E, n_layers), .type = FA_FLAG_INT, .min = 1, .max = FA_CNN_MAX_LAYERS,
     .help = "conv layers of the cnn model, when the checkpoint does not say"},
    {FA_FLAG_FIELD(E, n_filters_cnn), .type = FA_FLAG_INT, .min = 1, .max = 4096,
     .help = "filters of each conv layer of the cnn model, when the checkpoint does not say"},
    {FA_FLAG_FIELD(E, seed), .type = FA_FLAG_INT, .min = 0, .max = INT_MAX,
     .help = "random seed of the PGD random starts"},
    {FA_FLAG_FIELD(E, half_prec), .type = FA_FLAG_BOOL,
     .help = "the evaluation's convolutions and matrix products in bfloat16 with float32 sums; float32 with a "
             "note where the CPU lacks AVX512-BF16"},
    {FA_FLAG_FIELD(E, gpu), .type = FA_FLAG_INT, .min = 0, .max = 1023, .help = "GPU index (GPU builds)",
     .notice = GPU_NOTICE},
    {.name = "n_hidden_fc", .type = FA_FLAG_IGNORED, .metavar = "N",
     .help = "unused: the width of the paper's fc model, which fastadv does not have",
     .notice = "ignored: it sizes the paper's fc model, which fastadv does not have"},
};
#undef E

#define P fa_plot_config
static const fa_flag_choice plot_kinds[] = {
    {.name = "curves"}, {.name = "filters"}, {.name = "eps"}, {.name = "lemma2"}, {.name = NULL}};
static const fa_flag plot_flags[] = {
    {FA_FLAG_FIELD(P, kind), .type = FA_FLAG_NAME, .choices = plot_kinds,
     .help = "curves: accuracy, loss and alignment against epochs (Figures 4, 11); filters: the cnn's filter norms "
             "(Figure 6); eps: PGD-50-10 and clean accuracy against eps over seeds (Figures 1, 8); lemma2: the "
             "alignment at initialisation and its bound"},
    {FA_FLAG_FIELD(P, runs), .type = FA_FLAG_STRING, .metavar = "PATH,...",
     .help = "the inputs: files, or directories searched for .jsonl (curves, filters, eps) or .tsv (lemma2)"},
    {FA_FLAG_FIELD(P, out), .type = FA_FLAG_STRING, .metavar = "PREFIX",
     .help = "writes PREFIX.png and PREFIX.svg; a PREFIX that is a directory or ends in '/' gets the kind's name in it "
             "(figs/ -> figs/curves.png)"},
    {FA_FLAG_FIELD(P, labels), .type = FA_FLAG_STRING, .metavar = "NAME,...",
     .help = "legend names of the runs, in order (default: method and seed from each run's records)"},
    {FA_FLAG_FIELD(P, title), .type = FA_FLAG_STRING, .metavar = "TEXT", .help = "the figure's title"},
    {FA_FLAG_FIELD(P, mark_epoch), .type = FA_FLAG_FLOAT, .min = -1, .max = 1e6,
     .help = "draw a dashed vertical line at this epoch (curves, filters; -1: none)"},
};
#undef P

#define I fa_inspect_config
static const fa_flag_choice inspect_whats[] = {{.name = "filters"}, {.name = "feature_maps"}, {.name = NULL}};
static const fa_flag_choice inspect_scales[] = {{.name = "layer"}, {.name = "filter"}, {.name = NULL}};
static const fa_flag inspect_flags[] = {
    {FA_FLAG_FIELD(I, model_path), .type = FA_FLAG_STRING, .metavar = "FILE", .help = "the checkpoint"},
    {FA_FLAG_FIELD(I, out), .type = FA_FLAG_STRING, .metavar = "FILE", .help = "the PNG image written"},
    {FA_FLAG_FIELD(I, what), .type = FA_FLAG_NAME, .choices = inspect_whats,
     .help = "filters: the first-layer filters (Figure 5); feature_maps: the maps of one test image x and of x + eta "
             "(Figure 7)"},
    {FA_FLAG_FIELD(I, scale), .type = FA_FLAG_NAME, .choices = inspect_scales,
     .help = "filters: one colour scale for the whole layer, or one per filter"},
    {FA_FLAG_FIELD(I, index), .type = FA_FLAG_INT, .min = 0, .max = INT_MAX,
     .help = "feature_maps: the test example, counted from 0 in file order"},
    {FA_FLAG_FIELD(I, eps), .type = FA_FLAG_PIXELS, .min = -1, .max = 255,
     .help = "feature_maps: radius of the noise eta in 1/255 (-1: the checkpoint's eps)"},
    {FA_FLAG_FIELD(I, seed), .type = FA_FLAG_INT, .min = 0, .max = INT_MAX, .help = "feature_maps: the draw of eta"},
    {FA_FLAG_FIELD(I, max_filters), .type = FA_FLAG_INT, .min = 1, .max = 4096,
     .help = "feature_maps: at most this many filters shown"},
    {FA_FLAG_FIELD(I, data_dir), .type = FA_FLAG_STRING, .metavar = "DIR", .help = DATA_DIR_HELP},
};
#undef I

#define A fa_align_init_config
static const fa_flag align_init_flags[] = {
    {FA_FLAG_FIELD(A, dataset), .type = FA_FLAG_NAME, .choices = dataset_choices, .help = "the data set"},
    {FA_FLAG_FIELD(A, data_dir), .type = FA_FLAG_STRING, .metavar = "DIR", .help = DATA_DIR_HELP},
    {FA_FLAG_FIELD(A, eps_list), .type = FA_FLAG_STRING, .metavar = "E,...", .help = "radii of eta, in 1/255"},
    {FA_FLAG_FIELD(A, filters_list), .type = FA_FLAG_STRING, .metavar = "K,...",
     .help = "numbers of filters of the single-layer cnn"},
    {FA_FLAG_FIELD(A, n_seeds), .type = FA_FLAG_INT, .min = 1, .max = 1000, .help = "initialisations (seeds 0..)"},
    {FA_FLAG_FIELD(A, n_examples), .type = FA_FLAG_INT, .min = 1, .max = 100000,
     .help = "test examples averaged over, the first ones"},
    {FA_FLAG_FIELD(A, n_mc), .type = FA_FLAG_INT, .min = 1, .max = 100000000,
     .help = "Monte Carlo draws of the bound's expectation"},
    {FA_FLAG_FIELD(A, out), .type = FA_FLAG_STRING, .metavar = "FILE",
     .help = "the table written (n_filters eps seed cos bound), for fastadv plot --kind=lemma2"},
};
#undef A

static const fa_flag_table train_table = {"fastadv train", train_flags, sizeof train_flags / sizeof *train_flags};
static const fa_flag_table eval_table = {"fastadv eval", eval_flags, sizeof eval_flags / sizeof *eval_flags};

static const fa_flag_table plot_table = {"fastadv plot", plot_flags, sizeof plot_flags / sizeof *plot_flags};
static const fa_flag_table inspect_table = {"fastadv inspect", inspect_flags,
                                            sizeof inspect_flags / sizeof *inspect_flags};
static const fa_flag_table align_init_table = {"fastadv align_init", align_init_flags,
                                               sizeof align_init_flags / sizeof *align_init_flags};

/* ---- the attacks' own defaults ---- */

/* The flag that sets each attack option (adv/registry.h), and where the
 * option lies in fa_attack_options (of the flag's field's type). */
typedef struct {
  unsigned option;
  const char *flag;
  size_t offset, size;
} option_flag;
#define OPTION(bit, member, flag_name) \
  {bit, flag_name, offsetof(fa_attack_options, member), sizeof(((fa_attack_options *)0)->member)}
static const option_flag train_option_flags[] = {
    OPTION(FA_OPTION_INIT, init, "attack_init"),
    OPTION(FA_OPTION_STEP_OF_EPS, step_of_eps, "fgsm_alpha"),
    OPTION(FA_OPTION_STEP, step, "pgd_alpha_train"),
    OPTION(FA_OPTION_ITERS, n_iters, "pgd_train_n_iters"),
    OPTION(FA_OPTION_NOISE, noise_of_eps, "nfgsm_k"),
    OPTION(FA_OPTION_CLIP, clip, "nfgsm_clip"),
    {0, NULL, 0, 0}};
static const option_flag eval_option_flags[] = {
    OPTION(FA_OPTION_ITERS, n_iters, "attack_iters"),
    OPTION(FA_OPTION_RESTARTS, n_restarts, "n_restarts"),
    OPTION(FA_OPTION_TARGETS, n_target_classes, "n_target_classes"),
    OPTION(FA_OPTION_QUERIES, n_queries, "n_queries"),
    OPTION(FA_OPTION_P_INIT, p_init, "p_init"),
    OPTION(FA_OPTION_STAGES, stages, "aa_attacks"),
    {0, NULL, 0, 0}};
#undef OPTION

/* Each option the attack reads takes the attack's default unless its flag was
 * given; a given flag the attack does not read gets a notice (it has no effect,
 * though the run's name records it as the paper's train.py does). `notices`
 * may be NULL. */
static void apply_attack_defaults(const fa_flag_table *table, const option_flag *bindings, const char *attack,
                                  unsigned options, const fa_attack_options *defaults, const fa_flags_given *given,
                                  void *config, fa_flag_notices *notices) {
  for (const option_flag *b = bindings; b->flag; b++) {
    const fa_flag *flag = fa_flags_find(table, b->flag);
    assert(flag && flag->size == b->size);
    bool was_given = fa_flags_was_given(table, given, b->flag);
    if ((options & b->option) && !was_given)
      memcpy((char *)config + flag->offset, (const char *)defaults + b->offset, b->size);
    if (!(options & b->option) && was_given && notices) {
      char text[FA_NOTICE_MAX];
      snprintf(text, sizeof text, "--%s: not read by --attack=%s; it has no effect", b->flag, attack);
      fa_flags_add_notice(notices, text);
    }
  }
}

/* "--attack_init=random --fgsm_alpha=1.25": the flags the attack sets, with
 * its defaults (applied to `config`, a copy of the command's defaults). */
static void describe_attack_defaults(const fa_flag_table *table, const option_flag *bindings, unsigned options,
                                     const fa_attack_options *defaults, void *config, char *out, size_t len) {
  fa_flags_given none = {0};
  apply_attack_defaults(table, bindings, "", options, defaults, &none, config, NULL);
  size_t at = 0;
  out[0] = '\0';
  for (const option_flag *b = bindings; b->flag && at < len; b++) {
    if (!(options & b->option)) continue;
    char value[64];
    fa_flags_format(fa_flags_find(table, b->flag), config, value, sizeof value);
    int k = snprintf(out + at, len - at, " --%s=%s", b->flag, value);
    at += k > 0 ? (size_t)k : 0;
  }
}

static void print_attack(FILE *out, const char *name, const char *summary, const char *defaults) {
  char text[512];
  snprintf(text, sizeof text, "%s.%s%s", summary, *defaults ? " Defaults:" : "", defaults);
  fa_flags_print_item(out, name, text, "");
}

static void train_defaults(void *config) { fa_train_config_defaults(config); }
static void eval_defaults(void *config) { fa_eval_config_defaults(config); }
static void plot_defaults(void *config) { fa_plot_config_defaults(config); }
static void inspect_defaults(void *config) { fa_inspect_config_defaults(config); }
static void align_init_defaults(void *config) { fa_align_init_config_defaults(config); }

static bool is_architecture(const char *name) {
  for (const fa_flag_choice *c = model_choices; c->name; c++)
    if (strcmp(c->name, name) == 0) return true;
  return false;
}

/* The paper's README evaluates with --model='<run name>': a --model that is
 * not an architecture names the checkpoint, and the architecture is left
 * empty, to be read from the checkpoint. */
static fa_status train_finish(void *config, const fa_flags_given *given, fa_flag_notices *notices) {
  fa_train_config *c = config;
  apply_attack_defaults(&train_table, train_option_flags, c->attack->name, c->attack->options, &c->attack->defaults,
                        given, c, notices);
  if (c->elle_adaptive && fa_flags_was_given(&train_table, given, "elle_lambda"))
    return fa_error_set(FA_ERR_INVALID, "--elle_lambda and --elle_adaptive both set ELLE's weight: give "
                        "--elle_lambda=X for a fixed weight, or --elle_adaptive (with --elle_lambda_max) for ELLE-A");
  if (!c->elle_adaptive && fa_flags_was_given(&train_table, given, "elle_lambda_max"))
    return fa_error_set(FA_ERR_INVALID, "--elle_lambda_max is ELLE-A's: give --elle_adaptive too, or "
                        "--elle_lambda=X for a fixed weight");
  /* a final evaluation the data set cannot take (too few classes, unknown stages) is refused now, not at the end */
  fa_attack_options o = c->final_eval->defaults;
  snprintf(o.stages, sizeof o.stages, "%s", c->aa_attacks);
  fa_dataset_format format;
  if (fa_dataset_format_of(c->dataset, &format) == FA_OK)
    return fa_eval_attack_check(c->final_eval, &o, format.n_classes);
  return FA_OK;
}

static fa_status eval_finish(void *config, const fa_flags_given *given, fa_flag_notices *notices) {
  fa_eval_config *c = config;
  apply_attack_defaults(&eval_table, eval_option_flags, c->attack->name, c->attack->options, &c->attack->defaults,
                        given, c, notices);
  c->batch_size_eval_given = fa_flags_was_given(&eval_table, given, "batch_size_eval");
  if (!is_architecture(c->model)) {
    if (c->model_path[0]) {
      char architectures[128] = "";
      for (const fa_flag_choice *m = model_choices; m->name; m++)
        snprintf(architectures + strlen(architectures), sizeof architectures - strlen(architectures), "%s%s",
                 m == model_choices ? "" : ", ", m->name);
      return fa_error_set(FA_ERR_INVALID,
                          "--model is not an architecture (%s), so it names a checkpoint, but --model_path "
                          "names one too; give one of them",
                          architectures);
    }
    snprintf(c->model_path, sizeof c->model_path, "%s", c->model);
    c->model[0] = '\0';
  }
  if (!c->model_path[0])
    return fa_error_set(FA_ERR_INVALID,
                        "no checkpoint to evaluate: give --model_path=<run name or file> "
                        "(or the paper's --model=<run name>)");
  return FA_OK;
}

static void train_help(FILE *out) {
  fprintf(out, "\ntraining attacks (--attack, '-' and '_' alike) and the defaults they give\n"
               "the flags they read when those are not given:\n");
  for (size_t i = 0; fa_train_attack_at(i); i++) {
    const fa_train_attack *a = fa_train_attack_at(i);
    fa_train_config c;
    char defaults[256];
    fa_train_config_defaults(&c);
    describe_attack_defaults(&train_table, train_option_flags, a->options, &a->defaults, &c, defaults,
                             sizeof defaults);
    print_attack(out, a->name, a->summary, defaults);
  }
}

static void eval_help(FILE *out) {
  fprintf(out, "\nevaluation attacks (--attack, '-' and '_' alike) and the defaults they give\n"
               "the flags they read when those are not given:\n");
  for (size_t i = 0; fa_eval_attack_at(i); i++) {
    const fa_eval_attack *a = fa_eval_attack_at(i);
    fa_eval_config c;
    char defaults[256];
    fa_eval_config_defaults(&c);
    describe_attack_defaults(&eval_table, eval_option_flags, a->options, &a->defaults, &c, defaults,
                             sizeof defaults);
    print_attack(out, a->name, a->summary, defaults);
  }
}

const fa_cli_command fa_cli_train = {
    "train", "train a model with fast adversarial training (FGSM, GradAlign, PGD, ...)",
    &train_table, sizeof(fa_train_config), train_defaults, train_finish, train_help};

const fa_cli_command fa_cli_eval = {
    "eval", "clean and robust accuracy of a checkpoint (PGD-50-10 by default)",
    &eval_table, sizeof(fa_eval_config), eval_defaults, eval_finish, eval_help};

const fa_cli_command fa_cli_plot = {
    "plot", "draw the paper's figures from runs' metrics and logs (PNG and SVG, with gnuplot)",
    &plot_table, sizeof(fa_plot_config), plot_defaults, NULL, NULL};

const fa_cli_command fa_cli_inspect = {
    "inspect", "draw a checkpoint's first-layer filters, or the feature maps of one input, as a PNG",
    &inspect_table, sizeof(fa_inspect_config), inspect_defaults, NULL, NULL};

const fa_cli_command fa_cli_align_init = {
    "align_init", "gradient alignment of the single-layer cnn at initialisation next to Lemma 2's bound",
    &align_init_table, sizeof(fa_align_init_config), align_init_defaults, NULL, NULL};

fa_status fa_cli_parse(const fa_cli_command *command, int argc, char *const argv[], void *config,
                       bool *help, fa_flag_notices *notices) {
  command->set_defaults(config);
  fa_flags_given given;
  fa_status status = fa_flags_parse(command->flags, config, argc, argv, help, notices, &given);
  if (status != FA_OK || *help || !command->finish) return status;
  return command->finish(config, &given, notices);
}

/* ---- --backend, outside the commands' tables: main.c makes the context ---- */

static fa_status check_backend(const char *name, const char *given_as) {
  for (size_t i = 0; fa_backend_name_at(i, NULL); i++)
    if (strcmp(fa_backend_name_at(i, NULL), name) == 0) return FA_OK;
  char names[256];
  return fa_error_set(FA_ERR_INVALID, "%s=%.64s: no such backend; the built-in ones are: %s", given_as, name,
                      fa_backend_list(names, sizeof names));
}

fa_status fa_cli_take_backend(int *argc, char **argv, const char **backend) {
  static const char flag[] = "--backend";
  const size_t len = sizeof flag - 1;
  const char *chosen = NULL;
  int kept = 0;
  for (int i = 0; i < *argc; i++) {
    const char *arg = argv[i];
    if (strncmp(arg, flag, len) != 0 || (arg[len] != '=' && arg[len] != '\0')) {
      argv[kept++] = argv[i];
      continue;
    }
    if (arg[len] == '=') {
      chosen = arg + len + 1;
    } else if (i + 1 < *argc && strncmp(argv[i + 1], "--", 2) != 0) {
      chosen = argv[++i];
    } else {
      char names[256];
      return fa_error_set(FA_ERR_INVALID, "--backend needs a value (--backend=NAME): one of %s",
                          fa_backend_list(names, sizeof names));
    }
  }
  *argc = kept;
  const char *env = getenv("FASTADV_BACKEND");
  if (chosen) {
    *backend = chosen;
    return check_backend(chosen, "--backend");
  }
  if (env && *env) {
    *backend = env;
    return check_backend(env, "$FASTADV_BACKEND");
  }
  *backend = FA_DEFAULT_BACKEND;
  return FA_OK;
}

static void print_backends(FILE *out) {
  fprintf(out, "\nbackends (--backend=NAME, every command; else $FASTADV_BACKEND; default %s):\n",
          FA_DEFAULT_BACKEND);
  const char *description;
  for (size_t i = 0; fa_backend_name_at(i, &description); i++)
    fa_flags_print_item(out, fa_backend_name_at(i, NULL), description, "");
}

void fa_cli_print_help(FILE *out, const fa_cli_command *command) {
  void *defaults = calloc(1, command->config_size);
  if (!defaults) return;
  command->set_defaults(defaults);
  fa_flags_print_help(out, command->flags, defaults);
  if (command->print_more) command->print_more(out);
  print_backends(out);
  free(defaults);
}
