/* Crash-safe training (docs/RELIABILITY.md, "Crash-safe runs"), through the
 * fastadv program on real Fashion-MNIST:
 *
 * - the kill test: a short run is killed with SIGKILL at random times (drawn
 *   from a seeded generator), resumed each time, and finally run to its
 *   end; its final and best models and its metrics lines equal those of an
 *   uninterrupted run bit for bit; the same with AT for Free (the carried
 *   perturbation, replayed minibatches) and with N-FGSM + GradAlign +
 *   ELLE-A (ELLE-A's weight and penalty history);
 * - SIGTERM: the run finishes its iteration, writes a checkpoint and exits
 *   with status 3; a resume under a file-size limit (a full disk) cannot
 *   write its next checkpoint, exits 1 and leaves the previous checkpoint
 *   byte for byte; resumed without the limit it ends bit-exact;
 * - bad resumes: other flags, a missing checkpoint, a final model instead of
 *   a checkpoint, edited metadata, a NaN in a tensor: each refused with its
 *   message, exit 1; values that turn non-finite while training (a negative
 *   Adam second moment, a parameter at 3e38) stop the run with exit 4 and a
 *   message naming the iteration and the tensor, and, as they came from a
 *   checkpoint without checksums, saying it is most likely corrupt, the
 *   checkpoint untouched; a bit flipped in a parameter or the best model
 *   fails its checksum, exit 1;
 * - the run's lock (train/run_files.h): each SIGKILL leaves a stale lock
 *   that the next resume takes over, and no exit (0, 1, 3, 4) leaves one.
 *
 * All runs use OMP_NUM_THREADS=1, the same for the reference and the
 * resumed runs (bit-exactness holds for one machine, build and thread count). */
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/rng.h"
#include "io/safetensors.h"
#include "testlib.h"
#include "core/finite.h"

#define FMNIST "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
#define MAX_ARGS 40
#define KILLS 5

static const char *const base_flags[] = {
    "--dataset=fmnist", "--model=cnn", "--n_filters_cnn=4", "--batch_size=32", "--debug",
    "--lr_max=0.003", "--attack=fgsm", "--eps=8", "--grad_align_cos_lambda=0.5", "--eval_iter_freq=7",
    "--n_eval_every_k_iter=32", "--attack_iters=2", "--n_final_eval=32", "--batch_size_eval=32",
    "--checkpoint_every=2", NULL};

typedef struct {
  const char *extra[4];  /* flags besides base_flags, e.g. the Free flags */
} variant;

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
  fclose(f);
  if (buf) buf[got] = '\0';
  if (len) *len = got;
  return buf;
}

/* The file in dir/sub whose name ends with suffix (not "_best" + suffix
 * unless best), into path; false if none. */
static bool find(const char *dir, const char *sub, const char *suffix, bool best, char *path, size_t len) {
  char d[4300];
  snprintf(d, sizeof d, "%s/%s", dir, sub);
  DIR *h = opendir(d);
  bool found = false;
  for (struct dirent *e; h && (e = readdir(h));) {
    size_t n = strlen(e->d_name), m = strlen(suffix);
    if (n <= m || strcmp(e->d_name + n - m, suffix) != 0) continue;
    bool is_best = n > m + 5 && strncmp(e->d_name + n - m - 5, "_best", 5) == 0;
    if (is_best != best) continue;
    snprintf(path, len, "%s/%s", d, e->d_name);
    found = true;
  }
  if (h) closedir(h);
  return found;
}

/* Counts the files in dir/checkpoints whose name holds `part`: ".tmp."
 * for the checkpoint writer's temporary files, ".lock" for run locks. */
static int leftovers(const char *dir, const char *part) {
  char d[4300];
  snprintf(d, sizeof d, "%s/checkpoints", dir);
  DIR *h = opendir(d);
  int n = 0;
  for (struct dirent *e; h && (e = readdir(h));) n += strstr(e->d_name, part) != NULL;
  if (h) closedir(h);
  return n;
}

typedef struct {
  const variant *v;
  const char *dir;
  const char *resume;      /* run name or NULL */
  const char *override;    /* one more flag, or NULL */
  long fsize_limit;        /* RLIMIT_FSIZE in bytes, 0: none */
} launch;

/* Starts fastadv train; stdout and stderr go to dir/out and dir/err. */
static pid_t start(const launch *l) {
  const char *argv[MAX_ARGS];
  int n = 0;
  static char exe[4200], out_dir[4300], resume[4300];
  snprintf(exe, sizeof exe, "%s/fastadv", FA_BUILD_DIR);
  argv[n++] = exe;
  argv[n++] = "train";
  for (int i = 0; base_flags[i]; i++) argv[n++] = base_flags[i];
  for (int i = 0; l->v->extra[i]; i++) argv[n++] = l->v->extra[i];
  snprintf(out_dir, sizeof out_dir, "--out_dir=%s", l->dir);
  argv[n++] = out_dir;
  if (l->resume) {
    snprintf(resume, sizeof resume, "--resume=%s", l->resume);
    argv[n++] = resume;
  }
  if (l->override) argv[n++] = l->override;
  argv[n] = NULL;
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    char path[4400];
    snprintf(path, sizeof path, "%s/out", l->dir);
    if (!freopen(path, "w", stdout)) _exit(127);
    snprintf(path, sizeof path, "%s/err", l->dir);
    if (!freopen(path, "w", stderr)) _exit(127);
    setenv("OMP_NUM_THREADS", "1", 1);
    if (l->fsize_limit) {
      signal(SIGXFSZ, SIG_IGN);  /* writes past the limit fail with EFBIG, as on a full disk */
      struct rlimit lim = {(rlim_t)l->fsize_limit, (rlim_t)l->fsize_limit};
      setrlimit(RLIMIT_FSIZE, &lim);
    }
    execv(exe, (char *const *)argv);
    _exit(127);
  }
  return pid;
}

static int exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

static int finish(pid_t pid) {
  int status;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return exit_code(status);
}

static bool run_name(const char *dir, char *name, size_t len);

/* Runs fastadv to its end; stderr into err. When `first` is not NULL, the
 * seconds until its first checkpoint appeared go there (-1: none). */
static int run_to_end_timed(const launch *l, double *first, char *err, size_t len) {
  double t0 = now_s();
  pid_t pid = start(l);
  int status = 0;
  pid_t done = 0;
  char name[1100];
  if (first) *first = -1;
  while (first && *first < 0 && (done = waitpid(pid, &status, WNOHANG)) == 0) {
    if (run_name(l->dir, name, sizeof name)) *first = now_s() - t0;
    usleep(1000);
  }
  int code = done == pid ? exit_code(status) : finish(pid);
  char path[4400];
  snprintf(path, sizeof path, "%s/err", l->dir);
  char *text = read_file(path, NULL);
  snprintf(err, len, "%s", text ? text : "");
  free(text);
  return code;
}

static int run_to_end(const launch *l, char *err, size_t len) { return run_to_end_timed(l, NULL, err, len); }

/* The run name from the one checkpoint in dir/checkpoints, into name. */
static bool run_name(const char *dir, char *name, size_t len) {
  char path[4600];
  if (!find(dir, "checkpoints", ".safetensors", false, path, sizeof path)) return false;
  const char *base = strrchr(path, '/') + 1;
  snprintf(name, len, "%.*s", (int)(strlen(base) - strlen(".safetensors")), base);
  return true;
}

/* The "iteration" metadata of the run's checkpoint, -1 if none. */
static long checkpoint_iteration(const char *dir) {
  char path[4600];
  if (!find(dir, "checkpoints", ".safetensors", false, path, sizeof path)) return -1;
  fa_st_file *f = fa_st_open(path);
  long it = f && fa_st_meta(f, "iteration") ? atol(fa_st_meta(f, "iteration")) : -1;
  fa_st_close(f);
  return it;
}

/* Whether two model files hold the same tensors, bit for bit. */
static bool same_tensors(const char *a_path, const char *b_path, char *why, size_t len) {
  fa_st_file *a = fa_st_open(a_path), *b = fa_st_open(b_path);
  bool same = a && b && fa_st_count(a) == fa_st_count(b);
  snprintf(why, len, "%s", same ? "" : "cannot open or different tensor counts");
  for (int i = 0; same && i < fa_st_count(a); i++) {
    const fa_st_tensor *x = fa_st_get(a, i), *y = fa_st_find(b, x->name);
    same = y && x->nbytes == y->nbytes && memcmp(x->data, y->data, x->nbytes) == 0;
    if (!same) snprintf(why, len, "tensor %s differs", x->name);
  }
  fa_st_close(a);
  fa_st_close(b);
  return same;
}

/* The reports and the final record of the metrics file, without their
 * "time_s" values; the configuration records (config, then resume at each
 * resume) are counted into *config and *resumes and left out: they name
 * the process's directory and run. */
static char *metrics_without_time(const char *dir, int *config, int *resumes) {
  char path[4600];
  *config = *resumes = 0;
  if (!find(dir, "logs", ".jsonl", false, path, sizeof path)) return NULL;
  char *text = read_file(path, NULL), *kept = text ? calloc(1, strlen(text) + 1) : NULL;
  if (!kept) return free(text), NULL;
  for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
    bool is_config = !strncmp(line, "{\"config\": ", 11), is_resume = !strncmp(line, "{\"resume\": ", 11);
    if (is_config && !*kept) ++*config; /* before any report */
    *resumes += is_resume;
    if (!is_config && !is_resume) strcat(strcat(kept, line), "\n");
  }
  free(text);
  for (char *t = strstr(kept, "\"time_s\": "); t; t = strstr(t + 1, "\"time_s\": ")) {
    size_t value = strcspn(t + 10, ",}");
    memmove(t + 10, t + 10 + value, strlen(t + 10 + value) + 1);
  }
  return kept;
}

/* The final and best models and the metrics of dir equal the reference's;
 * dir's metrics file starts with its configuration record, has a resume
 * record, and ends with the final record. */
static void check_same_as(const char *dir, const char *ref, const char *what) {
  char a[4600], b[4600], why[256];
  for (int best = 0; best <= 1; best++) {
    bool found = find(dir, "models", ".safetensors", best, a, sizeof a) &&
                 find(ref, "models", ".safetensors", best, b, sizeof b);
    FA_CHECK(found, "%s: no %s model", what, best ? "best" : "final");
    if (found) FA_CHECK(same_tensors(a, b, why, sizeof why), "%s: the %s model is not bit-exact: %s", what,
                        best ? "best" : "final", why);
  }
  int config, resumes, ref_config, ref_resumes;
  char *m = metrics_without_time(dir, &config, &resumes), *r = metrics_without_time(ref, &ref_config, &ref_resumes);
  FA_CHECK(m && r && strcmp(m, r) == 0, "%s: the metrics lines differ from the uninterrupted run's", what);
  FA_CHECK(config == 1 && resumes >= 1 && ref_config == 1 && ref_resumes == 0,
           "%s: %d config and %d resume records first (the reference: %d, %d)", what, config, resumes, ref_config,
           ref_resumes);
  const char *last = m ? strstr(m, "{\"final\": ") : NULL;
  FA_CHECK(last && !strchr(last, '\n')[1], "%s: the final record is the last line", what);
  free(m);
  free(r);
  FA_CHECK(leftovers(dir, ".tmp.") == 0, "%s: %d temporary files left", what, leftovers(dir, ".tmp."));
  FA_CHECK(leftovers(dir, ".lock") == 0, "%s: the run's lock is left", what);
}

static void reset_dir(const char *dir) {
  char cmd[8500];
  snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
  if (system(cmd) != 0) exit(1);
}

/* SIGKILL at random places, resume each time, then run to the end. One
 * launch in five is killed during its set-up (data loading, before its
 * first checkpoint: not counted), at a time drawn within the uninterrupted
 * run's `first` seconds to its first checkpoint. The others are killed 0 to
 * 10 ms after their checkpoint has passed an iteration drawn in the first
 * third of what the launch has left: inside iterations and checkpoint
 * writes, never so late that the run ends first on a loaded machine. */
static void kill_test(const variant *v, const char *ref, const char *dir, double first, double seconds,
                      uint64_t seed) {
  fa_rng rng = fa_rng_stream(seed, FA_STREAM_EVAL);
  long total = checkpoint_iteration(ref);  /* the end checkpoint's iteration */
  reset_dir(dir);
  char name[1100], err[8192];
  int kills = 0, series = 0, attempts = 0;
  printf("kill test %s (uninterrupted: %.2fs, first checkpoint after %.2fs):", dir, seconds, first);
  while (kills < KILLS && attempts++ < 4 * KILLS) {
    bool resumable = run_name(dir, name, sizeof name);
    if (!resumable) reset_dir(dir); /* killed before its first checkpoint: start again */
    long from = resumable ? checkpoint_iteration(dir) : -1;
    bool in_setup = fa_rng_uniform(&rng) < 0.2;
    double setup_delay = first * fa_rng_uniform(&rng), extra = 0.010 * fa_rng_uniform(&rng);
    long target = from + 1 + (long)(fa_rng_uniform(&rng) * (double)(total - from) / 3);
    launch l = {v, dir, resumable ? name : NULL, NULL, 0};
    double started = now_s();
    pid_t pid = start(&l);
    int status;
    pid_t done;
    while ((done = waitpid(pid, &status, WNOHANG)) == 0 &&
           (in_setup ? now_s() - started < setup_delay : checkpoint_iteration(dir) < target))
      usleep(2000);
    if (done == 0 && !in_setup) {
      usleep((useconds_t)(1e6 * extra));
      done = waitpid(pid, &status, WNOHANG);
    }
    if (done == pid) { /* it reached its end before the kill: a new series */
      if (++series == 4) break;
      printf(" finished before kill %d, again from the start;", kills + 1);
      reset_dir(dir);
      kills = 0;
      continue;
    }
    kill(pid, SIGKILL);
    finish(pid);
    double at_ms = 1000 * (now_s() - started);
    long at = checkpoint_iteration(dir);
    if (at < 0 || at == from) { /* before this launch's first checkpoint: not counted */
      printf(" a kill in the set-up at %.0f ms;", at_ms);
      continue;
    }
    kills++;
    printf(" kill %d at %.0f ms (after iteration %ld) -> checkpoint at iteration %ld;", kills, at_ms, target, at);
  }
  printf("\n");
  FA_CHECK(kills == KILLS, "only %d kills landed between the first checkpoint and the run's end", kills);
  FA_CHECK(run_name(dir, name, sizeof name), "no checkpoint after %d kills", kills);
  launch l = {v, dir, name, NULL, 0};
  int code = run_to_end(&l, err, sizeof err);
  FA_CHECK(code == 0, "the last resume exited %d: %s", code, err);
  check_same_as(dir, ref, dir);
}

/* SIGTERM, a resume that meets a full disk, then a resume to the end. */
static void term_test(const variant *v, const char *ref, const char *dir) {
  reset_dir(dir);
  launch l = {v, dir, NULL, NULL, 0};
  pid_t pid = start(&l);
  while (checkpoint_iteration(dir) < 6 && waitpid(pid, NULL, WNOHANG) == 0) usleep(5000);
  kill(pid, SIGTERM);
  int code = finish(pid);
  char path[4400], err[8192], name[1100], ckpt[4600];
  snprintf(path, sizeof path, "%s/err", dir);
  char *text = read_file(path, NULL);
  FA_CHECK(code == 3, "SIGTERM: exit %d, want 3: %s", code, text ? text : "");
  FA_CHECK(text && strstr(text, "stopped; the checkpoint"), "SIGTERM: message: %s", text ? text : "");
  FA_CHECK(leftovers(dir, ".lock") == 0, "SIGTERM (exit 3): the run's lock is left");
  free(text);
  FA_CHECK(run_name(dir, name, sizeof name) && find(dir, "checkpoints", ".safetensors", false, ckpt, sizeof ckpt),
           "SIGTERM: no checkpoint");
  size_t before_len, after_len;
  char *before = read_file(ckpt, &before_len);
  long it = checkpoint_iteration(dir);

  launch full = {v, dir, name, NULL, 64 << 10};
  code = run_to_end(&full, err, sizeof err);
  char *after = read_file(ckpt, &after_len);
  FA_CHECK(code == 1, "full disk: exit %d, want 1", code);
  FA_CHECK(strstr(err, "cannot write the resume checkpoint") && strstr(err, "previous checkpoint is intact"),
           "full disk: message: %s", err);
  FA_CHECK(before && after && before_len == after_len && memcmp(before, after, before_len) == 0,
           "full disk: the previous checkpoint changed");
  FA_CHECK(leftovers(dir, ".tmp.") == 0, "full disk: %d temporary files left", leftovers(dir, ".tmp."));
  FA_CHECK(leftovers(dir, ".lock") == 0, "full disk (exit 1): the run's lock is left");
  printf("SIGTERM at iteration %ld; full disk: %s", it, err);
  free(before);
  free(after);

  char cmd[13000];
  snprintf(cmd, sizeof cmd, "rm -rf '%s_mid' && cp -r '%s' '%s_mid'", dir, dir, dir);
  FA_CHECK(system(cmd) == 0, "copy of the stopped run");
  launch again = {v, dir, name, NULL, 0};
  code = run_to_end(&again, err, sizeof err);
  FA_CHECK(code == 0, "resume after SIGTERM exited %d: %s", code, err);
  check_same_as(dir, ref, "SIGTERM + full disk + resume");
}

/* Rewrites the checkpoint src into dst with one change: tensor `name`'s
 * element 0 set to value (name not NULL), or metadata `key` set to text;
 * without the tensors' checksums, as fastadv wrote it before it had them, so
 * that the other checks are what stops it. */
static void edit_checkpoint(const char *src, const char *dst, const char *name, float value, const char *key,
                            const char *text) {
  fa_st_file *f = fa_st_open(src);
  int n = fa_st_count(f), m = fa_st_meta_count(f);
  fa_st_tensor *t = calloc((size_t)n, sizeof *t);
  const char **keys = calloc((size_t)m, sizeof *keys), **values = calloc((size_t)m, sizeof *values);
  float *changed = NULL;
  for (int i = 0; i < n; i++) {
    t[i] = *fa_st_get(f, i);
    if (name && strcmp(t[i].name, name) == 0) {
      changed = malloc(t[i].nbytes);
      memcpy(changed, t[i].data, t[i].nbytes);
      changed[0] = value;
      t[i].data = changed;
    }
  }
  int kept = 0;
  for (int i = 0; i < m; i++) {
    const char *k = fa_st_meta_key(f, i);
    if (strncmp(k, "crc32:", 6) == 0) continue;
    keys[kept] = k;
    values[kept++] = key && strcmp(k, key) == 0 ? text : fa_st_meta(f, k);
  }
  FA_CHECK(fa_st_write(dst, t, n, keys, values, kept) == FA_OK, "edit: %s", fa_error_message());
  free(changed);
  free(t);
  free(keys);
  free(values);
  fa_st_close(f);
}

typedef struct {
  const char *what;
  const char *tensor;    /* edit: tensor element 0 ... */
  float value;
  const char *key;       /* ... or metadata key ... */
  const char *text;
  const char *override;  /* ... or a flag ... */
  const char *flip;      /* ... or one bit of this tensor flipped in the file (its checksum kept) */
  bool from_model;       /* resume from the final model file */
  int code;
  const char *message;   /* part of stderr */
} bad_resume;

/* Resumes of the stopped run in `stopped` (a copy each time) with one thing
 * wrong; ref holds a finished run's final model. */
static void bad_resumes(const variant *v, const char *ref, const char *stopped, const char *dir) {
  const bad_resume cases[] = {
      {"another --lr_max", .override = "--lr_max=0.002", .code = 1,
       .message = "was trained with --lr_max=0.003, this command has --lr_max=0.002"},
      {"a checkpoint of the format before per-example statistics draws", .key = "resume_version", .text = "1",
       .code = 1, .message = "is a resume checkpoint of version \"1\" (written by a fastadv whose periodic statistics"},
      {"a run that does not exist", .override = "--resume=no such run", .code = 1,
       .message = "there is no checkpoint"},
      {"the final model instead of a checkpoint", .from_model = true, .code = 1,
       .message = "is not a resume checkpoint"},
      {"an iteration that does not match the place", .key = "iteration", .text = "5", .code = 1,
       .message = "iteration 5 does not match"},
      {"a counter that is not a number", .key = "attack_rng_counter", .text = "-1", .code = 1,
       .message = "metadata \"attack_rng_counter\" is \"-1\""},
      {"a loader position past the epoch", .key = "loader.position", .text = "9", .code = 1,
       .message = ".safetensors: loader: cannot resume at epoch"},
      {"a NaN in a parameter", .tensor = "_model.0.weight", .value = NAN, .code = 1,
       .message = "\"_model.0.weight\" holds NaN at element 0"},
      {"an Inf in the best model", .tensor = "best._model.0.bias", .value = INFINITY, .code = 1,
       .message = "\"best._model.0.bias\" holds +Inf at element 0"},
      {"a negative Adam second moment (NaN after the update)", .tensor = "optimizer._model.0.weight.exp_avg_sq",
       .value = -1.0f, .code = 4, .message = "the parameter _model.0.weight holds NaN at element 0, at the first "
       "iteration after resuming: the values came unchanged from the resume checkpoint"},
      {"a bias at 3e38 (the loss overflows)", .tensor = "_model.0.bias", .value = 3e38f, .code = 4,
       .message = "the training loss is NaN, at the first iteration after resuming: the values came unchanged from "
                  "the resume checkpoint"},
      {"a bit flipped in a parameter", .flip = "_model.0.weight", .code = 1,
       .message = "\"_model.0.weight\" does not match its checksum"},
      {"a bit flipped in the best model", .flip = "best._model.3.weight", .code = 1,
       .message = "\"best._model.3.weight\" does not match its checksum"},
  };
  char name[1100], ckpt[4600], err[8192], path[4800];
  FA_CHECK(find(stopped, "checkpoints", ".safetensors", false, ckpt, sizeof ckpt) &&
               run_name(stopped, name, sizeof name),
           "no checkpoint of the stopped run");
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    const bad_resume *c = &cases[i];
    reset_dir(dir);
    char cmd[20000];
    snprintf(cmd, sizeof cmd, "cp -r '%s/checkpoints' '%s/logs' '%s/models' '%s/'", stopped, stopped, stopped, dir);
    FA_CHECK(system(cmd) == 0, "copy");
    find(dir, "checkpoints", ".safetensors", false, path, sizeof path);
    if (c->tensor || c->key) edit_checkpoint(ckpt, path, c->tensor, c->value, c->key, c->text);
    if (c->flip) FA_CHECK(fa_test_flip_bit(path, c->flip), "%s: cannot flip a bit", c->what);
    char model[4600], resume[4700];
    find(ref, "models", ".safetensors", false, model, sizeof model);
    snprintf(resume, sizeof resume, "%s", c->from_model ? model : name);
    size_t before_len, after_len;
    char *before = read_file(path, &before_len);
    launch l = {v, dir, resume, c->override, 0};
    int code = run_to_end(&l, err, sizeof err);
    char *after = read_file(path, &after_len);
    FA_CHECK(code == c->code && strstr(err, c->message), "%s: exit %d (want %d): %s", c->what, code, c->code, err);
    FA_CHECK(before && after && before_len == after_len && !memcmp(before, after, before_len),
             "%s: the checkpoint changed", c->what);
    FA_CHECK(leftovers(dir, ".lock") == 0, "%s (exit %d): the run's lock is left", c->what, code);
    printf("bad resume, %s: exit %d: %s", c->what, code, err);
    free(before);
    free(after);
  }
}

/* The guard finds a NaN or Inf anywhere in an array, at its first place. */
static void guard_test(void) {
  float x[1000];
  for (int i = 0; i < 1000; i++) x[i] = (float)i - 500.0f;
  size_t at = 0;
  FA_CHECK(fa_all_finite(x, 1000, &at), "finite values flagged");
  x[997] = INFINITY;
  x[998] = NAN;
  FA_CHECK(!fa_all_finite(x, 1000, &at) && at == 997, "Inf at 997: found %zu", at);
  x[3] = -INFINITY;
  FA_CHECK(!fa_all_finite(x, 1000, &at) && at == 3, "-Inf at 3: found %zu", at);
  x[3] = 3.4e38f;
  x[997] = x[998] = 1e-45f;  /* largest and subnormal finite values are fine */
  FA_CHECK(fa_all_finite(x, 1000, &at), "extreme finite values flagged");
}

int main(void) {
  guard_test();
  if (access(FMNIST, R_OK) != 0) {
    printf("skipped the runs: Fashion-MNIST is not installed (scripts/setup.sh installs dataset-fashion-mnist)\n");
    return fa_test_exit();
  }
  /* elle_a: N-FGSM + GradAlign + ELLE-A, whose weight and penalty history are in the checkpoint */
  const variant fgsm = {{"--epochs=12", NULL}},
                free_at = {{"--epochs=5", "--minibatch_replay=3", "--attack_init=zero", NULL}},
                elle_a = {{"--epochs=8", "--attack=nfgsm", "--elle_adaptive", NULL}};
  const variant *variants[3] = {&fgsm, &free_at, &elle_a};
  const char *names[3] = {"fgsm_gradalign", "free", "nfgsm_gradalign_elle_a"};
  char err[8192];
  for (int k = 0; k < 3; k++) {
    char ref[4000], dir[4200];
    snprintf(ref, sizeof ref, "%.3900s", fa_test_tmpdir(names[k]));
    snprintf(dir, sizeof dir, "%s_killed", ref);
    launch l = {variants[k], ref, NULL, NULL, 0};
    double t0 = now_s(), first;
    int code = run_to_end_timed(&l, &first, err, sizeof err);
    double seconds = now_s() - t0;
    FA_CHECK(code == 0 && first > 0, "uninterrupted run exited %d (first checkpoint after %.2fs): %s", code, first,
             err);
    if (code != 0 || first <= 0) continue;
    kill_test(variants[k], ref, dir, first, seconds, 1000 + (uint64_t)k);
    if (k == 0) {
      snprintf(dir, sizeof dir, "%s_term", ref);
      term_test(variants[k], ref, dir);
      char stopped[4300];
      snprintf(stopped, sizeof stopped, "%s_mid", dir);
      snprintf(dir, sizeof dir, "%s_bad", ref);
      bad_resumes(variants[k], ref, stopped, dir);
    }
  }
  return fa_test_exit();
}
