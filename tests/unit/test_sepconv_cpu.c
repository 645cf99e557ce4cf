/* test_sepconv_cpu.c — sepconv shape inference (a row table of lengths,
 * padding sides and every error's code and field), small cases computed by
 * hand, every mode on tiny signals and random multi-filter jobs against a
 * slow reference that pads with cv_ext_value_f64 and loops. */
#include <complex.h>

#include "kernels/cpu/cpu.h"
#include "kernels/dwt_math.h"
#include "kernels/ops.h"
#include "runner.h"

/* ---- helpers ---- */

typedef struct {
  int axis, ntaps, stride, dil;
  cv_pad_kind_t pk;
  int64_t lo, hi;
  cv_mode_t mode;
  int flip;
} fspec_t;

#define F_VALID(ax, k, s) {ax, k, s, 1, CV_PAD_VALID, 0, 0, CV_MODE_ZERO, -1}
#define F_SAME(ax, k, s, d, flip) {ax, k, s, d, CV_PAD_SAME, 0, 0, CV_MODE_ZERO, flip}
#define F_PAD(ax, k, s, d, lo, hi, mode) {ax, k, s, d, CV_PAD_EXPLICIT, lo, hi, mode, -1}

static void set_filter(cv_sepconv_filter_t *f, const fspec_t *s, const double *taps) {
  f->axis = s->axis;
  f->ntaps = s->ntaps;
  for (int t = 0; t < s->ntaps && t < CV_SEPCONV_MAX_TAPS; t++) f->taps[t] = taps ? taps[t] : 1.0;
  f->stride = s->stride;
  f->dilation = s->dil;
  f->pad_kind = s->pk;
  f->pad_lo = s->lo;
  f->pad_hi = s->hi;
  f->mode = s->mode;
  f->flip = s->flip;
}

static cv_io_t make_x(cv_dtype_t dt, int ndim, const int64_t *shape, void *data) {
  cv_io_t x;
  memset(&x, 0, sizeof x);
  snprintf(x.name, sizeof x.name, "x");
  x.a.dtype = dt;
  x.a.ndim = ndim;
  for (int d = 0; d < ndim; d++) x.a.shape[d] = shape[d];
  x.a.data = data;
  return x;
}

/* Runs infer then the CPU kernel; returns y's data (malloc'd) and infer's output. */
static void *run_op(cv_op_params_t *op, cv_io_t *x, int threads, cv_io_t *y_out) {
  cv_infer_t res;
  cv_error_t err;
  int rc = cv_op_infer(op, x, 1, &res, &err);
  if (rc) CV_FAIL_("infer failed: %s (%s)", err.message, err.field);
  *y_out = res.out[0];
  cv_infer_free(&res);
  size_t nb = cv_array_nbytes(&y_out->a);
  y_out->a.data = malloc(nb ? nb : 1);
  CV_ASSERT(y_out->a.data != NULL);
  rc = cv_cpu_sepconv(&op->u.sepconv, x, 1, y_out, 1, threads, &err);
  if (rc) CV_FAIL_("cv_cpu_sepconv failed: %s (%s)", err.message, err.field);
  return y_out->a.data;
}

/* ---- inference table ---- */

typedef struct {
  const char *name;
  int ndim;
  int64_t shape[4];
  cv_dtype_t dt;
  int nf;
  fspec_t f[3];
  bool opflip;
  cv_err_t code;          /* CV_OK or the expected error */
  const char *field;      /* expected field on error */
  int64_t out[4];         /* expected y shape */
  int64_t lo0, hi0;       /* resolved padding of filter 0 */
  cv_dtype_t odt;
} infer_case_t;

#define OK_(...) CV_OK, "", {__VA_ARGS__}
#define F32 CV_DTYPE_F32

static const infer_case_t infer_cases[] = {
    {"valid k3", 1, {10}, F32, 1, {F_VALID(0, 3, 1)}, 0, OK_(8), 0, 0, F32},
    {"valid haar s2 even", 1, {10}, F32, 1, {F_VALID(0, 2, 2)}, 0, OK_(5), 0, 0, F32},
    {"valid haar s2 odd", 1, {11}, F32, 1, {F_VALID(0, 2, 2)}, 0, OK_(5), 0, 0, F32},
    {"valid k3 s3", 1, {10}, F32, 1, {F_VALID(0, 3, 3)}, 0, OK_(3), 0, 0, F32},
    {"valid k3 d2", 1, {10}, F32, 1, {{0, 3, 1, 2, CV_PAD_VALID, 0, 0, CV_MODE_ZERO, -1}}, 0, OK_(6), 0, 0, F32},
    {"same odd", 1, {10}, F32, 1, {F_SAME(0, 3, 1, 1, -1)}, 0, OK_(10), 1, 1, F32},
    {"same even", 1, {10}, F32, 1, {F_SAME(0, 4, 1, 1, -1)}, 0, OK_(10), 1, 2, F32},
    {"same even flip", 1, {10}, F32, 1, {F_SAME(0, 4, 1, 1, 1)}, 0, OK_(10), 2, 1, F32},
    {"same even op flip", 1, {10}, F32, 1, {F_SAME(0, 4, 1, 1, -1)}, 1, OK_(10), 2, 1, F32},
    {"same even op flip, filter no", 1, {10}, F32, 1, {F_SAME(0, 4, 1, 1, 0)}, 1, OK_(10), 1, 2, F32},
    {"same d2", 1, {10}, F32, 1, {F_SAME(0, 4, 1, 2, -1)}, 0, OK_(10), 3, 3, F32},
    {"same s2 odd n", 1, {11}, F32, 1, {F_SAME(0, 3, 2, 1, -1)}, 0, OK_(6), 1, 1, F32},
    {"same s3 d2", 1, {10}, F32, 1, {F_SAME(0, 4, 3, 2, -1)}, 0, OK_(4), 3, 3, F32},
    {"same s2 even k flip", 1, {9}, F32, 1, {F_SAME(0, 2, 2, 1, 1)}, 0, OK_(5), 1, 0, F32},
    {"explicit", 1, {5}, F32, 1, {F_PAD(0, 2, 1, 1, 2, 3, CV_MODE_ZERO)}, 0, OK_(9), 2, 3, F32},
    {"explicit longer than x", 1, {3}, F32, 1, {F_PAD(0, 3, 1, 1, 20, 20, CV_MODE_SYMMETRIC)}, 0, OK_(41), 20, 20, F32},
    {"explicit s2 d3", 1, {7}, F32, 1, {F_PAD(0, 3, 2, 3, 1, 0, CV_MODE_REFLECT)}, 0, OK_(1), 1, 0, F32},
    {"negative axis", 3, {4, 5, 6}, F32, 1, {F_VALID(-1, 2, 2)}, 0, OK_(4, 5, 3), 0, 0, F32},
    {"axis -3", 3, {4, 5, 6}, F32, 1, {F_VALID(-3, 2, 2)}, 0, OK_(2, 5, 6), 0, 0, F32},
    {"two on one axis", 1, {16}, F32, 2, {F_VALID(0, 2, 2), F_VALID(0, 2, 2)}, 0, OK_(4), 0, 0, F32},
    {"three axes", 3, {8, 9, 10}, F32, 3, {F_VALID(2, 2, 2), F_SAME(0, 3, 2, 1, -1), F_VALID(1, 4, 1)}, 0,
     OK_(4, 6, 5), 0, 0, F32},
    {"int16 -> float64", 1, {4}, CV_DTYPE_I16, 1, {F_VALID(0, 2, 1)}, 0, OK_(3), 0, 0, CV_DTYPE_F64},
    {"bool -> float64", 1, {4}, CV_DTYPE_BOOL, 1, {F_VALID(0, 2, 1)}, 0, OK_(3), 0, 0, CV_DTYPE_F64},
    {"float16 -> float32", 1, {4}, CV_DTYPE_F16, 1, {F_VALID(0, 2, 1)}, 0, OK_(3), 0, 0, F32},
    {"bfloat16 -> float32", 1, {4}, CV_DTYPE_BF16, 1, {F_VALID(0, 2, 1)}, 0, OK_(3), 0, 0, F32},
    {"complex64", 1, {4}, CV_DTYPE_C64, 1, {F_VALID(0, 2, 1)}, 0, OK_(3), 0, 0, CV_DTYPE_C64},
    {"complex128", 1, {4}, CV_DTYPE_C128, 1, {F_VALID(0, 2, 1)}, 0, OK_(3), 0, 0, CV_DTYPE_C128},
    {"empty other axis", 2, {0, 6}, F32, 1, {F_VALID(1, 2, 2)}, 0, OK_(0, 3), 0, 0, F32},
    /* errors */
    {"no filters", 1, {10}, F32, 0, {{0}}, 0, CV_EINVALID_ARGUMENT, "filters", {0}, 0, 0, F32},
    {"axis too big", 3, {4, 5, 6}, F32, 1, {F_VALID(3, 2, 1)}, 0, CV_EINVALID_ARGUMENT, "filters[0].axis", {0}, 0, 0, F32},
    {"axis too negative", 3, {4, 5, 6}, F32, 1, {F_VALID(-4, 2, 1)}, 0, CV_EINVALID_ARGUMENT, "filters[0].axis", {0}, 0, 0, F32},
    {"second axis bad", 2, {4, 5}, F32, 2, {F_VALID(0, 2, 1), F_VALID(2, 2, 1)}, 0, CV_EINVALID_ARGUMENT,
     "filters[1].axis", {0}, 0, 0, F32},
    {"no taps", 1, {10}, F32, 1, {F_VALID(0, 0, 1)}, 0, CV_EINVALID_ARGUMENT, "filters[0].taps", {0}, 0, 0, F32},
    {"too many taps", 1, {1000}, F32, 1, {F_VALID(0, CV_SEPCONV_MAX_TAPS + 1, 1)}, 0, CV_EINVALID_ARGUMENT,
     "filters[0].taps", {0}, 0, 0, F32},
    {"stride 0", 1, {10}, F32, 1, {F_VALID(0, 2, 0)}, 0, CV_EINVALID_ARGUMENT, "filters[0].stride", {0}, 0, 0, F32},
    {"dilation 0", 1, {10}, F32, 1, {{0, 2, 1, 0, CV_PAD_VALID, 0, 0, CV_MODE_ZERO, -1}}, 0, CV_EINVALID_ARGUMENT,
     "filters[0].dilation", {0}, 0, 0, F32},
    {"negative padding", 1, {10}, F32, 1, {F_PAD(0, 2, 1, 1, -1, 0, CV_MODE_ZERO)}, 0, CV_EINVALID_ARGUMENT,
     "filters[0].padding", {0}, 0, 0, F32},
    {"periodization", 1, {10}, F32, 1, {F_PAD(0, 2, 1, 1, 1, 1, CV_MODE_PERIODIZATION)}, 0, CV_EINVALID_ARGUMENT,
     "filters[0].mode", {0}, 0, 0, F32},
    {"output empty", 1, {2}, F32, 1, {F_VALID(0, 3, 1)}, 0, CV_EINVALID_ARGUMENT, "filters[0]", {0}, 0, 0, F32},
    {"output empty after shrink", 1, {4}, F32, 2, {F_VALID(0, 2, 2), F_VALID(0, 3, 1)}, 0, CV_EINVALID_ARGUMENT,
     "filters[1]", {0}, 0, 0, F32},
    {"output empty by dilation", 1, {5}, F32, 1, {{0, 2, 1, 5, CV_PAD_VALID, 0, 0, CV_MODE_ZERO, -1}}, 0,
     CV_EINVALID_ARGUMENT, "filters[0]", {0}, 0, 0, F32},
    {"0-d x", 0, {0}, F32, 1, {F_VALID(0, 1, 1)}, 0, CV_EINVALID_ARGUMENT, "inputs.x", {0}, 0, 0, F32},
    {"empty filtered axis", 2, {0, 4}, F32, 1, {F_PAD(0, 1, 1, 1, 2, 2, CV_MODE_ZERO)}, 0, CV_EINVALID_ARGUMENT,
     "inputs.x", {0}, 0, 0, F32},
};

static void test_infer_table(void) {
  int n = (int)(sizeof infer_cases / sizeof infer_cases[0]);
  for (int c = 0; c < n; c++) {
    const infer_case_t *ic = &infer_cases[c];
    cv_op_params_t op;
    cv_op_params_default(&op, CV_OP_SEPCONV);
    cv_sepconv_params_t *p = &op.u.sepconv;
    p->n_filters = ic->nf;
    p->flip = ic->opflip;
    for (int i = 0; i < ic->nf; i++) set_filter(&p->filters[i], &ic->f[i], NULL);
    cv_io_t x = make_x(ic->dt, ic->ndim, ic->shape, NULL);
    cv_infer_t res;
    cv_error_t err;
    memset(&err, 0, sizeof err);
    int rc = cv_op_infer(&op, &x, 1, &res, &err);
    if (ic->code != CV_OK) {
      if (rc != -(int)ic->code || strcmp(err.field, ic->field) != 0)
        CV_FAIL_("row %d (%s): rc %d field \"%s\" (%s), want %d \"%s\"", c, ic->name, rc, err.field, err.message,
                 -(int)ic->code, ic->field);
      CV_ASSERT(err.message[0] != 0);
      continue;
    }
    if (rc) CV_FAIL_("row %d (%s): rc %d %s (%s)", c, ic->name, rc, err.message, err.field);
    CV_ASSERT_EQ(res.n_out, 1);
    CV_ASSERT_STREQ(res.out[0].name, "y");
    if (res.out[0].a.dtype != ic->odt) CV_FAIL_("row %d (%s): dtype %d", c, ic->name, (int)res.out[0].a.dtype);
    CV_ASSERT_EQ(res.out[0].a.ndim, ic->ndim);
    for (int d = 0; d < ic->ndim; d++)
      if (res.out[0].a.shape[d] != ic->out[d])
        CV_FAIL_("row %d (%s): axis %d has %lld, want %lld", c, ic->name, d, (long long)res.out[0].a.shape[d],
                 (long long)ic->out[d]);
    if (p->filters[0].pad_lo != ic->lo0 || p->filters[0].pad_hi != ic->hi0)
      CV_FAIL_("row %d (%s): padding [%lld, %lld], want [%lld, %lld]", c, ic->name, (long long)p->filters[0].pad_lo,
               (long long)p->filters[0].pad_hi, (long long)ic->lo0, (long long)ic->hi0);
    for (int i = 0; i < ic->nf; i++) {
      CV_ASSERT(p->filters[i].axis >= 0 && p->filters[i].axis < ic->ndim);
      CV_ASSERT(p->filters[i].flip == 0 || p->filters[i].flip == 1);
    }
    cv_infer_free(&res);
  }
}

static void test_infer_normalises(void) {
  cv_op_params_t op;
  cv_op_params_default(&op, CV_OP_SEPCONV);
  cv_sepconv_params_t *p = &op.u.sepconv;
  p->n_filters = 2;
  p->flip = true;
  fspec_t a = F_SAME(-1, 4, 1, 1, -1), b = F_VALID(-2, 2, 1);
  b.flip = 0;
  set_filter(&p->filters[0], &a, NULL);
  set_filter(&p->filters[1], &b, NULL);
  int64_t shape[2] = {5, 6};
  cv_io_t x = make_x(CV_DTYPE_F64, 2, shape, NULL);
  cv_infer_t res;
  cv_error_t err;
  CV_ASSERT_OK(cv_op_infer(&op, &x, 1, &res, &err));
  CV_ASSERT_EQ(p->filters[0].axis, 1);
  CV_ASSERT_EQ(p->filters[0].flip, 1);
  CV_ASSERT_EQ(p->filters[1].axis, 0);
  CV_ASSERT_EQ(p->filters[1].flip, 0);
  cv_infer_free(&res);
  /* infer twice gives the same answer (the engine may re-run it) */
  CV_ASSERT_OK(cv_op_infer(&op, &x, 1, &res, &err));
  CV_ASSERT_EQ(p->filters[0].pad_lo, 2);
  CV_ASSERT_EQ(p->filters[0].pad_hi, 1);
  CV_ASSERT_EQ(res.out[0].a.shape[0], 4);
  CV_ASSERT_EQ(res.out[0].a.shape[1], 6);
  cv_infer_free(&res);
}

static void test_infer_inputs(void) {
  cv_op_params_t op;
  cv_op_params_default(&op, CV_OP_SEPCONV);
  op.u.sepconv.n_filters = 1;
  fspec_t a = F_VALID(0, 2, 1);
  set_filter(&op.u.sepconv.filters[0], &a, NULL);
  int64_t shape[1] = {4};
  cv_io_t in[2] = {make_x(F32, 1, shape, NULL), make_x(F32, 1, shape, NULL)};
  snprintf(in[0].name, sizeof in[0].name, "w");
  cv_infer_t res;
  cv_error_t err;
  CV_ASSERT_EQ(cv_op_infer(&op, in, 1, &res, &err), -CV_EINVALID_ARGUMENT);
  CV_ASSERT_STREQ(err.field, "inputs.x");
  CV_ASSERT_EQ(cv_op_infer(&op, in, 2, &res, &err), -CV_EINVALID_ARGUMENT);
  CV_ASSERT_STREQ(err.field, "inputs.w");
  op.u.sepconv.filters[0].taps[1] = NAN;
  CV_ASSERT_EQ(cv_op_infer(&op, &in[1], 1, &res, &err), -CV_EINVALID_ARGUMENT);
  CV_ASSERT_STREQ(err.field, "filters[0].taps");
}

/* ---- small cases by hand ---- */

static void run_1d(const double *x, int n, const double *taps, fspec_t fs, bool opflip, double *y, int *m) {
  cv_op_params_t op;
  cv_op_params_default(&op, CV_OP_SEPCONV);
  op.u.sepconv.n_filters = 1;
  op.u.sepconv.flip = opflip;
  set_filter(&op.u.sepconv.filters[0], &fs, taps);
  int64_t shape[1] = {n};
  cv_io_t xi = make_x(CV_DTYPE_F64, 1, shape, (void *)x), yo;
  double *out = run_op(&op, &xi, 1, &yo);
  *m = (int)yo.a.shape[0];
  memcpy(y, out, sizeof(double) * (size_t)*m);
  free(out);
}

#define EXPECT_VEC(y, m, ...)                                                          \
  do {                                                                                 \
    const double want_[] = {__VA_ARGS__};                                              \
    CV_ASSERT_EQ(m, (int)(sizeof want_ / sizeof want_[0]));                            \
    for (int i_ = 0; i_ < (m); i_++) CV_ASSERT_NEAR((y)[i_], want_[i_], 1e-12);        \
  } while (0)

static void test_by_hand(void) {
  double y[64];
  int m;
  const double x6[] = {1, 2, 3, 4, 5, 6}, x3[] = {1, 2, 3}, x4[] = {1, 2, 3, 4}, x7[] = {1, 2, 3, 4, 5, 6, 7};
  run_1d(x6, 6, (double[]){0.5, 0.5}, (fspec_t)F_VALID(0, 2, 2), false, y, &m);
  EXPECT_VEC(y, m, 1.5, 3.5, 5.5);
  /* cross-correlation, "same", zero padding: xp = 0 1 2 3 0 */
  run_1d(x3, 3, (double[]){1, 2, 3}, (fspec_t)F_SAME(0, 3, 1, 1, -1), false, y, &m);
  EXPECT_VEC(y, m, 8, 14, 8);
  /* flip = numpy.convolve(x, taps, "same") */
  run_1d(x3, 3, (double[]){1, 2, 3}, (fspec_t)F_SAME(0, 3, 1, 1, 1), false, y, &m);
  EXPECT_VEC(y, m, 4, 10, 12);
  run_1d(x3, 3, (double[]){1, 2, 3}, (fspec_t)F_SAME(0, 3, 1, 1, -1), true, y, &m);
  EXPECT_VEC(y, m, 4, 10, 12);
  /* even kernel: flip puts the extra sample left (scipy "same": 1 1 1 1) */
  run_1d(x4, 4, (double[]){1, -1}, (fspec_t)F_SAME(0, 2, 1, 1, 1), false, y, &m);
  EXPECT_VEC(y, m, 1, 1, 1, 1);
  run_1d(x4, 4, (double[]){1, -1}, (fspec_t)F_SAME(0, 2, 1, 1, -1), false, y, &m);
  EXPECT_VEC(y, m, -1, -1, -1, 4);
  /* dilation 3 */
  run_1d(x7, 7, (double[]){1, 1}, (fspec_t){0, 2, 1, 3, CV_PAD_VALID, 0, 0, CV_MODE_ZERO, -1}, false, y, &m);
  EXPECT_VEC(y, m, 5, 7, 9, 11);
  /* "same" with stride 2 = the stride-1 result at even positions */
  run_1d(x7, 7, (double[]){1, 1, 1}, (fspec_t)F_SAME(0, 3, 2, 1, -1), false, y, &m);
  EXPECT_VEC(y, m, 3, 9, 15, 13);
  /* padding as pywt.pad: symmetric [2,2] of 1 2 3 → 2 1 | 1 2 3 | 3 2 */
  run_1d(x3, 3, (double[]){1}, (fspec_t)F_PAD(0, 1, 1, 1, 2, 2, CV_MODE_SYMMETRIC), false, y, &m);
  EXPECT_VEC(y, m, 2, 1, 1, 2, 3, 3, 2);
  run_1d(x3, 3, (double[]){1}, (fspec_t)F_PAD(0, 1, 1, 1, 2, 2, CV_MODE_REFLECT), false, y, &m);
  EXPECT_VEC(y, m, 3, 2, 1, 2, 3, 2, 1);
  run_1d(x3, 3, (double[]){1}, (fspec_t)F_PAD(0, 1, 1, 1, 2, 2, CV_MODE_CONSTANT), false, y, &m);
  EXPECT_VEC(y, m, 1, 1, 1, 2, 3, 3, 3);
  run_1d(x3, 3, (double[]){1}, (fspec_t)F_PAD(0, 1, 1, 1, 2, 2, CV_MODE_PERIODIC), false, y, &m);
  EXPECT_VEC(y, m, 2, 3, 1, 2, 3, 1, 2);
  run_1d(x3, 3, (double[]){1}, (fspec_t)F_PAD(0, 1, 1, 1, 2, 2, CV_MODE_SMOOTH), false, y, &m);
  EXPECT_VEC(y, m, -1, 0, 1, 2, 3, 4, 5);
  run_1d(x3, 3, (double[]){1}, (fspec_t)F_PAD(0, 1, 1, 1, 2, 2, CV_MODE_ANTISYMMETRIC), false, y, &m);
  EXPECT_VEC(y, m, -2, -1, 1, 2, 3, -3, -2);
  /* Haar step with symmetric padding past the end: xp = 1 2 3 3 */
  run_1d(x3, 3, (double[]){0.5, 0.5}, (fspec_t)F_PAD(0, 2, 2, 1, 0, 1, CV_MODE_SYMMETRIC), false, y, &m);
  EXPECT_VEC(y, m, 1.5, 3);
}

static void test_by_hand_nd(void) {
  /* 2×3: axis 0 sum, then axis 1 difference */
  double x[6] = {1, 2, 3, 4, 5, 6};
  cv_op_params_t op;
  cv_op_params_default(&op, CV_OP_SEPCONV);
  op.u.sepconv.n_filters = 2;
  set_filter(&op.u.sepconv.filters[0], &(fspec_t)F_VALID(0, 2, 1), (double[]){1, 1});
  set_filter(&op.u.sepconv.filters[1], &(fspec_t)F_VALID(1, 2, 1), (double[]){1, -1});
  int64_t shape[2] = {2, 3};
  cv_io_t xi = make_x(CV_DTYPE_F64, 2, shape, x), yo;
  double *y = run_op(&op, &xi, 1, &yo);
  CV_ASSERT_EQ(yo.a.shape[0], 1);
  CV_ASSERT_EQ(yo.a.shape[1], 2);
  CV_ASSERT_NEAR(y[0], -2, 0);
  CV_ASSERT_NEAR(y[1], -2, 0);
  free(y);

  /* complex: real and imaginary parts filtered alike */
  double complex xc[3] = {1 + 1 * I, 2, 3 * I};
  cv_op_params_default(&op, CV_OP_SEPCONV);
  op.u.sepconv.n_filters = 1;
  set_filter(&op.u.sepconv.filters[0], &(fspec_t)F_VALID(0, 2, 1), (double[]){1, 2});
  int64_t s3[1] = {3};
  xi = make_x(CV_DTYPE_C128, 1, s3, xc);
  double complex *yc = run_op(&op, &xi, 1, &yo);
  CV_ASSERT_EQ(yo.a.dtype, CV_DTYPE_C128);
  CV_ASSERT_NEAR(creal(yc[0]), 5, 0);
  CV_ASSERT_NEAR(cimag(yc[0]), 1, 0);
  CV_ASSERT_NEAR(creal(yc[1]), 2, 0);
  CV_ASSERT_NEAR(cimag(yc[1]), 6, 0);
  free(yc);

  /* int16 promoted to float64 */
  int16_t xi16[4] = {1, 2, 3, 4};
  set_filter(&op.u.sepconv.filters[0], &(fspec_t)F_VALID(0, 2, 1), (double[]){0.5, 0.25});
  int64_t s4[1] = {4};
  xi = make_x(CV_DTYPE_I16, 1, s4, xi16);
  double *yd = run_op(&op, &xi, 1, &yo);
  CV_ASSERT_EQ(yo.a.dtype, CV_DTYPE_F64);
  CV_ASSERT_NEAR(yd[0], 1.0, 0);
  CV_ASSERT_NEAR(yd[1], 1.75, 0);
  CV_ASSERT_NEAR(yd[2], 2.5, 0);
  free(yd);

  /* float32 accumulates in float32 (1e8 + 1 rounds back to 1e8; float64 would give 1) */
  float xf[3] = {1e8f, 1.0f, -1e8f};
  set_filter(&op.u.sepconv.filters[0], &(fspec_t)F_VALID(0, 3, 1), (double[]){1, 1, 1});
  xi = make_x(CV_DTYPE_F32, 1, s3, xf);
  float *yf = run_op(&op, &xi, 1, &yo);
  CV_ASSERT_EQ(yo.a.dtype, CV_DTYPE_F32);
  CV_ASSERT_NEAR(yf[0], 0.0, 0);
  free(yf);
}

/* ---- the slow reference ---- */

/* One filter along axis of a float64 array; shape is updated. */
static double *ref_filter(const double *x, int ndim, int64_t *shape, const cv_sepconv_filter_t *f) {
  int64_t outer = 1, inner = 1, n = shape[f->axis];
  for (int d = 0; d < f->axis; d++) outer *= shape[d];
  for (int d = f->axis + 1; d < ndim; d++) inner *= shape[d];
  int64_t span = (int64_t)f->dilation * (f->ntaps - 1);
  int64_t m = (n + f->pad_lo + f->pad_hi - span - 1) / f->stride + 1;
  double *y = malloc(sizeof(double) * (size_t)(outer * m * inner + 1));
  for (int64_t o = 0; o < outer; o++)
    for (int64_t c = 0; c < inner; c++) {
      const double *xl = x + o * n * inner + c;
      for (int64_t i = 0; i < m; i++) {
        double acc = 0;
        for (int t = 0; t < f->ntaps; t++) {
          int64_t p = i * f->stride + (int64_t)t * f->dilation - f->pad_lo;
          double w = f->flip ? f->taps[f->ntaps - 1 - t] : f->taps[t];
          acc += w * cv_ext_value_f64(xl, n, inner, p, f->mode);
        }
        y[(o * m + i) * inner + c] = acc;
      }
    }
  shape[f->axis] = m;
  return y;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double urand(void) { /* [-1, 1) */
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (double)(rng_state >> 11) / 4503599627370496.0 - 1.0;
}
static int irand(int lo, int hi) { return lo + (int)((urand() + 1) * 0.5 * (hi - lo + 1)) % (hi - lo + 1); }

/* Runs op on random x of (dt, shape) and compares every part against ref. */
static void check_random(cv_op_params_t *op, cv_dtype_t dt, int ndim, const int64_t *shape, int threads,
                         const char *what) {
  int64_t numel = cv_shape_numel(shape, ndim);
  bool cplx = cv_dtype_is_complex(dt), single = dt == CV_DTYPE_F32 || dt == CV_DTYPE_C64;
  int parts = cplx ? 2 : 1;
  void *xd = malloc(cv_dtype_size(dt) * (size_t)numel + 1);
  double *xr = malloc(sizeof(double) * (size_t)(numel * parts + 1));
  for (int64_t i = 0; i < numel * parts; i++) {
    double v = urand();
    if (dt == CV_DTYPE_I16) v = (double)irand(-300, 300);
    if (single) v = (float)v;
    xr[i] = v;
  }
  for (int64_t i = 0; i < numel; i++)
    for (int q = 0; q < parts; q++) {
      double v = xr[i * parts + q];
      if (dt == CV_DTYPE_I16) ((int16_t *)xd)[i] = (int16_t)v;
      else if (single) ((float *)xd)[i * parts + q] = (float)v;
      else ((double *)xd)[i * parts + q] = v;
    }
  cv_io_t xi = make_x(dt, ndim, shape, xd), yo;
  void *y = run_op(op, &xi, threads, &yo);
  int64_t m = cv_shape_numel(yo.a.shape, ndim);
  for (int q = 0; q < parts; q++) {
    double *cur = malloc(sizeof(double) * (size_t)(numel + 1));
    for (int64_t i = 0; i < numel; i++) cur[i] = xr[i * parts + q];
    int64_t sh[CV_MAX_DIMS];
    memcpy(sh, shape, sizeof(int64_t) * (size_t)ndim);
    for (int i = 0; i < op->u.sepconv.n_filters; i++) {
      double *next = ref_filter(cur, ndim, sh, &op->u.sepconv.filters[i]);
      free(cur);
      cur = next;
    }
    for (int d = 0; d < ndim; d++) CV_ASSERT_EQ(sh[d], yo.a.shape[d]);
    double maxabs = 1e-300, maxerr = 0;
    for (int64_t i = 0; i < m; i++) {
      double v = single ? ((float *)y)[i * parts + q] : ((double *)y)[i * parts + q];
      maxerr = fmax(maxerr, fabs(v - cur[i]));
      maxabs = fmax(maxabs, fabs(cur[i]));
    }
    double tol = (single ? 2e-5 : 1e-12) * maxabs;
    if (!(maxerr <= tol)) CV_FAIL_("%s: %s part %d: max error %g (scale %g)", what, cv_dtype_name(dt), q, maxerr, maxabs);
    free(cur);
  }
  free(y);
  free(xd);
  free(xr);
}

/* ---- every mode, tiny signals, padding longer than the input ---- */

static void test_modes_tiny(void) {
  const cv_mode_t modes[] = {CV_MODE_ZERO, CV_MODE_CONSTANT, CV_MODE_SYMMETRIC, CV_MODE_REFLECT,
                             CV_MODE_PERIODIC, CV_MODE_SMOOTH, CV_MODE_ANTISYMMETRIC, CV_MODE_ANTIREFLECT};
  const int64_t lens[] = {1, 2, 5};
  char what[96];
  for (int mi = 0; mi < 8; mi++)
    for (int li = 0; li < 3; li++)
      for (int s = 1; s <= 2; s++)
        for (int d = 1; d <= 2; d++)
          for (int dt = 0; dt < 2; dt++) {
            cv_op_params_t op;
            cv_op_params_default(&op, CV_OP_SEPCONV);
            op.u.sepconv.n_filters = 1;
            double taps[4];
            for (int t = 0; t < 4; t++) taps[t] = urand();
            fspec_t fs = F_PAD(0, 4, s, d, 7, 9, modes[mi]);
            set_filter(&op.u.sepconv.filters[0], &fs, taps);
            snprintf(what, sizeof what, "mode %s n %lld s %d d %d", cv_mode_name(modes[mi]), (long long)lens[li], s, d);
            check_random(&op, dt ? CV_DTYPE_F64 : CV_DTYPE_F32, 1, &lens[li], 1, what);
            /* the same along a strided axis (rows of 3) */
            int64_t sh2[2] = {lens[li], 3};
            check_random(&op, dt ? CV_DTYPE_F64 : CV_DTYPE_F32, 2, sh2, 1, what);
          }
}

/* ---- random jobs: several filters, axes, dtypes, threads ---- */

static void random_job(cv_op_params_t *op, int ndim, const int64_t *shape) {
  cv_op_params_default(op, CV_OP_SEPCONV);
  cv_sepconv_params_t *p = &op->u.sepconv;
  p->n_filters = irand(1, 4);
  p->flip = irand(0, 1);
  for (int i = 0; i < p->n_filters; i++) {
    cv_sepconv_filter_t *f = &p->filters[i];
    f->axis = irand(-ndim, ndim - 1);
    f->ntaps = irand(1, irand(0, 3) ? 5 : 12);
    for (int t = 0; t < f->ntaps; t++) f->taps[t] = urand();
    f->stride = irand(1, 3);
    f->dilation = irand(1, 2);
    f->pad_kind = (cv_pad_kind_t)irand(0, 2);
    f->pad_lo = irand(0, 6);
    f->pad_hi = irand(0, 6);
    f->mode = (cv_mode_t)irand(0, CV_MODE_ANTIREFLECT);
    f->flip = irand(-1, 1);
  }
  (void)shape;
}

static void test_random_jobs(void) {
  const cv_dtype_t dts[] = {CV_DTYPE_F32, CV_DTYPE_F64, CV_DTYPE_C64, CV_DTYPE_C128, CV_DTYPE_I16};
  char what[64];
  int done = 0;
  for (int it = 0; done < 300 && it < 3000; it++) {
    int ndim = irand(1, 4);
    int64_t shape[4];
    for (int d = 0; d < ndim; d++) shape[d] = irand(1, ndim >= 3 ? 9 : 30);
    cv_op_params_t op;
    random_job(&op, ndim, shape);
    cv_io_t x = make_x(CV_DTYPE_F64, ndim, shape, NULL);
    cv_infer_t res;
    cv_error_t err;
    if (cv_op_infer(&op, &x, 1, &res, &err)) continue; /* e.g. an empty output */
    cv_infer_free(&res);
    snprintf(what, sizeof what, "random job %d", it);
    check_random(&op, dts[irand(0, 4)], ndim, shape, irand(1, 2), what);
    done++;
  }
  CV_ASSERT(done == 300);
}

/* Shapes big enough for the parallel paths: column chunks, row runs, line
 * segments, fused rows per thread, the few-rows branch and a chain. */
static void test_parallel_paths(void) {
  struct {
    int ndim;
    int64_t shape[3];
    int nf;
    fspec_t f[3];
  } cases[] = {
      {3, {64, 40, 40}, 1, {F_VALID(0, 2, 2)}},
      {3, {20, 40, 70}, 1, {F_PAD(1, 5, 1, 1, 3, 4, CV_MODE_SYMMETRIC)}},
      {2, {3, 70000}, 1, {F_PAD(1, 7, 2, 1, 5, 5, CV_MODE_SMOOTH)}},
      {1, {200000}, 1, {F_SAME(0, 9, 1, 2, -1)}},
      {3, {24, 40, 70}, 3, {F_SAME(0, 3, 2, 1, -1), F_PAD(2, 4, 2, 1, 2, 2, CV_MODE_REFLECT), F_VALID(1, 2, 2)}},
      {3, {2, 300, 300}, 2, {F_VALID(0, 2, 1), F_PAD(1, 3, 1, 1, 1, 1, CV_MODE_PERIODIC)}},
      {3, {40, 30, 60}, 3, {F_VALID(0, 2, 2), F_PAD(2, 3, 1, 1, 9, 9, CV_MODE_ANTIREFLECT), F_VALID(0, 3, 1)}},
      {2, {2, 100000}, 2, {F_VALID(0, 2, 1), F_SAME(1, 4, 3, 1, 1)}},
  };
  char what[64];
  for (int c = 0; c < (int)(sizeof cases / sizeof cases[0]); c++)
    for (int dt = 0; dt < 3; dt++) {
      cv_op_params_t op;
      cv_op_params_default(&op, CV_OP_SEPCONV);
      op.u.sepconv.n_filters = cases[c].nf;
      for (int i = 0; i < cases[c].nf; i++) {
        double taps[16];
        for (int t = 0; t < 16; t++) taps[t] = urand();
        set_filter(&op.u.sepconv.filters[i], &cases[c].f[i], taps);
      }
      snprintf(what, sizeof what, "parallel case %d", c);
      const cv_dtype_t dts[3] = {CV_DTYPE_F32, CV_DTYPE_F64, CV_DTYPE_C64};
      check_random(&op, dts[dt], cases[c].ndim, cases[c].shape, 2 + dt, what);
    }
}

#define CV_TEST_LIST(XX)    \
  XX(infer_table)           \
  XX(infer_normalises)      \
  XX(infer_inputs)          \
  XX(by_hand)               \
  XX(by_hand_nd)            \
  XX(modes_tiny)            \
  XX(random_jobs)           \
  XX(parallel_paths)
CV_TEST_MAIN(CV_TEST_LIST)
