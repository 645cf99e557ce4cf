/* filter1d.c — one axis of the CPU dwt/idwt: builds the axis' filter plan
 * (interior terms once; boundary units with the extension folded into
 * explicit input positions) and runs contiguous rows through it. The typed
 * multiply-accumulate kernels come from filter1d_kern.h. Plans are built by
 * the calling thread and then only read; kernels run on any thread. */
#include "filter1d.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../../proto/errors.h"

/* ---- typed kernels ---- */

typedef float cv_v8f __attribute__((vector_size(32), aligned(4), may_alias));
typedef double cv_v4d __attribute__((vector_size(32), aligned(8), may_alias));

/* a·b + c in the vector type: fused where the target has FMA (rounding
 * once, closer to the exact sum than pywt's separate multiply and add). */
#ifdef __FMA__
#define CV_FK_MADD(a, b, c) CV_FK_FMA(a, b, c)
#else
#define CV_FK_MADD(a, b, c) ((c) + (a) * (b))
#endif

#define CV_FK_T float
#define CV_FK_V cv_v8f
#define CV_FK_FMA(a, b, c) ((cv_v8f)__builtin_ia32_vfmaddps256((a), (b), (c)))
#define CV_FK_L 8
#define CV_FK_EVEN 0, 2, 4, 6, 8, 10, 12, 14
#define CV_FK_ODD 1, 3, 5, 7, 9, 11, 13, 15
#define CV_FK_SFX f32
#include "filter1d_kern.h"
#undef CV_FK_T
#undef CV_FK_V
#undef CV_FK_FMA
#undef CV_FK_L
#undef CV_FK_EVEN
#undef CV_FK_ODD
#undef CV_FK_SFX

#define CV_FK_T double
#define CV_FK_V cv_v4d
#define CV_FK_FMA(a, b, c) ((cv_v4d)__builtin_ia32_vfmaddpd256((a), (b), (c)))
#define CV_FK_L 4
#define CV_FK_EVEN 0, 2, 4, 6
#define CV_FK_ODD 1, 3, 5, 7
#define CV_FK_SFX f64
#include "filter1d_kern.h"
#undef CV_FK_T
#undef CV_FK_V
#undef CV_FK_FMA
#undef CV_FK_L
#undef CV_FK_EVEN
#undef CV_FK_ODD
#undef CV_FK_SFX

/* ---- plans ---- */

static int cmp_term(const void *a, const void *b) {
  const cv_fterm_t *x = a, *y = b;
  if (x->src != y->src) return x->src - y->src;
  return (x->pos > y->pos) - (x->pos < y->pos);
}

/* Sorts by (src, pos) and adds up terms at the same input. Returns the count. */
static int merge_terms(cv_fterm_t *t, int n) {
  qsort(t, (size_t)n, sizeof *t, cmp_term);
  int k = 0;
  for (int i = 0; i < n; i++) {
    if (k > 0 && t[k - 1].src == t[i].src && t[k - 1].pos == t[i].pos) {
      t[k - 1].w0 += t[i].w0;
      t[k - 1].w1 += t[i].w1;
    } else {
      t[k++] = t[i];
    }
  }
  return k;
}

static void load_taps(double *dst, const double *src, int n, bool f32) {
  for (int i = 0; i < n; i++) dst[i] = f32 ? (double)(float)src[i] : src[i];
}

static void set_range(cv_fplan_t *pl, int64_t lo, int64_t hi) {
  if (lo < 0) lo = 0;
  if (lo > pl->n_units) lo = pl->n_units;
  if (hi > pl->n_units) hi = pl->n_units;
  if (hi < lo) hi = lo;
  pl->int_lo = lo;
  pl->int_hi = hi;
  pl->n_bnd = lo + (pl->n_units - hi);
}

/* Ceil of a / 2 for any sign. */
static int64_t ceil_half(int64_t a) { return a >= 0 ? (a + 1) / 2 : -((-a) / 2); }

typedef int (*unit_terms_fn)(const cv_fplan_t *pl, const void *ctx, int64_t u, cv_fterm_t *out);

/* Fills the boundary units with fn's terms for each. */
static int build_boundary(cv_fplan_t *pl, unit_terms_fn fn, const void *ctx) {
  pl->bnd_first = malloc(sizeof(int64_t) * (size_t)(pl->n_bnd + 1));
  size_t cap = (size_t)(pl->n_bnd > 0 ? pl->n_bnd : 1) * 16, used = 0;
  pl->bnd = malloc(sizeof(cv_fterm_t) * cap);
  if (!pl->bnd_first || !pl->bnd) return -CV_EOUT_OF_MEMORY;
  cv_fterm_t tmp[CV_FTERM_MAX];
  for (int64_t b = 0; b < pl->n_bnd; b++) {
    int64_t u = b < pl->int_lo ? b : pl->int_hi + (b - pl->int_lo);
    int n = merge_terms(tmp, fn(pl, ctx, u, tmp));
    if (used + (size_t)n > cap) {
      cap = 2 * cap + (size_t)n;
      cv_fterm_t *nb = realloc(pl->bnd, sizeof(cv_fterm_t) * cap);
      if (!nb) return -CV_EOUT_OF_MEMORY;
      pl->bnd = nb;
    }
    pl->bnd_first[b] = (int64_t)used;
    memcpy(pl->bnd + used, tmp, sizeof(cv_fterm_t) * (size_t)n);
    used += (size_t)n;
  }
  pl->bnd_first[pl->n_bnd] = (int64_t)used;
  return 0;
}

typedef struct dwt_ctx_s {
  int F;
  int64_t base;
  cv_mode_t mode;
  double lo[CV_WAVELET_MAX_LEN], hi[CV_WAVELET_MAX_LEN];
} dwt_ctx_t;

/* Unit u of the dwt: tap j reads extended position 2u + base − j. */
static int dwt_unit_terms(const cv_fplan_t *pl, const void *cv, int64_t u, cv_fterm_t *out) {
  const dwt_ctx_t *c = cv;
  int n = 0;
  for (int j = 0; j < c->F; j++) {
    int64_t q[CV_EXT_MAX_TERMS];
    double w[CV_EXT_MAX_TERMS];
    int k = cv_ext_terms(pl->n_in, 2 * u + c->base - j, c->mode, q, w);
    for (int t = 0; t < k; t++) out[n++] = (cv_fterm_t){0, q[t], w[t] * c->lo[j], w[t] * c->hi[j]};
    if (n > CV_FTERM_MAX - CV_EXT_MAX_TERMS) n = merge_terms(out, n);
  }
  return n;
}

int cv_fplan_dwt(cv_fplan_t *pl, int64_t n, const cv_wavelet_t *w, cv_mode_t mode, bool f32_taps) {
  memset(pl, 0, sizeof *pl);
  dwt_ctx_t c;
  c.F = w->len;
  c.mode = mode;
  /* pywt: output o is Σ_j f[j]·x[i − j] with i = 2o + 1 (periodization: 2o + F/2) */
  c.base = mode == CV_MODE_PERIODIZATION ? c.F / 2 : 1;
  load_taps(c.lo, w->dec_lo, c.F, f32_taps);
  load_taps(c.hi, w->dec_hi, c.F, f32_taps);
  pl->n_in = n;
  pl->n_units = cv_dwt_coeff_len(n, c.F, mode);
  pl->step = 2;
  pl->n_terms = c.F;
  if (!(pl->terms = malloc(sizeof *pl->terms * (size_t)c.F))) return -CV_EOUT_OF_MEMORY;
  for (int j = 0; j < c.F; j++) pl->terms[j] = (cv_fterm_t){0, c.base - j, c.lo[j], c.hi[j]};
  pl->min_pos = c.base - (c.F - 1);
  pl->max_pos = c.base;
  /* interior: every tap inside [0, n) */
  int64_t last = n - 1 - pl->max_pos;
  set_range(pl, ceil_half(-pl->min_pos), last >= 0 ? last / 2 + 1 : 0);
  pl->mode = mode;
  /* the extended samples rows read outside [0, n) */
  int64_t p1 = 2 * (pl->n_units - 1) + pl->max_pos;
  pl->n_ext_lo = pl->min_pos < 0 ? -pl->min_pos : 0;
  pl->n_ext_hi = p1 >= n ? p1 - n + 1 : 0;
  pl->ext = malloc(sizeof(cv_fext_t) * (size_t)(pl->n_ext_lo + pl->n_ext_hi + 1));
  if (!pl->ext) return -CV_EOUT_OF_MEMORY;
  for (int64_t k = 0; k < pl->n_ext_lo + pl->n_ext_hi; k++) {
    int64_t pos = k < pl->n_ext_lo ? pl->min_pos + k : n + (k - pl->n_ext_lo);
    cv_fext_t *e = &pl->ext[k];
    e->nt = cv_ext_terms(n, pos, mode, e->q, e->c);
  }
  return build_boundary(pl, dwt_unit_terms, &c);
}

/* Unit u of a periodization idwt: the interior terms, wrapped mod m. */
static int idwt_unit_terms(const cv_fplan_t *pl, const void *cv, int64_t u, cv_fterm_t *out) {
  (void)cv;
  int64_t m = pl->n_in;
  for (int t = 0; t < pl->n_terms; t++) {
    int64_t k = (u + pl->terms[t].pos) % m;
    out[t] = pl->terms[t];
    out[t].pos = k < 0 ? k + m : k;
  }
  return pl->n_terms;
}

int cv_fplan_idwt(cv_fplan_t *pl, int64_t m, const cv_wavelet_t *w, cv_mode_t mode, bool f32_taps) {
  memset(pl, 0, sizeof *pl);
  int F = w->len, h = F / 2;
  double f[2][CV_WAVELET_MAX_LEN];
  load_taps(f[0], w->rec_lo, F, f32_taps);
  load_taps(f[1], w->rec_hi, F, f32_taps);
  pl->n_in = m;
  pl->step = 1;
  pl->mode = mode;
  if (!(pl->terms = malloc(sizeof *pl->terms * (size_t)(2 * F)))) return -CV_EOUT_OF_MEMORY;
  int n = 0;
  if (mode != CV_MODE_PERIODIZATION) {
    /* pywt's valid upsampling convolution: out[2u + r] = Σ_i f[2i + r]·c[u + h − 1 − i] */
    pl->n_units = m - h + 1;
    for (int s = 0; s < 2; s++)
      for (int i = 0; i < h; i++) pl->terms[n++] = (cv_fterm_t){s, h - 1 - i, f[s][2 * i], f[s][2 * i + 1]};
  } else {
    /* out[t] = Σ_c f[c]·up[(t + h − 1 − c) mod 2m], up[2k] = c[k], zero between */
    pl->n_units = m;
    for (int s = 0; s < 2; s++)
      for (int c = 0; c < F; c++)
        for (int r = 0; r < 2; r++) {
          int64_t q = r + h - 1 - c;
          if (q & 1) continue;
          pl->terms[n++] = (cv_fterm_t){s, q / 2, r == 0 ? f[s][c] : 0.0, r == 1 ? f[s][c] : 0.0};
        }
    n = merge_terms(pl->terms, n);
  }
  pl->n_terms = n;
  pl->min_pos = pl->max_pos = pl->terms[0].pos;
  for (int t = 1; t < n; t++) {
    if (pl->terms[t].pos < pl->min_pos) pl->min_pos = pl->terms[t].pos;
    if (pl->terms[t].pos > pl->max_pos) pl->max_pos = pl->terms[t].pos;
  }
  set_range(pl, -pl->min_pos, m - pl->max_pos);
  return build_boundary(pl, idwt_unit_terms, NULL);
}

void cv_fplan_free(cv_fplan_t *pl) {
  free(pl->bnd_first);
  free(pl->bnd);
  free(pl->ext);
  free(pl->terms);
  pl->terms = NULL;
  pl->bnd_first = NULL;
  pl->bnd = NULL;
  pl->ext = NULL;
}

int cv_fplan_unit(const cv_fplan_t *pl, int64_t u, const char *const base[2], int64_t stride,
                  const void **p, double *w0, double *w1) {
  int n = 0;
  if (u >= pl->int_lo && u < pl->int_hi) {
    for (int t = 0; t < pl->n_terms; t++) {
      const cv_fterm_t *tm = &pl->terms[t];
      if (!base[tm->src]) continue;
      p[n] = base[tm->src] + (pl->step * u + tm->pos) * stride;
      w0[n] = tm->w0;
      w1[n++] = tm->w1;
    }
    return n;
  }
  int64_t b = u < pl->int_lo ? u : pl->int_lo + (u - pl->int_hi);
  for (int64_t t = pl->bnd_first[b]; t < pl->bnd_first[b + 1]; t++) {
    const cv_fterm_t *tm = &pl->bnd[t];
    if (!base[tm->src]) continue;
    p[n] = base[tm->src] + tm->pos * stride;
    w0[n] = tm->w0;
    w1[n++] = tm->w1;
  }
  return n;
}

/* ---- rows ---- */

int64_t cv_frow_ws(const cv_fplan_t *pl) {
  int64_t span = pl->max_pos - pl->min_pos + 1;
  if (pl->step == 2) return 2 * pl->n_units + span + 8;
  return 4 * pl->n_units + 2 * span + 8;
}

/* Where the extended sample at offset r of a row split by parity lives. */
static char *split_at(char *xe, char *xo, int64_t r, size_t es) {
  return (r & 1) ? xo + (size_t)(r >> 1) * es : xe + (size_t)(r >> 1) * es;
}

void cv_frow_dwt(const cv_fplan_t *pl, const cv_fk_t *fk, const void *x, int64_t u0, int64_t u1,
                 void *lo, void *hi, void *ws) {
  if (u0 >= u1) return;
  size_t es = fk->es;
  int64_t p0 = 2 * u0 + pl->min_pos, p1 = 2 * (u1 - 1) + pl->max_pos;
  int64_t cnt = p1 - p0 + 1, ne = (cnt + 1) / 2;
  /* the extended row p0..p1, split into even and odd runs so that every tap
   * of every unit becomes one contiguous run */
  char *xe = ws, *xo = (char *)ws + (size_t)ne * es;
  fk->padsplit(pl, x, p0, p1, xe, xo);
  const void *pt[CV_FTERM_MAX];
  double w0[CV_FTERM_MAX], w1[CV_FTERM_MAX];
  for (int t = 0; t < pl->n_terms; t++) {
    pt[t] = split_at(xe, xo, pl->terms[t].pos - pl->min_pos, es);
    w0[t] = pl->terms[t].w0;
    w1[t] = pl->terms[t].w1;
  }
  fk->mac2(pl->n_terms, pt, w0, w1, u1 - u0, (char *)lo + (size_t)u0 * es, (char *)hi + (size_t)u0 * es);
}

void cv_frow_idwt(const cv_fplan_t *pl, const cv_fk_t *fk, const void *a, const void *d, int64_t u0,
                  int64_t u1, void *out, int64_t out_len, void *ws) {
  int64_t umax = (out_len + 1) / 2;
  if (u1 > umax) u1 = umax;
  if (u0 >= u1) return;
  size_t es = fk->es;
  int64_t len = u1 - u0, m = pl->n_in;
  char *e = ws, *o = e + (size_t)len * es, *ext = o + (size_t)len * es;
  const char *src[2] = {a, d};
  int64_t shift = u0;   /* pair u0's term at pos reads src + (shift + pos) */
  if (pl->n_bnd > 0) {
    /* periodization: the coefficients the pairs read, wrapped into place */
    int64_t k0 = u0 + pl->min_pos, cnt = len - 1 + pl->max_pos - pl->min_pos + 1;
    for (int s = 0; s < 2; s++) {
      if (!src[s]) continue;
      char *dst = ext + (size_t)(s * cnt) * es;
      for (int64_t i = 0; i < cnt;) {
        int64_t k = (k0 + i) % m;
        if (k < 0) k += m;
        int64_t run = m - k < cnt - i ? m - k : cnt - i;
        memcpy(dst + (size_t)i * es, src[s] + (size_t)k * es, (size_t)run * es);
        i += run;
      }
      src[s] = dst;
    }
    shift = -pl->min_pos;
  }
  const void *pt[CV_FTERM_MAX];
  double w0[CV_FTERM_MAX], w1[CV_FTERM_MAX];
  int nt = 0;
  for (int t = 0; t < pl->n_terms; t++) {
    const cv_fterm_t *tm = &pl->terms[t];
    if (!src[tm->src]) continue;
    pt[nt] = src[tm->src] + (size_t)(shift + tm->pos) * es;
    w0[nt] = tm->w0;
    w1[nt++] = tm->w1;
  }
  fk->mac2(nt, pt, w0, w1, len, e, o);
  int64_t hi = 2 * u1 < out_len ? 2 * u1 : out_len;
  fk->inter(e, o, hi - 2 * u0, (char *)out + (size_t)(2 * u0) * es);
}

/* ---- complex rows ---- */

int64_t cv_fcrow_ws(const cv_fplan_t *pl) {
  /* dwt: re, im rows + 4 output runs; idwt: 4 coefficient runs + 2 result rows */
  if (pl->step == 2) return 2 * pl->n_in + 4 * pl->n_units + cv_frow_ws(pl);
  return 4 * pl->n_in + 2 * (2 * pl->n_units + 2) + cv_frow_ws(pl);
}

void cv_fcrow_dwt(const cv_fplan_t *pl, const cv_fk_t *fk, const void *x, int64_t u0, int64_t u1,
                  void *lo, void *hi, void *ws) {
  if (u0 >= u1) return;
  size_t es = fk->es;
  int64_t n = pl->n_in, m = pl->n_units;
  char *re = ws, *im = re + (size_t)n * es, *o = im + (size_t)n * es, *rest = o + (size_t)(4 * m) * es;
  char *lr = o, *li = o + (size_t)m * es, *hr = o + (size_t)(2 * m) * es, *hI = o + (size_t)(3 * m) * es;
  fk->deint(x, 2 * n, re, im);
  cv_frow_dwt(pl, fk, re, u0, u1, lr, hr, rest);
  cv_frow_dwt(pl, fk, im, u0, u1, li, hI, rest);
  size_t at = (size_t)u0 * es;
  fk->inter(lr + at, li + at, 2 * (u1 - u0), (char *)lo + 2 * at);
  fk->inter(hr + at, hI + at, 2 * (u1 - u0), (char *)hi + 2 * at);
}

void cv_fcrow_idwt(const cv_fplan_t *pl, const cv_fk_t *fk, const void *a, const void *d, int64_t u0,
                   int64_t u1, void *out, int64_t out_len, void *ws) {
  int64_t umax = (out_len + 1) / 2;
  if (u1 > umax) u1 = umax;
  if (u0 >= u1) return;
  size_t es = fk->es;
  int64_t m = pl->n_in, L = 2 * pl->n_units + 2;
  char *ar = ws, *ai = ar + (size_t)m * es, *dr = ai + (size_t)m * es, *di = dr + (size_t)m * es;
  char *xr = di + (size_t)m * es, *xi = xr + (size_t)L * es, *rest = xi + (size_t)L * es;
  if (a) fk->deint(a, 2 * m, ar, ai);
  if (d) fk->deint(d, 2 * m, dr, di);
  cv_frow_idwt(pl, fk, a ? ar : NULL, d ? dr : NULL, u0, u1, xr, out_len, rest);
  cv_frow_idwt(pl, fk, a ? ai : NULL, d ? di : NULL, u0, u1, xi, out_len, rest);
  int64_t lo = 2 * u0, hi = 2 * u1 < out_len ? 2 * u1 : out_len;
  fk->inter(xr + (size_t)lo * es, xi + (size_t)lo * es, 2 * (hi - lo), (char *)out + (size_t)(2 * lo) * es);
}

/* ---- geometry ---- */

void cv_fgeom(cv_fgeom_t *g, const int64_t *shape, int ndim, cv_dtype_t dt) {
  memset(g, 0, sizeof *g);
  memcpy(g->shape, shape, sizeof(int64_t) * (size_t)ndim);
  g->rank = ndim;
  g->row_dim = ndim - 1;
  if (cv_dtype_is_complex(dt)) g->shape[g->rank++] = 2;
  g->fk = dt == CV_DTYPE_F32 || dt == CV_DTYPE_C64 ? &cv_fk_f32 : &cv_fk_f64;
}

/* ---- scratch ---- */

void *cv_fbuf_alloc(size_t bytes) {
  if (bytes < CV_FBUF_HUGE_MIN) return malloc(bytes ? bytes : 1);
  void *p = NULL;
  if (posix_memalign(&p, (size_t)2 << 20, bytes)) return NULL;
  madvise(p, bytes, MADV_HUGEPAGE);
  return p;
}

void cv_fbuf_free(void *p) { free(p); }
