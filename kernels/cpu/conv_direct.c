/* conv_direct.c — convoy's own conv kernels on NCDHW data: float64 always,
 * float32 when forced or when oneDNN has no optimised implementation.
 * Work items are output-row tiles (n, channels, od, oh, ow-tile) spread over
 * OpenMP threads; each item accumulates in a small L1-resident buffer and the
 * innermost loop runs over the output's contiguous axis so it vectorises.
 * Depthwise convs (one input channel per group) take their own loop. */
#include <string.h>

#include "conv_internal.h"

#define CV_DIRECT_OCB 4      /* output channels computed together (share input rows) */
#define CV_DIRECT_TILE 256   /* output samples per row tile (accumulators stay in L1) */

int cv__conv_is_depthwise(const cv_conv_geom_t *g) { return g->groups == g->c && g->c > 0; }

/* Output positions ow in [*a, *b) whose input index ow·s + off lies in [0, n). */
static void valid_range(int64_t off, int64_t s, int64_t n, int64_t ow0, int64_t ow1, int64_t *a, int64_t *b) {
  int64_t lo = off >= 0 ? 0 : (-off + s - 1) / s;
  int64_t hi = off > n - 1 ? 0 : (n - 1 - off) / s + 1;
  *a = lo > ow0 ? lo : ow0;
  *b = hi < ow1 ? hi : ow1;
  if (*b < *a) *b = *a;
}

/* ---- the kernels, stamped once per dtype ---- */

#define CV_DIRECT_DTYPES(XX) XX(f64, double) XX(f32, float)

#define CV_DIRECT_DEFINE(sfx, T)                                                                    \
  /* general groups: one task = (n, group, block of OCB output channels, od, oh, ow tile) */      \
  static void rows_##sfx(const cv_conv_geom_t *g, const T *x, const T *w, const T *b, T *y,         \
                         int64_t task) {                                                            \
    const int64_t cg = g->c / g->groups, coutg = g->cout / g->groups;                               \
    const int64_t nocb = (coutg + CV_DIRECT_OCB - 1) / CV_DIRECT_OCB;                               \
    const int64_t ntile = (g->out[2] + CV_DIRECT_TILE - 1) / CV_DIRECT_TILE;                        \
    const int64_t ksz = g->k[0] * g->k[1] * g->k[2];                                                \
    int64_t t = task;                                                                               \
    const int64_t tile = t % ntile; t /= ntile;                                                     \
    const int64_t oh = t % g->out[1]; t /= g->out[1];                                               \
    const int64_t od = t % g->out[0]; t /= g->out[0];                                               \
    const int64_t ocb = t % nocb; t /= nocb;                                                        \
    const int64_t grp = t % g->groups;                                                              \
    const int64_t n = t / g->groups;                                                                \
    const int64_t oc0 = grp * coutg + ocb * CV_DIRECT_OCB;                                          \
    const int nob = (int)(coutg - ocb * CV_DIRECT_OCB < CV_DIRECT_OCB ? coutg - ocb * CV_DIRECT_OCB \
                                                                      : CV_DIRECT_OCB);             \
    const int64_t ow0 = tile * CV_DIRECT_TILE;                                                      \
    const int64_t nw = g->out[2] - ow0 < CV_DIRECT_TILE ? g->out[2] - ow0 : CV_DIRECT_TILE;         \
    T acc[CV_DIRECT_OCB][CV_DIRECT_TILE];                                                           \
    for (int ob = 0; ob < nob; ob++)                                                                \
      for (int64_t i = 0; i < nw; i++) acc[ob][i] = b ? b[oc0 + ob] : (T)0;                         \
    for (int64_t ic = 0; ic < cg; ic++) {                                                           \
      const T *xc = x + (n * g->c + grp * cg + ic) * g->in[0] * g->in[1] * g->in[2];                \
      for (int64_t kd = 0; kd < g->k[0]; kd++) {                                                    \
        const int64_t id = od * g->stride[0] + kd * g->dil[0] - g->lo[0];                           \
        if (id < 0 || id >= g->in[0]) continue;                                                     \
        for (int64_t kh = 0; kh < g->k[1]; kh++) {                                                  \
          const int64_t ih = oh * g->stride[1] + kh * g->dil[1] - g->lo[1];                         \
          if (ih < 0 || ih >= g->in[1]) continue;                                                   \
          const T *xr = xc + (id * g->in[1] + ih) * g->in[2];                                       \
          const T *wk = w + (oc0 * cg + ic) * ksz + (kd * g->k[1] + kh) * g->k[2];                  \
          for (int64_t kw = 0; kw < g->k[2]; kw++) {                                                \
            const int64_t off = kw * g->dil[2] - g->lo[2], s = g->stride[2];                        \
            int64_t a, e;                                                                           \
            valid_range(off, s, g->in[2], ow0, ow0 + nw, &a, &e);                                   \
            if (a >= e) continue;                                                                   \
            if (nob == CV_DIRECT_OCB && s == 1) {                                                   \
              const T w0 = wk[kw], w1 = wk[cg * ksz + kw], w2 = wk[2 * cg * ksz + kw],              \
                      w3 = wk[3 * cg * ksz + kw];                                                   \
              T *restrict a0 = acc[0] - ow0, *restrict a1 = acc[1] - ow0,                           \
                          *restrict a2 = acc[2] - ow0, *restrict a3 = acc[3] - ow0;                 \
              const T *restrict xs = xr + off;                                                      \
              for (int64_t ow = a; ow < e; ow++) {                                                  \
                const T v = xs[ow];                                                                 \
                a0[ow] += w0 * v; a1[ow] += w1 * v; a2[ow] += w2 * v; a3[ow] += w3 * v;             \
              }                                                                                     \
            } else {                                                                                \
              for (int ob = 0; ob < nob; ob++) {                                                    \
                const T wv = wk[ob * cg * ksz + kw];                                                \
                T *restrict ar = acc[ob] - ow0;                                                     \
                for (int64_t ow = a; ow < e; ow++) ar[ow] += wv * xr[ow * s + off];                 \
              }                                                                                     \
            }                                                                                       \
          }                                                                                         \
        }                                                                                           \
      }                                                                                             \
    }                                                                                               \
    for (int ob = 0; ob < nob; ob++) {                                                              \
      T *yr = y + (((n * g->cout + oc0 + ob) * g->out[0] + od) * g->out[1] + oh) * g->out[2] + ow0; \
      memcpy(yr, acc[ob], (size_t)nw * sizeof(T));                                                  \
    }                                                                                               \
  }                                                                                                 \
                                                                                                    \
  /* depthwise: one task = (n, output channel, od, oh, ow tile), one input plane */                 \
  static void dw_rows_##sfx(const cv_conv_geom_t *g, const T *x, const T *w, const T *b, T *y,      \
                            int64_t task) {                                                         \
    const int64_t mult = g->cout / g->c;                                                            \
    const int64_t ntile = (g->out[2] + CV_DIRECT_TILE - 1) / CV_DIRECT_TILE;                        \
    int64_t t = task;                                                                               \
    const int64_t tile = t % ntile; t /= ntile;                                                     \
    const int64_t oh = t % g->out[1]; t /= g->out[1];                                               \
    const int64_t od = t % g->out[0]; t /= g->out[0];                                               \
    const int64_t oc = t % g->cout;                                                                 \
    const int64_t n = t / g->cout;                                                                  \
    const int64_t ow0 = tile * CV_DIRECT_TILE;                                                      \
    const int64_t nw = g->out[2] - ow0 < CV_DIRECT_TILE ? g->out[2] - ow0 : CV_DIRECT_TILE;         \
    const T *xc = x + (n * g->c + oc / mult) * g->in[0] * g->in[1] * g->in[2];                      \
    const T *wc = w + oc * g->k[0] * g->k[1] * g->k[2];                                             \
    const int64_t s = g->stride[2];                                                                 \
    T acc[CV_DIRECT_TILE];                                                                          \
    T *restrict ar = acc - ow0;                                                                     \
    for (int64_t i = 0; i < nw; i++) acc[i] = b ? b[oc] : (T)0;                                     \
    for (int64_t kd = 0; kd < g->k[0]; kd++) {                                                      \
      const int64_t id = od * g->stride[0] + kd * g->dil[0] - g->lo[0];                             \
      if (id < 0 || id >= g->in[0]) continue;                                                       \
      for (int64_t kh = 0; kh < g->k[1]; kh++) {                                                    \
        const int64_t ih = oh * g->stride[1] + kh * g->dil[1] - g->lo[1];                           \
        if (ih < 0 || ih >= g->in[1]) continue;                                                     \
        const T *restrict xr = xc + (id * g->in[1] + ih) * g->in[2];                                \
        const T *wk = wc + (kd * g->k[1] + kh) * g->k[2];                                           \
        for (int64_t kw = 0; kw < g->k[2]; kw++) {                                                  \
          const int64_t off = kw * g->dil[2] - g->lo[2];                                            \
          int64_t a, e;                                                                             \
          valid_range(off, s, g->in[2], ow0, ow0 + nw, &a, &e);                                     \
          const T wv = wk[kw];                                                                      \
          if (s == 1)                                                                               \
            for (int64_t ow = a; ow < e; ow++) ar[ow] += wv * xr[ow + off];                         \
          else                                                                                      \
            for (int64_t ow = a; ow < e; ow++) ar[ow] += wv * xr[ow * s + off];                     \
        }                                                                                           \
      }                                                                                             \
    }                                                                                               \
    memcpy(y + (((n * g->cout + oc) * g->out[0] + od) * g->out[1] + oh) * g->out[2] + ow0, acc,     \
           (size_t)nw * sizeof(T));                                                                 \
  }                                                                                                 \
                                                                                                    \
  void cv__conv_direct_##sfx(const cv_conv_geom_t *g, const T *x, const T *w, const T *b, T *y,     \
                             int threads) {                                                         \
    const int64_t ntile = (g->out[2] + CV_DIRECT_TILE - 1) / CV_DIRECT_TILE;                        \
    const int64_t rows = g->n * g->out[0] * g->out[1] * ntile;                                      \
    if (cv__conv_is_depthwise(g)) {                                                                 \
      const int64_t total = rows * g->cout;                                                         \
      _Pragma("omp parallel for num_threads(threads) schedule(static)")                             \
      for (int64_t t = 0; t < total; t++) dw_rows_##sfx(g, x, w, b, y, t);                          \
      return;                                                                                       \
    }                                                                                               \
    const int64_t coutg = g->cout / g->groups;                                                      \
    const int64_t total = rows * g->groups * ((coutg + CV_DIRECT_OCB - 1) / CV_DIRECT_OCB);         \
    _Pragma("omp parallel for num_threads(threads) schedule(static)")                               \
    for (int64_t t = 0; t < total; t++) rows_##sfx(g, x, w, b, y, t);                               \
  }

CV_DIRECT_DTYPES(CV_DIRECT_DEFINE)
