#include "io/progress.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BAR_WIDTH 20
#define TERMINAL_REDRAW_S 0.1

struct fa_progress {
  FILE *out;
  char label[32];
  char note[96];     /* said after each line, "" for none */
  long total, done, images;
  double interval_s, last_print; /* seconds since start; last_print < 0 before the first */
  bool terminal;
  struct timespec start;
};

static double elapsed(const fa_progress *p) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - p->start.tv_sec) + 1e-9 * (double)(now.tv_nsec - p->start.tv_nsec);
}

bool fa_progress_is_terminal(FILE *out) { return isatty(fileno(out)) == 1; }

fa_progress *fa_progress_create(FILE *out, const char *label, long total, double interval_s) {
  fa_progress *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->out = out;
  snprintf(p->label, sizeof p->label, "%s", label);
  p->total = total > 0 ? total : 1;
  p->interval_s = interval_s;
  p->last_print = -1;
  p->terminal = fa_progress_is_terminal(out);
  clock_gettime(CLOCK_MONOTONIC, &p->start);
  return p;
}

/* "1h02m", "14m05s", "35s" */
static void format_duration(double s, char *buf, size_t len) {
  long t = (long)(s + 0.5);
  if (t >= 3600) snprintf(buf, len, "%ldh%02ldm", t / 3600, t / 60 % 60);
  else if (t >= 60) snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
  else snprintf(buf, len, "%lds", t);
}

static void print(fa_progress *p, double now) {
  double frac = (double)p->done / (double)p->total;
  double rate = now > 0 ? (double)p->images / now : 0;
  char left[32] = "?";
  if (p->done > 0) format_duration(now / (double)p->done * (double)(p->total - p->done), left, sizeof left);
  if (p->terminal) {
    char bar[BAR_WIDTH + 1];
    int filled = (int)(frac * BAR_WIDTH);
    for (int i = 0; i < BAR_WIDTH; i++) bar[i] = i < filled ? '#' : '-';
    bar[BAR_WIDTH] = '\0';
    fprintf(p->out, "\r\033[K%s [%s] %6ld/%ld %5.1f%%  %.0f img/s  %s left%s%s", p->label, bar, p->done, p->total,
            100 * frac, rate, left, *p->note ? "  " : "", p->note);
  } else {
    fprintf(p->out, "%s: %ld/%ld (%.1f%%), %.0f images/s, %s left%s%s\n", p->label, p->done, p->total, 100 * frac,
            rate, left, *p->note ? "; " : "", p->note);
  }
  fflush(p->out);
  p->last_print = now;
}

void fa_progress_set_note(fa_progress *p, const char *note) {
  if (p) snprintf(p->note, sizeof p->note, "%s", note);
}

void fa_progress_update(fa_progress *p, long done, long images) {
  if (!p) return;
  p->done = done < p->total ? done : p->total;
  p->images = images;
  double now = elapsed(p);
  double wait = p->terminal ? TERMINAL_REDRAW_S : p->interval_s;
  if (p->last_print < 0 || now - p->last_print >= wait) print(p, now);
}

void fa_progress_finish(fa_progress *p) {
  if (!p) return;
  print(p, elapsed(p));
  if (p->terminal) fputc('\n', p->out);
  fflush(p->out);
  free(p);
}
