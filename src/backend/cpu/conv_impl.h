/* Inside backend/cpu's convolutions: the two implementations behind conv.h
 * and the scratch memory they share. Not for use outside backend/cpu.
 *
 * Each implementation takes the three tensors of a convolution in fixed roles,
 *   x (n, c_in, h_in, w_in)   w (c_out, c_in, k, k)   y (n, c_out, h_out, w_out)
 * and overwrites the one that `dir` computes (y, x as gx, or w as gw). */
#ifndef FA_BACKEND_CPU_CONV_IMPL_H
#define FA_BACKEND_CPU_CONV_IMPL_H

#include <stddef.h>

#include "backend/cpu/conv.h"

typedef enum { FA_CONV_FORWARD, FA_CONV_GRAD_INPUT, FA_CONV_GRAD_WEIGHT } fa_conv_dir;

/* oneDNN primitives, cached per geometry, direction and thread count. */
void fa_cpu_conv_dnnl(const fa_conv_geom *g, fa_conv_dir dir, float *x, float *w, float *y);
void fa_cpu_conv_dnnl_release(void);

/* Direct stride-1 kernels for few channels in and out (the small cnn's first
 * layer); fa_cpu_conv_small_fits says whether g is one. */
bool fa_cpu_conv_small_fits(const fa_conv_geom *g);
/* bias (forward only) or NULL: added to each finished output value */
void fa_cpu_conv_small(const fa_conv_geom *g, fa_conv_dir dir, float *x, float *w, float *y, const float *bias);

/* 1x1 kernels without padding: GEMMs straight on NCHW (no layout reorders). */
void fa_cpu_conv_pointwise(const fa_conv_geom *g, fa_conv_dir dir, float *x, float *w, float *y);

/* Adds to the count of fa_cpu_flops_done() (the kernel table's calls). */
void fa_cpu_count_flops(double flops);

/* One 4096-byte-aligned scratch buffer, grown on demand and reused by every
 * call; the previous contents are not kept. Not re-entrant. */
void *fa_cpu_conv_workspace(size_t bytes);

#endif
