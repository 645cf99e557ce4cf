/* test_dwt_cpu.c — dwt/idwt shape inference (every bad parameter → its
 * error code and field), small exact cases against PyWavelets 1.1.1 values
 * pasted here, idwt(dwt(x)) round trips with crops, dtype promotion, and
 * the same answer on 1 and 2 threads. */
#include "../../kernels/cpu/cpu.h"
#include "../../kernels/dwt_math.h"
#include "runner.h"

/* ---- helpers ---- */

typedef struct job_s {
  cv_op_params_t p;
  cv_io_t in[16];
  int n_in;
  cv_infer_t res;
  cv_error_t err;
} job_t;

static void job_init(job_t *j, cv_op_t op, const char *wavelet) {
  memset(j, 0, sizeof *j);
  cv_op_params_default(&j->p, op);
  if (wavelet) {
    const cv_wavelet_info_t *w = cv_wavelet_find(wavelet);
    if (!w) CV_FAIL_("wavelet %s missing from the table", wavelet);
    cv_wavelet_from_info(&j->p.u.dwt.wavelets[0], w);
    j->p.u.dwt.n_wavelets = 1;
  }
}

/* Adds an input of the given shape; data is copied, converted from double
 * (from interleaved (re, im) doubles when dt is complex). */
static void job_input(job_t *j, const char *name, cv_dtype_t dt, int ndim, const int64_t *shape,
                      const double *vals) {
  cv_io_t *io = &j->in[j->n_in++];
  snprintf(io->name, sizeof io->name, "%s", name);
  io->a.dtype = dt;
  io->a.ndim = ndim;
  for (int k = 0; k < ndim; k++) io->a.shape[k] = shape[k];
  size_t n = (size_t)cv_shape_numel(shape, ndim);
  io->a.data = calloc(n + 1, cv_dtype_size(dt));
  if (vals) cv_convert(io->a.data, dt, vals, cv_dtype_is_complex(dt) ? CV_DTYPE_C128 : CV_DTYPE_F64, n);
}

static int job_infer(job_t *j) { return cv_op_infer(&j->p, j->in, j->n_in, &j->res, &j->err); }

/* Infers, allocates the outputs and runs on the CPU. */
static void job_run(job_t *j, int threads) {
  int rc = job_infer(j);
  if (rc) CV_FAIL_("infer: %s (%s) %s", cv_err_name(rc), j->err.field, j->err.message);
  for (int i = 0; i < j->res.n_out; i++)
    j->res.out[i].a.data = calloc((size_t)cv_shape_numel(j->res.out[i].a.shape, j->res.out[i].a.ndim) + 1,
                                  cv_dtype_size(j->res.out[i].a.dtype));
  const cv_dwt_params_t *p = &j->p.u.dwt;
  rc = j->p.op == CV_OP_DWT ? cv_cpu_dwt(p, j->in, j->n_in, j->res.out, j->res.n_out, threads, &j->err)
                            : cv_cpu_idwt(p, j->in, j->n_in, j->res.out, j->res.n_out, threads, &j->err);
  if (rc) CV_FAIL_("run: %s %s", cv_err_name(rc), j->err.message);
}

static void job_free(job_t *j) {
  for (int i = 0; i < j->res.n_out; i++) free(j->res.out[i].a.data);
  cv_infer_free(&j->res);
  for (int i = 0; i < j->n_in; i++) free(j->in[i].a.data);
}

static const cv_io_t *out_named(const job_t *j, const char *name) {
  for (int i = 0; i < j->res.n_out; i++)
    if (strcmp(j->res.out[i].name, name) == 0) return &j->res.out[i];
  CV_FAIL_("no output %s", name);
  return NULL;
}

static double at(const cv_io_t *o, int64_t i) {
  double v[2];
  cv_convert(v, CV_DTYPE_F64, (const char *)o->a.data + (size_t)i * cv_dtype_size(o->a.dtype), o->a.dtype, 1);
  return v[0];
}

static void expect_vals(const job_t *j, const char *name, int n, const double *want, double tol) {
  const cv_io_t *o = out_named(j, name);
  CV_ASSERT_EQ(cv_shape_numel(o->a.shape, o->a.ndim), n);
  for (int i = 0; i < n; i++)
    if (!(fabs(at(o, i) - want[i]) <= tol)) CV_FAIL_("%s[%d] = %.17g, want %.17g", name, i, at(o, i), want[i]);
}

/* ---- infer errors ---- */

typedef enum { X_1D, X_2D, X_0D, X_EMPTY, X_Y, X_NONE } xin_t;

static void test_dwt_infer_errors(void) {
  static const struct {
    const char *what;
    xin_t x;
    int n_axes, axes[3], level, n_wavelets, wlen, n_modes;
    cv_err_t code;
    const char *field;
  } rows[] = {
      {"no inputs", X_NONE, -1, {0}, 1, 1, 0, 1, CV_EINVALID_ARGUMENT, "inputs.x"},
      {"y, not x", X_Y, -1, {0}, 1, 1, 0, 1, CV_EINVALID_ARGUMENT, "inputs.y"},
      {"0-d x", X_0D, -1, {0}, 1, 1, 0, 1, CV_EINVALID_ARGUMENT, "inputs.x"},
      {"empty axis", X_EMPTY, -1, {0}, 1, 1, 0, 1, CV_EINVALID_ARGUMENT, "inputs.x"},
      {"repeated axis", X_2D, 2, {0, -2}, 1, 1, 0, 1, CV_EINVALID_ARGUMENT, "axes"},
      {"axis out of range", X_2D, 1, {2}, 1, 1, 0, 1, CV_EINVALID_ARGUMENT, "axes"},
      {"axis below range", X_2D, 1, {-3}, 1, 1, 0, 1, CV_EINVALID_ARGUMENT, "axes"},
      {"no axes", X_2D, 0, {0}, 1, 1, 0, 1, CV_EINVALID_ARGUMENT, "axes"},
      {"too many axes", X_1D, 2, {0, 0}, 1, 1, 0, 1, CV_EINVALID_ARGUMENT, "axes"},
      {"no wavelet", X_2D, -1, {0}, 1, 0, 0, 1, CV_EINVALID_ARGUMENT, "wavelet"},
      {"3 wavelets, 2 axes", X_2D, -1, {0}, 1, 3, 0, 1, CV_EINVALID_ARGUMENT, "wavelet"},
      {"empty filter", X_2D, -1, {0}, 1, 1, -1, 1, CV_EINVALID_ARGUMENT, "wavelet"},
      {"filter too long", X_2D, -1, {0}, 1, 1, CV_WAVELET_MAX_LEN + 1, 1, CV_EINVALID_ARGUMENT, "wavelet"},
      {"3 modes, 2 axes", X_2D, -1, {0}, 1, 1, 0, 3, CV_EINVALID_ARGUMENT, "mode"},
      {"level -2", X_2D, -1, {0}, -2, 1, 0, 1, CV_EINVALID_ARGUMENT, "level"},
      {"level too high", X_2D, -1, {0}, CV_DWT_MAX_LEVEL + 1, 1, 0, 1, CV_EINVALID_ARGUMENT, "level"},
  };
  for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
    job_t j;
    job_init(&j, CV_OP_DWT, "db2");
    int64_t s2[2] = {6, 5}, s1[1] = {7}, s0[1] = {0}, se[2] = {3, 0};
    switch (rows[r].x) {
      case X_1D: job_input(&j, "x", CV_DTYPE_F64, 1, s1, NULL); break;
      case X_2D: job_input(&j, "x", CV_DTYPE_F64, 2, s2, NULL); break;
      case X_0D: job_input(&j, "x", CV_DTYPE_F64, 0, s0, NULL); break;
      case X_EMPTY: job_input(&j, "x", CV_DTYPE_F64, 2, se, NULL); break;
      case X_Y: job_input(&j, "y", CV_DTYPE_F64, 2, s2, NULL); break;
      case X_NONE: break;
    }
    cv_dwt_params_t *p = &j.p.u.dwt;
    p->n_axes = rows[r].n_axes;
    for (int k = 0; k < 3; k++) p->axes[k] = rows[r].axes[k];
    p->level = rows[r].level;
    p->n_wavelets = rows[r].n_wavelets;
    for (int k = 1; k < 3; k++) p->wavelets[k] = p->wavelets[0];
    if (rows[r].wlen) p->wavelets[0].len = rows[r].wlen < 0 ? 0 : rows[r].wlen;
    p->n_modes = rows[r].n_modes;
    int rc = job_infer(&j);
    if (rc != -(int)rows[r].code || strcmp(j.err.field, rows[r].field) != 0)
      CV_FAIL_("row %zu (%s): rc %s field \"%s\" (%s), want %s \"%s\"", r, rows[r].what, cv_err_name(rc),
               j.err.field, j.err.message, cv_err_name(rows[r].code), rows[r].field);
    job_free(&j);
  }
  /* and a good one resolves everything in place */
  job_t j;
  job_init(&j, CV_OP_DWT, "db2");
  int64_t s[3] = {6, 5, 9};
  job_input(&j, "x", CV_DTYPE_I16, 3, s, NULL);
  j.p.u.dwt.n_axes = 2;
  j.p.u.dwt.axes[0] = -1;
  j.p.u.dwt.axes[1] = 0;
  CV_ASSERT_OK(job_infer(&j));
  const cv_dwt_params_t *p = &j.p.u.dwt;
  CV_ASSERT_EQ(p->axes[0], 2);
  CV_ASSERT_EQ(p->axes[1], 0);
  CV_ASSERT_EQ(p->level, 1);   /* min(dwt_max_level(9, 4), dwt_max_level(6, 4)) */
  CV_ASSERT_EQ(p->n_wavelets, 2);
  CV_ASSERT_EQ(p->n_modes, 2);
  CV_ASSERT_EQ(p->modes[1], CV_MODE_SYMMETRIC);
  CV_ASSERT_EQ(j.res.n_out, 4);
  const char *names[4] = {"a", "d1_ad", "d1_da", "d1_dd"};
  for (int i = 0; i < 4; i++) {
    CV_ASSERT_STREQ(j.res.out[i].name, names[i]);
    CV_ASSERT_EQ(j.res.out[i].a.dtype, CV_DTYPE_F64);
    CV_ASSERT_EQ(j.res.out[i].a.shape[0], 4);
    CV_ASSERT_EQ(j.res.out[i].a.shape[1], 5);
    CV_ASSERT_EQ(j.res.out[i].a.shape[2], 6);
  }
  CV_ASSERT_EQ(j.res.n_warn, 0);
  job_free(&j);
}

static void test_dwt_level_warning(void) {
  job_t j;
  job_init(&j, CV_OP_DWT, "db4");
  int64_t s[1] = {20};
  job_input(&j, "x", CV_DTYPE_F32, 1, s, NULL);
  j.p.u.dwt.level = 3;   /* dwt_max_level(20, 8) = 1 */
  CV_ASSERT_OK(job_infer(&j));
  CV_ASSERT_EQ(j.res.n_warn, 1);
  CV_ASSERT_STREQ(j.res.warn[0], "Level value of 3 is too high: all coefficients will experience boundary effects.");
  CV_ASSERT_EQ(j.res.n_out, 4);
  CV_ASSERT_STREQ(j.res.out[1].name, "d3_d");
  CV_ASSERT_STREQ(j.res.out[3].name, "d1_d");
  CV_ASSERT_EQ(j.res.out[0].a.dtype, CV_DTYPE_F32);
  job_free(&j);
}

static void test_idwt_infer_errors(void) {
  static const struct {
    const char *what;
    const char *names[3];
    int64_t shapes[3][2];
    int ndims[3];
    int level, n_shape;
    int64_t shape[2];
    const char *wavelet;
    cv_err_t code;
    const char *field;
  } rows[] = {
      {"no inputs", {0}, {{0}}, {0}, CV_LEVEL_AUTO, 0, {0}, "db2", CV_EINVALID_ARGUMENT, "inputs"},
      {"unknown name", {"x"}, {{4, 4}}, {2}, CV_LEVEL_AUTO, 0, {0}, "db2", CV_EINVALID_ARGUMENT, "inputs.x"},
      {"all-a key", {"a", "d1_aa"}, {{4, 4}, {4, 4}}, {2, 2}, CV_LEVEL_AUTO, 0, {0}, "db2", CV_EINVALID_ARGUMENT, "inputs.d1_aa"},
      {"short key", {"a", "d1_d"}, {{4, 4}, {4, 4}}, {2, 2}, CV_LEVEL_AUTO, 0, {0}, "db2", CV_EINVALID_ARGUMENT, "inputs.d1_d"},
      {"twice", {"d1_dd", "d1_dd"}, {{4, 4}, {4, 4}}, {2, 2}, CV_LEVEL_AUTO, 0, {0}, "db2", CV_EINVALID_ARGUMENT, "inputs.d1_dd"},
      {"ranks differ", {"a", "d1_dd"}, {{4, 4}, {4, 0}}, {2, 1}, CV_LEVEL_AUTO, 0, {0}, "db2", CV_ESHAPE_MISMATCH, "inputs.d1_dd"},
      {"details differ", {"d1_ad", "d1_da"}, {{4, 4}, {4, 5}}, {2, 2}, CV_LEVEL_AUTO, 0, {0}, "db2", CV_ESHAPE_MISMATCH, "inputs.d1_da"},
      {"a vs details", {"a", "d1_ad"}, {{4, 5}, {4, 4}}, {2, 2}, CV_LEVEL_AUTO, 0, {0}, "db2", CV_ESHAPE_MISMATCH, "inputs.d1_ad"},
      {"levels differ", {"a", "d2_ad", "d1_dd"}, {{4, 4}, {4, 4}, {9, 4}}, {2, 2, 2}, CV_LEVEL_AUTO, 0, {0}, "db2", CV_ESHAPE_MISMATCH, "inputs.d1_dd"},
      {"level below inputs", {"d2_ad"}, {{4, 4}}, {2}, 1, 0, {0}, "db2", CV_EINVALID_ARGUMENT, "level"},
      {"level too high", {"a"}, {{4, 4}}, {2}, CV_DWT_MAX_LEVEL + 1, 0, {0}, "db2", CV_EINVALID_ARGUMENT, "level"},
      {"empty result", {"a", "d1_dd"}, {{2, 2}, {2, 2}}, {2, 2}, CV_LEVEL_AUTO, 0, {0}, "db4", CV_EINVALID_ARGUMENT, "inputs.d1_dd"},
      {"empty from level", {"a"}, {{2, 2}}, {2}, 2, 0, {0}, "db4", CV_EINVALID_ARGUMENT, "inputs.a"},
      {"shape rank", {"a", "d1_dd"}, {{4, 4}, {4, 4}}, {2, 2}, CV_LEVEL_AUTO, 1, {3}, "db2", CV_EINVALID_ARGUMENT, "shape"},
      {"shape too big", {"a", "d1_dd"}, {{4, 4}, {4, 4}}, {2, 2}, CV_LEVEL_AUTO, 2, {6, 7}, "db2", CV_EINVALID_ARGUMENT, "shape"},
      {"shape zero", {"a", "d1_dd"}, {{4, 4}, {4, 4}}, {2, 2}, CV_LEVEL_AUTO, 2, {0, 5}, "db2", CV_EINVALID_ARGUMENT, "shape"},
  };
  for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
    job_t j;
    job_init(&j, CV_OP_IDWT, rows[r].wavelet);
    for (int k = 0; k < 3 && rows[r].names[k]; k++)
      job_input(&j, rows[r].names[k], CV_DTYPE_F64, rows[r].ndims[k], rows[r].shapes[k], NULL);
    j.p.u.dwt.level = rows[r].level;
    j.p.u.dwt.n_shape = rows[r].n_shape;
    for (int k = 0; k < 2; k++) j.p.u.dwt.shape[k] = rows[r].shape[k];
    int rc = job_infer(&j);
    if (rc != -(int)rows[r].code || strcmp(j.err.field, rows[r].field) != 0)
      CV_FAIL_("row %zu (%s): rc %s field \"%s\" (%s), want %s \"%s\"", r, rows[r].what, cv_err_name(rc),
               j.err.field, j.err.message, cv_err_name(rows[r].code), rows[r].field);
    job_free(&j);
  }
  /* an odd custom bank gets a trailing zero tap, as pywt pads it */
  job_t j;
  job_init(&j, CV_OP_IDWT, "db2");
  j.p.u.dwt.wavelets[0].len = 3;
  j.p.u.dwt.wavelets[0].rec_hi[3] = 5.0;
  int64_t s[1] = {4};
  job_input(&j, "a", CV_DTYPE_F64, 1, s, NULL);
  job_input(&j, "d1_d", CV_DTYPE_F64, 1, s, NULL);
  CV_ASSERT_OK(job_infer(&j));
  CV_ASSERT_EQ(j.p.u.dwt.wavelets[0].len, 4);
  CV_ASSERT_EQ(j.p.u.dwt.wavelets[0].rec_hi[3], 0.0);
  CV_ASSERT_EQ(j.res.out[0].a.shape[0], 6);
  job_free(&j);
}

/* ---- exact small cases (values from pywt) ---- */

static void test_haar_exact(void) {
  job_t j;
  job_init(&j, CV_OP_DWT, "haar");
  int64_t s4[1] = {4};
  const double x4[4] = {1, 2, 3, 4};
  job_input(&j, "x", CV_DTYPE_F64, 1, s4, x4);
  j.p.u.dwt.level = 1;
  job_run(&j, 1);
  expect_vals(&j, "a", 2, (const double[]){2.121320343559643, 4.949747468305834}, 1e-15);
  expect_vals(&j, "d1_d", 2, (const double[]){-0.7071067811865476, -0.7071067811865475}, 1e-15);
  job_free(&j);

  job_init(&j, CV_OP_DWT, "haar");
  int64_t s3[1] = {3};
  job_input(&j, "x", CV_DTYPE_F64, 1, s3, x4);
  j.p.u.dwt.modes[0] = CV_MODE_PERIODIZATION;   /* odd: the last sample repeats */
  job_run(&j, 1);
  expect_vals(&j, "a", 2, (const double[]){2.121320343559643, 4.242640687119286}, 1e-15);
  expect_vals(&j, "d1_d", 2, (const double[]){-0.7071067811865476, 0}, 1e-15);
  job_free(&j);

  job_init(&j, CV_OP_DWT, "haar");
  int64_t s8[1] = {8};
  const double x8[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  job_input(&j, "x", CV_DTYPE_F32, 1, s8, x8);   /* level auto = 3 */
  job_run(&j, 1);
  CV_ASSERT_EQ(j.p.u.dwt.level, 3);
  CV_ASSERT_EQ(out_named(&j, "a")->a.dtype, CV_DTYPE_F32);
  expect_vals(&j, "a", 1, (const double[]){12.727922061357859}, 2e-6);
  expect_vals(&j, "d3_d", 1, (const double[]){-5.656854249492381}, 2e-6);
  expect_vals(&j, "d2_d", 2, (const double[]){-2, -2}, 2e-6);
  job_free(&j);

  job_init(&j, CV_OP_DWT, "haar");
  int64_t s22[2] = {2, 2};
  job_input(&j, "x", CV_DTYPE_I32, 2, s22, x4);
  job_run(&j, 1);
  expect_vals(&j, "a", 1, (const double[]){5}, 1e-14);
  expect_vals(&j, "d1_ad", 1, (const double[]){-1}, 1e-14);
  expect_vals(&j, "d1_da", 1, (const double[]){-2}, 1e-14);
  expect_vals(&j, "d1_dd", 1, (const double[]){0}, 1e-14);
  CV_ASSERT_EQ(out_named(&j, "a")->a.dtype, CV_DTYPE_F64);
  job_free(&j);
}

static void test_db2_modes_exact(void) {
  static const struct {
    cv_mode_t mode;
    int m;
    double a[4], d[4];
  } rows[] = {
      {CV_MODE_ZERO, 4, {-0.4229037447142885, 3.699618605544506, 2.49221132268317, 0.24148145657226708},
       {-1.578298261984863, -4.85501312281508, -0.21949827519662884, -0.06470476127563018}},
      {CV_MODE_SYMMETRIC, 4, {2.8284271247461903, 3.699618605544506, 2.42750656140754, 1.8151341257117455},
       {-2.449489742783178, -4.85501312281508, -0.46097973176889595, 4.135214345943663}},
      {CV_MODE_SMOOTH, 4, {-6.313193047939452, 3.699618605544506, 2.8804398903369512, -2.43090737140164},
       {0, -4.8550131228150804, 1.2293904642369737, 0}},
      {CV_MODE_PERIODIZATION, 3, {2.4575361456226625, 1.573652669139478, 2.332772215916787},
       {4.859658715660466, 2.9058238817066897, -0.6944147855016783}},
      {CV_MODE_ANTIREFLECT, 4, {-1.000601003349576, 3.699618605544506, 2.8804398903369512, -1.077997760310075},
       {-1.423504748063864, -4.85501312281508, 1.2293904642369737, 5.049127406641971}},
  };
  const double x[5] = {1, 5, -2, 4, 0.5};
  int64_t s[1] = {5};
  for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
    job_t j;
    job_init(&j, CV_OP_DWT, "db2");
    job_input(&j, "x", CV_DTYPE_F64, 1, s, x);
    j.p.u.dwt.modes[0] = rows[r].mode;
    j.p.u.dwt.level = 1;
    job_run(&j, 1);
    expect_vals(&j, "a", rows[r].m, rows[r].a, 1e-14);
    expect_vals(&j, "d1_d", rows[r].m, rows[r].d, 1e-14);
    job_free(&j);
  }
  /* and back: waverecn([a, {d}]) for two modes */
  const double a[3] = {1, 2, 3}, d[3] = {0.5, -1, 2};
  int64_t s3[1] = {3};
  for (int per = 0; per < 2; per++) {
    job_t j;
    job_init(&j, CV_OP_IDWT, "db2");
    job_input(&j, "a", CV_DTYPE_F64, 1, s3, a);
    job_input(&j, "d1_d", CV_DTYPE_F64, 1, s3, d);
    j.p.u.dwt.modes[0] = per ? CV_MODE_PERIODIZATION : CV_MODE_SYMMETRIC;
    job_run(&j, 1);
    if (per)
      expect_vals(&j, "x", 6, (const double[]){-0.6297100242260482, 1.737737368751246, 1.5262854963941017,
                                               0.8018411266773006, 2.285405043171411, 2.76372236347056}, 1e-14);
    else
      expect_vals(&j, "x", 4, (const double[]){1.737737368751246, 1.526285496394102, 0.8018411266773007,
                                               2.2854050431714104}, 1e-14);
    job_free(&j);
  }
}

/* A custom 2-tap bank takes the fused path; a custom db2 bank the general one. */
static void test_custom_banks(void) {
  const double h = 0.7071067811865476;
  cv_wavelet_t w;
  memset(&w, 0, sizeof w);
  snprintf(w.name, sizeof w.name, "custom");
  w.len = 2;
  w.dec_lo[0] = h, w.dec_lo[1] = h, w.dec_hi[0] = -h, w.dec_hi[1] = h;
  w.rec_lo[0] = h, w.rec_lo[1] = h, w.rec_hi[0] = h, w.rec_hi[1] = -h;
  job_t j;
  job_init(&j, CV_OP_DWT, NULL);
  j.p.u.dwt.wavelets[0] = w;
  j.p.u.dwt.n_wavelets = 1;
  int64_t s[3] = {2, 2, 2};
  const double x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  job_input(&j, "x", CV_DTYPE_F64, 3, s, x);
  job_run(&j, 2);
  /* a = Σx / 2√2; d1_daa = (Σ x[0,..] − Σ x[1,..]) / 2√2 */
  expect_vals(&j, "a", 1, (const double[]){36 / (2 * 1.4142135623730951)}, 1e-13);
  expect_vals(&j, "d1_daa", 1, (const double[]){-16 / (2 * 1.4142135623730951)}, 1e-13);
  expect_vals(&j, "d1_ada", 1, (const double[]){-8 / (2 * 1.4142135623730951)}, 1e-13);
  expect_vals(&j, "d1_aad", 1, (const double[]){-4 / (2 * 1.4142135623730951)}, 1e-13);
  expect_vals(&j, "d1_ddd", 1, (const double[]){0}, 1e-13);
  job_free(&j);
}

/* ---- round trips ---- */

static void roundtrip(const char *wavelet, cv_mode_t mode, cv_dtype_t dt, int ndim, const int64_t *shape,
                      int n_axes, const int *axes, int level, int threads, double tol) {
  job_t f;
  job_init(&f, CV_OP_DWT, wavelet);
  int64_t n = cv_shape_numel(shape, ndim);
  double *x = malloc(sizeof(double) * (size_t)n * 2);
  for (int64_t i = 0; i < 2 * n; i++) x[i] = sin(0.37 * (double)i) + 0.01 * (double)(i % 11);
  job_input(&f, "x", dt, ndim, shape, x);
  f.p.u.dwt.modes[0] = mode;
  f.p.u.dwt.level = level;
  f.p.u.dwt.n_axes = n_axes;
  for (int k = 0; k < n_axes; k++) f.p.u.dwt.axes[k] = axes[k];
  job_run(&f, threads);
  job_t b;
  job_init(&b, CV_OP_IDWT, wavelet);
  b.p.u.dwt.modes[0] = mode;
  b.p.u.dwt.n_axes = n_axes;
  for (int k = 0; k < n_axes; k++) b.p.u.dwt.axes[k] = axes[k];
  b.p.u.dwt.n_shape = ndim;
  for (int k = 0; k < ndim; k++) b.p.u.dwt.shape[k] = shape[k];
  for (int i = 0; i < f.res.n_out; i++) {
    b.in[b.n_in] = f.res.out[i];   /* borrow the arrays */
    b.n_in++;
  }
  job_run(&b, threads);
  const cv_io_t *xr = out_named(&b, "x");
  CV_ASSERT_EQ(xr->a.dtype, cv_dtype_promote_wavelet(dt));
  for (int k = 0; k < ndim; k++) CV_ASSERT_EQ(xr->a.shape[k], shape[k]);
  int cplx = cv_dtype_is_complex(dt);
  double *got = malloc(sizeof(double) * (size_t)n * 2), *want = malloc(sizeof(double) * (size_t)n * 2);
  cv_convert(got, cplx ? CV_DTYPE_C128 : CV_DTYPE_F64, xr->a.data, xr->a.dtype, (size_t)n);
  /* x as the dwt saw it: rounded through dt */
  cv_convert(want, cplx ? CV_DTYPE_C128 : CV_DTYPE_F64, f.in[0].a.data, dt, (size_t)n);
  for (int64_t i = 0; i < n * (cplx ? 2 : 1); i++)
    if (!(fabs(got[i] - want[i]) <= tol))
      CV_FAIL_("%s %s %s: x[%lld] = %.17g, want %.17g", wavelet, cv_mode_name(mode), cv_dtype_name(dt),
               (long long)i, got[i], want[i]);
  free(got);
  free(want);
  b.n_in = 0;   /* the arrays belong to f */
  job_free(&b);
  job_free(&f);
  free(x);
}

static void test_roundtrip(void) {
  static const char *wavelets[] = {"haar", "db2", "db5", "sym4", "coif2", "bior2.4", "rbio3.3", "coif5"};   /* dmey does not reconstruct exactly, in pywt either */
  int64_t s1[1] = {37}, s2[2] = {9, 14}, s3[3] = {7, 6, 11};
  int ax1[1] = {0}, ax2[2] = {1, 0}, ax3[3] = {0, 1, 2}, axb[1] = {-1};
  for (size_t w = 0; w < sizeof wavelets / sizeof wavelets[0]; w++)
    for (int m = 0; m < CV_MODE_COUNT; m++) {
      roundtrip(wavelets[w], (cv_mode_t)m, CV_DTYPE_F64, 1, s1, 1, ax1, 2, 1, 1e-10);
      roundtrip(wavelets[w], (cv_mode_t)m, CV_DTYPE_F64, 2, s2, 2, ax2, 1, 2, 1e-10);
    }
  for (int m = 0; m < CV_MODE_COUNT; m++) {
    roundtrip("db3", (cv_mode_t)m, CV_DTYPE_F64, 3, s3, 3, ax3, 2, 2, 1e-10);
    roundtrip("sym2", (cv_mode_t)m, CV_DTYPE_F32, 3, s3, 1, axb, 2, 2, 1e-5);
    roundtrip("db2", (cv_mode_t)m, CV_DTYPE_C128, 2, s2, 2, ax2, 2, 2, 1e-10);
    roundtrip("haar", (cv_mode_t)m, CV_DTYPE_C64, 3, s3, 3, ax3, 1, 1, 1e-5);
  }
  int64_t si[2] = {20, 37}, sg[3] = {16, 5, 9};   /* many batch items: all levels per item */
  int axg[2] = {1, 2};
  for (int m = 0; m < CV_MODE_COUNT; m++) {
    roundtrip("db2", (cv_mode_t)m, CV_DTYPE_F64, 2, si, 1, axb, 3, 2, 1e-10);
    roundtrip("db4", (cv_mode_t)m, CV_DTYPE_F32, 3, sg, 2, axg, 3, 1, 1e-5);
    roundtrip("sym3", (cv_mode_t)m, CV_DTYPE_I32, 2, si, 1, axb, 2, 2, 1e-10);
  }
  int64_t se[3] = {8, 4, 6};
  roundtrip("haar", CV_MODE_SYMMETRIC, CV_DTYPE_F32, 3, se, 3, ax3, 2, 2, 1e-5);
  roundtrip("haar", CV_MODE_PERIODIZATION, CV_DTYPE_I32, 3, se, 3, ax3, 1, 2, 1e-10);
}

/* ---- threads and missing bands ---- */

static void test_threads_agree(void) {
  int64_t s[3] = {40, 33, 50};
  int64_t n = cv_shape_numel(s, 3);
  double *x = malloc(sizeof(double) * (size_t)n);
  for (int64_t i = 0; i < n; i++) x[i] = cos(0.1 * (double)i) * (double)(i % 17);
  const char *wl[2] = {"db4", "haar"};
  for (int w = 0; w < 2; w++) {
    job_t a, b;
    job_init(&a, CV_OP_DWT, wl[w]);
    job_init(&b, CV_OP_DWT, wl[w]);
    job_input(&a, "x", CV_DTYPE_F32, 3, s, x);
    job_input(&b, "x", CV_DTYPE_F32, 3, s, x);
    job_run(&a, 1);
    job_run(&b, 2);
    CV_ASSERT_EQ(a.res.n_out, b.res.n_out);
    for (int i = 0; i < a.res.n_out; i++) {
      size_t nb = cv_array_nbytes(&a.res.out[i].a);
      CV_ASSERT(memcmp(a.res.out[i].a.data, b.res.out[i].a.data, nb) == 0);
    }
    job_free(&a);
    job_free(&b);
  }
  free(x);
}

static void test_missing_bands(void) {
  /* idwt with only d1_ad equals idwt with a and d1_da, d1_dd given as zeros */
  int64_t s[2] = {5, 6};
  double v[30], z[30] = {0};
  for (int i = 0; i < 30; i++) v[i] = (double)((i * 7) % 13) - 6;
  job_t a, b;
  job_init(&a, CV_OP_IDWT, "sym3");
  job_init(&b, CV_OP_IDWT, "sym3");
  job_input(&a, "d1_ad", CV_DTYPE_F64, 2, s, v);
  job_input(&b, "a", CV_DTYPE_F64, 2, s, z);
  job_input(&b, "d1_ad", CV_DTYPE_F64, 2, s, v);
  job_input(&b, "d1_da", CV_DTYPE_F64, 2, s, z);
  job_input(&b, "d1_dd", CV_DTYPE_F64, 2, s, z);
  job_run(&a, 1);
  job_run(&b, 1);
  const cv_io_t *xa = out_named(&a, "x"), *xb = out_named(&b, "x");
  CV_ASSERT_EQ(xa->a.shape[0], 6);
  CV_ASSERT_EQ(xa->a.shape[1], 8);
  for (int i = 0; i < 48; i++) CV_ASSERT_NEAR(at(xa, i), at(xb, i), 1e-14);
  job_free(&a);
  job_free(&b);
  /* a level above the inputs upsamples `a` first */
  job_init(&a, CV_OP_IDWT, "haar");
  int64_t s1[1] = {2};
  job_input(&a, "a", CV_DTYPE_F64, 1, s1, (const double[]){2, 4});
  a.p.u.dwt.level = 2;
  job_run(&a, 1);
  expect_vals(&a, "x", 8, (const double[]){1, 1, 1, 1, 2, 2, 2, 2}, 1e-14);
  job_free(&a);
}

#define CV_TEST_LIST(XX)                                                                        \
  XX(dwt_infer_errors) XX(dwt_level_warning) XX(idwt_infer_errors) XX(haar_exact)               \
  XX(db2_modes_exact) XX(custom_banks) XX(roundtrip) XX(threads_agree) XX(missing_bands)
CV_TEST_MAIN(CV_TEST_LIST)
