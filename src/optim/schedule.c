/* Learning-rate schedules: see schedule.h. */
#include "optim/schedule.h"

double fa_epoch_fraction(int epoch, int i, int batches_per_epoch) {
  return (epoch - 1) + (double)(i + 1) / batches_per_epoch;
}

/* numpy.interp(x, xp, fp) for n increasing (possibly repeated) knots, with
 * numpy's choices: fp[0] left of xp[0], fp[n-1] from xp[n-1] on, and at a
 * knot the value of the last knot there. */
static double np_interp(double x, const double *xp, const double *fp, int n) {
  if (x < xp[0]) return fp[0];
  if (x >= xp[n - 1]) return fp[n - 1];
  int j = 0; /* the last knot with xp[j] <= x, so xp[j+1] > x */
  while (xp[j + 1] <= x) j++;
  if (xp[j] == x) return fp[j];
  double slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]);
  return slope * (x - xp[j]) + fp[j];
}

float fa_lr_at(fa_lr_schedule kind, float lr_max, int epochs, double t) {
  double lr = lr_max;
  if (kind == FA_SCHEDULE_CONSTANT) return lr_max;
  if (kind == FA_SCHEDULE_CYCLIC) {
    const double xp[3] = {0, epochs * 2 / 5, epochs}, fp[3] = {0, lr, 0};
    return (float)np_interp(t, xp, fp, 3);
  }
  double progress = t / epochs;
  if (progress < 0.5) return lr_max;
  if (progress < 0.75) return (float)(lr / 10.0);
  return (float)(lr / 100.0);
}
