/* test_slabs.c — volumes larger than the device: each case runs on the
 * first CUDA device with a tiny budget_bytes (so it goes slab by slab:
 * halos, host-side extension, uploads and downloads per slab) and is
 * compared with the CPU backend run whole (nmse against the parity
 * tolerances); on_slab must report every output byte exactly once and more
 * than once per output. Also reads the device's stats(). TAP output; exits
 * 77 without a CUDA device. `--self` runs the same cases on a CPU device
 * with the budget (CPU slabs vs CPU whole) to check the harness anywhere. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/backend.h"
#include "../../kernels/slab.h"

#define TOL_F32 1e-9
#define TOL_F64 1e-20

static int n_tests, n_failed;

static void io_make(cv_io_t *io, const char *name, cv_dtype_t dt, int nd, const int64_t *shape, unsigned seed) {
  memset(io, 0, sizeof *io);
  snprintf(io->name, sizeof io->name, "%s", name);
  io->a.dtype = dt;
  io->a.ndim = nd;
  memcpy(io->a.shape, shape, sizeof(int64_t) * (size_t)nd);
  size_t n = (size_t)cv_shape_numel(shape, nd);
  double *v = malloc(sizeof(double) * (n + 1));
  for (size_t i = 0; i < n; i++) {
    seed = seed * 1664525u + 1013904223u;
    v[i] = ((seed >> 8) & 0xffff) / 32768.0 - 1.0;
  }
  io->a.data = malloc(n * cv_dtype_size(dt) + 1);
  cv_convert(io->a.data, dt, v, CV_DTYPE_F64, n);
  free(v);
}

typedef struct cover_s {
  int calls, overlap;
  size_t n[64];
  unsigned char *seen[64];
} cover_t;

static void on_slab(void *ctx, int k, size_t off, size_t nb) {
  cover_t *c = ctx;
  c->calls++;
  if (k < 0 || k >= 64 || off + nb > c->n[k]) {
    c->overlap++;
    return;
  }
  for (size_t i = off; i < off + nb; i++) c->overlap += c->seen[k][i]++ != 0;
}

/* Runs p on dev with budget; outputs in res (caller frees). 0 or the item's rc. */
static int run(cv_device_t *dev, const cv_op_params_t *p0, cv_io_t *in, int n_in, uint64_t budget, cv_infer_t *res,
               cover_t *cov, char *msg, size_t cap) {
  cv_op_params_t *p = calloc(1, sizeof *p);
  cv_error_t err;
  cv_op_params_copy(p, p0);
  int rc = cv_op_infer(p, in, n_in, res, &err);
  if (rc) {
    snprintf(msg, cap, "infer: %s", err.message);
    free(p);
    return rc;
  }
  memset(cov, 0, sizeof *cov);
  for (int k = 0; k < res->n_out && k < 64; k++) {
    cov->n[k] = cv_array_nbytes(&res->out[k].a);
    res->out[k].a.data = calloc(1, cov->n[k] + 1);
    cov->seen[k] = calloc(1, cov->n[k] + 1);
  }
  uint64_t saved = dev->budget_bytes;
  dev->budget_bytes = budget;
  cv_work_t w = {.params = p, .in = in, .n_in = n_in, .out = res->out, .n_out = res->n_out};
  w.on_slab = on_slab;
  w.on_slab_ctx = cov;
  cv_batch_t b = {.n = 1, .items = &w};
  rc = dev->backend->run(dev, &b);
  dev->budget_bytes = saved;
  if (!rc) rc = w.rc;
  if (rc) snprintf(msg, cap, "%s", w.err.message);
  free(p);
  return rc;
}

static void outs_free(cv_infer_t *res, cover_t *cov) {
  for (int k = 0; k < res->n_out; k++) {
    free(res->out[k].a.data);
    if (k < 64) free(cov->seen[k]);
  }
  cv_infer_free(res);
}

static double nmse(const cv_array_t *a, const cv_array_t *b) {
  bool cplx = cv_dtype_is_complex(b->dtype);
  size_t n = (size_t)cv_shape_numel(b->shape, b->ndim), nr = n * (cplx ? 2 : 1);
  double *x = malloc(sizeof(double) * (nr + 1)), *y = malloc(sizeof(double) * (nr + 1)), num = 0, den = 0;
  cv_convert(x, cplx ? CV_DTYPE_C128 : CV_DTYPE_F64, a->data, a->dtype, n);
  cv_convert(y, cplx ? CV_DTYPE_C128 : CV_DTYPE_F64, b->data, b->dtype, n);
  for (size_t i = 0; i < nr; i++) {
    num += (x[i] - y[i]) * (x[i] - y[i]);
    den += y[i] * y[i];
  }
  free(x);
  free(y);
  return den > 0 ? num / den : num;
}

/* One case: dut with budget = working set / 4 vs cpu whole. */
static void check(cv_device_t *dut, cv_device_t *cpu, const char *what, const cv_op_params_t *p, cv_io_t *in,
                  int n_in) {
  cv_infer_t ref, got;
  cover_t cr, cg;
  char msg[512] = "";
  const char *why = NULL;
  n_tests++;
  memset(&ref, 0, sizeof ref);
  memset(&got, 0, sizeof got);
  if (run(cpu, p, in, n_in, 0, &ref, &cr, msg, sizeof msg)) {
    why = "cpu run failed";
  } else {
    cv_work_t probe = {.params = p, .in = in, .n_in = n_in, .out = ref.out, .n_out = ref.n_out};
    uint64_t budget = cv_slab_work_bytes(&probe) / 4;
    if (run(dut, p, in, n_in, budget, &got, &cg, msg, sizeof msg)) why = "slabbed run failed";
    else if (cg.overlap) why = "on_slab ranges overlap";
    else if (cg.calls <= got.n_out) why = "no slabs were made";
    for (int k = 0; !why && k < got.n_out; k++) {
      for (size_t i = 0; !why && i < cg.n[k]; i++)
        if (!cg.seen[k][i]) why = "on_slab missed bytes";
      cv_dtype_t t = ref.out[k].a.dtype;
      double e = nmse(&got.out[k].a, &ref.out[k].a);
      double tol = t == CV_DTYPE_F64 || t == CV_DTYPE_C128 ? TOL_F64 : TOL_F32;
      if (!(e <= tol)) {
        snprintf(msg, sizeof msg, "output %s nmse %.3g > %.3g", ref.out[k].name, e, tol);
        why = "mismatch";
      }
    }
    outs_free(&got, &cg);
  }
  outs_free(&ref, &cr);
  if (why) n_failed++;
  printf("%s %d - %s on %s%s%s%s\n", why ? "not ok" : "ok", n_tests, what, dut->id, why ? " # " : "", why ? why : "",
         why ? "" : "");
  if (why && msg[0]) printf("# %s\n", msg);
}

static void sep_filter(cv_sepconv_filter_t *f, int axis, int ntaps, int stride, int64_t lo, int64_t hi, cv_mode_t m) {
  memset(f, 0, sizeof *f);
  f->axis = axis;
  f->ntaps = ntaps;
  for (int t = 0; t < ntaps; t++) f->taps[t] = 0.3 + 0.2 * t - 0.04 * t * t;
  f->stride = stride;
  f->dilation = 1;
  f->pad_kind = CV_PAD_EXPLICIT;
  f->pad_lo = lo;
  f->pad_hi = hi;
  f->mode = m;
  f->flip = -1;
}

static void dwt_params(cv_op_params_t *op, cv_op_t kind, const char *wav, cv_mode_t m, int level, int n_axes,
                       const int *axes) {
  cv_op_params_default(op, kind);
  op->u.dwt.n_axes = n_axes;
  for (int i = 0; i < n_axes; i++) op->u.dwt.axes[i] = axes[i];
  op->u.dwt.level = level;
  op->u.dwt.n_modes = 1;
  op->u.dwt.modes[0] = m;
  op->u.dwt.n_wavelets = 1;
  cv_wavelet_from_info(&op->u.dwt.wavelets[0], cv_wavelet_find(wav));
}

static void run_cases(cv_device_t *dut, cv_device_t *cpu) {
  cv_op_params_t *op = calloc(1, sizeof *op);
  char what[160];
  int64_t xs[3] = {96, 24, 20};
  cv_dtype_t dts[2] = {CV_DTYPE_F32, CV_DTYPE_F64};
  for (int d = 0; d < 2; d++) {
    cv_io_t x;
    io_make(&x, "x", dts[d], 3, xs, 5u + (unsigned)d);
    for (int m = 0; m < CV_MODE_COUNT; m++) {
      if (m == CV_MODE_PERIODIZATION) continue;
      cv_op_params_default(op, CV_OP_SEPCONV);
      op->u.sepconv.n_filters = 2;
      sep_filter(&op->u.sepconv.filters[0], 0, 4, 2, 3, 2, (cv_mode_t)m);
      sep_filter(&op->u.sepconv.filters[1], 2, 3, 1, 1, 1, (cv_mode_t)m);
      snprintf(what, sizeof what, "sepconv %s %s", cv_mode_name((cv_mode_t)m), cv_dtype_name(dts[d]));
      check(dut, cpu, what, op, &x, 1);
      op->u.sepconv.n_filters = 3;   /* a second filter along axis 0: a chain of passes */
      sep_filter(&op->u.sepconv.filters[2], 0, 2, 1, 0, 1, (cv_mode_t)m);
      snprintf(what, sizeof what, "sepconv chain %s %s", cv_mode_name((cv_mode_t)m), cv_dtype_name(dts[d]));
      check(dut, cpu, what, op, &x, 1);
      if (m == CV_MODE_PERIODIC) continue;
      int all[3] = {0, 1, 2}, inner[2] = {1, 2};
      dwt_params(op, CV_OP_DWT, "db3", (cv_mode_t)m, 2, 3, all);
      snprintf(what, sizeof what, "dwt db3 level 2 %s %s", cv_mode_name((cv_mode_t)m), cv_dtype_name(dts[d]));
      check(dut, cpu, what, op, &x, 1);
      dwt_params(op, CV_OP_DWT, "haar", (cv_mode_t)m, 1, 2, inner);
      snprintf(what, sizeof what, "dwt haar axes 1,2 %s %s", cv_mode_name((cv_mode_t)m), cv_dtype_name(dts[d]));
      check(dut, cpu, what, op, &x, 1);
    }
    free(x.a.data);
  }
  /* idwt with axis 0 not transformed */
  {
    int inner[2] = {1, 2};
    cv_io_t x;
    io_make(&x, "x", CV_DTYPE_F32, 3, xs, 9);
    dwt_params(op, CV_OP_DWT, "db2", CV_MODE_SYMMETRIC, 2, 2, inner);
    cv_infer_t bands;
    cover_t cb;
    char msg[256];
    if (run(cpu, op, &x, 1, 0, &bands, &cb, msg, sizeof msg) == 0) {
      dwt_params(op, CV_OP_IDWT, "db2", CV_MODE_SYMMETRIC, CV_LEVEL_AUTO, 2, inner);
      check(dut, cpu, "idwt db2 axes 1,2", op, bands.out, bands.n_out);
    }
    outs_free(&bands, &cb);
    free(x.a.data);
  }
  /* conv: NCDHW along D, every padding mode */
  for (int pm = 0; pm < CV_PADMODE_COUNT; pm++) {
    int64_t xsh[5] = {1, 4, 19, 12, 10}, wsh[5] = {6, 4, 3, 3, 3};
    cv_io_t in[2];
    io_make(&in[0], "x", CV_DTYPE_F32, 5, xsh, 11);
    io_make(&in[1], "w", CV_DTYPE_F32, 5, wsh, 12);
    cv_op_params_default(op, CV_OP_CONV);
    cv_conv_params_t *p = &op->u.conv;
    p->n_stride = 1, p->stride[0] = 1;
    p->n_dilation = 1, p->dilation[0] = 1;
    p->n_pad = 1, p->pad_lo[0] = 1, p->pad_hi[0] = 1;
    p->padding_mode = (cv_padmode_t)pm;
    snprintf(what, sizeof what, "conv3d %s", cv_padmode_name((cv_padmode_t)pm));
    check(dut, cpu, what, op, in, 2);
    free(in[0].a.data);
    free(in[1].a.data);
  }
  free(op);
}

int main(int argc, char **argv) {
  bool self = argc > 1 && strcmp(argv[1], "--self") == 0;
  cv_device_t devs[CV_MAX_DEVICES];
  cv_backend_config_t cfg = {.threads = 2, .want_cpu = true, .want_cuda = !self};
  cv_error_t err;
  int n = cv_devices_open(devs, CV_MAX_DEVICES, &cfg, &err);
  if (n < 1) {
    printf("Bail out! %s\n", err.message);
    return 1;
  }
  cv_device_t *cpu = &devs[n - 1], *dut = NULL, selfdev;
  if (self) {
    cv_cpu_device_open(&selfdev, 1);
    dut = &selfdev;
  } else {
    for (int i = 0; i < n; i++)
      if (strcmp(devs[i].kind, "cuda") == 0) {
        dut = &devs[i];
        break;
      }
  }
  if (!dut) {
    printf("1..0 # SKIP no CUDA device\n");
    cv_devices_close(devs, n);
    return 77;
  }
  if (dut->backend->stats) {
    cv_device_stats_t st = {0, NAN};
    n_tests++;
    int rc = dut->backend->stats(dut, &st);
    bool ok = rc == 0 && st.memory_used_bytes > 0 && (isnan(st.utilization) || (st.utilization >= 0 && st.utilization <= 1));
    if (!ok) n_failed++;
    printf("%s %d - stats on %s: %llu bytes used, utilisation %g\n", ok ? "ok" : "not ok", n_tests, dut->id,
           (unsigned long long)st.memory_used_bytes, st.utilization);
  }
  run_cases(dut, cpu);
  printf("1..%d\n# %d failed\n", n_tests, n_failed);
  if (self) cv_devices_close(&selfdev, 1);
  cv_devices_close(devs, n);
  return n_failed ? 1 : 0;
}
