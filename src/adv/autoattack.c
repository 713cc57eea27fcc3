/* The AutoAttack driver as an evaluation attack (docs/AUTOATTACK.md;
 * autoattack.h): within a batch, the stages one after the other on the
 * examples still robust; the perturbation of the stage that broke an
 * example, 0 for the others. */
#include "adv/autoattack.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "adv/attack.h"
#include "core/arena.h"
#include "core/autograd.h"
#include "core/ops.h"

/* The official code's plus version restarts its untargeted APGD (and FAB) 5 times. */
#define PLUS_RESTARTS 5

static const char *const standard[] = {"apgd_ce", "apgd_t", "fab_t", "square", NULL};
static const char *const plus[] = {"apgd_ce", "apgd_dlr", "fab_t", "square", "apgd_t", NULL};

static fa_status add_stage(const char *name, size_t len, const fa_attack_options *o, bool plus_version,
                           fa_autoattack_stage *stages, int *n) {
  char word[64];
  if (len == 0 || len >= sizeof word)
    return fa_error_set(FA_ERR_INVALID, "--aa_attacks: an empty or too long stage name; give standard, plus or "
                        "attack names separated by commas (apgd-ce,apgd-t,square)");
  memcpy(word, name, len);
  word[len] = '\0';
  const fa_eval_attack *a = fa_eval_attack_find(word);
  if (!a)
    return fa_error_set(FA_ERR_INVALID, "--aa_attacks: the stage %s is not an evaluation attack of this fastadv; "
                        "give a list of those `fastadv eval --help` lists (apgd-ce,apgd-t,square)", word);
  if (a->options & FA_OPTION_STAGES)
    return fa_error_set(FA_ERR_INVALID, "--aa_attacks: %s cannot be a stage of itself", word);
  if (*n == FA_EVAL_MAX_STAGES)
    return fa_error_set(FA_ERR_INVALID, "--aa_attacks: at most %d stages", FA_EVAL_MAX_STAGES);
  fa_autoattack_stage *s = &stages[(*n)++];
  s->attack = a;
  s->options = a->defaults;
  if (a->options & FA_OPTION_ITERS) s->options.n_iters = o->n_iters;
  if (a->options & FA_OPTION_RESTARTS) s->options.n_restarts = o->n_restarts;
  if (a->options & FA_OPTION_TARGETS) s->options.n_target_classes = o->n_target_classes;
  if (a->options & FA_OPTION_QUERIES) s->options.n_queries = o->n_queries;
  if (a->options & FA_OPTION_P_INIT) s->options.p_init = o->p_init;
  if (plus_version && (a == fa_eval_attack_find("apgd_ce") || a == fa_eval_attack_find("apgd_dlr")))
    s->options.n_restarts = PLUS_RESTARTS;
  return FA_OK;
}

fa_status fa_autoattack_stages(const char *list, const fa_attack_options *o, fa_autoattack_stage *stages, int *n) {
  *n = 0;
  const char *const *version = strcmp(list, "standard") == 0 ? standard : strcmp(list, "plus") == 0 ? plus : NULL;
  fa_status st = FA_OK;
  for (int i = 0; version && st == FA_OK && version[i]; i++)
    st = add_stage(version[i], strlen(version[i]), o, version == plus, stages, n);
  for (const char *at = list; !version && st == FA_OK; at++) {
    size_t len = strcspn(at, ",");
    st = add_stage(at, len, o, false, stages, n);
    at += len;
    if (!*at) break;
  }
  return st;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* One stage on the m examples idx of the batch still robust (at most
 * FA_AUTOATTACK_CHUNK): marks those it broke and copies their perturbations
 * into delta. */
static fa_status run_chunk(const fa_eval_attack_input *in, const fa_autoattack_stage *s, const long *index, int m,
                           const int *idx, bool *alive, fa_tensor *delta) {
  fa_arena *arena = fa_arena_current();
  fa_arena_mark mark = fa_arena_get_mark(arena);
  long *examples = fa_arena_alloc(arena, (size_t)m * sizeof(long));
  bool *robust = fa_arena_alloc(arena, (size_t)m * sizeof(bool));
  fa_tensor *x = fa_select_rows(in->x, m, idx), *y = fa_labels_select(in->y, m, idx);
  fa_status st = y && examples && robust && x ? FA_OK : fa_error_code();
  for (int j = 0; st == FA_OK && j < m; j++) examples[j] = index[idx[j]];
  fa_eval_attack_input sub = {.model = in->model, .x = x, .y = y, .eps = in->eps, .options = &s->options,
                              .rng = in->rng, .first_example = examples[0], .examples = examples};
  fa_tensor *d = st == FA_OK ? s->attack->perturb(&sub) : NULL;
  bool was = fa_set_grad_enabled(false);
  fa_tensor *logits = d ? fa_model_forward(in->model, fa_add(x, d), false) : NULL;
  fa_set_grad_enabled(was);
  if (!logits) st = fa_error_code();
  if (st == FA_OK && fa_mark_correct(logits, y, robust) < 0) st = fa_error_code();
  for (int j = 0; st == FA_OK && j < m; j++)
    if (!robust[j]) {
      alive[idx[j]] = false;
      st = fa_tensor_copy_rows(delta, idx[j], d, j, 1);
    }
  fa_arena_release(arena, mark);
  return st;
}

/* One stage on the m examples idx of the batch still robust, in chunks of at
 * most FA_AUTOATTACK_CHUNK. AutoAttack's attacks (apgd, fab, square) draw per
 * example, so the chunks give the numbers the whole would, faster (their
 * activations stay in the cache); pgd, drawing from the batch's stream,
 * draws per chunk. */
static fa_status run_stage(const fa_eval_attack_input *in, const fa_autoattack_stage *s, const long *index, int m,
                           const int *idx, bool *alive, fa_tensor *delta) {
  fa_status st = FA_OK;
  for (int at = 0; st == FA_OK && at < m; at += FA_AUTOATTACK_CHUNK)
    st = run_chunk(in, s, index, m - at < FA_AUTOATTACK_CHUNK ? m - at : FA_AUTOATTACK_CHUNK, idx + at, alive, delta);
  return st;
}

static fa_tensor *perturb(const fa_eval_attack_input *in) {
  fa_autoattack_stage stages[FA_EVAL_MAX_STAGES];
  int n_stages, n = fa_tensor_dim(in->x, 0);
  if (fa_autoattack_stages(in->options->stages, in->options, stages, &n_stages) != FA_OK) return NULL;
  fa_arena *arena = fa_arena_current();
  bool *alive = fa_arena_alloc(arena, (size_t)n * sizeof(bool));
  int *idx = fa_arena_alloc(arena, (size_t)n * sizeof(int));
  const long *index = fa_eval_examples(in);
  fa_tensor *delta = fa_zeros_like(in->x);
  if (!alive || !idx || !index || !delta) return NULL;
  fa_arena_mark mark = fa_arena_get_mark(arena);
  bool was = fa_set_grad_enabled(false);
  fa_tensor *clean = fa_model_forward(in->model, in->x, false);
  fa_set_grad_enabled(was);
  if (!clean || fa_mark_correct(clean, in->y, alive) < 0) return NULL;
  fa_arena_release(arena, mark);
  if (in->stages) in->stages->n = n_stages;
  for (int s = 0; s < n_stages; s++) {
    double start = now_s();
    int m = 0;
    for (int i = 0; i < n; i++)
      if (alive[i]) idx[m++] = i;
    if (m > 0 && run_stage(in, &stages[s], index, m, idx, alive, delta) != FA_OK) return NULL;
    if (!in->stages) continue;
    memcpy(in->stages->robust + (size_t)s * n, alive, (size_t)n * sizeof(bool));
    in->stages->seconds[s] = now_s() - start;
  }
  return delta;
}

static fa_status check(const fa_attack_options *o, int n_classes) {
  fa_autoattack_stage stages[FA_EVAL_MAX_STAGES];
  int n;
  fa_status st = fa_autoattack_stages(o->stages, o, stages, &n);
  for (int s = 0; st == FA_OK && s < n; s++) st = fa_eval_attack_check(stages[s].attack, &stages[s].options, n_classes);
  return st;
}

static int stage_titles(const fa_attack_options *o, char titles[FA_EVAL_MAX_STAGES][16]) {
  fa_autoattack_stage stages[FA_EVAL_MAX_STAGES];
  int n;
  if (fa_autoattack_stages(o->stages, o, stages, &n) != FA_OK) return -1;
  for (int s = 0; s < n; s++)
    snprintf(titles[s], 16, "%s", stages[s].attack->title ? stages[s].attack->title : stages[s].attack->name);
  return n;
}

/* "autoattack-standard", "autoattack-apgd-ce,square" */
static void label(const fa_attack_options *o, char *out, size_t len) { snprintf(out, len, "autoattack-%s", o->stages); }

const fa_eval_attack fa_eval_attack_autoattack = {
    .name = "autoattack",
    .summary = "AutoAttack: the stages of --aa_attacks one after the other, each on the examples still robust "
               "(standard: apgd_ce, apgd_t, fab_t, square)",
    .options = FA_OPTION_ITERS | FA_OPTION_RESTARTS | FA_OPTION_TARGETS | FA_OPTION_QUERIES | FA_OPTION_P_INIT |
               FA_OPTION_STAGES,
    .defaults = {.n_iters = 100, .n_restarts = 1, .n_target_classes = 9, .n_queries = 5000, .p_init = 0.8f,
                 .stages = "standard"},
    .perturb = perturb,
    .label = label,
    .title = "AutoAttack",
    .check = check,
    .stage_titles = stage_titles,
};
