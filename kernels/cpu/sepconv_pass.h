/* sepconv_pass.h — one filter pass of the CPU sepconv, typed by SC_T: the
 * vectorised tap combination, pywt padding through cv_ext_terms, the row
 * method (filtered axis strided, contiguous rows of `inner`) and the line
 * method (filtered axis contiguous), and pass1 with its OpenMP split.
 * Included by sepconv_tmpl.h only; everything is static. Any thread. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "../dwt_math.h"
#include "sepconv_kern.h"

typedef SC_T T;

#define SC_SMALL_INNER 16          /* rows shorter than this are filtered as lines */
#define SC_BLK 512                 /* outputs per accumulator block (stays in L1) */
#define SC_SHORT_ROW 1024          /* rows up to this long are combined one tap at a time */
#define SC_EDGE_CHUNK 256          /* columns per block of boundary rows */
#ifndef SC_L2_BYTES
#define SC_L2_BYTES (512 * 1024)   /* budget for a window of overlapping row chunks */
#endif
/* The #ifndef ones may be overridden so that tests reach every path. */
#ifndef SC_MIN_CHUNK
#define SC_MIN_CHUNK 1024          /* narrowest column chunk worth a work unit */
#endif
#ifndef SC_PAR_MIN_WORK
#define SC_PAR_MIN_WORK (1 << 16)  /* elements in + out below which one thread runs */
#endif
#ifndef SC_SEG_MIN
#define SC_SEG_MIN 8192            /* fewest outputs per segment of a split line */
#endif
#define SC_ALIGN_ELEMS 16          /* chunks and scratch rounded to 64 bytes or more */
#define SC_UNITS_PER_THREAD 8      /* work units per thread (dynamic: a busy core gets fewer) */
#ifndef SC_EXT_TABLE_MAX
#define SC_EXT_TABLE_MAX 4096      /* padded positions per filter worth a terms table */
#endif
#ifndef SC_LINE_BUF
#define SC_LINE_BUF 4096           /* elements of a padded short line copied on the stack */
#endif

static inline int64_t sc_min(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t sc_max(int64_t a, int64_t b) { return a > b ? a : b; }
static inline int64_t sc_ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* ---- a filter as the kernels see it ---- */

/* A padded sample as cv_ext_terms gives it: Σ c[t]·x[q[t]] (nt = 0: zero). */
typedef struct {
  int64_t q[CV_EXT_MAX_TERMS];
  double c[CV_EXT_MAX_TERMS];
  int nt;
} ext_term_t;

typedef struct {
  int axis, k, s;
  int64_t d, lo, hi, n, m;
  int64_t i_lo, i_hi;        /* outputs [i_lo, i_hi) read no padding */
  cv_mode_t mode;
  const T *w;                /* k taps in application order, rounded to T */
  const ext_term_t *ext;     /* positions −lo … −1 then n … n+hi−1, or NULL */
} filt_t;

/* Columns per chunk when consecutive windows overlap: a window of chunks
 * stays in L2 (whole rows otherwise). */
static int64_t chunk_cols(const filt_t *f, int64_t inner) {
  int64_t span = f->d * (f->k - 1);
  if (f->s > span) return inner;
  int64_t cb = sc_max(SC_MIN_CHUNK, (int64_t)(SC_L2_BYTES / (sizeof(T) * (size_t)(span + f->s + 1))));
  return sc_min(cb, inner);
}

/* ---- the inner kernel: y[j] = Σ_t w[t]·src[t][S·j], summed in tap order ---- */

/* Always inlined so that each call site with a constant S gets its own
 * vectorised loops. Taps go four at a time through an L1 block, so the sum
 * is ((w0·a0 + w1·a1) + w2·a2) + … on every path, edges included. */
static inline __attribute__((always_inline)) void combine_s(T *restrict y, const T *const *src,
                                                             const T *w, int k, int64_t len,
                                                             const int64_t S) {
  const T *restrict a0 = src[0];
  const T w0 = w[0];
  if (k == 1) {
    for (int64_t j = 0; j < len; j++) y[j] = w0 * a0[S * j];
    return;
  }
  const T *restrict a1 = src[1];
  const T w1 = w[1];
  if (k == 2) {
    for (int64_t j = 0; j < len; j++) y[j] = w0 * a0[S * j] + w1 * a1[S * j];
    return;
  }
  const T *restrict a2 = src[2];
  const T w2 = w[2];
  if (k == 3) {
    for (int64_t j = 0; j < len; j++) y[j] = w0 * a0[S * j] + w1 * a1[S * j] + w2 * a2[S * j];
    return;
  }
  const T *restrict a3 = src[3];
  const T w3 = w[3];
  if (k == 4) {
    for (int64_t j = 0; j < len; j++)
      y[j] = w0 * a0[S * j] + w1 * a1[S * j] + w2 * a2[S * j] + w3 * a3[S * j];
    return;
  }
  T acc[SC_BLK];
  for (int64_t c0 = 0; c0 < len; c0 += SC_BLK) {
    int64_t nb = sc_min(SC_BLK, len - c0);
    const T *restrict b0 = a0 + S * c0, *restrict b1 = a1 + S * c0;
    const T *restrict b2 = a2 + S * c0, *restrict b3 = a3 + S * c0;
    for (int64_t j = 0; j < nb; j++) acc[j] = w0 * b0[S * j] + w1 * b1[S * j] + w2 * b2[S * j] + w3 * b3[S * j];
    int t = 4;
    for (; t + 4 < k; t += 4) {
      const T *restrict e0 = src[t] + S * c0, *restrict e1 = src[t + 1] + S * c0;
      const T *restrict e2 = src[t + 2] + S * c0, *restrict e3 = src[t + 3] + S * c0;
      const T v0 = w[t], v1 = w[t + 1], v2 = w[t + 2], v3 = w[t + 3];
      for (int64_t j = 0; j < nb; j++)
        acc[j] = acc[j] + v0 * e0[S * j] + v1 * e1[S * j] + v2 * e2[S * j] + v3 * e3[S * j];
    }
    /* the last 1 to 4 taps write y directly */
    T *restrict yb = y + c0;
    const T *restrict e0 = src[t] + S * c0;
    const T v0 = w[t];
    if (k - t == 1) {
      for (int64_t j = 0; j < nb; j++) yb[j] = acc[j] + v0 * e0[S * j];
      continue;
    }
    const T *restrict e1 = src[t + 1] + S * c0;
    const T v1 = w[t + 1];
    if (k - t == 2) {
      for (int64_t j = 0; j < nb; j++) yb[j] = acc[j] + v0 * e0[S * j] + v1 * e1[S * j];
      continue;
    }
    const T *restrict e2 = src[t + 2] + S * c0;
    const T v2 = w[t + 2];
    if (k - t == 3) {
      for (int64_t j = 0; j < nb; j++) yb[j] = acc[j] + v0 * e0[S * j] + v1 * e1[S * j] + v2 * e2[S * j];
      continue;
    }
    const T *restrict e3 = src[t + 3] + S * c0;
    const T v3 = w[t + 3];
    for (int64_t j = 0; j < nb; j++)
      yb[j] = acc[j] + v0 * e0[S * j] + v1 * e1[S * j] + v2 * e2[S * j] + v3 * e3[S * j];
  }
}

/* ---- padding: pywt.pad's samples through cv_ext_terms ---- */

/* Terms of padded position p (outside [0, n)). */
static inline const ext_term_t *ext_at(const filt_t *f, int64_t p, ext_term_t *tmp) {
  if (f->ext) return &f->ext[p < 0 ? p + f->lo : f->lo + (p - f->n)];
  tmp->nt = cv_ext_terms(f->n, p, f->mode, tmp->q, tmp->c);
  return tmp;
}

/* Padded sample p of a line whose samples are es apart; summed in double and
 * rounded once, exactly as cv_ext_value_f32/_f64 do. */
static inline T ext_val(const filt_t *f, const T *x, int64_t es, int64_t p) {
  if (f->mode == CV_MODE_ZERO) return 0;
  ext_term_t tmp;
  const ext_term_t *e = ext_at(f, p, &tmp);
  double v = 0.0;
  for (int t = 0; t < e->nt; t++) v += e->c[t] * (double)x[e->q[t] * es];
  return (T)v;
}

/* ---- rows: the filtered axis is strided, rows of `inner` are contiguous ---- */

/* Columns [c0, c1) of output row i when its window reaches into the padding;
 * xb is the batch's first input row, y points at column c0. Same tap order
 * as combine_s (0 + w0·v0 is w0·v0). */
static void edge_row(const filt_t *f, const T *xb, int64_t inner, int64_t i, int64_t c0, int64_t c1,
                     T *y) {
  T acc[SC_EDGE_CHUNK], tmp[SC_EDGE_CHUNK];
  double dv[SC_EDGE_CHUNK];
  for (int64_t cc = c0; cc < c1; cc += SC_EDGE_CHUNK) {
    int64_t ne = sc_min(SC_EDGE_CHUNK, c1 - cc);
    for (int64_t j = 0; j < ne; j++) acc[j] = 0;
    for (int t = 0; t < f->k; t++) {
      int64_t p = i * f->s + t * f->d - f->lo;
      const T wt = f->w[t];
      const T *src;
      if (p >= 0 && p < f->n) {
        src = xb + p * inner + cc;
      } else if (f->mode != CV_MODE_ZERO) {
        /* the padded row, one vector pass per term (cv_ext_value's sum) */
        ext_term_t et;
        const ext_term_t *e = ext_at(f, p, &et);
        if (e->nt == 0) continue;
        const T *restrict q0 = xb + e->q[0] * inner + cc;
        const double k0 = e->c[0];
        for (int64_t j = 0; j < ne; j++) dv[j] = k0 * (double)q0[j];
        for (int t2 = 1; t2 < e->nt; t2++) {
          const T *restrict qt = xb + e->q[t2] * inner + cc;
          const double ct = e->c[t2];
          for (int64_t j = 0; j < ne; j++) dv[j] += ct * (double)qt[j];
        }
        for (int64_t j = 0; j < ne; j++) tmp[j] = (T)dv[j];
        src = tmp;
      } else {
        continue;
      }
      for (int64_t j = 0; j < ne; j++) acc[j] += wt * src[j];
    }
    memcpy(y + (cc - c0), acc, sizeof(T) * (size_t)ne);
  }
}

/* Columns [c0, c1) of output row i; yrow is the output row. */
static void row_part(const filt_t *f, const T *xb, int64_t inner, int64_t i, int64_t c0, int64_t c1,
                     T *yrow) {
  if (i >= f->i_lo && i < f->i_hi) {
    const T *src[CV_SEPCONV_MAX_TAPS];
    const T *base = xb + (i * f->s - f->lo) * inner + c0;
    int64_t len = c1 - c0;
    if (len <= SC_SHORT_ROW) {
      /* Short rows: one sequential stream per tap (interleaving short rows
       * halves DRAM throughput); y stays in L1 and sums in the same order. */
      T *restrict y = yrow + c0;
      const T *restrict a = base;
      const T w0 = f->w[0];
      for (int64_t j = 0; j < len; j++) y[j] = w0 * a[j];
      for (int t = 1; t < f->k; t++) {
        const T *restrict at = base + t * f->d * inner;
        const T wt = f->w[t];
        for (int64_t j = 0; j < len; j++) y[j] += wt * at[j];
      }
      return;
    }
    for (int t = 0; t < 4; t++) src[t] = base; /* combine_s reads four slots */
    for (int t = 1; t < f->k; t++) src[t] = base + t * f->d * inner;
    combine_s(yrow + c0, src, f->w, f->k, len, 1);
  } else {
    edge_row(f, xb, inner, i, c0, c1, yrow + c0);
  }
}

/* ---- lines: samples es elements apart, all es components at once ---- */

static T edge_val(const filt_t *f, const T *x, int64_t es, int64_t i) {
  T acc = 0;
  for (int t = 0; t < f->k; t++) {
    int64_t p = i * f->s + t * f->d - f->lo;
    if (p >= 0 && p < f->n)
      acc += f->w[t] * x[p * es];
    else if (f->mode != CV_MODE_ZERO)
      acc += f->w[t] * ext_val(f, x, es, p);
  }
  return acc;
}

/* Outputs [a, b) of a contiguous line, all inside the input. */
static void interior_contig(const filt_t *f, const T *x, T *y, int64_t a, int64_t b) {
  const T *src[CV_SEPCONV_MAX_TAPS];
  const T *base = x + (a * f->s - f->lo);
  for (int t = 0; t < 4; t++) src[t] = base; /* combine_s reads four slots */
  for (int t = 1; t < f->k; t++) src[t] = base + t * f->d;
  if (f->s == 1)
    combine_s(y + a, src, f->w, f->k, b - a, 1);
  else if (f->s == 2)
    combine_s(y + a, src, f->w, f->k, b - a, 2);
  else
    combine_s(y + a, src, f->w, f->k, b - a, f->s);
}

/* Outputs [a, b) of a line of es > 1 interleaved components, inside the input. */
static void interior_multi(const filt_t *f, const T *x, T *y, int64_t es, int64_t a, int64_t b) {
  T acc[SC_SMALL_INNER];
  for (int64_t i = a; i < b; i++) {
    const T *xs = x + (i * f->s - f->lo) * es;
    for (int64_t c = 0; c < es; c++) acc[c] = f->w[0] * xs[c];
    for (int t = 1; t < f->k; t++) {
      const T wt = f->w[t];
      const T *xt = xs + t * f->d * es;
      for (int64_t c = 0; c < es; c++) acc[c] += wt * xt[c];
    }
    memcpy(y + i * es, acc, sizeof(T) * (size_t)es);
  }
}

/* Outputs [i0, i1) of one line (x, y: its first sample). */
static void line(const filt_t *f, const T *x, T *y, int64_t es, int64_t i0, int64_t i1) {
  int64_t np = f->lo + f->n + f->hi;
  if ((f->i_lo > i0 || f->i_hi < i1) && np * es <= SC_LINE_BUF) {
    /* A short line with edges: copy it padded, then every output is interior. */
    T buf[SC_LINE_BUF];
    for (int64_t j = 0; j < f->lo; j++)
      for (int64_t c = 0; c < es; c++) buf[j * es + c] = ext_val(f, x + c, es, j - f->lo);
    memcpy(buf + f->lo * es, x, sizeof(T) * (size_t)(f->n * es));
    for (int64_t j = 0; j < f->hi; j++)
      for (int64_t c = 0; c < es; c++) buf[(f->lo + f->n + j) * es + c] = ext_val(f, x + c, es, f->n + j);
    filt_t g = *f;
    g.lo = g.hi = 0;
    g.n = np;
    if (es == 1)
      interior_contig(&g, buf, y, i0, i1);
    else
      interior_multi(&g, buf, y, es, i0, i1);
    return;
  }
  int64_t h1 = sc_min(i1, f->i_lo), a = sc_max(i0, f->i_lo), b = sc_min(i1, f->i_hi);
  int64_t t0 = sc_max(sc_max(i0, f->i_hi), h1);
  for (int64_t i = i0; i < h1; i++)
    for (int64_t c = 0; c < es; c++) y[i * es + c] = edge_val(f, x + c, es, i);
  if (a < b) {
    if (es == 1)
      interior_contig(f, x, y, a, b);
    else
      interior_multi(f, x, y, es, a, b);
  }
  for (int64_t i = t0; i < i1; i++)
    for (int64_t c = 0; c < es; c++) y[i * es + c] = edge_val(f, x + c, es, i);
}

/* ---- one filter over (batch, n, inner) → (batch, m, inner) ---- */

/* Output rows [r0, r1) (r = b·m + i), columns [c0, c1); row r goes to
 * y + (r − yr0)·inner. */
static void rows_range(const filt_t *f, int64_t inner, int64_t r0, int64_t r1, int64_t c0, int64_t c1,
                       const T *x, T *y, int64_t yr0) {
  int64_t b = r0 / f->m, i = r0 % f->m;
  for (int64_t r = r0; r < r1; r++) {
    row_part(f, x + b * f->n * inner, inner, i, c0, c1, y + (r - yr0) * inner);
    if (++i == f->m) {
      i = 0;
      b++;
    }
  }
}

/* Outputs [i0, i1) of lines [l0, l1). */
static void lines_range(const filt_t *f, int64_t es, int64_t l0, int64_t l1, int64_t i0, int64_t i1,
                        const T *x, T *y) {
  for (int64_t l = l0; l < l1; l++) line(f, x + l * f->n * es, y + l * f->m * es, es, i0, i1);
}

static void pass1(const filt_t *f, int64_t batch, int64_t inner, const T *x, T *y, int threads) {
  const int64_t m = f->m;
  int nt = batch * (f->n + m) * inner >= SC_PAR_MIN_WORK ? threads : 1;
  const int64_t want = (int64_t)SC_UNITS_PER_THREAD * nt;
  if (inner >= SC_SMALL_INNER) {
    /* Units: a column chunk × a run of output rows. */
    int64_t R = batch * m, cb = chunk_cols(f, inner);
    int64_t nch = sc_ceil_div(inner, cb);
    if (nt > 1 && R * nch < want && inner >= 2 * SC_MIN_CHUNK) {
      nch = sc_min(sc_ceil_div(want, R), inner / SC_MIN_CHUNK);
      cb = sc_ceil_div(sc_ceil_div(inner, nch), SC_ALIGN_ELEMS) * SC_ALIGN_ELEMS;
      nch = sc_ceil_div(inner, cb);
    }
    int64_t nrb = nt == 1 ? 1 : sc_min(R, sc_max(1, sc_ceil_div(want, nch)));
    int64_t rb = sc_ceil_div(R, nrb), units = nch * nrb;
    if (nt == 1) { /* no OpenMP region at all: fused children call this per row */
      for (int64_t ch = 0; ch < nch; ch++)
        rows_range(f, inner, 0, R, ch * cb, sc_min(inner, (ch + 1) * cb), x, y, 0);
      return;
    }
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (int64_t u = 0; u < units; u++) {
      int64_t ch = u / nrb, r0 = (u % nrb) * rb;
      rows_range(f, inner, r0, sc_min(R, r0 + rb), ch * cb, sc_min(inner, (ch + 1) * cb), x, y, 0);
    }
  } else {
    /* Units: a run of lines, or a segment of every line when lines are few. */
    if (nt == 1) {
      lines_range(f, inner, 0, batch, 0, m, x, y);
      return;
    }
    int64_t nseg = 1, nlb = sc_min(batch, want);
    if (batch < want) nseg = sc_max(1, sc_min(sc_ceil_div(want, batch), m / SC_SEG_MIN));
    int64_t seg = sc_ceil_div(m, nseg), lb = sc_ceil_div(batch, nlb), units = nlb * nseg;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (int64_t u = 0; u < units; u++) {
      int64_t l0 = (u / nseg) * lb, i0 = (u % nseg) * seg;
      lines_range(f, inner, l0, sc_min(batch, l0 + lb), i0, sc_min(m, i0 + seg), x, y);
    }
  }
}
