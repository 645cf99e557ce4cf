/* test_slab.c — slab planning (kernels/slab.c: windows, dwt alignment,
 * coverage, budgets) and the slab executor on the CPU backend: a device
 * with a tiny budget_bytes must give bit-identical results to the same job
 * run whole, for sepconv (every mode, strides, dilation, promotion,
 * complex, chains of filters along axis 0), conv (padding modes, layouts, groups) and dwt/idwt; what cannot
 * slab fails with payload_too_large; on_slab covers every output byte. */
#include "../../kernels/backend.h"
#include "../../kernels/slab.h"
#include "runner.h"

/* ---- planning ---- */

static void check_plan(const cv_slab_geom_t *g, uint64_t budget) {
  cv_slab_t *s = NULL;
  int64_t n = 0;
  CV_ASSERT_OK(cv_slab_plan(g, budget, &s, &n));
  CV_ASSERT(n >= 1);
  int64_t next = 0;
  for (int64_t i = 0; i < n; i++) {
    CV_ASSERT_EQ(s[i].o0, next);
    CV_ASSERT(s[i].o1 > s[i].o0);
    next = s[i].o1;
    CV_ASSERT(cv_slab_cost(g, &s[i]) <= budget);
    CV_ASSERT(s[i].keep >= 0 && s[i].keep + (s[i].o1 - s[i].o0) <= s[i].sub_out);
    if (g->kind == CV_SLAB_WINDOW) {
      CV_ASSERT_EQ(s[i].p0, s[i].o0 * g->stride - g->pad_lo);
      CV_ASSERT_EQ(s[i].p1 - s[i].p0, (s[i].o1 - s[i].o0 - 1) * g->stride + g->span);
    }
    if (g->kind == CV_SLAB_DWT) {
      int64_t F = g->filter_len, w0 = s[i].p0, w1 = s[i].p1;
      CV_ASSERT(w0 % 2 == 0 && w0 >= 0 && w1 <= g->n_in && w1 > w0);
      CV_ASSERT_EQ(s[i].sub_out, (w1 - w0 + F - 1) / 2);
      CV_ASSERT(w1 - w0 >= (2 * F < g->n_in ? 2 * F : g->n_in));
      for (int64_t k = s[i].o0; k < s[i].o1; k++) {
        int64_t lo = 2 * k + 2 - F, hi = 2 * k + 1;   /* the taps of coefficient k */
        CV_ASSERT_EQ(k - w0 / 2, s[i].keep + (k - s[i].o0));
        CV_ASSERT(lo >= w0 || w0 == 0);               /* inside, or the real left edge */
        CV_ASSERT(hi < w1 || w1 == g->n_in);          /* inside, or the real right edge */
      }
    }
  }
  CV_ASSERT_EQ(next, g->n_out);
  free(s);
}

static void test_plan_window(void) {
  for (int stride = 1; stride <= 3; stride++)
    for (int span = 1; span <= 9; span += 4)
      for (int lo = 0; lo <= 5; lo += 5) {
        cv_slab_geom_t g = {.kind = CV_SLAB_WINDOW, .n_in = 50, .stride = stride, .pad_lo = lo, .span = span,
                            .in_row_bytes = 10, .out_row_bytes = 7, .fixed_bytes = 3};
        g.n_out = (50 + 2 * lo - span) / stride + 1;
        for (uint64_t budget = 3 + 10 * (uint64_t)span + 7; budget < 2000; budget = budget * 3 / 2 + 1)
          check_plan(&g, budget);
      }
}

static void test_plan_dwt(void) {
  for (int F = 2; F <= 20; F += 6)
    for (int64_t n = 1; n <= 70; n += 7) {
      cv_slab_geom_t g = {.kind = CV_SLAB_DWT, .n_in = n, .n_out = (n + F - 1) / 2, .filter_len = F,
                          .in_row_bytes = 4, .out_row_bytes = 8};
      for (uint64_t budget = 4 * (uint64_t)(4 * F) + 8 * 3 * F; budget < 4000; budget = budget * 2)
        check_plan(&g, budget);
    }
}

static void test_plan_errors(void) {
  cv_slab_geom_t g = {.kind = CV_SLAB_WINDOW, .n_in = 10, .n_out = 8, .stride = 1, .span = 3,
                      .in_row_bytes = 100, .out_row_bytes = 100};
  cv_slab_t *s = (cv_slab_t *)1;
  int64_t n = 5;
  CV_ASSERT_EQ(cv_slab_plan(&g, 399, &s, &n), -CV_EPAYLOAD_TOO_LARGE);   /* one row needs 3 in + 1 out */
  CV_ASSERT(s == NULL && n == 0);
  CV_ASSERT_OK(cv_slab_plan(&g, 400, &s, &n));
  CV_ASSERT_EQ(n, 8);
  free(s);
  g.n_out = 0;
  CV_ASSERT_EQ(cv_slab_plan(&g, 1000, &s, &n), -CV_EINVALID_ARGUMENT);
  cv_slab_geom_t p = {.kind = CV_SLAB_PLAIN, .n_in = 10, .n_out = 9};
  CV_ASSERT_EQ(cv_slab_plan(&p, 1000, &s, &n), -CV_EINVALID_ARGUMENT);
  /* the whole thing fits: one slab */
  p.n_out = 10;
  p.in_row_bytes = 1;
  CV_ASSERT_OK(cv_slab_plan(&p, 1000, &s, &n));
  CV_ASSERT_EQ(n, 1);
  free(s);
}

/* ---- the executor on the CPU ---- */

typedef struct cover_s {
  int calls;
  unsigned char *seen[64];
  size_t n[64];
  int overlap;
} cover_t;

static void on_slab(void *ctx, int k, size_t off, size_t nb) {
  cover_t *c = ctx;
  c->calls++;
  CV_ASSERT(k >= 0 && k < 64 && off + nb <= c->n[k]);
  for (size_t i = off; i < off + nb; i++) c->overlap += c->seen[k][i]++ != 0;
}

typedef struct run_s {
  cv_infer_t res;
  int rc;
  cv_error_t err;
  int calls;
} run_t;

/* Runs op on the CPU device with budget (0 = whole); outputs in r->res. */
static void run(const cv_op_params_t *op0, cv_io_t *in, int n_in, uint64_t budget, run_t *r) {
  cv_op_params_t *op = calloc(1, sizeof *op);
  cv_error_t err;
  cv_op_params_copy(op, op0);
  memset(r, 0, sizeof *r);
  int rc = cv_op_infer(op, in, n_in, &r->res, &err);
  if (rc) CV_FAIL_("infer: %s", err.message);
  cv_device_t dev;
  CV_ASSERT_OK(cv_cpu_device_open(&dev, 2));
  dev.budget_bytes = budget;
  cover_t cov;
  memset(&cov, 0, sizeof cov);
  for (int k = 0; k < r->res.n_out; k++) {
    size_t nb = cv_array_nbytes(&r->res.out[k].a);
    r->res.out[k].a.data = calloc(1, nb + 1);
    cov.n[k] = nb;
    cov.seen[k] = calloc(1, nb + 1);
  }
  cv_work_t w = {.params = op, .in = in, .n_in = n_in, .out = r->res.out, .n_out = r->res.n_out};
  w.on_slab = on_slab;
  w.on_slab_ctx = &cov;
  cv_batch_t b = {.n = 1, .items = &w};
  CV_ASSERT_OK(dev.backend->run(&dev, &b));
  r->rc = w.rc;
  r->err = w.err;
  r->calls = cov.calls;
  CV_ASSERT_EQ(cov.overlap, 0);
  for (int k = 0; k < r->res.n_out; k++) {
    if (w.rc == 0)
      for (size_t i = 0; i < cov.n[k]; i++)
        if (!cov.seen[k][i]) CV_FAIL_("output %d byte %zu never reported", k, i);
    free(cov.seen[k]);
  }
  cv_devices_close(&dev, 1);
  free(op);
}

static void run_free(run_t *r) {
  for (int k = 0; k < r->res.n_out; k++) free(r->res.out[k].a.data);
  cv_infer_free(&r->res);
}

/* whole vs slabbed: identical bytes, and the slabbed run used several
 * slabs. The budget is a fraction of the job's working set: the smallest of
 * 1/8, 1/4, 1/2 whose one-row slabs fit. */
static void same(const cv_op_params_t *op, cv_io_t *in, int n_in, const char *what) {
  run_t a, b;
  run(op, in, n_in, 0, &a);
  if (a.rc) CV_FAIL_("%s: whole run failed: %s", what, a.err.message);
  cv_work_t probe = {.params = op, .in = in, .n_in = n_in, .out = a.res.out, .n_out = a.res.n_out};
  uint64_t total = cv_slab_work_bytes(&probe);
  for (int div = 8;; div /= 2) {
    run(op, in, n_in, total / (uint64_t)div, &b);
    if (b.rc != -CV_EPAYLOAD_TOO_LARGE || div == 2) break;
    run_free(&b);
  }
  if (b.rc) CV_FAIL_("%s: slabbed run failed: %s", what, b.err.message);
  CV_ASSERT_EQ(a.res.n_out, b.res.n_out);
  for (int k = 0; k < a.res.n_out; k++) {
    size_t nb = cv_array_nbytes(&a.res.out[k].a);
    if (memcmp(a.res.out[k].a.data, b.res.out[k].a.data, nb) != 0)
      CV_FAIL_("%s: output %s differs when run in slabs", what, a.res.out[k].name);
  }
  if (b.calls <= a.calls) CV_FAIL_("%s: the budget did not make slabs (%d reports)", what, b.calls);
  run_free(&a);
  run_free(&b);
}

static void fill(cv_io_t *io, const char *name, cv_dtype_t dt, int nd, const int64_t *shape, unsigned seed) {
  memset(io, 0, sizeof *io);
  snprintf(io->name, sizeof io->name, "%s", name);
  io->a.dtype = dt;
  io->a.ndim = nd;
  memcpy(io->a.shape, shape, sizeof(int64_t) * (size_t)nd);
  size_t n = (size_t)cv_shape_numel(shape, nd);
  double *v = malloc(sizeof(double) * n * 2 + 8);
  for (size_t i = 0; i < 2 * n; i++) {
    seed = seed * 1103515245u + 12345u;
    v[i] = ((double)(seed >> 8 & 0xffff) / 32768.0 - 1.0) * (cv_dtype_is_integer(dt) ? 100 : 1);
  }
  io->a.data = malloc(n * cv_dtype_size(dt) + 1);
  if (cv_dtype_is_complex(dt))
    cv_convert(io->a.data, dt == CV_DTYPE_C64 ? CV_DTYPE_F32 : CV_DTYPE_F64, v, CV_DTYPE_F64, 2 * n);
  else
    cv_convert(io->a.data, dt, v, CV_DTYPE_F64, n);
  free(v);
}

static void sep_filter(cv_sepconv_filter_t *f, int axis, int ntaps, int stride, int dil, int64_t lo, int64_t hi,
                       cv_mode_t mode) {
  memset(f, 0, sizeof *f);
  f->axis = axis;
  f->ntaps = ntaps;
  for (int t = 0; t < ntaps; t++) f->taps[t] = 0.25 + 0.37 * t - 0.05 * t * t;
  f->stride = stride;
  f->dilation = dil;
  f->pad_kind = CV_PAD_EXPLICIT;
  f->pad_lo = lo;
  f->pad_hi = hi;
  f->mode = mode;
  f->flip = -1;
}

static void test_sepconv_slabs(void) {
  int64_t xs[3] = {37, 5, 6};
  cv_dtype_t dts[] = {CV_DTYPE_F32, CV_DTYPE_F64, CV_DTYPE_I32, CV_DTYPE_C64};
  cv_op_params_t *op = calloc(1, sizeof *op);
  char what[128];
  for (int m = 0; m < CV_MODE_COUNT; m++) {
    if (m == CV_MODE_PERIODIZATION) continue;
    for (int d = 0; d < 4; d++) {
      cv_io_t x;
      fill(&x, "x", dts[d], 3, xs, 7u + (unsigned)m);
      cv_op_params_default(op, CV_OP_SEPCONV);
      op->u.sepconv.n_filters = 2;
      /* wide padding (past the 37 rows on one side) exercises repeated extension */
      sep_filter(&op->u.sepconv.filters[0], 2, 3, 1, 1, 1, 1, CV_MODE_REFLECT);
      sep_filter(&op->u.sepconv.filters[1], 0, 5, 2, 2, m == CV_MODE_ZERO ? 45 : 6, 4, (cv_mode_t)m);
      snprintf(what, sizeof what, "sepconv %s %s", cv_mode_name((cv_mode_t)m), cv_dtype_name(dts[d]));
      same(op, &x, 1, what);
      /* two filters along axis 0 (a chain of passes), one on axis 2 between them */
      op->u.sepconv.n_filters = 3;
      sep_filter(&op->u.sepconv.filters[2], 0, 3, 1, 3, 1, 1, (cv_mode_t)m);
      op->u.sepconv.filters[2].flip = 1;
      same(op, &x, 1, what);
      /* no filter along axis 0: plain slabs */
      op->u.sepconv.n_filters = 1;
      same(op, &x, 1, what);
      free(x.a.data);
    }
  }
  free(op);
}

static void test_sepconv_refused(void) {
  int64_t xs[2] = {40, 8};
  cv_io_t x;
  fill(&x, "x", CV_DTYPE_F32, 2, xs, 3);
  cv_op_params_t *op = calloc(1, sizeof *op);
  cv_op_params_default(op, CV_OP_SEPCONV);
  op->u.sepconv.n_filters = 2;
  sep_filter(&op->u.sepconv.filters[0], 0, 3, 1, 1, 1, 1, CV_MODE_SYMMETRIC);
  sep_filter(&op->u.sepconv.filters[1], 0, 2, 2, 1, 0, 0, CV_MODE_SYMMETRIC);
  run_t r;
  /* a budget below one row, for a single filter and for a chain */
  run(op, &x, 1, 64, &r);
  CV_ASSERT_EQ(r.rc, -CV_EPAYLOAD_TOO_LARGE);
  CV_ASSERT(strstr(r.err.message, "one row") != NULL);
  run_free(&r);
  op->u.sepconv.n_filters = 1;
  run(op, &x, 1, 64, &r);
  CV_ASSERT_EQ(r.rc, -CV_EPAYLOAD_TOO_LARGE);
  CV_ASSERT(strstr(r.err.message, "one row") != NULL);
  run_free(&r);
  free(x.a.data);
  free(op);
}

static void conv_case(cv_layout_t lay, cv_padmode_t pm, cv_conv_algo_t algo, cv_dtype_t dt, int groups) {
  int64_t N = 2, C = 4, D = 13, H = 5, W = 4, Co = 8;
  int64_t xs[5], ws[5] = {Co, C / groups, 3, 3, 2}, bs[1] = {Co};
  if (lay == CV_LAYOUT_NCDHW) memcpy(xs, (int64_t[]){N, C, D, H, W}, sizeof xs);
  else memcpy(xs, (int64_t[]){N, D, H, W, C}, sizeof xs);
  cv_io_t in[3];
  fill(&in[0], "x", dt, 5, xs, 11);
  fill(&in[1], "w", dt, 5, ws, 12);
  fill(&in[2], "b", dt, 1, bs, 13);
  cv_op_params_t *op = calloc(1, sizeof *op);
  cv_op_params_default(op, CV_OP_CONV);
  cv_conv_params_t *p = &op->u.conv;
  p->n_stride = 3;
  p->stride[0] = 2, p->stride[1] = 1, p->stride[2] = 1;
  p->n_dilation = 3;
  p->dilation[0] = 2, p->dilation[1] = 1, p->dilation[2] = 1;
  p->n_pad = 3;
  p->pad_lo[0] = 2, p->pad_hi[0] = 3, p->pad_lo[1] = p->pad_hi[1] = 1;
  p->padding_mode = pm;
  p->groups = groups;
  p->layout = lay;
  p->algo = algo;
  char what[128];
  snprintf(what, sizeof what, "conv %s %s %s %s groups %d", lay ? "ndhwc" : "ncdhw", cv_padmode_name(pm),
           cv_conv_algo_name(algo), cv_dtype_name(dt), groups);
  same(op, in, 3, what);
  for (int i = 0; i < 3; i++) free(in[i].a.data);
  free(op);
}

static void test_conv_slabs(void) {
  for (int pm = 0; pm < CV_PADMODE_COUNT; pm++) {
    conv_case(CV_LAYOUT_NCDHW, (cv_padmode_t)pm, CV_CONV_ALGO_DIRECT, CV_DTYPE_F32, 1);
    conv_case(CV_LAYOUT_NDHWC, (cv_padmode_t)pm, CV_CONV_ALGO_DIRECT, CV_DTYPE_F64, 2);
  }
  conv_case(CV_LAYOUT_NCDHW, CV_PADMODE_ZEROS, CV_CONV_ALGO_DEPTHTAP, CV_DTYPE_F32, 4);
  conv_case(CV_LAYOUT_NCDHW, CV_PADMODE_REFLECT, CV_CONV_ALGO_DIRECT, CV_DTYPE_BF16, 1);
  conv_case(CV_LAYOUT_NCDHW, CV_PADMODE_CIRCULAR, CV_CONV_ALGO_GEMM, CV_DTYPE_F32, 1);
  conv_case(CV_LAYOUT_NDHWC, CV_PADMODE_REPLICATE, CV_CONV_ALGO_AUTO, CV_DTYPE_F32, 1);
}

static void dwt_params(cv_op_params_t *op, cv_op_t kind, const char *wav, cv_mode_t mode, int level, int n_axes,
                       const int *axes) {
  cv_op_params_default(op, kind);
  cv_dwt_params_t *p = &op->u.dwt;
  p->n_axes = n_axes;
  for (int i = 0; i < n_axes; i++) p->axes[i] = axes[i];
  p->level = level;
  p->n_modes = 1;
  p->modes[0] = mode;
  p->n_wavelets = 1;
  cv_wavelet_from_info(&p->wavelets[0], cv_wavelet_find(wav));
}

static void test_dwt_slabs(void) {
  const char *wavs[] = {"haar", "db2", "db4", "sym5", "bior2.4"};
  int all[3] = {0, 1, 2}, inner[2] = {1, 2}, first[1] = {0};
  int64_t xs[3] = {97, 5, 6};
  cv_op_params_t *op = calloc(1, sizeof *op);
  char what[160];
  for (int wv = 0; wv < 5; wv++)
    for (int m = 0; m < CV_MODE_COUNT; m++) {
      if (m == CV_MODE_PERIODIC || m == CV_MODE_PERIODIZATION) continue;
      cv_dtype_t dt = wv % 2 ? CV_DTYPE_F64 : CV_DTYPE_F32;
      cv_io_t x;
      fill(&x, "x", dt, 3, xs, 21u + (unsigned)m);
      for (int lv = 1; lv <= 3; lv++) {
        snprintf(what, sizeof what, "dwt %s %s level %d all axes", wavs[wv], cv_mode_name((cv_mode_t)m), lv);
        dwt_params(op, CV_OP_DWT, wavs[wv], (cv_mode_t)m, lv, 3, all);
        same(op, &x, 1, what);
        snprintf(what, sizeof what, "dwt %s %s level %d axis 0", wavs[wv], cv_mode_name((cv_mode_t)m), lv);
        dwt_params(op, CV_OP_DWT, wavs[wv], (cv_mode_t)m, lv, 1, first);
        same(op, &x, 1, what);
      }
      free(x.a.data);
    }
  /* axis 0 not transformed: every mode, periodic ones too */
  for (int m = 0; m < CV_MODE_COUNT; m++) {
    cv_io_t x;
    fill(&x, "x", CV_DTYPE_I16, 3, xs, 5);
    dwt_params(op, CV_OP_DWT, "db2", (cv_mode_t)m, 1, 2, inner);
    snprintf(what, sizeof what, "dwt axes 1,2 %s", cv_mode_name((cv_mode_t)m));
    same(op, &x, 1, what);
    free(x.a.data);
  }
  free(op);
}

static void test_dwt_refused(void) {
  int64_t xs[2] = {64, 8};
  cv_io_t x;
  fill(&x, "x", CV_DTYPE_F32, 2, xs, 9);
  cv_op_params_t *op = calloc(1, sizeof *op);
  int all[2] = {0, 1};
  for (int m = CV_MODE_PERIODIC; m <= CV_MODE_PERIODIZATION; m += CV_MODE_PERIODIZATION - CV_MODE_PERIODIC) {
    dwt_params(op, CV_OP_DWT, "db2", (cv_mode_t)m, 2, 2, all);
    run_t r;
    run(op, &x, 1, 800, &r);
    CV_ASSERT_EQ(r.rc, -CV_EPAYLOAD_TOO_LARGE);
    CV_ASSERT(strstr(r.err.message, "periodic") != NULL);
    run_free(&r);
    run(op, &x, 1, 0, &r);   /* fine whole */
    CV_ASSERT_EQ(r.rc, 0);
    run_free(&r);
  }
  free(x.a.data);
  free(op);
}

/* idwt: slabs when axis 0 is not transformed; refused when it is */
static void test_idwt_slabs(void) {
  int64_t xs[3] = {23, 12, 10};
  int inner[2] = {1, 2}, all[3] = {0, 1, 2};
  cv_io_t x;
  fill(&x, "x", CV_DTYPE_F64, 3, xs, 31);
  cv_op_params_t *op = calloc(1, sizeof *op);
  for (int pass = 0; pass < 2; pass++) {
    dwt_params(op, CV_OP_DWT, "db3", CV_MODE_SMOOTH, 2, 2 + pass, pass ? all : inner);
    run_t d;
    run(op, &x, 1, 0, &d);
    CV_ASSERT_EQ(d.rc, 0);
    cv_op_params_t *iop = calloc(1, sizeof *iop);
    dwt_params(iop, CV_OP_IDWT, "db3", CV_MODE_SMOOTH, CV_LEVEL_AUTO, 2 + pass, pass ? all : inner);
    if (!pass) {
      same(iop, d.res.out, d.res.n_out, "idwt axes 1,2");
      iop->u.dwt.n_shape = 3;   /* crop, rows too */
      iop->u.dwt.shape[0] = 20, iop->u.dwt.shape[1] = 11, iop->u.dwt.shape[2] = 9;
      same(iop, d.res.out, d.res.n_out, "idwt axes 1,2 cropped");
    } else {
      run_t r;
      run(iop, d.res.out, d.res.n_out, 4000, &r);
      CV_ASSERT_EQ(r.rc, -CV_EPAYLOAD_TOO_LARGE);
      CV_ASSERT(strstr(r.err.message, "axis 0") != NULL);
      run_free(&r);
    }
    free(iop);
    run_free(&d);
  }
  free(x.a.data);
  free(op);
}

static void test_cpu_stats(void) {
  cv_device_t dev;
  CV_ASSERT_OK(cv_cpu_device_open(&dev, 1));
  CV_ASSERT(dev.backend->stats != NULL);
  cv_device_stats_t st = {0, 0};
  CV_ASSERT_OK(dev.backend->stats(&dev, &st));
  CV_ASSERT(st.memory_used_bytes > 0);
  CV_ASSERT(isnan(st.utilization));
  cv_devices_close(&dev, 1);
}

#define CV_TEST_LIST(XX)                                                                         \
  XX(plan_window) XX(plan_dwt) XX(plan_errors) XX(sepconv_slabs) XX(sepconv_refused) XX(conv_slabs) \
  XX(dwt_slabs) XX(dwt_refused) XX(idwt_slabs) XX(cpu_stats)
CV_TEST_MAIN(CV_TEST_LIST)
