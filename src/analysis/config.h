/* The flags of the analysis commands (`fastadv plot`, `inspect`,
 * `align_init`) as config structs with their defaults: plain data, so that
 * the command-line parser links with this file alone. */
#ifndef FA_ANALYSIS_CONFIG_H
#define FA_ANALYSIS_CONFIG_H

#include "train/config.h"

typedef struct {
  char kind[FA_NAME_MAX];   /* --kind curves | filters | eps | lemma2 */
  char runs[16384];         /* --runs FILE_OR_DIR,... */
  char labels[4096];        /* --labels A,B,...: legend names of the curves' runs, in order */
  char out[FA_PATH_MAX];    /* --out PREFIX: PREFIX.png and PREFIX.svg */
  char title[1024];         /* --title */
  float mark_epoch;         /* --mark_epoch: a dashed vertical line there (-1: none) */
} fa_plot_config;

void fa_plot_config_defaults(fa_plot_config *c);

typedef struct {
  char model_path[FA_PATH_MAX];  /* --model_path: the checkpoint file */
  char what[FA_NAME_MAX];        /* --what filters | feature_maps */
  char out[FA_PATH_MAX];         /* --out: the PNG written */
  char scale[FA_NAME_MAX];       /* --scale layer | filter: one colour scale for all filters, or one each */
  int index;                     /* --index 0: the test example of feature_maps */
  fa_pixels eps;                 /* --eps (/255) of eta; -1: the checkpoint's */
  int seed;                      /* --seed 0: the draw of eta */
  int max_filters;               /* --max_filters 16: feature maps shown */
  char data_dir[FA_PATH_MAX];    /* --data_dir */
} fa_inspect_config;

void fa_inspect_config_defaults(fa_inspect_config *c);

typedef struct {
  char dataset[FA_NAME_MAX];     /* --dataset cifar10 */
  char data_dir[FA_PATH_MAX];    /* --data_dir */
  char eps_list[1024];           /* --eps_list 1,2,4,8,12,16 (/255) */
  char filters_list[1024];       /* --filters_list 1,4,16,64 */
  int n_seeds;                   /* --n_seeds 3 */
  int n_examples;                /* --n_examples 256 */
  int n_mc;                      /* --n_mc 200000: Monte Carlo draws of the bound */
  char out[FA_PATH_MAX];         /* --out: the table */
} fa_align_init_config;

void fa_align_init_config_defaults(fa_align_init_config *c);

#endif
