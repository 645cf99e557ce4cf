/* dwt.c — cv_cpu_dwt: pywt.wavedecn on the CPU. A level is one pass: the
 * outermost transformed axis is streamed (each coefficient a filtered sum of
 * whole slices, vectorised along them), inner axes run on those slices, the
 * last writes the bands; many batch items run all their levels per item.
 * Complex runs as real pairs. Called by the CPU worker; OpenMP inside. */
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "filter1d.h"

/* Batch items per thread from which every item runs all its levels alone
 * (fewer keeps the levels outermost, with all threads on each level). */
#define CV_DWT_ITEMS_PER_THREAD 4

/* ---- one level ---- */

typedef struct fwd_s {
  const cv_fk_t *fk;
  size_t es;
  int rank, first_t, last_t;
  int row_dim, cplx;                                         /* rows run along row_dim */
  int64_t in_shape[CV_DWT_RANK];
  int64_t sz_in[CV_DWT_RANK + 1], sz_out[CV_DWT_RANK + 1];   /* elements of dims d.. */
  const cv_fplan_t *plan[CV_DWT_RANK];                       /* NULL: a batch axis */
  unsigned bit[CV_DWT_RANK];                                 /* the axis' band bit */
  char *band[CV_DWT_MAX_BANDS];
} fwd_t;

typedef struct fws_s {
  char *slice[CV_DWT_RANK][2];
  char *row;
  char *mem;
} fws_t;

static void fwd_rec(const fwd_t *f, fws_t *w, int d, const char *in, unsigned band, int64_t off);

/* Units [u0, u1) of one row (real or complex) into the two bands at off. */
static void fwd_row(const fwd_t *f, fws_t *w, const char *in, unsigned band, int64_t off, int64_t u0,
                    int64_t u1) {
  const cv_fplan_t *pl = f->plan[f->row_dim];
  char *lo = f->band[band] + (size_t)off * f->es, *hi = f->band[band | f->bit[f->row_dim]] + (size_t)off * f->es;
  if (f->cplx)
    cv_fcrow_dwt(pl, f->fk, in, u0, u1, lo, hi, w->row);
  else
    cv_frow_dwt(pl, f->fk, in, u0, u1, lo, hi, w->row);
}

/* Coefficient u along transformed axis d (not the last axis) of slice `in`. */
static void fwd_unit(const fwd_t *f, fws_t *w, int d, const char *in, unsigned band, int64_t off,
                     int64_t u) {
  const void *p[CV_FTERM_MAX];
  double w0[CV_FTERM_MAX], w1[CV_FTERM_MAX];
  const char *base[2] = {in, in};
  int64_t len = f->sz_in[d + 1], o = off + u * f->sz_out[d + 1];
  int nt = cv_fplan_unit(f->plan[d], u, base, len * (int64_t)f->es, p, w0, w1);
  if (d == f->last_t) {
    f->fk->mac2(nt, p, w0, w1, len, f->band[band] + (size_t)o * f->es,
                f->band[band | f->bit[d]] + (size_t)o * f->es);
    return;
  }
  f->fk->mac2(nt, p, w0, w1, len, w->slice[d][0], w->slice[d][1]);
  fwd_rec(f, w, d + 1, w->slice[d][0], band, o);
  fwd_rec(f, w, d + 1, w->slice[d][1], band | f->bit[d], o);
}

static void fwd_rec(const fwd_t *f, fws_t *w, int d, const char *in, unsigned band, int64_t off) {
  if (d > f->last_t) {
    memcpy(f->band[band] + (size_t)off * f->es, in, (size_t)f->sz_in[d] * f->es);
    return;
  }
  const cv_fplan_t *pl = f->plan[d];
  if (!pl) {
    for (int64_t i = 0; i < f->in_shape[d]; i++)
      fwd_rec(f, w, d + 1, in + (size_t)(i * f->sz_in[d + 1]) * f->es, band, off + i * f->sz_out[d + 1]);
    return;
  }
  if (d == f->row_dim) {
    fwd_row(f, w, in, band, off, 0, pl->n_units);
    return;
  }
  for (int64_t u = 0; u < pl->n_units; u++) fwd_unit(f, w, d, in, band, off, u);
}

/* Elements of per-thread scratch a level needs. */
static size_t fws_need(const fwd_t *f) {
  size_t total = 1;
  for (int d = f->first_t; d < f->last_t; d++)
    if (f->plan[d]) total += 2 * (size_t)f->sz_in[d + 1];
  const cv_fplan_t *rp = f->plan[f->row_dim];
  if (rp) total += (size_t)(f->cplx ? cv_fcrow_ws(rp) : cv_frow_ws(rp));
  return total;
}

/* Points w's slices into w->mem (at least fws_need(f) elements). */
static void fws_carve(const fwd_t *f, fws_t *w) {
  size_t at = 0;
  for (int d = f->first_t; d < f->last_t; d++)
    if (f->plan[d])
      for (int s = 0; s < 2; s++, at += (size_t)f->sz_in[d + 1]) w->slice[d][s] = w->mem + at * f->es;
  w->row = w->mem + at * f->es;
}

static int fws_alloc(const fwd_t *f, fws_t *w) {
  w->mem = malloc(fws_need(f) * f->es);
  if (!w->mem) return -1;
  fws_carve(f, w);
  return 0;
}

/* Runs one level from `in` into f->band[]; 0 or -1 when out of memory.
 * With a workspace w it runs on the calling thread alone. */
static int fwd_level(const fwd_t *f, const char *in, int threads, fws_t *w) {
  if (cv_dwt_haar(f->fk, f->rank, f->in_shape, f->plan, f->bit, f->band, in, w ? 1 : threads)) return 0;
  int d0 = f->first_t, row = d0 == f->row_dim;
  const cv_fplan_t *pl = f->plan[d0];
  int64_t B = 1;
  for (int d = 0; d < d0; d++) B *= f->in_shape[d];
  if (w) {
    fws_carve(f, w);
    for (int64_t b = 0; b < B; b++) fwd_rec(f, w, d0, in + (size_t)(b * f->sz_in[d0]) * f->es, 0, b * f->sz_out[d0]);
    return 0;
  }
  /* rows: split long rows so that every thread has work */
  int64_t chunks = cv__dwt_row_chunks(row, B, threads, pl->n_units);
  int64_t per = row ? chunks : pl->n_units, items = B * per;
  int nth = threads;
  if (f->sz_in[0] < CV_DWT_PAR_MIN || items < 2) nth = 1;
  int failed = 0;
#pragma omp parallel num_threads(nth) if (nth > 1)
  {
    fws_t tw;
    int ok = fws_alloc(f, &tw) == 0;
    if (!ok) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(static)
    for (int64_t it = 0; it < items; it++) {
      if (!ok) continue;
      int64_t b = it / per, u = it % per;
      const char *src = in + (size_t)(b * f->sz_in[d0]) * f->es;
      int64_t off = b * f->sz_out[d0];
      if (row)
        fwd_row(f, &tw, src, 0, off, pl->n_units * u / chunks, pl->n_units * (u + 1) / chunks);
      else
        fwd_unit(f, &tw, d0, src, 0, off, u);
    }
    free(tw.mem);
  }
  return failed ? -1 : 0;
}

/* ---- the op ---- */

/* All levels' plans and shapes, built once. */
typedef struct levels_s {
  int L, n;
  cv_fplan_t *plans;                          /* L × n: level j (1-based), axis i at [(j−1)·n + i] */
  int64_t shape[CV_DWT_MAX_LEVEL + 1][CV_DWT_RANK];   /* shape[j]: the approximation after level j */
} levels_t;

static int levels_build(levels_t *lv, const cv_dwt_params_t *p, const cv_fgeom_t *g) {
  lv->L = p->level;
  lv->n = p->n_axes;
  lv->plans = calloc((size_t)(lv->L * lv->n + 1), sizeof *lv->plans);
  if (!lv->plans) return -CV_EOUT_OF_MEMORY;
  memcpy(lv->shape[0], g->shape, sizeof lv->shape[0]);
  for (int j = 1; j <= lv->L; j++) {
    memcpy(lv->shape[j], lv->shape[j - 1], sizeof lv->shape[j]);
    for (int i = 0; i < lv->n; i++) {
      int ax = p->axes[i];
      cv_fplan_t *pl = &lv->plans[(j - 1) * lv->n + i];
      int rc = cv_fplan_dwt(pl, lv->shape[j - 1][ax], &p->wavelets[i], p->modes[i], g->fk == &cv_fk_f32);
      if (rc) return rc;
      lv->shape[j][ax] = pl->n_units;
    }
  }
  return 0;
}

static void levels_free(levels_t *lv) {
  for (int k = 0; lv->plans && k < lv->L * lv->n; k++) cv_fplan_free(&lv->plans[k]);
  free(lv->plans);
}

/* Level j over dims from.. of the geometry (the dims before `from` are
 * handled by the caller); bands are left for the caller to point. */
static void fwd_setup(fwd_t *f, const cv_fgeom_t *g, const levels_t *lv, const cv_dwt_params_t *p, int j,
                      int from) {
  memset(f, 0, sizeof *f);
  f->fk = g->fk;
  f->es = g->fk->es;
  f->rank = g->rank - from;
  f->row_dim = g->row_dim - from;
  f->cplx = g->rank != g->row_dim + 1;
  for (int d = 0; d < f->rank; d++) f->in_shape[d] = lv->shape[j - 1][from + d];
  for (int i = 0; i < lv->n; i++) {
    f->plan[p->axes[i] - from] = &lv->plans[(j - 1) * lv->n + i];
    f->bit[p->axes[i] - from] = 1u << (lv->n - 1 - i);
  }
  f->first_t = f->rank;
  f->last_t = -1;
  f->sz_in[f->rank] = f->sz_out[f->rank] = 1;
  for (int d = f->rank - 1; d >= 0; d--) {
    f->sz_in[d] = f->sz_in[d + 1] * f->in_shape[d];
    f->sz_out[d] = f->sz_out[d + 1] * lv->shape[j][from + d];
    if (f->plan[d]) {
      if (f->last_t < 0) f->last_t = d;
      f->first_t = d;
    }
  }
}

/* Band b of level j in out[] (b = 0: `a`, only at the last level). */
static char *band_of(cv_io_t *out, int L, int per, int j, int b) {
  return b == 0 ? out[0].a.data : out[1 + (L - j) * per + (b - 1)].a.data;
}

/* Levels outermost: each level runs once over the whole array with all
 * threads; the approximation between levels is one array. */
static int run_levels(const cv_fgeom_t *g, const levels_t *lv, const cv_dwt_params_t *p, const char *src,
                      cv_io_t *out, int threads) {
  int L = lv->L, per = (1 << lv->n) - 1, rc = 0;
  fwd_t *f = malloc(sizeof *f);
  if (!f) return -CV_EOUT_OF_MEMORY;
  const char *cur = src;
  char *cur_tmp = NULL;
  for (int j = 1; j <= L && rc == 0; j++) {
    fwd_setup(f, g, lv, p, j, 0);
    char *next = NULL;
    if (j < L && !(next = cv_fbuf_alloc((size_t)f->sz_out[0] * f->es))) rc = -CV_EOUT_OF_MEMORY;
    f->band[0] = j < L ? next : band_of(out, L, per, j, 0);
    for (int b = 1; b <= per; b++) f->band[b] = band_of(out, L, per, j, b);
    if (rc == 0 && f->sz_out[0] > 0 && fwd_level(f, cur, threads, NULL) != 0) rc = -CV_EOUT_OF_MEMORY;
    cv_fbuf_free(cur_tmp);
    cur_tmp = next;
    cur = next;
  }
  cv_fbuf_free(cur_tmp);
  free(f);
  return rc;
}

/* Items outermost: with a batch prefix (the axes before the first
 * transformed one) of at least `threads` items, every item runs all its
 * levels on one thread, so the approximations between levels are per-item
 * scratch (and x is promoted item by item). */
static int run_items(const cv_fgeom_t *g, const levels_t *lv, const cv_dwt_params_t *p, const cv_array_t *x,
                     cv_dtype_t dt, cv_io_t *out, int d0, int64_t B, int threads) {
  int L = lv->L, per = (1 << lv->n) - 1, failed = 0;
  size_t es = g->fk->es;
  int64_t item_in = cv_shape_numel(g->shape + d0, g->rank - d0), item_out[CV_DWT_MAX_LEVEL + 1], a_max = 1;
  size_t ws_max = 1;
  fwd_t *f0 = malloc(sizeof *f0);
  if (!f0) return -CV_EOUT_OF_MEMORY;
  for (int j = 0; j <= L; j++) {
    item_out[j] = cv_shape_numel(lv->shape[j] + d0, g->rank - d0);
    if (j >= 1 && j < L && item_out[j] > a_max) a_max = item_out[j];   /* short signals grow */
    if (j >= 1) {
      fwd_setup(f0, g, lv, p, j, d0);
      size_t need = fws_need(f0);
      if (need > ws_max) ws_max = need;
    }
  }
  free(f0);
  size_t xes = cv_dtype_size(x->dtype), xitem = (size_t)cv_shape_numel(x->shape + d0, x->ndim - d0);
  bool promote = x->dtype != dt;
#pragma omp parallel num_threads(threads)
  {
    fwd_t *f = malloc(sizeof *f);
    fws_t w = {0};
    size_t nb = (size_t)(2 * a_max) + (promote ? (size_t)item_in : 0);
    char *buf = malloc((nb + 1) * es);
    w.mem = malloc(ws_max * es);
    int ok = f && buf && w.mem;
    if (!ok) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(static)
    for (int64_t b = 0; b < B; b++) {
      if (!ok) continue;
      const char *cur = (const char *)x->data + (size_t)b * xitem * xes;
      if (promote) {
        char *cv = buf + (size_t)(2 * a_max) * es;
        cv_convert(cv, dt, cur, x->dtype, xitem);
        cur = cv;
      }
      for (int j = 1; j <= L; j++) {
        fwd_setup(f, g, lv, p, j, d0);
        char *next = buf + (size_t)((j & 1) * a_max) * es;   /* ping-pong */
        f->band[0] = j < L ? next : band_of(out, L, per, j, 0) + (size_t)(b * item_out[j]) * es;
        for (int k = 1; k <= per; k++) f->band[k] = band_of(out, L, per, j, k) + (size_t)(b * item_out[j]) * es;
        fwd_level(f, cur, 1, &w);
        cur = next;
      }
    }
    free(w.mem);
    free(buf);
    free(f);
  }
  return failed ? -CV_EOUT_OF_MEMORY : 0;
}

int cv_cpu_dwt(const cv_dwt_params_t *p, const cv_io_t *in, int n_in, cv_io_t *out, int n_out,
               int threads, cv_error_t *err) {
  const cv_io_t *x = NULL;
  for (int i = 0; i < n_in; i++)
    if (strcmp(in[i].name, "x") == 0) x = &in[i];
  if (!x) return cv_error_set(err, CV_EINVALID_ARGUMENT, "inputs.x", "input x is required");
  int n = p->n_axes, L = p->level, per = (1 << n) - 1;
  if (n < 1 || n > x->a.ndim || L < 0 || L > CV_DWT_MAX_LEVEL || n_out != 1 + L * per ||
      p->n_wavelets != n || p->n_modes != n)
    return cv_error_set(err, CV_EINTERNAL, NULL, "dwt: params were not resolved by cv_op_infer");
  cv_dtype_t dt = cv_dtype_promote_wavelet(x->a.dtype);
  cv_fgeom_t g;
  cv_fgeom(&g, x->a.shape, x->a.ndim, dt);
  if (threads < 1) threads = 1;
  size_t numel = (size_t)cv_shape_numel(x->a.shape, x->a.ndim);
  if (L == 0) {
    if (out[0].a.dtype != dt || cv_shape_numel(out[0].a.shape, out[0].a.ndim) != (int64_t)numel)
      return cv_error_set(err, CV_EINTERNAL, NULL, "dwt: outputs do not match cv_op_infer");
    if (numel) cv_convert(out[0].a.data, dt, x->a.data, x->a.dtype, numel);
    return 0;
  }

  levels_t lv;
  int rc = levels_build(&lv, p, &g);
  for (int j = 1; j <= L && rc == 0; j++)   /* outputs exactly as infer described them */
    for (int b = 0; b <= per && rc == 0; b++) {
      if (b == 0 && j < L) continue;
      const cv_io_t *o = b == 0 ? &out[0] : &out[1 + (L - j) * per + (b - 1)];
      if (o->a.dtype != dt || o->a.ndim != x->a.ndim ||
          memcmp(o->a.shape, lv.shape[j], sizeof(int64_t) * (size_t)x->a.ndim) != 0)
        rc = -CV_EINTERNAL;
    }
  if (rc == 0 && numel > 0) {
    int d0 = g.rank;
    for (int i = 0; i < n; i++)
      if (p->axes[i] < d0) d0 = p->axes[i];
    int64_t B = cv_shape_numel(g.shape, d0);
    bool promote = x->a.dtype != dt;
    if ((L > 1 || promote) && B >= (threads > 1 ? CV_DWT_ITEMS_PER_THREAD * threads : 2)) {
      rc = run_items(&g, &lv, p, &x->a, dt, out, d0, B, threads);
    } else {
      const char *src = x->a.data;
      char *conv = NULL;
      if (x->a.dtype != dt) {
        if (!(conv = cv_fbuf_alloc(numel * cv_dtype_size(dt)))) rc = -CV_EOUT_OF_MEMORY;
        else cv_convert(conv, dt, x->a.data, x->a.dtype, numel);
        src = conv;
      }
      if (rc == 0) rc = run_levels(&g, &lv, p, src, out, threads);
      cv_fbuf_free(conv);
    }
  }
  levels_free(&lv);
  if (rc == -CV_EINTERNAL) return cv_error_set(err, CV_EINTERNAL, NULL, "dwt: outputs do not match cv_op_infer");
  if (rc) return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "dwt: out of memory");
  return 0;
}
