/* slab_run.c — the slab executor (slab.h): runs a work item that exceeds a
 * device's budget as sub-items along its slab axis. Host side only: halo
 * rows are gathered (and boundary extension or conv padding materialised)
 * into host buffers, each sub-item runs through the backend's runner, its
 * rows are put in place and reported through on_slab. What slabs:
 *   sepconv  any mode but periodization; several filters along axis 0 run
 *            as a chain of passes through host intermediates (as the CPU
 *            executor chains them);
 *   conv     along the outermost spatial axis, every padding mode;
 *   dwt      axis 0 not transformed: any mode; transformed: level by level,
 *            every mode but periodic and periodization (they wrap around);
 *   idwt     axis 0 not transformed only.
 * Called on a device worker thread (or a CPU backend thread). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dwt_index.h"
#include "internal.h"
#include "slab.h"

/* ---- helpers ---- */

static uint64_t io_bytes(const cv_io_t *io, cv_dtype_t dt) {
  return (uint64_t)cv_shape_numel(io->a.shape, io->a.ndim) * cv_dtype_size(dt);
}

static cv_dtype_t compute_dtype(const cv_work_t *w, const cv_io_t *in) {
  return w->params->op == CV_OP_CONV ? in->a.dtype : cv_dtype_promote_wavelet(in->a.dtype);
}

uint64_t cv_slab_work_bytes(const cv_work_t *w) {
  uint64_t b = 0;
  for (int i = 0; i < w->n_in; i++) b += io_bytes(&w->in[i], compute_dtype(w, &w->in[i]));
  for (int i = 0; i < w->n_out; i++) b += io_bytes(&w->out[i], w->out[i].a.dtype);
  return 2 * b;
}

static void notify(cv_work_t *w, int k, size_t off, size_t n) {
  if (w->on_slab && n) w->on_slab(w->on_slab_ctx, k, off, n);
}

static void notify_all(cv_work_t *w) {
  for (int k = 0; k < w->n_out; k++) notify(w, k, 0, cv_array_nbytes(&w->out[k].a));
}

/* elements of shape[from..ndim) */
static int64_t inner_of(const cv_array_t *a, int from) {
  int64_t n = 1;
  for (int d = from; d < a->ndim; d++) n *= a->shape[d];
  return n;
}

/* Rows of one input along the slab axis: outer × n × inner elements. */
typedef struct rows_s {
  const char *data;
  cv_dtype_t dt;
  int64_t outer, n, inner;
} rows_t;

static rows_t rows_of(const cv_array_t *a, int axis) {
  return (rows_t){a->data, a->dtype, inner_of(a, 0) / inner_of(a, axis), a->shape[axis], inner_of(a, axis + 1)};
}

/* Boundary rule of the slab axis: a padded position as Σ c·row[q]. */
typedef struct ext_s {
  int is_conv;
  cv_mode_t mode;         /* sepconv */
  cv_padmode_t padmode;   /* conv */
  int64_t conv_lo;        /* conv: positions count from −lo */
} ext_t;

static int ext_terms(const ext_t *e, int64_t n, int64_t p, int64_t *q, double *c) {
  if (e->is_conv) {
    int64_t j = cv_ix_pad(p + e->conv_lo, e->conv_lo, n, e->padmode);
    if (j < 0) return 0;
    q[0] = j;
    c[0] = 1.0;
    return 1;
  }
  return cv_ix_ext_terms(n, p, e->mode, q, c);
}

/* dst (dt, outer × (p1 − p0) × inner) = positions [p0, p1) of src extended
 * by e: copies where a position is one row, else Σ c·row summed in double
 * and rounded once (cv_ext_value_*), complex as real pairs (cplx). */
static int gather(char *dst, cv_dtype_t dt, const rows_t *src, int64_t p0, int64_t p1, const ext_t *e, bool cplx) {
  size_t des = cv_dtype_size(dt), ses = cv_dtype_size(src->dt);
  int64_t rows = p1 - p0, inner = src->inner;
  size_t drow = (size_t)inner * des, srow = (size_t)inner * ses;
  double *acc = NULL, *tmp = NULL;
  int64_t scal = inner * (cplx ? 2 : 1);   /* real scalars per row */
  cv_dtype_t rdt = cplx ? (dt == CV_DTYPE_C64 ? CV_DTYPE_F32 : CV_DTYPE_F64) : dt;
  cv_dtype_t rst = cplx ? rdt : src->dt;
  for (int64_t p = p0; p < p1; p++) {
    int64_t q[CV_EXT_MAX_TERMS];
    double c[CV_EXT_MAX_TERMS];
    int nt = ext_terms(e, src->n, p, q, c);
    for (int64_t o = 0; o < src->outer; o++) {
      char *d = dst + ((size_t)o * (size_t)rows + (size_t)(p - p0)) * drow;
      const char *s = src->data + (size_t)o * (size_t)src->n * srow;
      if (nt == 0) {
        memset(d, 0, drow);
      } else if (nt == 1 && c[0] == 1.0) {
        if (src->dt == dt) memcpy(d, s + (size_t)q[0] * srow, drow);
        else cv_convert(d, dt, s + (size_t)q[0] * srow, src->dt, (size_t)inner);
      } else {
        if (!acc) {
          acc = malloc(sizeof(double) * (size_t)scal);
          tmp = malloc(sizeof(double) * (size_t)scal);
          if (!acc || !tmp) {
            free(acc);
            free(tmp);
            return -CV_EOUT_OF_MEMORY;
          }
        }
        memset(acc, 0, sizeof(double) * (size_t)scal);
        for (int t = 0; t < nt; t++) {
          cv_convert(tmp, CV_DTYPE_F64, s + (size_t)q[t] * srow, rst, (size_t)scal);
          for (int64_t i = 0; i < scal; i++) acc[i] += c[t] * tmp[i];
        }
        cv_convert(d, rdt, acc, CV_DTYPE_F64, (size_t)scal);
      }
    }
  }
  free(acc);
  free(tmp);
  return 0;
}

/* Rows [keep, keep + o1 − o0) of sub (outer × sub_rows × inner) into rows
 * [o0, o1) of the full output k (outer × n × inner); reports them. */
static void scatter(cv_work_t *w, int k, int axis, const char *sub, int64_t sub_rows, const cv_slab_t *s) {
  cv_array_t *a = &w->out[k].a;
  rows_t r = rows_of(a, axis);
  size_t row = (size_t)r.inner * cv_dtype_size(a->dtype), cnt = (size_t)(s->o1 - s->o0) * row;
  for (int64_t o = 0; o < r.outer; o++) {
    size_t off = ((size_t)o * (size_t)r.n + (size_t)s->o0) * row;
    memcpy((char *)a->data + off, sub + ((size_t)o * (size_t)sub_rows + (size_t)s->keep) * row, cnt);
    notify(w, k, off, cnt);
  }
}

static cv_op_params_t *params_dup(const cv_op_params_t *p) {
  cv_op_params_t *d = calloc(1, sizeof *d);
  if (d) cv_op_params_copy(d, p);
  return d;
}

static int too_big(cv_work_t *w, uint64_t budget, const char *why) {
  return w->rc = cv_error_set(&w->err, CV_EPAYLOAD_TOO_LARGE, NULL,
                              "this %s job needs about %llu bytes of device memory, over the budget of %llu, "
                              "and cannot run in slabs: %s",
                              cv_op_name(w->params->op), (unsigned long long)cv_slab_work_bytes(w),
                              (unsigned long long)budget, why);
}

/* Runs sub through run_one; a failure becomes w's. */
static int run_sub(cv_work_t *w, cv_work_t *sub, cv_slab_run_fn run_one, void *ctx) {
  sub->rc = 0;
  cv_error_clear(&sub->err);
  int rc = run_one(ctx, sub);
  if (!rc) rc = sub->rc;
  if (rc) {
    w->err = sub->err;
    if (w->err.code == CV_OK) cv_error_set(&w->err, (cv_err_t)-rc, NULL, "a slab failed");
  }
  return rc;
}

/* ---- the plan for an item, and one generic loop ---- */

typedef struct job_s {
  cv_slab_geom_t g;
  int axis;            /* slab axis of the slabbed input(s) and output(s) */
  int only_in;         /* the one input cut along the axis (others whole); -1 = all */
  bool in_place;       /* inputs are read where they are (never gathered) */
  ext_t ext;
  bool materialise;    /* WINDOW: gather extended rows into a buffer */
  cv_dtype_t gather_dt;
  bool cplx;
} job_t;

/* Sets the sub-job's view of slab s: params, input shapes/data, outputs. */
typedef int (*fix_fn)(const cv_work_t *w, const cv_slab_t *s, cv_op_params_t *sp);

/* Runs w in the slabs of j; sub-outputs land in scratch buffers (or straight
 * in place when the axis is outermost and nothing is discarded). */
static int run_slabs(cv_work_t *w, const job_t *j, uint64_t budget, fix_fn fix, cv_slab_run_fn run_one, void *ctx) {
  cv_slab_t *sl = NULL;
  int64_t ns = 0;
  int rc = cv_slab_plan(&j->g, budget, &sl, &ns);
  if (rc == -CV_EPAYLOAD_TOO_LARGE) return too_big(w, budget, "one row along the slab axis alone is over it");
  if (rc) return w->rc = cv_error_set(&w->err, (cv_err_t)-rc, NULL, "cannot plan the slabs");
  cv_op_params_t *sp = params_dup(w->params);
  cv_io_t *in = calloc((size_t)w->n_in, sizeof *in), *out = calloc((size_t)w->n_out, sizeof *out);
  char *inbuf = NULL, **obuf = calloc((size_t)w->n_out, sizeof *obuf);
  if (!sp || !in || !out || !obuf) rc = -CV_EOUT_OF_MEMORY;
  for (int64_t i = 0; i < ns && rc == 0; i++) {
    const cv_slab_t *s = &sl[i];
    memcpy(in, w->in, sizeof *in * (size_t)w->n_in);
    memcpy(out, w->out, sizeof *out * (size_t)w->n_out);
    cv_op_params_copy(sp, w->params);
    if ((rc = fix(w, s, sp))) break;
    for (int k = 0; k < w->n_in && rc == 0; k++) {
      if (j->only_in >= 0 && k != j->only_in) continue;
      rows_t r = rows_of(&w->in[k].a, j->axis);
      in[k].a.shape[j->axis] = s->p1 - s->p0;
      bool direct = r.outer == 1 && (j->in_place || (!j->materialise && w->in[k].a.dtype == j->gather_dt));
      if (direct) {
        in[k].a.data = (char *)w->in[k].a.data + (size_t)s->p0 * (size_t)r.inner * cv_dtype_size(r.dt);
        continue;
      }
      in[k].a.dtype = j->gather_dt;
      free(inbuf);
      inbuf = malloc((size_t)cv_shape_numel(in[k].a.shape, in[k].a.ndim) * cv_dtype_size(j->gather_dt) + 1);
      if (!inbuf) {
        rc = -CV_EOUT_OF_MEMORY;
        break;
      }
      rc = gather(inbuf, j->gather_dt, &r, s->p0, s->p1, &j->ext, j->cplx);
      in[k].a.data = inbuf;
    }
    bool in_place = s->keep == 0 && s->sub_out == s->o1 - s->o0;
    for (int k = 0; k < w->n_out && rc == 0; k++) {
      rows_t r = rows_of(&w->out[k].a, j->axis);
      out[k].a.shape[j->axis] = s->sub_out;
      size_t row = (size_t)r.inner * cv_dtype_size(w->out[k].a.dtype);
      if (in_place && r.outer == 1) {
        out[k].a.data = (char *)w->out[k].a.data + (size_t)s->o0 * row;
        continue;
      }
      free(obuf[k]);
      obuf[k] = malloc((size_t)cv_shape_numel(out[k].a.shape, out[k].a.ndim) * cv_dtype_size(out[k].a.dtype) + 1);
      if (!obuf[k]) rc = -CV_EOUT_OF_MEMORY;
      out[k].a.data = obuf[k];
    }
    if (rc) break;
    cv_work_t sub = {.params = sp, .in = in, .n_in = w->n_in, .out = out, .n_out = w->n_out};
    if ((rc = run_sub(w, &sub, run_one, ctx))) break;
    for (int k = 0; k < w->n_out; k++) {
      if (out[k].a.data == obuf[k]) {
        scatter(w, k, j->axis, obuf[k], s->sub_out, s);
      } else {
        size_t row = (size_t)inner_of(&w->out[k].a, j->axis + 1) * cv_dtype_size(w->out[k].a.dtype);
        notify(w, k, (size_t)s->o0 * row, (size_t)(s->o1 - s->o0) * row);
      }
    }
  }
  if (rc && w->err.code == CV_OK) cv_error_set(&w->err, (cv_err_t)-rc, NULL, "running in slabs failed");
  for (int k = 0; obuf && k < w->n_out; k++) free(obuf[k]);
  free(obuf);
  free(inbuf);
  free(in);
  free(out);
  free(sp);
  free(sl);
  return w->rc = rc;
}

/* ---- sepconv ---- */

static int sep_axis0(const cv_sepconv_params_t *p, int ndim, int *which) {
  int n = 0;
  for (int i = 0; i < p->n_filters; i++) {
    int a = p->filters[i].axis < 0 ? p->filters[i].axis + ndim : p->filters[i].axis;
    if (a == 0) {
      *which = i;
      n++;
    }
  }
  return n;
}

static int fix_sepconv(const cv_work_t *w, const cv_slab_t *s, cv_op_params_t *sp) {
  int f = -1;
  if (sep_axis0(&sp->u.sepconv, w->in[0].a.ndim, &f) == 1) {
    cv_sepconv_filter_t *fl = &sp->u.sepconv.filters[f];
    fl->pad_kind = CV_PAD_EXPLICIT;
    fl->pad_lo = fl->pad_hi = 0;
    fl->mode = CV_MODE_ZERO;
  }
  return 0;
}

static int slab_sepconv(cv_work_t *w, uint64_t budget, cv_slab_run_fn run_one, void *ctx);

/* Several filters along axis 0: each but the last alone, in order, into a
 * host intermediate (in slabs when over the budget); the last one with the
 * filters of the other axes into y. */
static int sepconv_chain(cv_work_t *w, uint64_t budget, cv_slab_run_fn run_one, void *ctx) {
  const cv_sepconv_params_t *p = &w->params->u.sepconv;
  const cv_array_t *x = &w->in[0].a;
  cv_dtype_t pt = w->out[0].a.dtype;
  cv_op_params_t *sp = params_dup(w->params);
  cv_io_t cur = w->in[0];
  char *prev = NULL;
  int rc = sp ? 0 : -CV_EOUT_OF_MEMORY, last = -1;
  for (int i = 0; i < p->n_filters; i++)
    if ((p->filters[i].axis < 0 ? p->filters[i].axis + x->ndim : p->filters[i].axis) == 0) last = i;
  for (int i = 0; i < last && rc == 0; i++) {
    const cv_sepconv_filter_t *f = &p->filters[i];
    if ((f->axis < 0 ? f->axis + x->ndim : f->axis) != 0) continue;
    cv_op_params_copy(sp, w->params);
    sp->u.sepconv.n_filters = 1;
    sp->u.sepconv.filters[0] = *f;
    int64_t q = cur.a.shape[0] + f->pad_lo + f->pad_hi - (int64_t)f->dilation * (f->ntaps - 1) - 1;
    if (q < 0) {
      rc = -CV_EINVALID_ARGUMENT;
      break;
    }
    cv_io_t nxt = {.name = "y", .a = cur.a};
    nxt.a.dtype = pt;
    nxt.a.shape[0] = q / f->stride + 1;
    char *buf = malloc((size_t)cv_shape_numel(nxt.a.shape, nxt.a.ndim) * cv_dtype_size(pt) + 1);
    if (!buf) {
      rc = -CV_EOUT_OF_MEMORY;
      break;
    }
    nxt.a.data = buf;
    cv_work_t sub = {.params = sp, .in = &cur, .n_in = 1, .out = &nxt, .n_out = 1};
    rc = cv_slab_run(&sub, budget, run_one, ctx);
    if (rc) w->err = sub.err;
    free(prev);
    prev = buf;
    cur = nxt;
    snprintf(cur.name, sizeof cur.name, "x");
  }
  if (rc == 0) {   /* the last axis-0 filter and the other axes' filters, in their order */
    cv_op_params_copy(sp, w->params);
    int n = 0;
    for (int i = 0; i < p->n_filters; i++) {
      int a = p->filters[i].axis < 0 ? p->filters[i].axis + x->ndim : p->filters[i].axis;
      if (a != 0 || i == last) sp->u.sepconv.filters[n++] = p->filters[i];
    }
    sp->u.sepconv.n_filters = n;
    cv_work_t sub = *w;
    sub.params = sp;
    sub.in = &cur;
    sub.rc = 0;
    cv_error_clear(&sub.err);
    rc = cv_slab_run(&sub, budget, run_one, ctx);
    if (rc) w->err = sub.err;
  }
  if (rc && w->err.code == CV_OK) cv_error_set(&w->err, (cv_err_t)-rc, NULL, "running in slabs failed");
  free(prev);
  free(sp);
  return w->rc = rc;
}

static int slab_sepconv(cv_work_t *w, uint64_t budget, cv_slab_run_fn run_one, void *ctx) {
  const cv_sepconv_params_t *p = &w->params->u.sepconv;
  if (w->n_in != 1 || w->n_out != 1) return too_big(w, budget, "sepconv takes one input x");
  const cv_array_t *x = &w->in[0].a, *y = &w->out[0].a;
  int f = -1, n0 = sep_axis0(p, x->ndim, &f);
  if (n0 > 1) return sepconv_chain(w, budget, run_one, ctx);
  job_t j;
  memset(&j, 0, sizeof j);
  j.gather_dt = cv_dtype_promote_wavelet(x->dtype);
  j.cplx = cv_dtype_is_complex(j.gather_dt);
  j.only_in = 0;
  size_t es = cv_dtype_size(j.gather_dt);
  j.g.in_row_bytes = 2 * (uint64_t)inner_of(x, 1) * es;
  j.g.out_row_bytes = 2 * (uint64_t)inner_of(y, 1) * cv_dtype_size(y->dtype);
  j.g.n_in = x->shape[0];
  j.g.n_out = y->shape[0];
  if (n0 == 1) {
    const cv_sepconv_filter_t *fl = &p->filters[f];
    j.g.kind = CV_SLAB_WINDOW;
    j.g.stride = fl->stride;
    j.g.pad_lo = fl->pad_lo;
    j.g.span = (int64_t)fl->dilation * (fl->ntaps - 1) + 1;
    j.materialise = true;
    j.ext.mode = fl->mode;
  }
  return run_slabs(w, &j, budget, fix_sepconv, run_one, ctx);
}

/* ---- conv ---- */

static int conv_axis(const cv_conv_params_t *p) { return p->layout == CV_LAYOUT_NDHWC ? 1 : 2; }

static int fix_conv(const cv_work_t *w, const cv_slab_t *s, cv_op_params_t *sp) {
  sp->u.conv.pad_kind = CV_PAD_EXPLICIT;
  sp->u.conv.pad_lo[0] = sp->u.conv.pad_hi[0] = 0;
  return 0;
}

static int slab_conv(cv_work_t *w, uint64_t budget, cv_slab_run_fn run_one, void *ctx) {
  const cv_conv_params_t *p = &w->params->u.conv;
  const cv_io_t *x = cv__find_input(w->in, w->n_in, "x"), *wt = cv__find_input(w->in, w->n_in, "w");
  if (!x || !wt || w->n_out != 1 || p->nsp < 1 || x->a.ndim != p->nsp + 2 || wt->a.ndim != p->nsp + 2)
    return too_big(w, budget, "conv inputs are not resolved");
  job_t j;
  memset(&j, 0, sizeof j);
  j.axis = conv_axis(p);
  const cv_array_t *y = &w->out[0].a;
  j.only_in = (int)(x - w->in);
  for (int k = 0; k < w->n_in; k++)
    if (k != j.only_in) j.g.fixed_bytes += 2 * cv_array_nbytes(&w->in[k].a);
  j.gather_dt = x->a.dtype;
  size_t es = cv_dtype_size(x->a.dtype);
  j.g.kind = CV_SLAB_WINDOW;
  j.g.n_in = x->a.shape[j.axis];
  j.g.n_out = y->shape[j.axis];
  j.g.stride = p->stride[0];
  j.g.pad_lo = p->pad_lo[0];
  j.g.span = (int64_t)p->dilation[0] * (wt->a.shape[2] - 1) + 1;
  j.g.in_row_bytes = 2 * (uint64_t)(inner_of(&x->a, 0) / x->a.shape[j.axis]) * es;
  j.g.out_row_bytes = 2 * (uint64_t)(inner_of(y, 0) / y->shape[j.axis]) * cv_dtype_size(y->dtype);
  j.materialise = true;
  j.ext.is_conv = 1;
  j.ext.padmode = p->padding_mode;
  j.ext.conv_lo = p->pad_lo[0];
  return run_slabs(w, &j, budget, fix_conv, run_one, ctx);
}

/* ---- dwt / idwt with axis 0 not transformed ---- */

static int t_axis0(const cv_dwt_params_t *p) {
  for (int i = 0; i < p->n_axes; i++)
    if (p->axes[i] == 0) return i;
  return -1;
}

static int fix_plain_idwt(const cv_work_t *w, const cv_slab_t *s, cv_op_params_t *sp) {
  if (sp->u.dwt.n_shape > 0) sp->u.dwt.shape[0] = s->o1 - s->o0;
  return 0;
}

static int fix_none(const cv_work_t *w, const cv_slab_t *s, cv_op_params_t *sp) { return 0; }

static int slab_dwt_plain(cv_work_t *w, uint64_t budget, cv_slab_run_fn run_one, void *ctx, bool inverse) {
  job_t j;
  memset(&j, 0, sizeof j);
  j.g.kind = CV_SLAB_PLAIN;
  j.g.n_out = j.g.n_in = w->out[0].a.shape[0];
  for (int k = 0; k < w->n_in; k++) {
    const cv_array_t *a = &w->in[k].a;
    if (a->ndim < 1 || a->shape[0] < j.g.n_out) return too_big(w, budget, "inputs disagree along axis 0");
    j.g.in_row_bytes += 2 * (uint64_t)inner_of(a, 1) * cv_dtype_size(cv_dtype_promote_wavelet(a->dtype));
  }
  for (int k = 0; k < w->n_out; k++) {
    const cv_array_t *a = &w->out[k].a;
    if (a->shape[0] != j.g.n_out) return too_big(w, budget, "outputs disagree along axis 0");
    j.g.out_row_bytes += 2 * (uint64_t)inner_of(a, 1) * cv_dtype_size(a->dtype);
  }
  j.only_in = -1;
  j.in_place = true;   /* rows are read where they are: inputs keep their dtype */
  return run_slabs(w, &j, budget, inverse ? fix_plain_idwt : fix_none, run_one, ctx);
}

/* ---- dwt with axis 0 transformed: level by level ---- */

static int slab_dwt_levels(cv_work_t *w, uint64_t budget, cv_slab_run_fn run_one, void *ctx, int t0) {
  const cv_dwt_params_t *p = &w->params->u.dwt;
  int L = p->level, n = p->n_axes, per = (1 << n) - 1, F = p->wavelets[t0].len, rc = 0;
  cv_mode_t mode = p->modes[t0];
  if (mode == CV_MODE_PERIODIC || mode == CV_MODE_PERIODIZATION)
    return too_big(w, budget, "axis 0 is transformed with a periodic mode, which wraps around the whole axis");
  if (w->n_in != 1 || w->n_out != 1 + L * per) return too_big(w, budget, "dwt outputs are not resolved");
  const cv_array_t *x = &w->in[0].a;
  cv_dtype_t pt = w->out[0].a.dtype;
  size_t es = cv_dtype_size(pt);
  cv_op_params_t *sp = params_dup(w->params);
  cv_io_t *sout = calloc((size_t)per + 1, sizeof *sout);
  char **sbuf = calloc((size_t)per + 1, sizeof *sbuf);
  char *prev = NULL, *cur = NULL;
  cv_slab_t *sl = NULL;
  if (!sp || !sout || !sbuf) rc = -CV_EOUT_OF_MEMORY;
  if (sp) sp->u.dwt.level = 1;
  cv_array_t src = *x;   /* the level's input: x, then the previous approximation */
  for (int lev = 1; lev <= L && rc == 0; lev++) {
    const cv_array_t *band = &w->out[1 + (L - lev) * per].a;   /* every band of the level has its shape */
    int64_t binner = inner_of(band, 1), sinner = inner_of(&src, 1);
    cv_slab_geom_t g = {.kind = CV_SLAB_DWT, .n_in = src.shape[0], .n_out = band->shape[0], .filter_len = F};
    g.in_row_bytes = 2 * (uint64_t)sinner * es;
    g.out_row_bytes = 2 * ((uint64_t)per + 1) * (uint64_t)binner * es;
    int64_t ns = 0;
    free(sl);
    sl = NULL;
    rc = cv_slab_plan(&g, budget, &sl, &ns);
    if (rc == -CV_EPAYLOAD_TOO_LARGE) {
      rc = too_big(w, budget, "one coefficient row of a level alone is over it");
      break;
    }
    if (rc) break;
    if (lev < L && !(cur = malloc((size_t)band->shape[0] * (size_t)binner * es + 1))) {
      rc = -CV_EOUT_OF_MEMORY;
      break;
    }
    for (int64_t i = 0; i < ns && rc == 0; i++) {
      const cv_slab_t *s = &sl[i];
      cv_io_t sin = {.name = "x", .a = src};
      sin.a.shape[0] = s->p1 - s->p0;
      size_t srow = (size_t)sinner * cv_dtype_size(src.dtype);
      sin.a.data = (char *)src.data + (size_t)s->p0 * srow;
      for (int b = 0; b <= per && rc == 0; b++) {
        sout[b].a = *band;
        sout[b].a.shape[0] = s->sub_out;
        if (cv_dwt_band_name(sout[b].name, sizeof sout[b].name, b ? 1 : 0, (unsigned)b, n)) rc = -CV_EINTERNAL;
        free(sbuf[b]);
        sbuf[b] = malloc((size_t)s->sub_out * (size_t)binner * es + 1);
        if (!sbuf[b]) rc = -CV_EOUT_OF_MEMORY;
        sout[b].a.data = sbuf[b];
      }
      if (rc) break;
      cv_work_t sub = {.params = sp, .in = &sin, .n_in = 1, .out = sout, .n_out = per + 1};
      if ((rc = run_sub(w, &sub, run_one, ctx))) break;
      size_t brow = (size_t)binner * es, cnt = (size_t)(s->o1 - s->o0) * brow;
      for (int b = 0; b <= per; b++) {
        const char *from = sbuf[b] + (size_t)s->keep * brow;
        if (b == 0 && lev < L) {
          memcpy(cur + (size_t)s->o0 * brow, from, cnt);
          continue;
        }
        int k = b == 0 ? 0 : 1 + (L - lev) * per + (b - 1);
        memcpy((char *)w->out[k].a.data + (size_t)s->o0 * brow, from, cnt);
        notify(w, k, (size_t)s->o0 * brow, cnt);
      }
    }
    free(prev);
    prev = cur;
    cur = NULL;
    src = *band;
    src.dtype = pt;
    src.data = prev;
  }
  if (rc && w->err.code == CV_OK) cv_error_set(&w->err, (cv_err_t)-rc, NULL, "running in slabs failed");
  for (int b = 0; sbuf && b <= per; b++) free(sbuf[b]);
  free(sbuf);
  free(sout);
  free(prev);
  free(cur);
  free(sp);
  free(sl);
  return w->rc = rc;
}

/* ---- entry ---- */

int cv_slab_run(cv_work_t *w, uint64_t budget, cv_slab_run_fn run_one, void *ctx) {
  if (budget == 0 || cv_slab_work_bytes(w) <= budget) {
    int rc = run_one(ctx, w);
    if (rc && !w->rc) w->rc = rc;
    if (w->rc == 0) notify_all(w);
    return w->rc;
  }
  for (int k = 0; k < w->n_out; k++)
    if (cv_shape_numel(w->out[k].a.shape, w->out[k].a.ndim) == 0 || w->out[k].a.ndim < 1)
      return too_big(w, budget, "an output is empty or a scalar");
  const cv_op_params_t *p = w->params;
  switch (p->op) {
    case CV_OP_SEPCONV: return slab_sepconv(w, budget, run_one, ctx);
    case CV_OP_CONV: return slab_conv(w, budget, run_one, ctx);
    case CV_OP_DWT: {
      int t0 = t_axis0(&p->u.dwt);
      if (t0 < 0 || p->u.dwt.level == 0) return slab_dwt_plain(w, budget, run_one, ctx, false);
      return slab_dwt_levels(w, budget, run_one, ctx, t0);
    }
    case CV_OP_IDWT:
      if (t_axis0(&p->u.dwt) >= 0) return too_big(w, budget, "the idwt transforms axis 0 (only other axes slab)");
      return slab_dwt_plain(w, budget, run_one, ctx, true);
    case CV_OP_COUNT: break;
  }
  return too_big(w, budget, "unknown op");
}
