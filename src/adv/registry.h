/* The attacks, each written once: its name, what it is, the options it
 * reads with its own defaults for them, what it needs, and its function.
 * Everything that names or runs an attack looks it up here: the command
 * line (flags, validation, --help), run names, the training step, the
 * periodic statistics, the final evaluation, `fastadv eval` and plot's
 * labels. Adding one: docs/ADDING_AN_ATTACK.md.
 *
 * Two registries: training attacks (the perturbation a training step trains
 * on, --attack of `fastadv train`) and evaluation attacks (what robust
 * accuracy is measured against, --attack of `fastadv eval`). Names are those
 * of the command line, lower case with '_'; a name is found with '-' and
 * '_' alike ("pgd-corner" is "pgd_corner"). Radii and step sizes are in
 * [0, 1] units (core/units.h). */
#ifndef FA_ADV_REGISTRY_H
#define FA_ADV_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "core/units.h"
#include "nn/model.h"

typedef enum { FA_INIT_ZERO, FA_INIT_RANDOM } fa_attack_init;

/* The options an attack may read. Each attack says which (its `options`
 * bits) and gives its defaults for them; a flag the user does not give
 * takes the chosen attack's default. The flags that set them: train
 * --attack_init, --fgsm_alpha, --pgd_alpha_train, --pgd_train_n_iters,
 * --nfgsm_k, --nfgsm_clip;
 * eval --attack_iters, --n_restarts, --n_target_classes, --n_queries,
 * --p_init, --aa_attacks. */
enum {
  FA_OPTION_INIT = 1 << 0,         /* init */
  FA_OPTION_STEP_OF_EPS = 1 << 1,  /* step_of_eps */
  FA_OPTION_STEP = 1 << 2,         /* step */
  FA_OPTION_ITERS = 1 << 3,        /* n_iters */
  FA_OPTION_RESTARTS = 1 << 4,     /* n_restarts */
  FA_OPTION_TARGETS = 1 << 5,      /* n_target_classes */
  FA_OPTION_NOISE = 1 << 6,        /* noise_of_eps */
  FA_OPTION_CLIP = 1 << 7,         /* clip */
  FA_OPTION_QUERIES = 1 << 8,      /* n_queries */
  FA_OPTION_P_INIT = 1 << 9,       /* p_init */
  FA_OPTION_STAGES = 1 << 10,      /* stages */
};

/* The longest list of stages (--aa_attacks) an attack of stages takes. */
#define FA_STAGES_TEXT_MAX 128

typedef struct {
  fa_attack_init init;  /* where the perturbation starts: 0, or uniform in the eps-ball */
  float step_of_eps;    /* a step size in multiples of eps (FGSM's alpha) */
  fa_pixels step;       /* a step size */
  int n_iters;          /* steps */
  int n_restarts;       /* random restarts; each example keeps its strongest */
  int n_target_classes; /* a targeted attack's target classes per example */
  float noise_of_eps;   /* a random start's radius in multiples of eps (N-FGSM's k) */
  bool clip;            /* project the perturbation back onto the eps-ball (N-FGSM) */
  int n_queries;        /* a score-based attack's iterations (forward passes per example) */
  float p_init;         /* Square's first window share of the image */
  char stages[FA_STAGES_TEXT_MAX]; /* an attack of stages' list: "standard", "plus", "apgd-ce,square" */
} fa_attack_options;

/* ---- training attacks ---- */

typedef struct {
  fa_model *model;            /* in training mode, as the paper's step runs its attacks */
  fa_tensor *x;               /* (N, C, H, W) in [0, 1] */
  const fa_tensor *y;         /* (N) labels, int32 */
  float eps;                  /* the radius, already ramped for an attack that ramps_radius */
  float ramp;                 /* the SVHN warm-up in [0, 1] (1 otherwise), for an attack that ramps its step */
  const fa_attack_options *options;
  fa_rng *rng;                /* the run's attack stream */
  fa_tensor *carried;         /* --minibatch_replay > 1 (AT for Free): the perturbation carried from one replay
                                 of a batch to the next (its first N rows), for an attack that uses it; else NULL */
  bool create_graph;          /* the input gradient is wanted differentiable in the parameters (GradAlign) */
} fa_train_attack_input;

/* What a run's label in plot's figures depends on. */
typedef struct {
  fa_attack_init init;
  int minibatch_replay;
  int n_iters;                /* -1: unknown */
  double grad_align_lambda;
} fa_run_method;

typedef struct {
  const char *name;           /* as on the command line: "pgd_corner" */
  const char *summary;        /* one line for --help */
  unsigned options;           /* the FA_OPTION_* it reads */
  fa_attack_options defaults; /* for those options */
  bool ramps_radius;          /* the SVHN warm-up scales eps (else the attack scales its step by `ramp`) */
  bool gives_input_grad;      /* perturb sets *input_grad: the gradient GradAlign and the statistics use (g1);
                                 else the step takes it at x */
  /* The starting perturbation (N, C, H, W), in the current arena. */
  fa_tensor *(*start)(const fa_train_attack_input *in);
  /* Perturbs delta in place (within the eps-ball and the [0, 1] box); sets
   * *input_grad when gives_input_grad. NULL: the start is the perturbation. */
  fa_status (*perturb)(const fa_train_attack_input *in, fa_tensor *delta, fa_tensor **input_grad);
  /* The method's name in figures ("FGSM-RS", "PGD-10"); NULL: the name. */
  void (*method)(const fa_run_method *run, char *out, size_t len);
} fa_train_attack;

/* The attack named so ('-' and '_' alike), NULL if none. */
const fa_train_attack *fa_train_attack_find(const char *name);
/* The i-th attack in --help's order, NULL past the last. */
const fa_train_attack *fa_train_attack_at(size_t i);
/* Adds an attack defined outside src/adv (a test's, an experiment's), after
 * the built-in ones; FA_ERR_INVALID when its name is taken or the registry
 * is full. */
fa_status fa_train_attack_register(const fa_train_attack *attack);
/* The method's label of a run trained with `attack` (plot's legends). */
void fa_train_attack_method(const fa_train_attack *attack, const fa_run_method *run, char *out, size_t len);

/* ---- evaluation attacks ---- */

#define FA_EVAL_MAX_STAGES 8

/* What an attack of several stages (autoattack) reports of a batch, for
 * eval's printout per stage, its results file and its per-example log:
 * whether each example is still robust after each stage, and each stage's
 * seconds. An attack of one stage leaves n at 0. */
typedef struct {
  int n;
  bool *robust;               /* (FA_EVAL_MAX_STAGES * N) robust[s * N + i]: example i after stage s; the
                                 caller's, of the batch's size */
  double seconds[FA_EVAL_MAX_STAGES];
} fa_eval_stages;

typedef struct {
  fa_model *model;            /* in evaluation mode */
  fa_tensor *x;               /* (N, C, H, W) in [0, 1] */
  const fa_tensor *y;         /* (N) labels, int32 */
  float eps;                  /* the radius */
  const fa_attack_options *options;
  fa_rng *rng;                /* the evaluation's random stream */
  long first_example;         /* the data set index of x's first row, for draws per example (fa_rng_item_stream) */
  const long *examples;       /* (N) each row's data set index, when the rows are not consecutive (a stage of
                                 autoattack on the examples still robust); NULL: first_example + i */
  fa_eval_stages *stages;     /* optional: filled by an attack of several stages */
} fa_eval_attack_input;

typedef struct {
  const char *name;
  const char *summary;
  unsigned options;
  fa_attack_options defaults;
  /* The adversarial perturbation delta (N, C, H, W) of the batch, x + delta
   * in the eps-ball and the [0, 1] box, in the current arena; NULL and an
   * error on failure. An example is robust when the model still classifies
   * x + delta correctly (fa_eval_attack_robust). */
  fa_tensor *(*perturb)(const fa_eval_attack_input *in);
  /* The label of the measured accuracy with these options ("pgd-50-10"). */
  void (*label)(const fa_attack_options *options, char *out, size_t len);
  /* Its name in the line "robust accuracy after APGD-CE: ..." that eval
   * prints, as the reference implementation names it; NULL: no such line. */
  const char *title;
  /* FA_OK when the attack can run with these options on a data set of
   * n_classes classes, else FA_ERR_INVALID and a message saying what does
   * not fit (a command-line error); NULL: always. */
  fa_status (*check)(const fa_attack_options *options, int n_classes);
  /* An attack of stages: the titles of its stages with these options, their
   * count (-1 and a message for a list it cannot run); NULL: one stage. */
  int (*stage_titles)(const fa_attack_options *options, char titles[FA_EVAL_MAX_STAGES][16]);
} fa_eval_attack;

const fa_eval_attack *fa_eval_attack_find(const char *name);
const fa_eval_attack *fa_eval_attack_at(size_t i);
/* Adds an evaluation attack defined outside src/adv (a test's), after the
 * built-in ones; FA_ERR_INVALID when its name is taken or the registry is
 * full. */
fa_status fa_eval_attack_register(const fa_eval_attack *attack);

/* attack->check, FA_OK where there is none. */
fa_status fa_eval_attack_check(const fa_eval_attack *attack, const fa_attack_options *options, int n_classes);

/* Runs the attack on the batch: returns the number of examples still
 * classified correctly on x + delta (robust), -1 on failure; robust[i], when
 * robust is not NULL, says whether example i is. */
int fa_eval_attack_robust(const fa_eval_attack *attack, const fa_eval_attack_input *in, bool *robust);

/* Each row's data set index (N), in the current arena: in->examples, or
 * first_example + i; NULL when out of memory. */
const long *fa_eval_examples(const fa_eval_attack_input *in);

/* Whether two attack names are the same, '-' and '_' alike. */
bool fa_attack_names_equal(const char *a, const char *b);

#endif
