/* test_parity.c — every op on every non-CPU device against the CPU backend
 * (style.md §4): registry × CV_OP_COUNT × dtype × a case table with odd
 * shapes and every mode, run through the backends' vtables in batches of
 * CV_PARITY_BATCH same-shape jobs, compared by nmse against named
 * tolerances. TAP output; "# SKIP unsupported" where a backend declines.
 * Exits 77 without a CUDA device; `--self` runs the table CPU vs CPU (a
 * single-threaded CPU device as the one under test) to check the harness.
 * CONVOY_PARITY_EVERY=K runs every K-th case only (for compute-sanitizer). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/backend.h"

#define CV_TOL_NMSE_F64 1e-20
#define CV_TOL_NMSE_F32 1e-9
#define CV_TOL_NMSE_F16 1e-5
#define CV_TOL_NMSE_BF16 1e-4
#define CV_PARITY_BATCH 3   /* jobs per backend call: exercises stacking */
#define MAX_IN 64
#define ALL_MODES (-1)

typedef struct ctx_s {
  cv_device_t *dut, *cpu;
  int n, failed, skipped;
  int every, seen;   /* run only every `every`-th case (CONVOY_PARITY_EVERY; sanitizer runs) */
  unsigned seed;
} ctx_t;

/* ---- data ---- */

static double rnd(unsigned *s) {
  *s = *s * 1664525u + 1013904223u;
  return ((*s >> 8) & 0xffff) / 32768.0 - 1.0;
}

static void io_make(cv_io_t *io, const char *name, cv_dtype_t dt, int ndim, const int64_t *shape, unsigned *seed) {
  memset(io, 0, sizeof *io);
  snprintf(io->name, sizeof io->name, "%s", name);
  io->a.dtype = dt;
  io->a.ndim = ndim;
  memcpy(io->a.shape, shape, sizeof(int64_t) * (size_t)ndim);
  size_t n = (size_t)cv_shape_numel(shape, ndim), nr = n * (cv_dtype_is_complex(dt) ? 2 : 1);
  double *v = malloc(sizeof(double) * (nr + 1));
  for (size_t i = 0; i < nr; i++) v[i] = cv_dtype_is_integer(dt) ? floor(8 * rnd(seed)) : rnd(seed);
  io->a.data = calloc(n + 1, cv_dtype_size(dt));
  cv_convert(io->a.data, dt, v, cv_dtype_is_complex(dt) ? CV_DTYPE_C128 : CV_DTYPE_F64, n);
  free(v);
}

static void io_copy(cv_io_t *dst, const cv_io_t *src) {
  *dst = *src;
  size_t b = cv_array_nbytes(&src->a);
  dst->a.data = malloc(b + 1);
  memcpy(dst->a.data, src->a.data, b);
}

static void ios_free(cv_io_t *io, int n) {
  for (int i = 0; i < n; i++) free(io[i].a.data);
}

/* ---- comparing ---- */

static double tol_for(cv_dtype_t t) {
  if (t == CV_DTYPE_F64 || t == CV_DTYPE_C128) return CV_TOL_NMSE_F64;
  if (t == CV_DTYPE_F16) return CV_TOL_NMSE_F16;
  if (t == CV_DTYPE_BF16) return CV_TOL_NMSE_BF16;
  return CV_TOL_NMSE_F32;
}

/* nmse = Σ(a−b)² / Σb² over every real component; *bad counts mismatched non-finite values. */
static double nmse(const cv_array_t *a, const cv_array_t *b, long *bad) {
  size_t n = (size_t)cv_shape_numel(b->shape, b->ndim);
  bool cplx = cv_dtype_is_complex(b->dtype);
  size_t nr = n * (cplx ? 2 : 1);
  double *x = malloc(sizeof(double) * (nr + 1)), *y = malloc(sizeof(double) * (nr + 1));
  cv_convert(x, cplx ? CV_DTYPE_C128 : CV_DTYPE_F64, a->data, a->dtype, n);
  cv_convert(y, cplx ? CV_DTYPE_C128 : CV_DTYPE_F64, b->data, b->dtype, n);
  double num = 0, den = 0;
  *bad = 0;
  for (size_t i = 0; i < nr; i++) {
    if (!isfinite(x[i]) || !isfinite(y[i])) {
      if (!(isnan(x[i]) && isnan(y[i])) && x[i] != y[i]) (*bad)++;
      continue;
    }
    num += (x[i] - y[i]) * (x[i] - y[i]);
    den += y[i] * y[i];
  }
  free(x);
  free(y);
  return den > 0 ? num / den : num;
}

/* ---- running one case on both backends ---- */

static void alloc_outs(cv_io_t *dst, const cv_infer_t *inf) {
  for (int k = 0; k < inf->n_out; k++) {
    dst[k] = inf->out[k];
    dst[k].a.data = calloc((size_t)cv_shape_numel(inf->out[k].a.shape, inf->out[k].a.ndim) + 1,
                           cv_dtype_size(inf->out[k].a.dtype));
  }
}

/* Runs `in` (CV_PARITY_BATCH jobs of n_in inputs) on dev; outs[r] get the results. */
static int run_batch(cv_device_t *dev, const cv_op_params_t *p, cv_io_t (*in)[MAX_IN], int n_in,
                     const cv_infer_t *inf, cv_io_t **outs, char *msg, size_t cap) {
  cv_work_t items[CV_PARITY_BATCH];
  memset(items, 0, sizeof items);
  for (int r = 0; r < CV_PARITY_BATCH; r++) {
    outs[r] = calloc((size_t)inf->n_out + 1, sizeof(cv_io_t));
    alloc_outs(outs[r], inf);
    items[r] = (cv_work_t){.params = p, .in = in[r], .n_in = n_in, .out = outs[r], .n_out = inf->n_out};
  }
  cv_batch_t b = {.n = CV_PARITY_BATCH, .items = items};
  int rc = dev->backend->run(dev, &b);
  for (int r = 0; r < CV_PARITY_BATCH && rc == 0; r++)
    if (items[r].rc) {
      rc = items[r].rc;
      snprintf(msg, cap, "job %d: %s: %s", r, cv_err_name(rc), items[r].err.message);
    }
  if (rc && !msg[0]) snprintf(msg, cap, "run: %s", cv_err_name(rc));
  return rc;
}

/* One TAP line: infers p on in[0], runs both backends, compares every output.
 * ref_p (NULL: p) is what the CPU reference runs: a conv candidate forced
 * on the device is checked against the CPU's own choice. */
static void check_vs(ctx_t *c, const char *what, cv_op_params_t *p, const cv_op_params_t *ref_p, cv_io_t (*in)[MAX_IN],
                     int n_in) {
  cv_infer_t inf;
  cv_error_t err;
  memset(&inf, 0, sizeof inf);
  if (c->seen++ % c->every != 0) return;
  int n = ++c->n;
  if (cv_op_infer(p, in[0], n_in, &inf, &err) != 0) {
    printf("not ok %d - %s %s # bad case: %s (%s) %s\n", n, c->dut->id, what, cv_err_name(err.code), err.field,
           err.message);
    c->failed++;
    return;
  }
  if (!c->dut->backend->supports(c->dut, p, in[0], n_in)) {
    printf("ok %d - %s %s # SKIP unsupported\n", n, c->dut->id, what);
    c->skipped++;
    cv_infer_free(&inf);
    return;
  }
  cv_io_t *ref[CV_PARITY_BATCH] = {0}, *got[CV_PARITY_BATCH] = {0};
  char msg[512] = "";
  cv_op_params_t *rp = NULL;
  if (ref_p) {   /* resolve the reference's params the same way */
    cv_infer_t rinf;
    rp = malloc(sizeof *rp);
    *rp = *ref_p;
    if (cv_op_infer(rp, in[0], n_in, &rinf, &err) == 0) cv_infer_free(&rinf);
  }
  int rc = run_batch(c->cpu, rp ? rp : p, in, n_in, &inf, ref, msg, sizeof msg);
  if (rc == -CV_EINVALID_ARGUMENT || rc == -CV_EUNSUPPORTED_DTYPE) {
    /* the reference itself declines (e.g. a forced algo it lacks): not comparable */
    printf("ok %d - %s %s # SKIP unsupported by the cpu reference: %s\n", n, c->dut->id, what, msg);
    c->skipped++;
    goto done;
  }
  if (rc == 0) {
    rc = run_batch(c->dut, p, in, n_in, &inf, got, msg, sizeof msg);
  }
  double worst = 0, tol = tol_for(inf.out[0].a.dtype), ratio = 0;
  long bad = 0;
  for (int r = 0; r < CV_PARITY_BATCH && rc == 0; r++)
    for (int k = 0; k < inf.n_out; k++) {
      long b;
      double e = nmse(&got[r][k].a, &ref[r][k].a, &b), t = tol_for(inf.out[k].a.dtype);
      bad += b;
      if (e / t > ratio) ratio = e / t, worst = e, tol = t;
    }
  bool ok = rc == 0 && bad == 0 && ratio <= 1.0;
  if (!ok) c->failed++;
  if (rc)
    printf("not ok %d - %s %s # %s\n", n, c->dut->id, what, msg);
  else
    printf("%s %d - %s %s nmse=%.3g tol=%.0g%s\n", ok ? "ok" : "not ok", n, c->dut->id, what, worst, tol,
           bad ? " (non-finite mismatch)" : "");
done:
  free(rp);
  for (int r = 0; r < CV_PARITY_BATCH; r++) {
    if (ref[r]) ios_free(ref[r], inf.n_out);
    if (got[r]) ios_free(got[r], inf.n_out);
    free(ref[r]);
    free(got[r]);
  }
  cv_infer_free(&inf);
}

static void check(ctx_t *c, const char *what, cv_op_params_t *p, cv_io_t (*in)[MAX_IN], int n_in) {
  check_vs(c, what, p, NULL, in, n_in);
}

static void set_wavelet(cv_dwt_params_t *d, const char *name) {
  cv_wavelet_from_info(&d->wavelets[0], cv_wavelet_find(name));
  d->n_wavelets = 1;
}

/* ---- dwt and idwt ---- */

typedef struct dwt_case_s {
  int ndim;
  int64_t shape[4];
  int n_axes, axes[3];
  const char *wavelet;
  int mode;   /* cv_mode_t or ALL_MODES */
  int level;
} dwt_case_t;

static const dwt_case_t dwt_cases[] = {
    {1, {17}, 1, {0}, "db2", ALL_MODES, 2},
    {1, {5}, 1, {0}, "db4", ALL_MODES, 1},            /* filter longer than the signal */
    {2, {16, 12}, 2, {0, 1}, "haar", ALL_MODES, 2},   /* fused Haar path */
    {2, {15, 9}, 2, {1, 0}, "haar", CV_MODE_SYMMETRIC, 2},   /* odd: per-axis passes, axes reversed */
    {3, {8, 6, 10}, 3, {0, 1, 2}, "haar", CV_MODE_ZERO, 2},  /* fused 2×2×2, then odd */
    {3, {7, 9, 6}, 2, {2, 0}, "sym3", ALL_MODES, 1},
    {3, {9, 8, 11}, 3, {0, 1, 2}, "coif1", CV_MODE_PERIODIZATION, 2},
    {2, {6, 40}, 1, {1}, "bior3.5", CV_MODE_REFLECT, 3},
    {4, {3, 5, 4, 6}, 2, {1, 3}, "db1", CV_MODE_SMOOTH, 1},
    {1, {300}, 1, {0}, "dmey", CV_MODE_ANTIREFLECT, 1},
    {2, {3, 700}, 1, {1}, "db3", CV_MODE_SYMMETRIC, 3},    /* several row tiles */
    {2, {64, 33}, 2, {0, 1}, "db4", ALL_MODES, 3},
};

static const cv_dtype_t wave_dtypes[] = {CV_DTYPE_F32, CV_DTYPE_F64, CV_DTYPE_C64, CV_DTYPE_C128, CV_DTYPE_I32,
                                         CV_DTYPE_F16};

static void dwt_params(cv_op_params_t *p, cv_op_t op, const dwt_case_t *dc, cv_mode_t m) {
  cv_op_params_default(p, op);
  cv_dwt_params_t *d = &p->u.dwt;
  d->n_axes = dc->n_axes;
  memcpy(d->axes, dc->axes, sizeof(int) * (size_t)dc->n_axes);
  set_wavelet(d, dc->wavelet);
  d->n_modes = 1;
  d->modes[0] = m;
  d->level = op == CV_OP_DWT ? dc->level : CV_LEVEL_AUTO;
}

/* idwt variants: 0 all bands + crop to x's shape, 1 a detail band missing, 2 no `a` */
static void run_idwt_cases(ctx_t *c, const dwt_case_t *dc, cv_mode_t m, cv_dtype_t dt, const char *tag) {
  cv_op_params_t *p = malloc(sizeof *p);
  cv_io_t (*x)[MAX_IN] = calloc(CV_PARITY_BATCH, sizeof *x);
  cv_io_t (*coef)[MAX_IN] = calloc(CV_PARITY_BATCH, sizeof *coef);
  cv_infer_t inf;
  cv_error_t err;
  int n_out = 0;
  for (int r = 0; r < CV_PARITY_BATCH; r++) io_make(&x[r][0], "x", dt, dc->ndim, dc->shape, &c->seed);
  dwt_params(p, CV_OP_DWT, dc, m);
  if (cv_op_infer(p, x[0], 1, &inf, &err) == 0 && inf.n_out <= MAX_IN) {
    n_out = inf.n_out;
    for (int r = 0; r < CV_PARITY_BATCH; r++) {
      cv_work_t w = {.params = p, .in = x[r], .n_in = 1, .out = coef[r], .n_out = n_out};
      alloc_outs(coef[r], &inf);
      cv_batch_t b = {.n = 1, .items = &w};
      if (c->cpu->backend->run(c->cpu, &b) || w.rc) n_out = 0;
    }
    cv_infer_free(&inf);
  }
  for (int v = 0; v < 3 && n_out > 1; v++) {
    char what[160];
    snprintf(what, sizeof what, "idwt %s %s", tag, v == 0 ? "crop" : v == 1 ? "missing-band" : "no-a");
    dwt_params(p, CV_OP_IDWT, dc, m);
    cv_io_t (*in)[MAX_IN] = calloc(CV_PARITY_BATCH, sizeof *in);
    int n_in = 0;
    for (int r = 0; r < CV_PARITY_BATCH; r++) {
      n_in = 0;
      for (int k = 0; k < n_out; k++) {
        if ((v == 1 && k == 1) || (v == 2 && k == 0)) continue;
        io_copy(&in[r][n_in++], &coef[r][k]);
      }
    }
    if (v == 0) {
      p->u.dwt.n_shape = dc->ndim;
      memcpy(p->u.dwt.shape, dc->shape, sizeof(int64_t) * (size_t)dc->ndim);
    }
    if (v > 0) p->u.dwt.level = dc->level;   /* the inputs alone would imply fewer levels */
    check(c, what, p, in, n_in);
    for (int r = 0; r < CV_PARITY_BATCH; r++) ios_free(in[r], n_in);
    free(in);
  }
  for (int r = 0; r < CV_PARITY_BATCH; r++) {
    ios_free(x[r], 1);
    ios_free(coef[r], n_out);
  }
  free(x);
  free(coef);
  free(p);
}

static void run_dwt_cases(ctx_t *c) {
  cv_op_params_t *p = malloc(sizeof *p);
  cv_io_t (*in)[MAX_IN] = calloc(CV_PARITY_BATCH, sizeof *in);
  for (size_t ci = 0; ci < sizeof dwt_cases / sizeof dwt_cases[0]; ci++) {
    const dwt_case_t *dc = &dwt_cases[ci];
    for (int m = 0; m < CV_MODE_COUNT; m++) {
      if (dc->mode != ALL_MODES && dc->mode != m) continue;
      for (size_t di = 0; di < sizeof wave_dtypes / sizeof wave_dtypes[0]; di++) {
        cv_dtype_t dt = wave_dtypes[di];
        if ((dt == CV_DTYPE_I32 || dt == CV_DTYPE_F16) && dc->mode == ALL_MODES && m != CV_MODE_SYMMETRIC) continue;
        char tag[128];
        snprintf(tag, sizeof tag, "case %zu %s %s %s L%d", ci, dc->wavelet, cv_mode_name((cv_mode_t)m),
                 cv_dtype_name(dt), dc->level);
        for (int r = 0; r < CV_PARITY_BATCH; r++) io_make(&in[r][0], "x", dt, dc->ndim, dc->shape, &c->seed);
        dwt_params(p, CV_OP_DWT, dc, (cv_mode_t)m);
        char what[160];
        snprintf(what, sizeof what, "dwt %s", tag);
        check(c, what, p, in, 1);
        for (int r = 0; r < CV_PARITY_BATCH; r++) ios_free(in[r], 1);
        run_idwt_cases(c, dc, (cv_mode_t)m, dt, tag);
      }
    }
  }
  free(in);
  free(p);
}

/* ---- sepconv ---- */

typedef struct sc_filter_s {
  int axis, ntaps, stride, dilation;
  cv_pad_kind_t pk;
  int64_t lo, hi;
  int mode;   /* ALL_MODES: the case runs once per mode */
  int flip;
} sc_filter_t;

typedef struct sc_case_s {
  int ndim;
  int64_t shape[3];
  int nf;
  sc_filter_t f[3];
} sc_case_t;

static const sc_case_t sc_cases[] = {
    {1, {31}, 1, {{0, 2, 2, 1, CV_PAD_VALID, 0, 0, CV_MODE_ZERO, 0}}},
    {3, {9, 10, 11}, 1, {{0, 2, 2, 1, CV_PAD_VALID, 0, 0, CV_MODE_ZERO, 0}}},   /* strided axis */
    {3, {9, 10, 11}, 1, {{2, 5, 1, 1, CV_PAD_SAME, 0, 0, ALL_MODES, 0}}},       /* contiguous axis */
    {2, {7, 300}, 1, {{1, 7, 3, 2, CV_PAD_EXPLICIT, 20, 3, ALL_MODES, 1}}},
    {2, {12, 5}, 1, {{1, 3, 1, 1, CV_PAD_EXPLICIT, 9, 11, ALL_MODES, 0}}},     /* padding longer than x */
    {3, {6, 7, 8}, 3,
     {{0, 4, 2, 1, CV_PAD_SAME, 0, 0, CV_MODE_REFLECT, 0},
      {2, 3, 1, 3, CV_PAD_VALID, 0, 0, CV_MODE_ZERO, 1},
      {1, 2, 1, 1, CV_PAD_EXPLICIT, 1, 0, CV_MODE_SYMMETRIC, 0}}},
    {2, {5, 40}, 2,
     {{1, 3, 1, 1, CV_PAD_SAME, 0, 0, CV_MODE_PERIODIC, 0}, {1, 4, 2, 1, CV_PAD_VALID, 0, 0, CV_MODE_ZERO, 0}}},
    {1, {7000}, 1, {{0, 3, 1, 3000, CV_PAD_VALID, 0, 0, CV_MODE_ZERO, 0}}},      /* span over shared memory */
    {1, {600}, 1, {{0, 256, 1, 1, CV_PAD_SAME, 0, 0, CV_MODE_SMOOTH, 0}}},       /* the most taps */
};

static void run_sepconv_cases(ctx_t *c) {
  cv_op_params_t *p = malloc(sizeof *p);
  cv_io_t (*in)[MAX_IN] = calloc(CV_PARITY_BATCH, sizeof *in);
  for (size_t ci = 0; ci < sizeof sc_cases / sizeof sc_cases[0]; ci++) {
    const sc_case_t *sc = &sc_cases[ci];
    for (int m = 0; m < CV_MODE_COUNT; m++) {
      if (m == CV_MODE_PERIODIZATION) continue;
      bool all = false;
      for (int i = 0; i < sc->nf; i++) all |= sc->f[i].mode == ALL_MODES;
      if (!all && m > 0) break;
      for (size_t di = 0; di < sizeof wave_dtypes / sizeof wave_dtypes[0]; di++) {
        cv_dtype_t dt = wave_dtypes[di];
        cv_op_params_default(p, CV_OP_SEPCONV);
        cv_sepconv_params_t *s = &p->u.sepconv;
        s->n_filters = sc->nf;
        for (int i = 0; i < sc->nf; i++) {
          cv_sepconv_filter_t *f = &s->filters[i];
          memset(f, 0, sizeof *f);
          f->axis = sc->f[i].axis;
          f->ntaps = sc->f[i].ntaps;
          for (int t = 0; t < f->ntaps; t++) f->taps[t] = rnd(&c->seed);
          f->stride = sc->f[i].stride;
          f->dilation = sc->f[i].dilation;
          f->pad_kind = sc->f[i].pk;
          f->pad_lo = sc->f[i].lo;
          f->pad_hi = sc->f[i].hi;
          f->mode = sc->f[i].mode == ALL_MODES ? (cv_mode_t)m : (cv_mode_t)sc->f[i].mode;
          f->flip = sc->f[i].flip;
        }
        for (int r = 0; r < CV_PARITY_BATCH; r++) io_make(&in[r][0], "x", dt, sc->ndim, sc->shape, &c->seed);
        char what[160];
        snprintf(what, sizeof what, "sepconv case %zu %s %s", ci, all ? cv_mode_name((cv_mode_t)m) : "-",
                 cv_dtype_name(dt));
        check(c, what, p, in, 1);
        for (int r = 0; r < CV_PARITY_BATCH; r++) ios_free(in[r], 1);
      }
    }
  }
  free(in);
  free(p);
}

/* ---- conv ---- */

typedef struct conv_case_s {
  int nsp;
  int64_t n, c, cout, sp[3], k[3];
  int stride, dilation;
  cv_pad_kind_t pk;
  int64_t pad;
  int groups;
  cv_padmode_t pm;
  bool flip, ndhwc, bias;
  cv_conv_algo_t algo;
} conv_case_t;

static const conv_case_t conv_cases[] = {
    {1, 2, 3, 4, {17}, {3}, 1, 1, CV_PAD_SAME, 0, 1, CV_PADMODE_ZEROS, false, false, true, CV_CONV_ALGO_AUTO},
    {2, 1, 4, 6, {9, 11}, {3, 2}, 2, 1, CV_PAD_EXPLICIT, 1, 2, CV_PADMODE_REFLECT, true, false, true, CV_CONV_ALGO_AUTO},
    {3, 2, 2, 2, {5, 6, 7}, {3, 3, 3}, 1, 2, CV_PAD_EXPLICIT, 2, 1, CV_PADMODE_REPLICATE, false, true, false, CV_CONV_ALGO_AUTO},
    {2, 2, 5, 5, {8, 9}, {5, 5}, 1, 1, CV_PAD_SAME, 0, 5, CV_PADMODE_CIRCULAR, false, false, true, CV_CONV_ALGO_DEPTHTAP},
    {2, 1, 3, 6, {7, 10}, {3, 3}, 2, 1, CV_PAD_EXPLICIT, 1, 3, CV_PADMODE_ZEROS, true, true, true, CV_CONV_ALGO_AUTO},
    {3, 2, 8, 5, {4, 5, 6}, {1, 1, 1}, 1, 1, CV_PAD_VALID, 0, 1, CV_PADMODE_ZEROS, false, false, true, CV_CONV_ALGO_AUTO},
    {3, 1, 6, 3, {3, 4, 5}, {1, 1, 1}, 1, 1, CV_PAD_VALID, 0, 1, CV_PADMODE_ZEROS, false, false, false, CV_CONV_ALGO_GEMM},
    {2, 1, 2, 3, {12, 13}, {4, 3}, 3, 2, CV_PAD_VALID, 0, 1, CV_PADMODE_ZEROS, false, false, false, CV_CONV_ALGO_DIRECT},
    /* the menu's home grounds; every case also runs each candidate forced (run_conv_cases) */
    {2, 2, 6, 5, {12, 10}, {2, 2}, 2, 1, CV_PAD_VALID, 0, 1, CV_PADMODE_ZEROS, true, true, true, CV_CONV_ALGO_AUTO},   /* kernel == stride */
    {2, 1, 3, 4, {20, 19}, {7, 7}, 1, 1, CV_PAD_SAME, 0, 1, CV_PADMODE_REFLECT, false, false, true, CV_CONV_ALGO_AUTO}, /* large kernel */
    {1, 2, 3, 2, {40}, {9}, 3, 2, CV_PAD_EXPLICIT, 4, 1, CV_PADMODE_CIRCULAR, true, false, true, CV_CONV_ALGO_AUTO},
    {3, 2, 16, 8, {5, 7, 6}, {3, 3, 3}, 1, 1, CV_PAD_SAME, 0, 1, CV_PADMODE_ZEROS, false, true, true, CV_CONV_ALGO_AUTO}, /* depth taps */
    {3, 1, 8, 8, {7, 6, 5}, {2, 3, 3}, 2, 2, CV_PAD_EXPLICIT, 2, 2, CV_PADMODE_REPLICATE, true, false, true, CV_CONV_ALGO_AUTO},
    {3, 1, 8, 16, {6, 6, 6}, {3, 3, 3}, 1, 1, CV_PAD_SAME, 0, 8, CV_PADMODE_ZEROS, false, false, false, CV_CONV_ALGO_AUTO}, /* depthwise ×2 */
};

/* Each case runs as given, then with every candidate forced; the device
 * declines (SKIP) the ones that cannot run it. CONVOY_PARITY_CONV_ALGO=name
 * limits the forced runs to one candidate. */
static const cv_conv_algo_t conv_forced[] = {CV_CONV_ALGO_DIRECT, CV_CONV_ALGO_GEMM, CV_CONV_ALGO_FFT,
                                             CV_CONV_ALGO_CUDNN, CV_CONV_ALGO_DEPTHTAP};

static const cv_dtype_t conv_dtypes[] = {CV_DTYPE_F32, CV_DTYPE_F64, CV_DTYPE_F16, CV_DTYPE_BF16};

static void run_conv_cases(ctx_t *c) {
  cv_op_params_t *p = malloc(sizeof *p);
  cv_io_t (*in)[MAX_IN] = calloc(CV_PARITY_BATCH, sizeof *in);
  for (size_t ci = 0; ci < sizeof conv_cases / sizeof conv_cases[0]; ci++) {
    const conv_case_t *cc = &conv_cases[ci];
    for (size_t di = 0; di < sizeof conv_dtypes / sizeof conv_dtypes[0]; di++) {
      cv_dtype_t dt = conv_dtypes[di];
      cv_op_params_default(p, CV_OP_CONV);
      cv_conv_params_t *q = &p->u.conv;
      q->n_stride = 1;
      q->stride[0] = cc->stride;
      q->n_dilation = 1;
      q->dilation[0] = cc->dilation;
      q->pad_kind = cc->pk;
      if (cc->pk == CV_PAD_EXPLICIT) {
        q->n_pad = 1;
        q->pad_lo[0] = q->pad_hi[0] = cc->pad;
      }
      q->groups = cc->groups;
      q->padding_mode = cc->pm;
      q->flip = cc->flip;
      q->layout = cc->ndhwc ? CV_LAYOUT_NDHWC : CV_LAYOUT_NCDHW;
      q->algo = cc->algo;
      int64_t xs[5], ws[5], bs[1] = {cc->cout};
      xs[0] = cc->n;
      xs[cc->ndhwc ? cc->nsp + 1 : 1] = cc->c;
      ws[0] = cc->cout;
      ws[1] = cc->c / cc->groups;
      for (int a = 0; a < cc->nsp; a++) {
        xs[(cc->ndhwc ? 1 : 2) + a] = cc->sp[a];
        ws[2 + a] = cc->k[a];
      }
      int n_in = cc->bias ? 3 : 2;
      for (int r = 0; r < CV_PARITY_BATCH; r++) {
        io_make(&in[r][0], "x", dt, cc->nsp + 2, xs, &c->seed);
        io_make(&in[r][1], "w", dt, cc->nsp + 2, ws, &c->seed);
        if (cc->bias) io_make(&in[r][2], "b", dt, 1, bs, &c->seed);
      }
      char what[160];
      snprintf(what, sizeof what, "conv case %zu %s algo=%s", ci, cv_dtype_name(dt), cv_conv_algo_name(cc->algo));
      cv_op_params_t *ref = malloc(sizeof *ref);
      *ref = *p;   /* unresolved; the CPU reference keeps auto */
      check(c, what, p, in, n_in);
      if (cc->algo == CV_CONV_ALGO_AUTO && c->dut->backend != c->cpu->backend) {
        const char *only = getenv("CONVOY_PARITY_CONV_ALGO");
        *p = *ref;
        for (size_t ai = 0; ai < sizeof conv_forced / sizeof conv_forced[0]; ai++) {
          if (only && *only && strcmp(only, cv_conv_algo_name(conv_forced[ai])) != 0) continue;
          *p = *ref;
          p->u.conv.algo = conv_forced[ai];
          snprintf(what, sizeof what, "conv case %zu %s forced=%s", ci, cv_dtype_name(dt),
                   cv_conv_algo_name(conv_forced[ai]));
          check_vs(c, what, p, ref, in, n_in);
        }
      }
      free(ref);
      for (int r = 0; r < CV_PARITY_BATCH; r++) ios_free(in[r], n_in);
    }
  }
  free(in);
  free(p);
}

/* ---- main ---- */

int main(int argc, char **argv) {
  bool self = argc > 1 && strcmp(argv[1], "--self") == 0;
  static cv_device_t devs[CV_MAX_DEVICES], self_dev;
  cv_backend_config_t cfg = {.threads = 2, .want_cpu = true, .want_cuda = !self};
  cv_error_t err;
  int nd = cv_devices_open(devs, CV_MAX_DEVICES, &cfg, &err);
  if (nd < 1) {
    printf("Bail out! cannot open devices: %s\n", err.message);
    return 1;
  }
  cv_device_t *cpu = NULL, *dut[CV_MAX_DEVICES];
  int n_dut = 0;
  for (int i = 0; i < nd; i++) {
    if (strcmp(devs[i].kind, "cpu") == 0)
      cpu = &devs[i];
    else
      dut[n_dut++] = &devs[i];
  }
  if (self && cv_cpu_device_open(&self_dev, 1) == 0) {
    snprintf(self_dev.id, sizeof self_dev.id, "cpu-1t");
    dut[n_dut++] = &self_dev;
  }
  if (!cpu || n_dut == 0) {
    printf("1..0 # SKIP no CUDA device\n");
    cv_devices_close(devs, nd);
    return 77;
  }
  int failed = 0, total = 0, skipped = 0;
  for (int d = 0; d < n_dut; d++) {
    const char *ev = getenv("CONVOY_PARITY_EVERY");
    ctx_t c = {.dut = dut[d], .cpu = cpu, .n = total, .every = ev && atoi(ev) > 0 ? atoi(ev) : 1, .seed = 12345u};
    printf("# %s (%s) vs cpu\n", dut[d]->id, dut[d]->name);
    for (int op = 0; op < CV_OP_COUNT; op++) {
      switch ((cv_op_t)op) {
        case CV_OP_DWT: run_dwt_cases(&c); break;   /* idwt cases run from each dwt case */
        case CV_OP_IDWT: break;
        case CV_OP_SEPCONV: run_sepconv_cases(&c); break;
        case CV_OP_CONV: run_conv_cases(&c); break;
        case CV_OP_COUNT: break;
      }
    }
    total = c.n;
    failed += c.failed;
    skipped += c.skipped;
  }
  printf("1..%d\n# %d failed, %d skipped (unsupported)\n", total, failed, skipped);
  if (self) self_dev.backend->close(&self_dev);
  cv_devices_close(devs, nd);
  return failed ? 1 : 0;
}
