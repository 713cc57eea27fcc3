#include "analysis/config.h"

#include <string.h>

void fa_plot_config_defaults(fa_plot_config *c) {
  *c = (fa_plot_config){.mark_epoch = -1};
  strcpy(c->kind, "curves");
}

void fa_inspect_config_defaults(fa_inspect_config *c) {
  *c = (fa_inspect_config){.index = 0, .eps = fa_pixels_of(-1), .seed = 0, .max_filters = 16};
  strcpy(c->what, "filters");
  strcpy(c->scale, "layer");
}

void fa_align_init_config_defaults(fa_align_init_config *c) {
  *c = (fa_align_init_config){.n_seeds = 3, .n_examples = 256, .n_mc = 200000};
  strcpy(c->dataset, "cifar10");
  strcpy(c->eps_list, "1,2,4,8,12,16");
  strcpy(c->filters_list, "1,4,16,64");
}
