/* The settings of a training or evaluation run: every flag of the paper's
 * train.py and eval.py, with the same names, defaults and meaning
 * (docs/METHOD.md section 6). The command-line parser fills these structs; the
 * training loop and the evaluator read them. Radii and step sizes are read
 * in pixel units of 1/255 as on the command line and kept in both units
 * (core/units.h). */
#ifndef FA_TRAIN_CONFIG_H
#define FA_TRAIN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "adv/registry.h"
#include "core/units.h"
#include "optim/schedule.h"  /* fa_lr_schedule */

#define FA_NAME_MAX 256
#define FA_PATH_MAX 4096

/* What a run does when the catastrophic-overfitting monitor fires
 * (train/co_monitor.h): say so, or also stop after the final evaluation. */
typedef enum { FA_ON_CO_WARN, FA_ON_CO_STOP } fa_on_co;

typedef struct {
  char dataset[FA_NAME_MAX];       /* --dataset cifar10 */
  char model[FA_NAME_MAX];         /* --model resnet18 | cnn | lenet */
  char data_dir[FA_PATH_MAX];      /* --data_dir, "" for the search order */
  int batch_size;                  /* --batch_size 128 */
  int batch_size_eval;             /* --batch_size_eval 256 */
  int epochs;                      /* --epochs 30 */
  fa_lr_schedule lr_schedule;      /* --lr_schedule cyclic */
  float lr_max;                    /* --lr_max 0.2 */
  float weight_decay;              /* --weight_decay 5e-4 */
  const fa_train_attack *attack;   /* --attack fgsm */
  fa_pixels eps;                   /* --eps 8 (/255) */
  int attack_iters;                /* --attack_iters 10: PGD steps of the periodic statistics */
  int pgd_train_n_iters;           /* --pgd_train_n_iters 10 */
  fa_pixels pgd_alpha_train;       /* --pgd_alpha_train 2 (/255) */
  float fgsm_alpha;                /* --fgsm_alpha 1.25 (times eps) */
  int minibatch_replay;            /* --minibatch_replay 1; > 1 is "AT for Free" */
  fa_attack_init attack_init;      /* --attack_init random */
  float grad_align_cos_lambda;     /* --grad_align_cos_lambda 0 */
  float nfgsm_k;                   /* --nfgsm_k 2: N-FGSM's noise radius, times eps */
  bool nfgsm_clip;                 /* --nfgsm_clip: N-FGSM projects onto the eps-ball */
  float elle_lambda;               /* --elle_lambda 0: ELLE's weight; 0 turns it off */
  bool elle_adaptive;              /* --elle_adaptive: ELLE-A, the weight set by the penalty's spikes */
  float elle_lambda_max;           /* --elle_lambda_max 4000: ELLE-A's weight after a spike */
  fa_on_co on_co;                  /* --on_co warn: what the catastrophic-overfitting monitor does */
  int seed;                        /* --seed 0 */
  int eval_iter_freq;              /* --eval_iter_freq 200 */
  int n_eval_every_k_iter;         /* --n_eval_every_k_iter 256 */
  int n_layers;                    /* --n_layers 1 (cnn) */
  int n_filters_cnn;               /* --n_filters_cnn 16 (cnn) */
  int n_final_eval;                /* --n_final_eval -1: all test examples */
  const fa_eval_attack *final_eval; /* --final_eval pgd: the final evaluation's attack, with its defaults */
  char aa_attacks[FA_STAGES_TEXT_MAX]; /* --aa_attacks standard: its stages when it is autoattack */
  bool eval_early_stopped_model;   /* --eval_early_stopped_model */
  bool half_prec;                  /* --half_prec: the steps in bfloat16 (train/precision.h) */
  int gpu;                         /* --gpu 0 (not honoured on a CPU build) */
  bool debug;                      /* --debug: a short run on a few batches */
  char out_dir[FA_PATH_MAX];       /* --out_dir . : where models/, logs/ and checkpoints/ go */
  int checkpoint_every;            /* --checkpoint_every 200: iterations between resume checkpoints, 0: end only */
  char resume[FA_PATH_MAX];        /* --resume: a run name in checkpoints/ or a checkpoint file, "" for a new run */
} fa_train_config;

typedef struct {
  char dataset[FA_NAME_MAX];       /* --dataset cifar10 */
  char model[FA_NAME_MAX];         /* --model resnet18, or a checkpoint name (the paper's README) */
  char model_path[FA_PATH_MAX];    /* --model_path: a run name in models/ or a file */
  char data_dir[FA_PATH_MAX];      /* --data_dir */
  char set[16];                    /* --set test | train */
  const fa_eval_attack *attack;    /* --attack pgd */
  fa_pixels eps;                   /* --eps 8 (/255) */
  int n_eval;                      /* --n_eval 256 (-1: all) */
  int batch_size_eval;             /* --batch_size_eval 1024 */
  bool batch_size_eval_given;      /* whether the command line gave it (else cut to the processes: eval_cmd.c) */
  int attack_iters;                /* --attack_iters 50 (the attack's default) */
  int n_restarts;                  /* --n_restarts 10 (the attack's default) */
  int n_target_classes;            /* --n_target_classes 9 (the attack's default) */
  int n_queries;                   /* --n_queries 5000 (the attack's default) */
  float p_init;                    /* --p_init 0.8 (the attack's default) */
  char aa_attacks[FA_STAGES_TEXT_MAX]; /* --aa_attacks standard (autoattack's stages) */
  char results_json[FA_PATH_MAX];  /* --results_json: the results file, "" none */
  bool resume_eval;                /* --resume_eval: skip the examples <results_json>.examples.jsonl holds */
  int n_layers, n_filters_cnn;     /* the cnn's shape, when not in the checkpoint */
  bool early_stopped_model;        /* --early_stopped_model */
  bool half_prec;                  /* --half_prec: the evaluation in bfloat16 (train/precision.h) */
  int gpu;                         /* --gpu */
  int seed;                        /* --seed 0 */
  char out_dir[FA_PATH_MAX];       /* --out_dir . */
} fa_eval_config;

void fa_train_config_defaults(fa_train_config *c);
/* Whether the run adds ELLE's penalty (--elle_lambda > 0 or --elle_adaptive). */
bool fa_train_config_elle(const fa_train_config *c);
void fa_eval_config_defaults(fa_eval_config *c);

/* The options of the chosen attack, from the flags. */
fa_attack_options fa_train_attack_options(const fa_train_config *c);
fa_attack_options fa_eval_attack_options(const fa_eval_config *c);

/* The settings that determine a run's numbers, as "--name=value" words
 * separated by spaces (every train flag except where files are, how often
 * checkpoints are written, and the final evaluation's size). A resumed run
 * must have the same. Returns false when len is too small. */
bool fa_train_config_fingerprint(const fa_train_config *c, char *out, size_t len);


#endif
