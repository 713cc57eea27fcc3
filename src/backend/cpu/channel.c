/* CPU kernels for batch norm's per-channel passes (backend/backend.h:
 * channel_affine, channel_fma, channel_dot, channel_sq_dev) over (N, C, H, W)
 * tensors, plane by plane, threaded with OpenMP, and the two other kernels a
 * model's bfloat16 activations reach (add_to_bf16, avg_pool). A full operand may be stored
 * in bfloat16 (the `bf16` bits, fa_bf16_operand): each plane is then read in
 * chunks widened to float32 on the stack, so that one float32 inner loop
 * serves both storages, and a bfloat16 output is rounded as it is stored.
 * Sums: each plane in float, the planes of a channel in double. */
#include "backend/cpu/elementwise.h"

#include "backend/bf16.h"

#include <omp.h>
#include <stdint.h>

/* elements of a plane handled at a time: 4 KB per widened operand on the stack, and every plane of
 * ResNet-18 and the cnns (at most 32x32) in one chunk, so that float32 sums keep their order */
enum { CHUNK = 1024 };
/* channels whose double sums a thread keeps at a time (on the stack) */
enum { SUM_CHANNELS = 256 };

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

/* The n values of operand p from element `at`, as floats: p's own when it is float32, else widened into
 * buf; NULL for an absent operand. */
static inline const float *load(const void *p, bool bf16, size_t at, size_t n, float *restrict buf) {
  if (!p) return NULL;
  if (!bf16) return (const float *)p + at;
  const uint16_t *restrict h = (const uint16_t *)p + at;
#pragma omp simd
  for (size_t i = 0; i < n; i++) buf[i] = fa_bf16_to_float(h[i]);
  return buf;
}

static inline void store_bf16(size_t n, const float *restrict v, uint16_t *restrict h) {
#pragma omp simd
  for (size_t i = 0; i < n; i++) h[i] = fa_bf16_from_float(v[i]);
}

static bool big(const int xs[4]) { return (size_t)xs[0] * xs[1] * xs[2] * xs[3] > FA_CPU_PASS_PAR_MIN; }

void fa_cpu_channel_affine(const int xs[4], const void *x, const float *scale, const float *shift, bool relu,
                           void *y, unsigned bf16) {
  const size_t planes = (size_t)xs[0] * xs[1], plane = (size_t)xs[2] * xs[3];
  const bool half = bf16 & FA_BF16_X;
#pragma omp parallel for schedule(static) if (big(xs))
  for (size_t p = 0; p < planes; p++) {
    const float s = scale[p % xs[1]], b = shift[p % xs[1]];
    for (size_t at = p * plane, end = at + plane; at < end; at += CHUNK) {
      const size_t n = min_size(CHUNK, end - at);
      float xbuf[CHUNK], ybuf[CHUNK];
      const float *restrict xp = load(x, half, at, n, xbuf);
      float *restrict yp = half ? ybuf : (float *)y + at;
      if (relu) {
#pragma omp simd
        for (size_t i = 0; i < n; i++) {
          float v = xp[i] * s + b;
          yp[i] = v > 0.0f ? v : 0.0f;
        }
      } else {
#pragma omp simd
        for (size_t i = 0; i < n; i++) yp[i] = xp[i] * s + b;
      }
      if (half) store_bf16(n, ybuf, (uint16_t *)y + at);
    }
  }
}

/* y[0..n) = s a m + t x + b for one chunk of one channel (a, x, mask NULL when absent) */
static void fma_chunk(size_t n, const float *restrict ap, const float *s, float sc, const float *restrict xp,
                      const float *t, float tc, const float *b, float bc, const float *restrict mp,
                      float *restrict yp) {
  if (!s) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) yp[i] = 0.0f;
  } else if (ap && mp) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
      const float v = ap[i] * sc; /* computed unconditionally: a select vectorises, a branch does not */
      yp[i] = mp[i] > 0.0f ? v : 0.0f;
    }
  } else if (ap) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) yp[i] = ap[i] * sc;
  } else if (mp) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) yp[i] = mp[i] > 0.0f ? sc : 0.0f;
  } else {
#pragma omp simd
    for (size_t i = 0; i < n; i++) yp[i] = sc;
  }
  if (t) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) yp[i] += xp[i] * tc;
  }
  if (b) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) yp[i] += bc;
  }
}

void fa_cpu_channel_fma(const int xs[4], const void *a, const float *s, const void *x, const float *t,
                        const float *b, const void *mask, float *y, unsigned bf16) {
  const size_t planes = (size_t)xs[0] * xs[1], plane = (size_t)xs[2] * xs[3];
#pragma omp parallel for schedule(static) if (big(xs))
  for (size_t p = 0; p < planes; p++) {
    const size_t ch = p % (size_t)xs[1];
    const float sc = s ? s[ch] : 0.0f, tc = t ? t[ch] : 0.0f, bc = b ? b[ch] : 0.0f;
    for (size_t at = p * plane, end = at + plane; at < end; at += CHUNK) {
      const size_t n = min_size(CHUNK, end - at);
      float abuf[CHUNK], xbuf[CHUNK], mbuf[CHUNK];
      fma_chunk(n, load(a, bf16 & FA_BF16_A, at, n, abuf), s, sc, load(x, bf16 & FA_BF16_X, at, n, xbuf), t, tc,
                b, bc, load(mask, bf16 & FA_BF16_MASK, at, n, mbuf), y + at);
    }
  }
}

/* sum of a b m over one chunk (b, mask NULL when absent), in float */
static float dot_chunk(size_t n, const float *restrict ap, const float *restrict bp, const float *restrict mp) {
  float part = 0;
  if (bp && mp) {
#pragma omp simd reduction(+ : part)
    for (size_t e = 0; e < n; e++) {
      const float v = ap[e] * bp[e];
      part += mp[e] > 0.0f ? v : 0.0f;
    }
  } else if (bp) {
#pragma omp simd reduction(+ : part)
    for (size_t e = 0; e < n; e++) part += ap[e] * bp[e];
  } else if (mp) {
#pragma omp simd reduction(+ : part)
    for (size_t e = 0; e < n; e++) {
      const float v = ap[e];
      part += mp[e] > 0.0f ? v : 0.0f;
    }
  } else {
#pragma omp simd reduction(+ : part)
    for (size_t e = 0; e < n; e++) part += ap[e];
  }
  return part;
}

/* The operands of the per-channel sums (unused ones NULL), and the float sums of one chunk of channel
 * ch's plane, elements [at, at + n) of the full tensors, added to part[0] and, for a second sum, part[1]. */
typedef struct {
  const void *a, *b, *mask;
  const float *mean;
  bool a_sum; /* channel_dot: the sum of a m as well */
  unsigned bf16;
} sum_args;
typedef void (*chunk_sums)(const sum_args *s, int ch, size_t at, size_t n, float part[2]);

/* y[c] (and y2[c] when not NULL) = the sums over images and pixels of `sums`: each thread takes a range
 * of channels and sweeps, image by image, the planes of its channels, which lie next to each other (one
 * stream through memory, not one per plane); each channel still sums its planes in image order, each
 * plane in float, the planes in double, so the bits do not depend on the thread count. */
static void channel_sums(const int xs[4], chunk_sums sums, const sum_args *args, float *y, float *y2) {
  const int n_img = xs[0], c = xs[1];
  const size_t plane = (size_t)xs[2] * xs[3];
#pragma omp parallel if (big(xs))
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int c0 = (int)((long)c * t / nt), c1 = (int)((long)c * (t + 1) / nt);
    double acc[SUM_CHANNELS][2];
    for (int cb = c0; cb < c1; cb += SUM_CHANNELS) {
      const int ce = cb + SUM_CHANNELS < c1 ? cb + SUM_CHANNELS : c1;
      for (int ch = cb; ch < ce; ch++) acc[ch - cb][0] = acc[ch - cb][1] = 0;
      for (int i = 0; i < n_img; i++)
        for (int ch = cb; ch < ce; ch++) {
          float part[2] = {0, 0}; /* one plane in float */
          for (size_t at = ((size_t)i * c + ch) * plane, end = at + plane; at < end; at += CHUNK)
            sums(args, ch, at, min_size(CHUNK, end - at), part);
          acc[ch - cb][0] += part[0];
          acc[ch - cb][1] += part[1];
        }
      for (int ch = cb; ch < ce; ch++) {
        y[ch] = (float)acc[ch - cb][0];
        if (y2) y2[ch] = (float)acc[ch - cb][1];
      }
    }
  }
}

/* part[0] += sum of a b m; part[1] += sum of a m when s->a_sum */
static void dot_sums(const sum_args *s, int ch, size_t at, size_t n, float part[2]) {
  (void)ch;
  float abuf[CHUNK], bbuf[CHUNK], mbuf[CHUNK];
  const float *ap = load(s->a, s->bf16 & FA_BF16_A, at, n, abuf), *mp = load(s->mask, s->bf16 & FA_BF16_MASK, at, n, mbuf);
  part[0] += dot_chunk(n, ap, load(s->b, s->bf16 & FA_BF16_B, at, n, bbuf), mp);
  if (s->a_sum) part[1] += dot_chunk(n, ap, NULL, mp); /* the chunk is in L1 now: the second sum costs no reads */
}

void fa_cpu_channel_dot(const int xs[4], const void *a, const void *b, const void *mask, float *y, float *y_a,
                        unsigned bf16) {
  channel_sums(xs, dot_sums, &(sum_args){.a = a, .b = b, .mask = mask, .a_sum = y_a, .bf16 = bf16}, y, y_a);
}

static void sq_dev_sums(const sum_args *s, int ch, size_t at, size_t n, float part[2]) {
  const float m = s->mean[ch];
  float xbuf[CHUNK], sum = 0;
  const float *restrict xp = load(s->a, s->bf16 & FA_BF16_X, at, n, xbuf);
#pragma omp simd reduction(+ : sum)
  for (size_t e = 0; e < n; e++) sum += (xp[e] - m) * (xp[e] - m);
  part[0] += sum;
}

void fa_cpu_channel_sq_dev(const int xs[4], const void *x, const float *mean, float *y, unsigned bf16) {
  channel_sums(xs, sq_dev_sums, &(sum_args){.a = x, .mean = mean, .bf16 = bf16}, y, NULL);
}

void fa_cpu_add_to_bf16(size_t n, const void *x, void *y, unsigned bf16) {
  const bool half = bf16 & FA_BF16_X;
#pragma omp parallel for schedule(static) if (n > FA_CPU_PASS_PAR_MIN)
  for (size_t at = 0; at < n; at += CHUNK) {
    const size_t m = min_size(CHUNK, n - at);
    float xbuf[CHUNK], sum[CHUNK];
    const float *restrict xp = load(x, half, at, m, xbuf);
    load(y, true, at, m, sum); /* y's values widened into sum */
#pragma omp simd
    for (size_t i = 0; i < m; i++) sum[i] += xp[i];
    store_bf16(m, sum, (uint16_t *)y + at);
  }
}

void fa_cpu_avg_pool(const int xs[4], int k, const void *x, float *y, unsigned bf16) {
  const int ho = xs[2] / k, wo = xs[3] / k;
  const size_t planes = (size_t)xs[0] * xs[1], plane = (size_t)xs[2] * xs[3];
  const bool half = bf16 & FA_BF16_X;
  const float scale = 1.0f / (float)(k * k);
#pragma omp parallel for schedule(static) if (big(xs))
  for (size_t p = 0; p < planes; p++)
    for (int i = 0; i < ho; i++)
      for (int j = 0; j < wo; j++) {
        float s = 0;
        for (int a = 0; a < k; a++)
          for (int b = 0; b < k; b++) {
            const size_t e = p * plane + (size_t)(i * k + a) * xs[3] + j * k + b;
            s += half ? fa_bf16_to_float(((const uint16_t *)x)[e]) : ((const float *)x)[e];
          }
        y[(p * ho + i) * wo + j] = s * scale;
      }
}
