/* idwt.c — cv_cpu_idwt: pywt.waverecn on the CPU. Levels run coarsest
 * first, each one pass streaming the outermost transformed axis, writing
 * only what survives pywt's trimming or the `shape` crop; missing bands are
 * zeros and cost nothing; many batch items run all their levels per item.
 * Complex runs as real pairs. Called by the CPU worker; OpenMP inside. */
#include <stdlib.h>
#include <string.h>

#include "cpu.h"
#include "filter1d.h"

/* Batch items per thread from which every item runs all its levels alone
 * (fewer keeps the levels outermost, with all threads on each level). */
#define CV_IDWT_ITEMS_PER_THREAD 4

/* ---- one level ---- */

typedef struct inv_s {
  const cv_fk_t *fk;
  size_t es;
  int rank, first_t, last_t;
  int row_dim, cplx;                                        /* rows run along row_dim */
  int64_t b_shape[CV_DWT_RANK], o_shape[CV_DWT_RANK];       /* coefficients, result region */
  int64_t sz_b[CV_DWT_RANK + 1], sz_o[CV_DWT_RANK + 1];     /* elements of dims d.. */
  bool same[CV_DWT_RANK + 1];                               /* dims d.. equal in both */
  unsigned mask[CV_DWT_RANK + 1];                           /* band bits of axes d.. */
  const cv_fplan_t *plan[CV_DWT_RANK];
  unsigned bit[CV_DWT_RANK];
  const char *band[CV_DWT_MAX_BANDS];                       /* NULL: zeros */
  char *out;
} inv_t;

typedef struct iws_s {
  char *slice[CV_DWT_RANK];   /* depth d: 2·(bands left) slices of sz_b[d+1] */
  char *row;
  char *mem;
} iws_t;

/* Copies dims d.. of src (coefficient layout; NULL = zeros) into dst (result layout). */
static void copy_region(const inv_t *f, int d, const char *src, char *dst) {
  if (f->same[d]) {
    if (src)
      memcpy(dst, src, (size_t)f->sz_o[d] * f->es);
    else
      memset(dst, 0, (size_t)f->sz_o[d] * f->es);
    return;
  }
  for (int64_t i = 0; i < f->o_shape[d]; i++)
    copy_region(f, d + 1, src ? src + (size_t)(i * f->sz_b[d + 1]) * f->es : NULL,
                dst + (size_t)(i * f->sz_o[d + 1]) * f->es);
}

static void inv_rec(const inv_t *f, iws_t *w, int d, const char *const *s, char *out);

/* Pairs [u0, u1) of one row (real or complex) from rows a, d (NULL: zeros). */
static void inv_row(const inv_t *f, iws_t *w, const char *a, const char *d, char *out, int64_t u0, int64_t u1) {
  const cv_fplan_t *pl = f->plan[f->row_dim];
  if (f->cplx)
    cv_fcrow_idwt(pl, f->fk, a, d, u0, u1, out, f->o_shape[f->row_dim], w->row);
  else
    cv_frow_idwt(pl, f->fk, a, d, u0, u1, out, f->o_shape[f->row_dim], w->row);
}

/* Result samples 2u and 2u+1 along transformed axis d (not the last axis). */
static void inv_unit(const inv_t *f, iws_t *w, int d, const char *const *s, char *out, int64_t u) {
  const void *p[CV_FTERM_MAX];
  double w0[CV_FTERM_MAX], w1[CV_FTERM_MAX];
  size_t es = f->es;
  int64_t len = f->sz_b[d + 1];
  char *oe = out + (size_t)(2 * u * f->sz_o[d + 1]) * es;
  char *oo = 2 * u + 1 < f->o_shape[d] ? out + (size_t)((2 * u + 1) * f->sz_o[d + 1]) * es : NULL;
  unsigned bit = f->bit[d], mask = f->mask[d + 1];
  if (d == f->last_t) {
    const char *base[2] = {s[0], s[bit]};
    int nt = cv_fplan_unit(f->plan[d], u, base, len * (int64_t)es, p, w0, w1);
    if (f->same[d + 1]) {
      f->fk->mac2(nt, p, w0, w1, len, oe, oo ? oo : w->slice[d]);
    } else {
      char *t0 = w->slice[d], *t1 = t0 + (size_t)len * es;
      f->fk->mac2(nt, p, w0, w1, len, t0, t1);
      copy_region(f, d + 1, t0, oe);
      if (oo) copy_region(f, d + 1, t1, oo);
    }
    return;
  }
  const char *y0[CV_DWT_MAX_BANDS], *y1[CV_DWT_MAX_BANDS];
  char *t = w->slice[d];
  unsigned k = 0;
  do {
    const char *base[2] = {s[k], s[k | bit]};
    if (!base[0] && !base[1]) {
      y0[k] = y1[k] = NULL;
    } else {
      int nt = cv_fplan_unit(f->plan[d], u, base, len * (int64_t)es, p, w0, w1);
      f->fk->mac2(nt, p, w0, w1, len, t, t + (size_t)len * es);
      y0[k] = t;
      y1[k] = t + (size_t)len * es;
      t += 2 * (size_t)len * es;
    }
    k = (k - mask) & mask;
  } while (k);
  inv_rec(f, w, d + 1, y0, oe);
  if (oo) inv_rec(f, w, d + 1, y1, oo);
}

static void inv_rec(const inv_t *f, iws_t *w, int d, const char *const *s, char *out) {
  if (d > f->last_t) {
    copy_region(f, d, s[0], out);
    return;
  }
  const cv_fplan_t *pl = f->plan[d];
  size_t es = f->es;
  if (!pl) {
    const char *s2[CV_DWT_MAX_BANDS];
    unsigned mask = f->mask[d];
    for (int64_t i = 0; i < f->o_shape[d]; i++) {
      unsigned k = 0;
      do {
        s2[k] = s[k] ? s[k] + (size_t)(i * f->sz_b[d + 1]) * es : NULL;
        k = (k - mask) & mask;
      } while (k);
      inv_rec(f, w, d + 1, s2, out + (size_t)(i * f->sz_o[d + 1]) * es);
    }
    return;
  }
  if (d == f->row_dim) {
    inv_row(f, w, s[0], s[f->bit[d]], out, 0, pl->n_units);
    return;
  }
  for (int64_t u = 0; u < (f->o_shape[d] + 1) / 2; u++) inv_unit(f, w, d, s, out, u);
}

/* Elements of per-thread scratch a level needs; with need, each depth's share. */
static size_t iws_need(const inv_t *f, size_t *need) {
  size_t total = 1;
  for (int d = 0; d < f->rank; d++) need[d] = 0;
  for (int d = f->first_t; d <= f->last_t && d < f->row_dim; d++) {
    if (!f->plan[d]) continue;
    size_t bands = (size_t)1 << __builtin_popcount(f->mask[d + 1]);
    need[d] = 2 * bands * (size_t)f->sz_b[d + 1];
    total += need[d];
  }
  const cv_fplan_t *rp = f->plan[f->row_dim];
  if (rp) total += (size_t)(f->cplx ? cv_fcrow_ws(rp) : cv_frow_ws(rp));
  return total;
}

/* Points w's slices into w->mem (at least iws_need elements). */
static void iws_carve(const inv_t *f, iws_t *w) {
  size_t need[CV_DWT_RANK], at = 0;
  iws_need(f, need);
  for (int d = 0; d < f->rank; d++) {
    w->slice[d] = w->mem + at * f->es;
    at += need[d];
  }
  w->row = w->mem + at * f->es;
}

static int iws_alloc(const inv_t *f, iws_t *w) {
  size_t need[CV_DWT_RANK];
  w->mem = malloc(iws_need(f, need) * f->es);
  if (!w->mem) return -1;
  iws_carve(f, w);
  return 0;
}

/* Points s[] (the bands' keys) and *out at batch item b of the dims
 * before d0 (the result's multi-index). */
static char *inv_item(const inv_t *f, int d0, int64_t b, const char **s) {
  int64_t boff = 0, ooff = 0;
  for (int d = d0 - 1; d >= 0; d--) {
    int64_t i = b % f->o_shape[d];
    b /= f->o_shape[d];
    boff += i * f->sz_b[d + 1];
    ooff += i * f->sz_o[d + 1];
  }
  unsigned mask = f->mask[0], k = 0;
  do {
    s[k] = f->band[k] ? f->band[k] + (size_t)boff * f->es : NULL;
    k = (k - mask) & mask;
  } while (k);
  return f->out + (size_t)ooff * f->es;
}

/* Runs one level into f->out; 0 or -1 when out of memory. With a
 * workspace w it runs on the calling thread alone. */
static int inv_level(const inv_t *f, int threads, iws_t *w) {
  if (cv_idwt_haar(f->fk, f->rank, f->b_shape, f->o_shape, f->plan, f->bit, f->band, f->out, w ? 1 : threads))
    return 0;
  int d0 = f->first_t, row = d0 == f->row_dim;
  int64_t B = 1, pairs = (f->o_shape[d0] + 1) / 2;
  for (int d = 0; d < d0; d++) B *= f->o_shape[d];
  if (w) {
    iws_carve(f, w);
    const char *s[CV_DWT_MAX_BANDS];
    for (int64_t b = 0; b < B; b++) {
      char *out = inv_item(f, d0, b, s);
      if (row)
        inv_row(f, w, s[0], s[f->bit[d0]], out, 0, pairs);
      else
        for (int64_t u = 0; u < pairs; u++) inv_unit(f, w, d0, s, out, u);
    }
    return 0;
  }
  int64_t chunks = cv__dwt_row_chunks(row, B, threads, pairs);
  int64_t per = row ? chunks : pairs, items = B * per;
  int nth = threads;
  if (f->sz_o[0] < CV_DWT_PAR_MIN || items < 2) nth = 1;
  int failed = 0;
#pragma omp parallel num_threads(nth) if (nth > 1)
  {
    iws_t tw;
    int ok = iws_alloc(f, &tw) == 0;
    if (!ok) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(static)
    for (int64_t it = 0; it < items; it++) {
      if (!ok) continue;
      int64_t b = it / per, u = it % per;
      const char *s[CV_DWT_MAX_BANDS];
      char *out = inv_item(f, d0, b, s);
      if (row)
        inv_row(f, &tw, s[0], s[f->bit[d0]], out, pairs * u / chunks, pairs * (u + 1) / chunks);
      else
        inv_unit(f, &tw, d0, s, out, u);
    }
    free(tw.mem);
  }
  return failed ? -1 : 0;
}

/* ---- the op ---- */

/* Copies a (shape src, rank r) into dst (shape dshape <= src), converting. */
static void crop_convert(char *dst, const int64_t *dshape, cv_dtype_t dt, const char *src,
                         const int64_t *sshape, cv_dtype_t st, int r) {
  if (r == 1) {
    cv_convert(dst, dt, src, st, (size_t)dshape[0]);
    return;
  }
  int64_t ss = cv_shape_numel(sshape + 1, r - 1), ds = cv_shape_numel(dshape + 1, r - 1);
  for (int64_t i = 0; i < dshape[0]; i++)
    crop_convert(dst + (size_t)(i * ds) * cv_dtype_size(dt), dshape + 1, dt,
                 src + (size_t)(i * ss) * cv_dtype_size(st), sshape + 1, st, r - 1);
}

/* Level j's geometry over dims from.. (the dims before `from` are the
 * caller's); bands and out are left for the caller to point. */
static void setup_level(inv_t *f, const cv_idwt_layout_t *lay, const cv_dwt_params_t *p, cv_dtype_t dt,
                        const cv_fplan_t *plans, int j, int from) {
  int n = p->n_axes;
  cv_fgeom_t gb, go;
  cv_fgeom(&gb, lay->band[j], lay->ndim, dt);
  cv_fgeom(&go, lay->res[j], lay->ndim, dt);
  memset(f, 0, sizeof *f);
  f->fk = gb.fk;
  f->es = gb.fk->es;
  f->rank = gb.rank - from;
  f->row_dim = gb.row_dim - from;
  f->cplx = gb.rank != gb.row_dim + 1;
  memcpy(f->b_shape, gb.shape + from, sizeof(int64_t) * (size_t)f->rank);
  memcpy(f->o_shape, go.shape + from, sizeof(int64_t) * (size_t)f->rank);
  for (int i = 0; i < n; i++) {
    f->plan[p->axes[i] - from] = &plans[i];
    f->bit[p->axes[i] - from] = 1u << (n - 1 - i);
  }
  f->first_t = f->rank;
  f->last_t = -1;
  f->sz_b[f->rank] = f->sz_o[f->rank] = 1;
  f->same[f->rank] = true;
  f->mask[f->rank] = 0;
  for (int d = f->rank - 1; d >= 0; d--) {
    f->sz_b[d] = f->sz_b[d + 1] * f->b_shape[d];
    f->sz_o[d] = f->sz_o[d + 1] * f->o_shape[d];
    f->same[d] = f->same[d + 1] && !f->plan[d] && f->b_shape[d] == f->o_shape[d];
    f->mask[d] = f->mask[d + 1] | (f->plan[d] ? f->bit[d] : 0u);
    if (f->plan[d]) {
      if (f->last_t < 0) f->last_t = d;
      f->first_t = d;
    }
  }
}

/* Elements of an array of shape s (rank r, complex adds the pair) before
 * multi-index idx of the dims before d0. */
static int64_t item_offset(const int64_t *s, int r, bool cplx, const int64_t *idx, int d0) {
  int64_t off = 0, stride = cplx ? 2 : 1;
  for (int d = r - 1; d >= 0; d--) {
    if (d < d0) off += idx[d] * stride;
    stride *= s[d];
  }
  return off;
}

typedef struct inv_job_s {
  const cv_idwt_layout_t *lay;
  const cv_dwt_params_t *p;
  cv_dtype_t dt;
  const cv_fplan_t *plans;       /* level j, axis i at [j·n + i] */
  const char *const *data;       /* each input, promoted */
  const int *level_of;           /* each input's level (0: a) */
  const unsigned *bits_of;       /* each input's key */
  int n_in;
  char *x;
} inv_job_t;

/* Levels outermost: each level runs once over the whole array with all
 * threads; the approximation between levels is one array. */
static int run_levels(const inv_job_t *jb, int threads) {
  const cv_idwt_layout_t *lay = jb->lay;
  int n = jb->p->n_axes, rc = 0;
  inv_t *f = malloc(sizeof *f);
  if (!f) return -CV_EOUT_OF_MEMORY;
  const char *cur = lay->a_index >= 0 ? jb->data[lay->a_index] : NULL;
  char *cur_tmp = NULL;
  for (int j = lay->start; j >= 1 && rc == 0; j--) {
    setup_level(f, lay, jb->p, jb->dt, jb->plans + (size_t)j * (size_t)n, j, 0);
    f->band[0] = cur;
    for (int i = 0; i < jb->n_in; i++)
      if (jb->level_of[i] == j) f->band[jb->bits_of[i]] = jb->data[i];
    char *next = NULL;
    if (j > 1 && !(next = cv_fbuf_alloc((size_t)f->sz_o[0] * f->es))) rc = -CV_EOUT_OF_MEMORY;
    f->out = j > 1 ? next : jb->x;
    if (rc == 0 && f->sz_o[0] > 0 && inv_level(f, threads, NULL) != 0) rc = -CV_EOUT_OF_MEMORY;
    cv_fbuf_free(cur_tmp);
    cur_tmp = next;
    cur = next;
  }
  cv_fbuf_free(cur_tmp);
  free(f);
  return rc;
}

/* Items outermost: with a batch prefix of enough items, every item runs all
 * its levels on one thread; the approximations between levels are per-item
 * scratch. */
static int run_items(const inv_job_t *jb, int d0, int64_t B, int threads) {
  const cv_idwt_layout_t *lay = jb->lay;
  int n = jb->p->n_axes, failed = 0;
  bool cplx = cv_dtype_is_complex(jb->dt);
  inv_t *f0 = malloc(sizeof *f0);
  if (!f0) return -CV_EOUT_OF_MEMORY;
  int64_t a_max = 1;
  size_t ws_max = 1, need[CV_DWT_RANK];
  for (int j = lay->start; j >= 1; j--) {
    setup_level(f0, lay, jb->p, jb->dt, jb->plans + (size_t)j * (size_t)n, j, d0);
    if (j > 1 && f0->sz_o[0] > a_max) a_max = f0->sz_o[0];
    size_t w = iws_need(f0, need);
    if (w > ws_max) ws_max = w;
  }
  size_t es = f0->es;
  free(f0);
#pragma omp parallel num_threads(threads)
  {
    inv_t *f = malloc(sizeof *f);
    iws_t w = {0};
    char *buf = malloc((size_t)(2 * a_max + 1) * es);
    w.mem = malloc(ws_max * es);
    int ok = f && buf && w.mem;
    if (!ok) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(static)
    for (int64_t b = 0; b < B; b++) {
      if (!ok) continue;
      int64_t idx[CV_MAX_DIMS], rest = b;
      for (int d = d0 - 1; d >= 0; d--) {
        idx[d] = rest % lay->x_shape[d];
        rest /= lay->x_shape[d];
      }
      const char *cur = NULL;
      if (lay->a_index >= 0)
        cur = jb->data[lay->a_index] +
              (size_t)item_offset(lay->band[lay->start], lay->ndim, cplx, idx, d0) * es;
      for (int j = lay->start; j >= 1; j--) {
        setup_level(f, lay, jb->p, jb->dt, jb->plans + (size_t)j * (size_t)n, j, d0);
        f->band[0] = cur;
        int64_t boff = item_offset(lay->band[j], lay->ndim, cplx, idx, d0);
        for (int i = 0; i < jb->n_in; i++)
          if (jb->level_of[i] == j) f->band[jb->bits_of[i]] = jb->data[i] + (size_t)boff * es;
        char *next = buf + (size_t)((j & 1) * a_max) * es;   /* ping-pong */
        f->out = j > 1 ? next : jb->x + (size_t)item_offset(lay->res[1], lay->ndim, cplx, idx, d0) * es;
        inv_level(f, 1, &w);
        cur = next;
      }
    }
    free(w.mem);
    free(buf);
    free(f);
  }
  return failed ? -CV_EOUT_OF_MEMORY : 0;
}

int cv_cpu_idwt(const cv_dwt_params_t *p, const cv_io_t *in, int n_in, cv_io_t *out, int n_out,
                int threads, cv_error_t *err) {
  cv_idwt_layout_t *lay = malloc(sizeof *lay);
  if (!lay) return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "idwt: out of memory");
  int rc = cv_idwt_layout(p, in, n_in, lay, err);
  if (rc) {
    free(lay);
    return rc;
  }
  cv_dtype_t dt = lay->dtype;
  if (n_out != 1 || out[0].a.dtype != dt || out[0].a.ndim != lay->ndim ||
      memcmp(out[0].a.shape, lay->x_shape, sizeof(int64_t) * (size_t)lay->ndim) != 0) {
    free(lay);
    return cv_error_set(err, CV_EINTERNAL, NULL, "idwt: outputs do not match cv_op_infer");
  }
  if (threads < 1) threads = 1;
  int n = p->n_axes;
  if (lay->level == 0 || cv_shape_numel(lay->x_shape, lay->ndim) == 0) {
    const cv_io_t *a = lay->a_index >= 0 ? &in[lay->a_index] : NULL;
    if (lay->level == 0 && a && cv_shape_numel(lay->x_shape, lay->ndim) > 0)
      crop_convert(out[0].a.data, lay->x_shape, dt, a->a.data, a->a.shape, a->a.dtype, lay->ndim);
    free(lay);
    return 0;
  }
  const char **data = calloc((size_t)n_in, sizeof *data);
  char **conv = calloc((size_t)n_in, sizeof *conv);
  int *level_of = calloc((size_t)n_in, sizeof *level_of);
  unsigned *bits_of = calloc((size_t)n_in, sizeof *bits_of);
  cv_fplan_t *plans = calloc((size_t)(lay->start + 1) * (size_t)n, sizeof *plans);
  rc = data && conv && level_of && bits_of && plans ? 0 : -CV_EOUT_OF_MEMORY;
  for (int i = 0; i < n_in && rc == 0; i++) {
    int nk;
    cv_dwt_parse_name(in[i].name, &level_of[i], &bits_of[i], &nk);
    data[i] = in[i].a.data;
    if (in[i].a.dtype == dt) continue;
    size_t numel = (size_t)cv_shape_numel(in[i].a.shape, in[i].a.ndim);
    if (!(conv[i] = cv_fbuf_alloc(numel * cv_dtype_size(dt)))) {
      rc = -CV_EOUT_OF_MEMORY;
      break;
    }
    cv_convert(conv[i], dt, in[i].a.data, in[i].a.dtype, numel);
    data[i] = conv[i];
  }
  for (int j = lay->start; j >= 1 && rc == 0; j--)
    for (int i = 0; i < n && rc == 0; i++)
      rc = cv_fplan_idwt(&plans[(size_t)j * (size_t)n + (size_t)i], lay->band[j][p->axes[i]], &p->wavelets[i],
                         p->modes[i], dt == CV_DTYPE_F32 || dt == CV_DTYPE_C64);
  if (rc == 0) {
    inv_job_t jb = {lay, p, dt, plans, data, level_of, bits_of, n_in, out[0].a.data};
    int d0 = lay->ndim;
    for (int i = 0; i < n; i++)
      if (p->axes[i] < d0) d0 = p->axes[i];
    int64_t B = cv_shape_numel(lay->x_shape, d0);
    if (lay->start > 1 && B >= (threads > 1 ? CV_IDWT_ITEMS_PER_THREAD * threads : 2))
      rc = run_items(&jb, d0, B, threads);
    else
      rc = run_levels(&jb, threads);
  }
  for (size_t k = 0; plans && k < (size_t)(lay->start + 1) * (size_t)n; k++) cv_fplan_free(&plans[k]);
  for (int i = 0; conv && i < n_in; i++) cv_fbuf_free(conv[i]);
  free(plans);
  free(bits_of);
  free(level_of);
  free(conv);
  free(data);
  free(lay);
  if (rc) return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "idwt: out of memory");
  return 0;
}
