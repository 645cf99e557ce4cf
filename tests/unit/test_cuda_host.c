/* test_cuda_host.c — the CUDA backend's host-side logic, with no GPU: zero
 * devices without one (the CPU still serves), supports() on a fake device
 * (what it accepts and declines), and the geometry the launchers compute
 * (dwt level shapes, sepconv lengths, conv sizes) against cv_op_infer.
 * Run with CUDA_VISIBLE_DEVICES="" (tests/CMakeLists.txt sets it). */
#include <stdlib.h>

#include "../../kernels/cuda/backend_cuda.h"
#include "../../kernels/cuda/dwt.cuh"
#include "../../kernels/cuda/sepconv.cuh"
#include "runner.h"

static void test_no_device_is_not_an_error(void) {
  setenv("CUDA_VISIBLE_DEVICES", "", 1);
  cv_device_t devs[CV_MAX_DEVICES];
  CV_ASSERT_EQ(cv_cuda_devices_open(devs, CV_MAX_DEVICES, NULL, 0), 0);
  cv_backend_config_t cfg = {.threads = 1, .want_cpu = true, .want_cuda = true};
  cv_error_t err;
  int n = cv_devices_open(devs, CV_MAX_DEVICES, &cfg, &err);
  CV_ASSERT_EQ(n, 1);
  CV_ASSERT_STREQ(devs[0].id, "cpu");
  cv_devices_close(devs, n);
  /* asked for CUDA only: the CPU still serves */
  cfg.want_cpu = false;
  n = cv_devices_open(devs, CV_MAX_DEVICES, &cfg, &err);
  CV_ASSERT_EQ(n, 1);
  CV_ASSERT_STREQ(devs[0].kind, "cpu");
  cv_devices_close(devs, n);
}

/* ---- a fake CUDA device: supports() reads only the context's flags ---- */

typedef struct fake_s {
  cv_device_t dev;
  cv_cuda_ctx_t ctx;
  cv_op_params_t p;
  cv_io_t in[3];
  int n_in;
  cv_infer_t inf;
} fake_t;

static fake_t *fake_new(cv_op_t op) {
  fake_t *f = calloc(1, sizeof *f);
  f->dev.backend = cv__cuda_backend();
  f->dev.ctx = &f->ctx;
  atomic_init(&f->ctx.unhealthy, false);
  cv_op_params_default(&f->p, op);
  return f;
}

static void fake_in(fake_t *f, const char *name, cv_dtype_t dt, int ndim, const int64_t *shape) {
  cv_io_t *io = &f->in[f->n_in++];
  snprintf(io->name, sizeof io->name, "%s", name);
  io->a.dtype = dt;
  io->a.ndim = ndim;
  memcpy(io->a.shape, shape, sizeof(int64_t) * (size_t)ndim);
}

static void fake_infer(fake_t *f) {
  cv_error_t err;
  if (cv_op_infer(&f->p, f->in, f->n_in, &f->inf, &err)) CV_FAIL_("infer: %s %s", err.field, err.message);
}

static bool fake_supports(fake_t *f) { return f->dev.backend->supports(&f->dev, &f->p, f->in, f->n_in); }

static void fake_free(fake_t *f) {
  cv_infer_free(&f->inf);
  free(f);
}

static void test_supports_wavelet_ops(void) {
  const int64_t s[3] = {5, 7, 9};
  fake_t *f = fake_new(CV_OP_DWT);
  fake_in(f, "x", CV_DTYPE_C64, 3, s);
  cv_wavelet_from_info(&f->p.u.dwt.wavelets[0], cv_wavelet_find("db4"));
  f->p.u.dwt.n_wavelets = 1;
  CV_ASSERT(!fake_supports(f));   /* not resolved yet (axes, level auto) */
  fake_infer(f);
  CV_ASSERT(fake_supports(f));
  atomic_store(&f->ctx.unhealthy, true);
  CV_ASSERT(!fake_supports(f));   /* after a sticky error */
  fake_free(f);

  f = fake_new(CV_OP_SEPCONV);
  fake_in(f, "x", CV_DTYPE_I16, 3, s);
  f->p.u.sepconv.n_filters = 1;
  f->p.u.sepconv.filters[0] = (cv_sepconv_filter_t){.axis = -1, .ntaps = 2, .taps = {1, 1}, .stride = 2,
                                                    .dilation = 1, .pad_kind = CV_PAD_SAME, .mode = CV_MODE_ZERO,
                                                    .flip = -1};
  fake_infer(f);
  CV_ASSERT(fake_supports(f));
  f->p.u.sepconv.filters[0].mode = CV_MODE_PERIODIZATION;   /* never valid for sepconv */
  CV_ASSERT(!fake_supports(f));
  fake_free(f);
}

static void test_supports_conv_algos(void) {
  struct {
    cv_conv_algo_t algo;
    int nsp;
    int64_t c, cout, k;
    int groups;
    bool libs, want;   /* libs: the fake device has cuBLAS, cuFFT and cuDNN */
  } rows[] = {
      {CV_CONV_ALGO_AUTO, 2, 4, 6, 3, 2, false, true},
      {CV_CONV_ALGO_DIRECT, 2, 4, 6, 3, 1, false, true},
      {CV_CONV_ALGO_CUDNN, 2, 4, 6, 3, 1, true, true},
      {CV_CONV_ALGO_CUDNN, 2, 4, 6, 3, 1, false, false},   /* … only with cuDNN */
      {CV_CONV_ALGO_FFT, 2, 4, 6, 3, 1, true, true},
      {CV_CONV_ALGO_FFT, 2, 4, 6, 3, 2, true, false},      /* groups 1 only */
      {CV_CONV_ALGO_FFT, 2, 4, 6, 3, 1, false, false},
      {CV_CONV_ALGO_GEMM, 2, 4, 6, 1, 1, true, true},      /* pointwise: cuBLAS */
      {CV_CONV_ALGO_GEMM, 2, 4, 6, 1, 1, false, false},    /* … only with cuBLAS */
      {CV_CONV_ALGO_GEMM, 2, 4, 6, 3, 1, true, false},     /* overlapping taps */
      {CV_CONV_ALGO_DEPTHTAP, 3, 4, 8, 3, 4, true, true},  /* 3-D, kd 3 */
      {CV_CONV_ALGO_DEPTHTAP, 2, 4, 8, 3, 4, true, false}, /* 2-D: no depth taps */
      {CV_CONV_ALGO_DEPTHTAP, 3, 4, 8, 3, 4, false, false},
  };
  for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
    fake_t *f = fake_new(CV_OP_CONV);
    int nd = rows[r].nsp + 2;
    int64_t xs[5] = {2, rows[r].c, 9, 10, 8}, ws[5] = {rows[r].cout, rows[r].c / rows[r].groups, rows[r].k, rows[r].k,
                                                       rows[r].k};
    fake_in(f, "x", CV_DTYPE_F32, nd, xs);
    fake_in(f, "w", CV_DTYPE_F32, nd, ws);
    f->p.u.conv.groups = rows[r].groups;
    f->p.u.conv.algo = rows[r].algo;
    f->ctx.cublas = rows[r].libs ? (void *)&f->ctx : NULL;
    f->ctx.cudnn = rows[r].libs ? (void *)&f->ctx : NULL;
    f->ctx.cufft = rows[r].libs;
    fake_infer(f);
    if (fake_supports(f) != rows[r].want) CV_FAIL_("row %zu: supports() != %d", r, rows[r].want);
    fake_free(f);
  }
}

/* ---- geometry against cv_op_infer ---- */

static void test_conv_geometry_matches_infer(void) {
  struct {
    int nsp;
    int64_t xs[5], ws[5];
    int stride, dil;
    cv_pad_kind_t pk;
    int64_t pad;
    bool cl, flip;
  } rows[] = {
      {1, {2, 3, 17}, {4, 3, 3}, 2, 1, CV_PAD_SAME, 0, false, false},
      {2, {1, 9, 11, 4}, {6, 2, 3, 2}, 1, 2, CV_PAD_EXPLICIT, 2, true, false},
      {3, {2, 2, 5, 6, 7}, {2, 1, 3, 3, 2}, 3, 1, CV_PAD_SAME, 0, false, true},
      {3, {1, 4, 4, 5, 6}, {5, 4, 1, 1, 1}, 1, 1, CV_PAD_VALID, 0, false, false},
  };
  for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
    fake_t *f = fake_new(CV_OP_CONV);
    fake_in(f, "x", CV_DTYPE_F32, rows[r].nsp + 2, rows[r].xs);
    fake_in(f, "w", CV_DTYPE_F32, rows[r].nsp + 2, rows[r].ws);
    cv_conv_params_t *q = &f->p.u.conv;
    q->n_stride = q->n_dilation = 1;
    q->stride[0] = rows[r].stride;
    q->dilation[0] = rows[r].dil;
    q->pad_kind = rows[r].pk;
    q->n_pad = rows[r].pk == CV_PAD_EXPLICIT;
    q->pad_lo[0] = q->pad_hi[0] = rows[r].pad;
    q->layout = rows[r].cl ? CV_LAYOUT_NDHWC : CV_LAYOUT_NCDHW;
    q->flip = rows[r].flip;
    int64_t c = rows[r].cl ? rows[r].xs[rows[r].nsp + 1] : rows[r].xs[1];
    q->groups = (int)(c / rows[r].ws[1]);
    fake_infer(f);
    cv_cuda_conv_job_t job;
    CV_ASSERT_OK(cv__cuda_conv_geom(q, f->in, f->n_in, &job));
    const cv_array_t *y = &f->inf.out[0].a;
    CV_ASSERT_EQ(job.g.n, y->shape[0]);
    CV_ASSERT_EQ(job.g.cout, rows[r].cl ? y->shape[rows[r].nsp + 1] : y->shape[1]);
    for (int a = 0; a < 3; a++) {
      int s = a - (3 - rows[r].nsp);
      CV_ASSERT_EQ(job.g.out[a], s < 0 ? 1 : y->shape[(rows[r].cl ? 1 : 2) + s]);
      CV_ASSERT_EQ(job.g.lo[a] + job.g.hi[a] - (s < 0 ? 0 : q->pad_lo[s] + q->pad_hi[s]), 0);
    }
    cv_conv_caps_t caps = {true, true, true, 0};
    CV_ASSERT_EQ(cv_conv_algo_applies(&job.g, CV_CONV_ALGO_GEMM, &caps), r == 3);
    fake_free(f);
  }
}

static void test_dwt_level_shapes_match_infer(void) {
  const char *wav[] = {"haar", "db4", "coif3", "bior2.2"};
  const int64_t s[3] = {33, 8, 21};
  for (int m = 0; m < CV_MODE_COUNT; m++)
    for (int wi = 0; wi < 4; wi++) {
      fake_t *f = fake_new(CV_OP_DWT);
      fake_in(f, "x", CV_DTYPE_F32, 3, s);
      cv_dwt_params_t *d = &f->p.u.dwt;
      cv_wavelet_from_info(&d->wavelets[0], cv_wavelet_find(wav[wi]));
      d->n_wavelets = 1;
      d->modes[0] = (cv_mode_t)m;
      d->n_axes = 2;
      d->axes[0] = 2;
      d->axes[1] = 0;
      d->level = 3;
      fake_infer(f);
      cv_cuda_dwt_job_t job;
      memset(&job, 0, sizeof job);
      job.rank = 4;
      job.shape[0] = 5;   /* the batch-of-jobs axis */
      memcpy(job.shape + 1, s, sizeof s);
      job.n_axes = 2;
      for (int i = 0; i < 2; i++) {
        job.axes[i] = d->axes[i] + 1;
        job.wavelets[i] = &d->wavelets[i];
        job.modes[i] = d->modes[i];
      }
      /* outputs: a (level 3), then d3_*, d2_*, d1_* (3 each) */
      for (int lev = 1; lev <= 3; lev++) {
        int64_t sh[CV_CUDA_MAX_RANK];
        cv_cuda_dwt_level_shape(&job, lev, sh);
        const cv_array_t *band = &f->inf.out[1 + (3 - lev) * 3].a;
        CV_ASSERT_EQ(sh[0], 5);
        for (int k = 0; k < 3; k++) CV_ASSERT_EQ(sh[k + 1], band->shape[k]);
        if (lev == 3)
          for (int k = 0; k < 3; k++) CV_ASSERT_EQ(sh[k + 1], f->inf.out[0].a.shape[k]);
      }
      fake_free(f);
    }
}

static void test_sepconv_lengths_match_infer(void) {
  const int64_t s[1] = {29};
  for (int stride = 1; stride <= 3; stride++)
    for (int dil = 1; dil <= 3; dil++)
      for (int pk = 0; pk < 3; pk++) {
        fake_t *f = fake_new(CV_OP_SEPCONV);
        fake_in(f, "x", CV_DTYPE_F64, 1, s);
        f->p.u.sepconv.n_filters = 1;
        f->p.u.sepconv.filters[0] = (cv_sepconv_filter_t){.axis = 0, .ntaps = 5, .stride = stride, .dilation = dil,
                                                          .pad_kind = (cv_pad_kind_t)pk, .pad_lo = 7, .pad_hi = 2,
                                                          .mode = CV_MODE_REFLECT, .flip = 1};
        fake_infer(f);
        CV_ASSERT_EQ(cv_cuda_sepconv_out_len(&f->p.u.sepconv.filters[0], 29), f->inf.out[0].a.shape[0]);
        fake_free(f);
      }
}

#define CV_TEST_LIST(XX)                                                                     \
  XX(no_device_is_not_an_error) XX(supports_wavelet_ops) XX(supports_conv_algos)            \
  XX(conv_geometry_matches_infer) XX(dwt_level_shapes_match_infer) XX(sepconv_lengths_match_infer)
CV_TEST_MAIN(CV_TEST_LIST)
