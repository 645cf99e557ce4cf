/* sepconv_tmpl.h — the typed body of the CPU sepconv, included once by
 * sepconv_f32.c and once by sepconv_f64.c with SC_T (float | double) and
 * SC_EXEC (the exported name) defined. Builds a small plan tree (the
 * outermost filtered axis first, later axes fused per block of its output
 * rows) and runs it with OpenMP. All else is static; SC_EXEC runs on any thread. */
#include "sepconv_pass.h"

#define SC_FUSED_ROWS 16           /* most slab rows a fused node computes per block */
#define SC_FUSED_MIN_BYTES (32 << 20)   /* per-block scratch always allowed (all threads) */
#define SC_FUSED_SHARE 20          /* else at most 1/20 of the job's bytes (5%) */

/* ---- the plan tree ---- */

typedef struct {
  int ndim;
  int64_t shape[CV__SC_MAX_DIMS];
  int nf;
  filt_t f[CV_SEPCONV_MAX_FILTERS];
} prob_t;

/* The slab axis is the outermost filtered axis. SINGLE: its only filter,
 * nothing after. CHAIN: the first of several filters on it into a full
 * temporary, then the child on that. FUSED: its filter a block of output rows
 * at a time, each row handed to the child (the filters of the later axes,
 * which commute with it), so no full-size intermediate exists. */
typedef enum { NODE_SINGLE, NODE_CHAIN, NODE_FUSED } node_kind_t;

typedef struct {
  node_kind_t kind;
  filt_t f;
  int64_t batch, inner_in, inner_out;   /* inner_out: one output row after the child */
  int64_t in_numel, out_numel;
  int64_t need;                         /* scratch elements of a one-thread run */
  int64_t rb;                           /* FUSED: output rows computed per block */
  int child;                            /* -1 for SINGLE */
} node_t;

typedef struct {
  int n;
  node_t nodes[CV_SEPCONV_MAX_FILTERS];  /* each node consumes one filter */
} tree_t;

static int64_t prod(const int64_t *s, int a, int b) {
  int64_t r = 1;
  for (int i = a; i < b; i++) r *= s[i];
  return r;
}

static int build(tree_t *tr, const prob_t *P, int threads) {
  int a = P->f[0].axis, first = -1, n_a = 0;
  for (int i = 1; i < P->nf; i++)
    if (P->f[i].axis < a) a = P->f[i].axis;
  for (int i = 0; i < P->nf; i++)
    if (P->f[i].axis == a) {
      if (first < 0) first = i;
      n_a++;
    }
  int id = tr->n++;
  node_t *nd = &tr->nodes[id];
  nd->f = P->f[first];
  nd->batch = prod(P->shape, 0, a);
  nd->inner_in = prod(P->shape, a + 1, P->ndim);
  nd->in_numel = nd->batch * P->shape[a] * nd->inner_in;
  if (n_a >= 2) {
    prob_t R = *P;
    R.nf = 0;
    for (int i = 0; i < P->nf; i++)
      if (i != first) R.f[R.nf++] = P->f[i];
    R.shape[a] = nd->f.m;
    nd->kind = NODE_CHAIN;
    nd->rb = 1;
    nd->child = build(tr, &R, threads);
    int64_t temp = nd->batch * nd->f.m * nd->inner_in;
    nd->inner_out = nd->inner_in;
    nd->need = temp + tr->nodes[nd->child].need;
    nd->out_numel = tr->nodes[nd->child].out_numel;
  } else if (P->nf == 1) {
    nd->kind = NODE_SINGLE;
    nd->rb = 1;
    nd->child = -1;
    nd->inner_out = nd->inner_in;
    nd->need = 0;
    nd->out_numel = nd->batch * nd->f.m * nd->inner_in;
  } else {
    prob_t B;
    B.ndim = P->ndim - a - 1;
    memcpy(B.shape, P->shape + a + 1, sizeof(int64_t) * (size_t)B.ndim);
    B.nf = 0;
    for (int i = 0; i < P->nf; i++)
      if (i != first) {
        B.f[B.nf] = P->f[i];
        B.f[B.nf++].axis -= a + 1;
      }
    nd->kind = NODE_FUSED;
    nd->child = build(tr, &B, threads);
    nd->inner_out = tr->nodes[nd->child].out_numel;
    nd->out_numel = nd->batch * nd->f.m * nd->inner_out;
    /* Overlapping windows: compute a block of slab rows column chunk by
     * column chunk, so that each input row is read once per block. */
    nd->rb = 1;
    if (nd->f.s <= nd->f.d * (nd->f.k - 1)) {
      int64_t budget = sc_max(SC_FUSED_MIN_BYTES, (nd->in_numel + nd->out_numel) * (int64_t)sizeof(T) / SC_FUSED_SHARE);
      int64_t rows = budget / ((int64_t)threads * nd->inner_in * (int64_t)sizeof(T));
      nd->rb = sc_max(1, sc_min(SC_FUSED_ROWS, sc_min(rows, nd->batch * nd->f.m)));
    }
    nd->need = nd->rb * nd->inner_in + tr->nodes[nd->child].need;
  }
  return id;
}

/* ---- running the tree ---- */

/* scratch: NULL, or need elements (then threads is 1 and nothing allocates). */
static int run(const tree_t *tr, int id, const T *x, T *y, int threads, T *scratch, cv_error_t *err);

static int oom(cv_error_t *err, int64_t elems) {
  return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "sepconv: cannot allocate %lld bytes of scratch",
                      (long long)(elems * (int64_t)sizeof(T)));
}

/* Slab rows [r0, r1) of a fused node into tb (chunked as chunk_cols says),
 * then each through the child into y; scratch follows tb. */
static void fused_block(const tree_t *tr, const node_t *nd, int64_t r0, int64_t r1, const T *x, T *y, T *tb) {
  const filt_t *f = &nd->f;
  const int64_t ii = nd->inner_in, cb = chunk_cols(f, ii);
  for (int64_t c0 = 0; c0 < ii; c0 += cb) rows_range(f, ii, r0, r1, c0, sc_min(ii, c0 + cb), x, tb, r0);
  for (int64_t r = r0; r < r1; r++)
    run(tr, nd->child, tb + (r - r0) * ii, y + r * nd->inner_out, 1, tb + nd->rb * ii, NULL);
}

static int run_fused(const tree_t *tr, const node_t *nd, const T *x, T *y, int threads, T *scratch,
                     cv_error_t *err) {
  const filt_t *f = &nd->f;
  const int64_t ii = nd->inner_in, io = nd->inner_out, m = f->m, n = f->n, R = nd->batch * m;
  if (threads == 1) {
    const int64_t nblk = sc_ceil_div(R, nd->rb);
    T *own = NULL, *buf = scratch;
    if (!buf && !(buf = own = malloc(sizeof(T) * (size_t)sc_max(1, nd->need)))) return oom(err, nd->need);
    for (int64_t q = 0; q < nblk; q++) fused_block(tr, nd, q * nd->rb, sc_min(R, (q + 1) * nd->rb), x, y, buf);
    free(own);
    return 0;
  }
  if (R >= threads) {
    /* One parallel region over blocks of rows; smaller blocks when rows are
     * few (a region per row would stall on a busy core). */
    const int64_t rb = sc_max(1, sc_min(nd->rb, R / ((int64_t)SC_UNITS_PER_THREAD * threads)));
    const int64_t nblk = sc_ceil_div(R, rb);
    int64_t per = sc_ceil_div(sc_max(1, nd->need), SC_ALIGN_ELEMS) * SC_ALIGN_ELEMS;
    T *buf = malloc(sizeof(T) * (size_t)(per * threads));
    if (!buf) return oom(err, per * threads);
#pragma omp parallel num_threads(threads)
    {
      T *mine = buf + per * omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
      for (int64_t q = 0; q < nblk; q++) fused_block(tr, nd, q * rb, sc_min(R, (q + 1) * rb), x, y, mine);
    }
    free(buf);
    return 0;
  }
  /* Fewer rows than threads: each row's columns, then the child, in parallel. */
  T *row = malloc(sizeof(T) * (size_t)ii);
  if (!row) return oom(err, ii);
  int64_t nch = sc_max(1, sc_min((int64_t)SC_UNITS_PER_THREAD * threads, ii / SC_MIN_CHUNK));
  int64_t cb = sc_ceil_div(ii, nch);
  int rc = 0;
  for (int64_t r = 0; r < R && rc == 0; r++) {
    const T *xb = x + (r / m) * n * ii;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (nch > 1)
    for (int64_t c = 0; c < nch; c++)
      row_part(f, xb, ii, r % m, c * cb, sc_min(ii, (c + 1) * cb), row);
    rc = run(tr, nd->child, row, y + r * io, threads, NULL, err);
  }
  free(row);
  return rc;
}

static int run(const tree_t *tr, int id, const T *x, T *y, int threads, T *scratch, cv_error_t *err) {
  const node_t *nd = &tr->nodes[id];
  if (nd->out_numel == 0) return 0;
  if (threads > 1 && nd->in_numel + nd->out_numel < SC_PAR_MIN_WORK) threads = 1;
  switch (nd->kind) {
    case NODE_SINGLE:
      pass1(&nd->f, nd->batch, nd->inner_in, x, y, threads);
      return 0;
    case NODE_CHAIN: {
      int64_t tn = nd->batch * nd->f.m * nd->inner_in;
      T *own = NULL, *temp = scratch;
      if (!temp && !(temp = own = malloc(sizeof(T) * (size_t)tn))) return oom(err, tn);
      pass1(&nd->f, nd->batch, nd->inner_in, x, temp, threads);
      int rc = run(tr, nd->child, temp, y, threads, scratch ? scratch + tn : NULL, err);
      free(own);
      return rc;
    }
    case NODE_FUSED:
      return run_fused(tr, nd, x, y, threads, scratch, err);
  }
  return cv_error_set(err, CV_EINTERNAL, NULL, "sepconv: bad plan node");
}

/* ---- entry ---- */

/* Terms tables of the filters whose padding is short enough (NULL when none). */
static ext_term_t *ext_tables(prob_t *P, int *rc, cv_error_t *err) {
  int64_t total = 0;
  for (int i = 0; i < P->nf; i++) {
    const filt_t *f = &P->f[i];
    if (f->mode != CV_MODE_ZERO && f->lo + f->hi <= SC_EXT_TABLE_MAX) total += f->lo + f->hi;
  }
  *rc = 0;
  if (total == 0) return NULL;
  ext_term_t *tab = malloc(sizeof(ext_term_t) * (size_t)total), *e = tab;
  if (!tab) {
    *rc = cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "sepconv: no memory for padding tables");
    return NULL;
  }
  for (int i = 0; i < P->nf; i++) {
    filt_t *f = &P->f[i];
    if (f->mode == CV_MODE_ZERO || f->lo + f->hi > SC_EXT_TABLE_MAX) continue;
    f->ext = e;
    for (int64_t j = 0; j < f->lo + f->hi; j++, e++) {
      int64_t pos = j < f->lo ? j - f->lo : f->n + (j - f->lo);
      e->nt = cv_ext_terms(f->n, pos, f->mode, e->q, e->c);
    }
  }
  return tab;
}

int SC_EXEC(const cv__sc_plan_t *p, const T *x, T *y, int threads, cv_error_t *err) {
  if (threads < 1) threads = 1;
  int64_t total = 0;
  for (int i = 0; i < p->nf; i++) total += p->f[i].ntaps;
  T *taps = malloc(sizeof(T) * (size_t)sc_max(1, total));
  if (!taps) return oom(err, total);

  prob_t P;
  P.ndim = p->ndim;
  memcpy(P.shape, p->shape, sizeof(int64_t) * (size_t)p->ndim);
  P.nf = p->nf;
  T *w = taps;
  for (int i = 0; i < p->nf; i++) {
    const cv__sc_filter_t *src = &p->f[i];
    filt_t *f = &P.f[i];
    f->axis = src->axis;
    f->k = src->ntaps;
    f->s = src->stride;
    f->d = src->dilation;
    f->lo = src->lo;
    f->hi = src->hi;
    f->ext = NULL;
    f->n = src->n;
    f->m = src->m;
    f->mode = src->mode;
    for (int t = 0; t < f->k; t++) w[t] = (T)src->taps[src->flip ? f->k - 1 - t : t];
    f->w = w;
    w += f->k;
    int64_t span = f->d * (f->k - 1), q = f->n - 1 + f->lo - span;
    f->i_lo = sc_min(f->m, sc_ceil_div(f->lo, f->s));
    f->i_hi = sc_min(f->m, q < 0 ? 0 : q / f->s + 1);
    if (f->i_hi < f->i_lo) f->i_hi = f->i_lo;
  }
  int rc;
  ext_term_t *tab = ext_tables(&P, &rc, err);
  if (rc == 0) {
    tree_t tr;
    tr.n = 0;
    int root = build(&tr, &P, threads);
    rc = run(&tr, root, x, y, threads, NULL, err);
  }
  free(tab);
  free(taps);
  return rc;
}
