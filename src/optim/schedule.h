/* Learning-rate schedules of the paper's train.py (docs/METHOD.md section 3), set
 * before every iteration from the fractional epoch t. Computed in double as
 * Python does, returned in float32. */
#ifndef FA_OPTIM_SCHEDULE_H
#define FA_OPTIM_SCHEDULE_H

/* cyclic and piecewise are the paper's; constant (lr_max throughout) is an
 * extra, for quick experiments such as the demonstration. */
typedef enum { FA_SCHEDULE_CYCLIC, FA_SCHEDULE_PIECEWISE, FA_SCHEDULE_CONSTANT } fa_lr_schedule;

/* t = (epoch - 1) + (i + 1) / batches_per_epoch for batch i (from 0) of
 * epoch `epoch` (from 1; epoch 0, the statistics at initialisation, gives
 * t < 0). */
double fa_epoch_fraction(int epoch, int i, int batches_per_epoch);

/* The learning rate at fractional epoch t of an `epochs`-epoch run (epochs >= 1):
 *   cyclic:    np.interp(t, [0, floor(2 epochs / 5), epochs], [0, lr_max, 0])
 *   piecewise: lr_max while t / epochs < 0.5, lr_max / 10 while < 0.75,
 *              then lr_max / 100. */
float fa_lr_at(fa_lr_schedule kind, float lr_max, int epochs, double t);

#endif
