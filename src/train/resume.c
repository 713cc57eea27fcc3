#include "train/resume.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/checkpoint.h"

/* 2: the periodic statistics draw per example from a stream of each report, whose number is the statistics
 * counter (docs/SCALE.md); a checkpoint of version 1 counted blocks there */
#define VERSION "2"
#define FINGERPRINT_MAX 2048
#define MAX_META 48

/* How a field is stored: int, an 8-byte signed integer (long, int64_t, long long), uint64_t, double. */
enum { I32, I64, U64, REAL };
_Static_assert(sizeof(long) == 8 && sizeof(long long) == 8, "an LP64 platform");

/* Which runs have a field: all, those with ELLE, with ELLE-A; the
 * monitor's fields are in every checkpoint written since it exists. */
enum { ALWAYS, WITH_ELLE, WITH_ELLE_A, MONITOR };

/* One metadata entry of the point: its key, kind, field, accepted range and group. */
typedef struct {
  const char *key;
  int kind;
  size_t offset;
  double lo, hi;
  int group;
} field;

#define F(key, kind, member, lo, hi) {key, kind, offsetof(fa_resume_point, member), lo, hi, ALWAYS}
#define G(key, kind, member, lo, hi, group) {key, kind, offsetof(fa_resume_point, member), lo, hi, group}
static const field fields[] = {
    F("iteration", I64, iteration, 0, 1e15),
    F("epoch", I32, epoch, 0, 1e6),
    F("batch", I32, batch, 0, 1e9),
    F("rep", I32, rep, 0, 1e6),
    F("loader.epoch", I64, loader.epoch, 0, 1e6),
    F("loader.position", I32, loader.position, 0, 1e9),
    F("loader.shuffle_counter", U64, loader.shuffle.counter, 0, 0),
    F("loader.augment_counter", U64, loader.augment.counter, 0, 0),
    F("attack_rng_counter", U64, attack_counter, 0, 0),
    F("stats_rng_counter", U64, stats_counter, 0, 0),
    F("best_train_pgd", REAL, best_train_pgd, -1, 1),
    F("report.loss", REAL, since_report.loss, -1e300, 1e300),
    F("report.reg", REAL, since_report.reg, -1e300, 1e300),
    F("report.correct", REAL, since_report.correct, 0, 1e300),
    F("report.grad_norm", REAL, since_report.grad_norm, 0, 1e300),
    F("report.delta_norm", REAL, since_report.delta_norm, 0, 1e300),
    F("report.n", I32, since_report.n, 0, 2e9),
    F("metrics.jsonl_bytes", I64, metrics.jsonl_bytes, 0, 1e15),
    F("metrics.log_bytes", I64, metrics.log_bytes, 0, 1e15),
    F("metrics.elapsed_s", REAL, metrics.elapsed_s, 0, 1e12),
    G("report.elle", REAL, since_report.elle, 0, 1e300, WITH_ELLE),
    G("elle.lambda", REAL, elle.lambda, 0, 1e300, WITH_ELLE_A),
    G("elle.count", I64, elle.count, 0, 1e15, WITH_ELLE_A),
    G("elle.mean", REAL, elle.mean, 0, 1e300, WITH_ELLE_A),
    G("elle.m2", REAL, elle.m2, 0, 1e300, WITH_ELLE_A),
    G("co.best_pgd", REAL, monitor.best_pgd, -1, 1, MONITOR),
    G("co.best_align", REAL, monitor.best_align, -2, 1, MONITOR),
    G("co.detected_at", I64, monitor.detected_at, -1, 1e15, MONITOR),
};
#undef F
#undef G
enum { N_FIELDS = sizeof fields / sizeof *fields };

/* Whether the checkpoint of a run with this config has the field. */
static bool has_field(const fa_train_config *c, const field *f) {
  switch (f->group) {
    case WITH_ELLE: return fa_train_config_elle(c);
    case WITH_ELLE_A: return c->elle_adaptive;
    default: return true;
  }
}

long fa_resume_iteration_at(int epoch, int batch, int rep, int batches_per_epoch, int replay) {
  if (epoch == 0) return 0;
  return 1 + ((long)(epoch - 1) * batches_per_epoch + batch) * replay + rep;
}

/* ------------------------------------------------------------------- save */

fa_status fa_resume_save(const char *path, const fa_train_config *config, const fa_resume_stores *stores,
                         const fa_resume_point *point) {
  char fingerprint[FINGERPRINT_MAX], text[N_FIELDS][48];
  if (!fa_train_config_fingerprint(config, fingerprint, sizeof fingerprint))
    return fa_error_set(FA_ERR_INVALID, "the run's flags do not fit in a checkpoint (%d bytes)", FINGERPRINT_MAX);
  const char *keys[MAX_META] = {"resume_version", "run", "flags", "dataset"};
  const char *values[MAX_META] = {VERSION, point->run_name, fingerprint, config->dataset};
  int n = 4;
  for (int i = 0; i < N_FIELDS; i++) {
    const field *f = &fields[i];
    if (!has_field(config, f)) continue;
    const char *at = (const char *)point + f->offset;
    int32_t i32;
    int64_t i64;
    uint64_t u64;
    double real;
    switch (f->kind) {
      case I32: memcpy(&i32, at, sizeof i32); snprintf(text[i], sizeof text[i], "%" PRId32, i32); break;
      case I64: memcpy(&i64, at, sizeof i64); snprintf(text[i], sizeof text[i], "%" PRId64, i64); break;
      case U64: memcpy(&u64, at, sizeof u64); snprintf(text[i], sizeof text[i], "%" PRIu64, u64); break;
      default: memcpy(&real, at, sizeof real); snprintf(text[i], sizeof text[i], "%a", real); break;
    }
    keys[n] = f->key;
    values[n++] = text[i];
  }
  fa_ckpt_extra extras[3] = {{"optimizer.", stores->optimizer}, {FA_RESUME_BEST_PREFIX, stores->best},
                             {"free.", stores->free_delta}};
  return fa_ckpt_save(path, stores->model, 0, extras, stores->free_delta ? 3 : 2, (fa_ckpt_meta_list){keys, values, n});
}

/* ------------------------------------------------------------------- load */

static fa_status damaged(const char *path, const char *what) {
  return fa_error_set(FA_ERR_FORMAT, "resume checkpoint %s: %s; the file is damaged or was edited: resume from an "
                      "intact copy or start the run again without --resume", path, what);
}

static fa_status parse_field(const fa_checkpoint *ckpt, const char *path, const field *f, fa_resume_point *p) {
  const char *s = fa_ckpt_meta(ckpt, f->key);
  char why[160];
  if (!s) {
    snprintf(why, sizeof why, "its metadata lacks \"%s\"", f->key);
    return damaged(path, why);
  }
  char *end;
  errno = 0;
  bool ok;
  if (f->kind == REAL) {
    double v = strtod(s, &end);
    ok = end != s && !*end && isfinite(v) && v >= f->lo && v <= f->hi;
    if (ok) memcpy((char *)p + f->offset, &v, sizeof v);
  } else if (f->kind == U64) {
    uint64_t v = strtoull(s, &end, 10);
    ok = end != s && !*end && !errno && s[0] >= '0' && s[0] <= '9';
    if (ok) memcpy((char *)p + f->offset, &v, sizeof v);
  } else {
    long long v = strtoll(s, &end, 10);
    ok = end != s && !*end && !errno && v >= f->lo && v <= f->hi;
    int32_t i32 = (int32_t)v;
    int64_t i64 = v;
    if (ok && f->kind == I32) memcpy((char *)p + f->offset, &i32, sizeof i32);
    if (ok && f->kind == I64) memcpy((char *)p + f->offset, &i64, sizeof i64);
  }
  if (ok) return FA_OK;
  snprintf(why, sizeof why, "metadata \"%s\" is \"%.40s\", not a %s in [%g, %g]", f->key, s,
           f->kind == REAL ? "finite number" : "whole number", f->lo, f->kind == U64 ? 1.8e19 : f->hi);
  return damaged(path, why);
}

/* The first flag word that differs, for the message. */
static fa_status flags_differ(const char *path, const char *saved, const char *now) {
  char a[256] = "", b[256] = "";
  while (*saved || *now) {
    size_t na = strcspn(saved, " "), nb = strcspn(now, " ");
    if (na != nb || strncmp(saved, now, na) != 0) {
      snprintf(a, sizeof a, "%.*s", (int)(na < 200 ? na : 200), saved);
      snprintf(b, sizeof b, "%.*s", (int)(nb < 200 ? nb : 200), now);
      break;
    }
    saved += na + (saved[na] == ' ');
    now += nb + (now[nb] == ' ');
  }
  return fa_error_set(FA_ERR_INVALID, "--resume: the run in %s was trained with %s, this command has %s: give the "
                      "run's flags again (its metadata \"flags\" lists them), or start a new run without --resume",
                      path, *a ? a : "(no more flags)", *b ? b : "(no more flags)");
}

/* The place, the optimiser's step count and the loader agree. */
static fa_status check_consistent(const char *path, const fa_train_config *c, int batches, const fa_resume_point *p,
                                  const fa_store *optimizer) {
  int replay = c->minibatch_replay, n_batches = p->epoch == 0 ? 1 : batches, n_reps = p->epoch == 0 ? 1 : replay;
  bool done = p->epoch == c->epochs + 1 && p->batch == 0 && p->rep == 0;
  char why[200];
  if (!done && (p->epoch > c->epochs || p->batch >= n_batches || p->rep >= n_reps)) {
    snprintf(why, sizeof why, "epoch %d, batch %d, round %d is not a place in a run of %d epochs of %d batches",
             p->epoch, p->batch, p->rep, c->epochs, batches);
    return damaged(path, why);
  }
  long expected = fa_resume_iteration_at(p->epoch, p->batch, p->rep, batches, replay);
  if (p->iteration != expected) {
    snprintf(why, sizeof why, "iteration %ld does not match epoch %d, batch %d, round %d (iteration %ld)",
             p->iteration, p->epoch, p->batch, p->rep, expected);
    return damaged(path, why);
  }
  const fa_tensor *step = fa_store_find(optimizer, "step");
  float taken = step ? fa_tensor_item(step) : -1.0f;
  long steps = p->iteration > 0 ? p->iteration - 1 : 0;
  if (taken != (float)steps) {
    snprintf(why, sizeof why, "the optimiser took %g steps, but %ld iterations were done", taken, p->iteration);
    return damaged(path, why);
  }
  if (p->since_report.n % c->batch_size != 0) {
    snprintf(why, sizeof why, "the report sums count %d examples, not a multiple of the batch size %d",
             p->since_report.n, c->batch_size);
    return damaged(path, why);
  }
  return FA_OK;
}

fa_status fa_resume_load(const char *path, const fa_train_config *config, int batches_per_epoch,
                         const fa_resume_stores *stores, fa_resume_point *point) {
  fa_checkpoint *ckpt = fa_ckpt_open(path);
  if (!ckpt) return fa_error_code();
  fa_status st = FA_OK;
  const char *version = fa_ckpt_meta(ckpt, "resume_version"), *run = fa_ckpt_meta(ckpt, "run"),
             *flags = fa_ckpt_meta(ckpt, "flags");
  char fingerprint[FINGERPRINT_MAX];
  fa_train_config_fingerprint(config, fingerprint, sizeof fingerprint);
  if (!version)
    st = fa_error_set(FA_ERR_FORMAT, "--resume: %s is not a resume checkpoint (no \"resume_version\" in its "
                      "metadata): resume from checkpoints/<run>.safetensors, not from the models in models/", path);
  else if (strcmp(version, VERSION) != 0)
    st = fa_error_set(FA_ERR_FORMAT, "--resume: %s is a resume checkpoint of version \"%.16s\"%s; this build reads "
                      "version " VERSION ", and would not continue it as it would have gone on: resume it with the "
                      "fastadv that wrote it, or start the run again without --resume", path, version,
                      strcmp(version, "1") == 0 ? " (written by a fastadv whose periodic statistics drew their random "
                                                  "starts batch by batch)" : "");
  else if (!run || !*run || strlen(run) >= FA_RUN_NAME_MAX || strchr(run, '/'))
    st = damaged(path, "its metadata \"run\" is missing, empty, too long or holds a '/'");
  else if (!flags)
    st = damaged(path, "its metadata lacks \"flags\"");
  else if (strcmp(flags, fingerprint) != 0)
    st = flags_differ(path, flags, fingerprint);
  bool has_monitor = fa_ckpt_meta(ckpt, "co.detected_at") != NULL;
  point->monitor = fa_co_monitor_start();
  for (int i = 0; i < N_FIELDS && st == FA_OK; i++)
    if (has_field(config, &fields[i]) && (fields[i].group != MONITOR || has_monitor))
      st = parse_field(ckpt, path, &fields[i], point);
  if (st == FA_OK) {
    fa_ckpt_extra extras[3] = {{"optimizer.", stores->optimizer}, {FA_RESUME_BEST_PREFIX, stores->best},
                               {"free.", stores->free_delta}};
    st = fa_ckpt_load(ckpt, stores->model, extras, stores->free_delta ? 3 : 2, NULL);
  }
  if (st == FA_OK) st = check_consistent(path, config, batches_per_epoch, point, stores->optimizer);
  if (st == FA_OK) snprintf(point->run_name, sizeof point->run_name, "%s", run);
  if (st == FA_OK) point->checksummed = fa_ckpt_has_checksums(ckpt);
  fa_ckpt_close(ckpt);
  return st;
}
