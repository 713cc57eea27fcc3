/* A run's files and its lock (docs/RELIABILITY.md, "Crash-safe runs"),
 * through the fastadv program on real Fashion-MNIST with short runs:
 *
 * - two runs of the same flags started in the same second into one
 *   --out_dir both finish, each with its own log, metrics, models and
 *   checkpoint (the second named <name>_2), and no lock is left;
 * - a --resume of a run that is still training is refused (exit 1, naming
 *   the process); SIGHUP stops that run like SIGTERM (exit 3, checkpoint
 *   written, lock removed);
 * - a lock left by a process that has ended is taken over with a note; a
 *   lock of a live process or of another host is refused;
 * - a file where models/ should be, and a directory name over the length
 *   limit, are reported at the start with the system's reason;
 * - the name claim itself (train/run_files.h): a name whose files or lock
 *   exist gets the next suffix. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/version.h"
#include "testlib.h"
#include "train/run_files.h"

#define FMNIST "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
#define MAX_ARGS 24

/* 2 epochs of 4 batches: iterations 0..8, reports at 0, 3, 6 */
static const char *const short_run[] = {
    "--dataset=fmnist", "--model=cnn", "--n_filters_cnn=2", "--batch_size=32", "--debug", "--epochs=2",
    "--lr_max=0.003", "--eval_iter_freq=3", "--n_eval_every_k_iter=16", "--attack_iters=1", "--n_final_eval=16",
    "--batch_size_eval=16", NULL};
#define SHORT_RUN_REPORTS 3
/* a run that trains until it is stopped */
static const char *const long_run[] = {
    "--dataset=fmnist", "--model=cnn", "--n_filters_cnn=2", "--batch_size=32", "--debug", "--epochs=100000",
    "--lr_max=0.003", "--eval_iter_freq=1000000", "--n_eval_every_k_iter=16", "--attack_iters=1",
    "--checkpoint_every=50", NULL};

static char *read_text(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  static char buf[1 << 16];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

static bool exists(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0;
}

/* Starts `fastadv train FLAGS --out_dir=dir [extra]`; stdout and stderr go
 * to <tag>.out and .err beside dir. */
static pid_t spawn(const char *const *flags, const char *dir, const char *extra, const char *tag) {
  static char exe[4200], out_dir[4300];
  const char *argv[MAX_ARGS];
  int n = 0;
  snprintf(exe, sizeof exe, "%s/fastadv", FA_BUILD_DIR);
  snprintf(out_dir, sizeof out_dir, "--out_dir=%s", dir);
  argv[n++] = exe;
  argv[n++] = "train";
  for (int i = 0; flags[i]; i++) argv[n++] = flags[i];
  argv[n++] = out_dir;
  if (extra) argv[n++] = extra;
  argv[n] = NULL;
  char out[4400], err[4400];
  int parent = (int)(strrchr(dir, '/') - dir);
  snprintf(out, sizeof out, "%.*s/%s.out", parent, dir, tag);
  snprintf(err, sizeof err, "%.*s/%s.err", parent, dir, tag);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    if (!freopen(out, "w", stdout) || !freopen(err, "w", stderr)) _exit(127);
    setenv("OMP_NUM_THREADS", "1", 1);
    execv(exe, (char *const *)argv);
    _exit(127);
  }
  return pid;
}

/* The exit status (128 + signal when killed); SIGKILL after `seconds`. */
static int finish(pid_t pid, double seconds) {
  int status;
  for (int waited = 0; waitpid(pid, &status, WNOHANG) == 0; waited++) {
    if (waited * 0.01 > seconds) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    usleep(10000);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Runs fastadv to its end (at most 60 s); its stderr into err. */
static int run(const char *const *flags, const char *dir, const char *extra, const char *tag, const char **err) {
  int code = finish(spawn(flags, dir, extra, tag), 60);
  char path[8192];
  snprintf(path, sizeof path, "%.*s/%s.err", (int)(strrchr(dir, '/') - dir), dir, tag);
  *err = read_text(path);
  if (!*err) *err = "";
  return code;
}

static int by_text(const void *a, const void *b) { return strcmp(a, b); }

/* The names of the files in dir/sub ending with `ending` (without it), sorted; their count. */
static int names(const char *dir, const char *sub, const char *ending, char out[][1100], int max) {
  char d[4300];
  snprintf(d, sizeof d, "%s/%s", dir, sub);
  DIR *h = opendir(d);
  int n = 0;
  for (struct dirent *e; h && (e = readdir(h));) {
    size_t len = strlen(e->d_name), m = strlen(ending);
    if (len > m && strcmp(e->d_name + len - m, ending) == 0 && n < max)
      snprintf(out[n++], 1100, "%.*s", (int)(len - m), e->d_name);
  }
  if (h) closedir(h);
  qsort(out, (size_t)n, sizeof out[0], by_text);
  return n;
}

static int count(const char *text, const char *needle) {
  int n = 0;
  for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle)) n++;
  return n;
}

static void wait_for_next_second(void) {
  time_t now = time(NULL);
  while (time(NULL) == now) usleep(1000);
}

static void same_second(const char *root) {
  char dir[4200], logs[4][1100];
  int n = 0;
  /* Both start early in one second, so their runs have the same name. On
   * a loaded machine one may start in the next second: then again. */
  for (int attempt = 0; attempt < 3; attempt++) {
    snprintf(dir, sizeof dir, "%s/same_second_%d", root, attempt);
    wait_for_next_second();
    pid_t a = spawn(short_run, dir, NULL, "same_a"), b = spawn(short_run, dir, NULL, "same_b");
    int code_a = finish(a, 60), code_b = finish(b, 60);
    FA_CHECK(code_a == 0 && code_b == 0, "two runs at once: exits %d and %d", code_a, code_b);
    n = names(dir, "logs", ".log", logs, 4);
    if (n != 2 || strncmp(logs[0], logs[1], strlen("YYYY-MM-DD HH:MM:SS")) == 0) break;
    printf("the two runs started in different seconds (%.19s, %.19s): again\n", logs[0], logs[1]);
  }
  FA_CHECK(n == 2, "two runs at once: %d logs, want 2", n);
  if (n != 2) return;
  size_t len = strlen(logs[0]);
  FA_CHECK(strncmp(logs[1], logs[0], len) == 0 && strcmp(logs[1] + len, "_2") == 0,
           "the second run is named <name>_2: '%s' and '%s'", logs[0], logs[1]);
  for (int i = 0; i < 2; i++) {
    const char *name = logs[i];
    char path[16384], line[8192];
    snprintf(path, sizeof path, "%s/logs/%s.log", dir, name);
    const char *log = read_text(path);
    snprintf(line, sizeof line, "] run: %s\n", name);
    FA_CHECK(log && count(log, "] run: ") == 1 && strstr(log, line), "%s: one run in its log: %s", name,
             log ? log : "(none)");
    FA_CHECK(log && count(log, "[final: last model]") == 1 && strstr(log, "pgd-10-3 acc"),
             "%s: one final evaluation, PGD-10-3 (--debug): %s", name, log ? log : "(none)");
    snprintf(path, sizeof path, "%s/logs/%s.jsonl", dir, name);
    const char *jsonl = read_text(path);
    /* the config record (naming this run), the reports, the final record */
    snprintf(line, sizeof line, "{\"config\": {\"version\": \"%s\", \"run\": \"%s\", ", FA_VERSION, name);
    FA_CHECK(jsonl && count(jsonl, "\n") == SHORT_RUN_REPORTS + 2 &&
                 count(jsonl, "{\"iteration\": ") == SHORT_RUN_REPORTS && !strncmp(jsonl, line, strlen(line)) &&
                 count(jsonl, "{\"final\": ") == 1,
             "%s: %d metrics lines, want the config record naming it, %d reports and the final record", name,
             jsonl ? count(jsonl, "\n") : -1, SHORT_RUN_REPORTS);
    const char *files[] = {"models/%s.safetensors", "models/%s_best.safetensors", "checkpoints/%s.safetensors"};
    for (int f = 0; f < 3; f++) {
      char rel[1200];
      snprintf(rel, sizeof rel, files[f], name);
      snprintf(path, sizeof path, "%s/%s", dir, rel);
      FA_CHECK(exists(path), "no %s", rel);
    }
  }
  char locks[4][1100];
  FA_CHECK(names(dir, "checkpoints", ".lock", locks, 4) == 0, "two runs at once: a lock was left");
}

/* The name of the run whose checkpoint is in dir (the first), into name. */
static bool run_name(const char *dir, char *name) {
  char found[4][1100];
  if (names(dir, "checkpoints", ".safetensors", found, 4) < 1) return false;
  snprintf(name, 1100, "%s", found[0]);
  return true;
}

static void resume_while_running(const char *root) {
  char dir[4200], name[1100], resume[1200], path[8192];
  snprintf(dir, sizeof dir, "%s/running", root);
  pid_t pid = spawn(long_run, dir, NULL, "running");
  for (int i = 0; i < 3000 && !run_name(dir, name); i++) usleep(10000);
  FA_CHECK(run_name(dir, name), "the long run wrote no checkpoint");
  snprintf(resume, sizeof resume, "--resume=%s", name);
  const char *err;
  int code = run(long_run, dir, resume, "second", &err);
  char holder[128];
  snprintf(holder, sizeof holder, "is being trained by process %ld on this host, still running", (long)pid);
  FA_CHECK(code == 1 && strstr(err, holder) && strstr(err, ".lock: wait until that process ends"),
           "resume of a running run: exit %d (want 1): %s", code, err);

  kill(pid, SIGHUP);
  code = finish(pid, 60);
  snprintf(path, sizeof path, "%s/running.err", root);
  err = read_text(path);
  FA_CHECK(code == 3 && err && strstr(err, "stopped; the checkpoint"), "SIGHUP: exit %d (want 3): %s", code,
           err ? err : "");
  snprintf(path, sizeof path, "%s/logs/%s.log", dir, name);
  const char *log = read_text(path);
  FA_CHECK(log && strstr(log, "stopped by signal 1 after"), "SIGHUP: the log says so");
  FA_CHECK(log && !strstr(log, "resumed at") && !strstr(log, "the run stopped"),
           "the refused resume wrote into the running run's log: %s", log);
  snprintf(path, sizeof path, "%s/checkpoints/%s.lock", dir, name);
  FA_CHECK(!exists(path), "SIGHUP: the lock is left");
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
}

static void stale_and_foreign_locks(const char *root) {
  char dir[4200], name[1100], resume[1200], lock[8192], text[512], host[256] = "";
  snprintf(dir, sizeof dir, "%s/locks", root);
  const char *err;
  int code = run(short_run, dir, NULL, "locks", &err);
  FA_CHECK(code == 0 && run_name(dir, name), "short run: exit %d: %s", code, err);
  snprintf(resume, sizeof resume, "--resume=%s", name);
  snprintf(lock, sizeof lock, "%s/checkpoints/%s.lock", dir, name);
  gethostname(host, sizeof host - 1);

  pid_t ended = fork();  /* a process id that no process has any more */
  if (ended == 0) _exit(0);
  waitpid(ended, NULL, 0);
  snprintf(text, sizeof text, "host %s\npid %ld\n", host, (long)ended);
  write_text(lock, text);
  code = run(short_run, dir, resume, "stale", &err);
  char note[128];
  snprintf(note, sizeof note, "was left by process %ld on this host, which has ended; this process holds it now",
           (long)ended);
  FA_CHECK(code == 0 && strstr(err, "fastadv train: note: the lock ") && strstr(err, note),
           "stale lock: exit %d (want 0): %s", code, err);
  FA_CHECK(!exists(lock), "stale lock: the lock is left after the resume");

  write_text(lock, "");  /* its creator died between creating and writing it */
  code = run(short_run, dir, resume, "empty", &err);
  FA_CHECK(code == 0 && strstr(err, "was left by a process that ended before writing its name"),
           "empty lock: exit %d (want 0): %s", code, err);

  const struct {
    const char *what, *format, *message;
    long pid;
  } held[] = {
      {"a live process", "host %s\npid %ld\n", "by process %ld on this host, still running", (long)getpid()},
      {"another host", "host other-%s\npid %ld\n", "by process %ld on host other-", 1},
  };
  for (int i = 0; i < 2; i++) {
    snprintf(text, sizeof text, held[i].format, host, held[i].pid);
    write_text(lock, text);
    code = run(short_run, dir, resume, "held", &err);
    char message[128];
    snprintf(message, sizeof message, held[i].message, held[i].pid);
    FA_CHECK(code == 1 && strstr(err, message) && strstr(err, "remove the lock file"), "lock of %s: exit %d: %s",
             held[i].what, code, err);
    const char *after = read_text(lock);
    FA_CHECK(after && strcmp(after, text) == 0, "lock of %s: changed", held[i].what);
  }
  unlink(lock);
}

static void output_directories(const char *root) {
  char dir[4200], path[8192];
  const char *err;
  snprintf(dir, sizeof dir, "%s/models_is_a_file", root);
  mkdir(dir, 0777);
  snprintf(path, sizeof path, "%s/models", dir);
  write_text(path, "not a directory\n");
  int code = run(short_run, dir, NULL, "models_file", &err);
  char message[8192];
  snprintf(message, sizeof message, "%s/models is not a directory", dir);
  FA_CHECK(code == 1 && strstr(err, message), "models/ is a file: exit %d (want 1): %s", code, err);
  snprintf(path, sizeof path, "%s/logs", dir);
  FA_CHECK(!exists(path), "models/ is a file: the run started (logs/ exists)");

  char long_name[300];
  memset(long_name, 'a', sizeof long_name - 1);
  long_name[sizeof long_name - 1] = '\0';
  snprintf(dir, sizeof dir, "%s/%s", root, long_name);
  code = run(short_run, dir, NULL, "long_name", &err);
  FA_CHECK(code == 1 && strstr(err, "cannot create the directory") && strstr(err, strerror(ENAMETOOLONG)),
           "a name over the limit: exit %d (want 1, \"%s\"): %s", code, strerror(ENAMETOOLONG), err);
}

static void touch(const char *path) { write_text(path, ""); }

/* fa_run_files_claim_new: the next suffix when the files or the lock of a name exist. */
static void name_claims(const char *root) {
  char dir[4200], path[8192], claimed[FA_RUN_NAME_MAX];
  snprintf(dir, sizeof dir, "%s/claims", root);
  fa_run_files a, b, c;
  FA_CHECK(fa_run_files_prepare(&a, dir) == FA_OK && fa_run_files_prepare(&b, dir) == FA_OK &&
               fa_run_files_prepare(&c, dir) == FA_OK, "prepare: %s", fa_error_message());
  FA_CHECK(fa_run_files_claim_new(&a, "r", claimed, sizeof claimed) == FA_OK && !strcmp(claimed, "r"), "free: %s",
           claimed);
  FA_CHECK(fa_run_files_claim_new(&b, "r", claimed, sizeof claimed) == FA_OK && !strcmp(claimed, "r_2"),
           "r locked: %s", claimed);
  fa_run_files_release(&a);
  snprintf(path, sizeof path, "%s/models/r_best.safetensors", dir);
  touch(path);
  FA_CHECK(fa_run_files_claim_new(&c, "r", claimed, sizeof claimed) == FA_OK && !strcmp(claimed, "r_3"),
           "r has a file, r_2 is locked: %s", claimed);
  snprintf(path, sizeof path, "%s/checkpoints/r_3.lock", dir);
  FA_CHECK(exists(path), "the lock of r_3");
  fa_run_files_release(&b);
  fa_run_files_release(&c);
  FA_CHECK(!exists(path), "released");
}

int main(void) {
  const char *root = fa_test_tmpdir("test_run_files");
  name_claims(root);
  if (access(FMNIST, R_OK) != 0) {
    printf("skipped the runs: Fashion-MNIST is not installed (scripts/setup.sh installs dataset-fashion-mnist)\n");
    return fa_test_exit();
  }
  output_directories(root);
  same_second(root);
  resume_while_running(root);
  stale_and_foreign_locks(root);
  return fa_test_exit();
}
