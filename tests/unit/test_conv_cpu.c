/* test_conv_cpu.c — the conv op on the CPU: shape inference (every padding
 * form, same with stride/flip, every error with its code and field) and
 * cv_cpu_conv against a naive reference loop written here (1-D/2-D/3-D,
 * groups, depthwise, dilation, stride, bias, flip, padding modes, ndhwc,
 * every algo route, f64 vs f32, f16/bf16, threads). */
#include <dirent.h>
#include <omp.h>
#include <pthread.h>

#include "../../kernels/cpu/cpu.h"
#include "../../kernels/ops.h"
#include "runner.h"

#define G0 (-100)   /* groups value that means "0" in the tables (0 means default 1) */

/* ---- one conv's description, shared by the infer table and the runs ---- */

typedef struct {
  int xnd, wnd, bnd;                /* bnd 0: no b */
  int64_t xs[5], ws[5], bs[2];
  const char *xt, *wt, *bt;         /* dtypes, NULL = float32 */
  int n_stride, stride[3], n_dil, dil[3];
  cv_pad_kind_t pk;
  int n_pad;
  int64_t lo[3], hi[3];
  int groups;                       /* 0 = default 1, G0 = 0 */
  cv_padmode_t pm;
  bool flip;
  cv_layout_t layout;
} spec_t;

static cv_dtype_t dt_of(const char *s) {
  cv_dtype_t t = CV_DTYPE_F32;
  if (s) CV_ASSERT_OK(cv_dtype_parse(s, &t));
  return t;
}

static void make_params(cv_op_params_t *op, const spec_t *s) {
  cv_op_params_default(op, CV_OP_CONV);
  cv_conv_params_t *p = &op->u.conv;
  p->n_stride = s->n_stride;
  p->n_dilation = s->n_dil;
  for (int i = 0; i < 3; i++) {
    p->stride[i] = s->stride[i];
    p->dilation[i] = s->dil[i];
    p->pad_lo[i] = s->lo[i];
    p->pad_hi[i] = s->hi[i];
  }
  p->pad_kind = s->pk;
  p->n_pad = s->n_pad;
  p->groups = s->groups == 0 ? 1 : s->groups == G0 ? 0 : s->groups;
  p->padding_mode = s->pm;
  p->flip = s->flip;
  p->layout = s->layout;
}

static int make_inputs(cv_io_t *in, const spec_t *s) {
  memset(in, 0, 3 * sizeof *in);
  strcpy(in[0].name, "x");
  in[0].a.dtype = dt_of(s->xt);
  in[0].a.ndim = s->xnd;
  memcpy(in[0].a.shape, s->xs, sizeof s->xs);
  strcpy(in[1].name, "w");
  in[1].a.dtype = dt_of(s->wt ? s->wt : s->xt);
  in[1].a.ndim = s->wnd;
  memcpy(in[1].a.shape, s->ws, sizeof s->ws);
  if (!s->bnd) return 2;
  strcpy(in[2].name, "b");
  in[2].a.dtype = dt_of(s->bt ? s->bt : s->xt);
  in[2].a.ndim = s->bnd;
  memcpy(in[2].a.shape, s->bs, sizeof s->bs);
  return 3;
}

/* ---- infer table ---- */

typedef struct {
  const char *name;
  spec_t s;
  int code;            /* 0 or CV_E… */
  const char *field;
  int ynd;
  int64_t ys[5];
  int check_pad;       /* compare resolved pads with elo/ehi */
  int64_t elo[3], ehi[3];
} infer_row_t;

#define X1 .xnd = 3, .wnd = 3
#define X2 .xnd = 4, .wnd = 4
#define X3 .xnd = 5, .wnd = 5
#define OK(nd, ...) .code = 0, .ynd = nd, .ys = {__VA_ARGS__}
#define ERR(c, f) .code = CV_E##c, .field = f

static const infer_row_t infer_rows[] = {
    {"1d default", {X1, .xs = {2, 3, 10}, .ws = {4, 3, 3}}, OK(3, 2, 4, 8), 1, {0}, {0}},
    {"int padding", {X1, .xs = {2, 3, 10}, .ws = {4, 3, 3}, .n_pad = 1, .lo = {2}, .hi = {2}}, OK(3, 2, 4, 12), 1, {2}, {2}},
    {"lo/hi padding 1d", {X1, .xs = {1, 1, 10}, .ws = {1, 1, 3}, .n_pad = 1, .lo = {0}, .hi = {3}}, OK(3, 1, 1, 11), 1, {0}, {3}},
    {"int broadcast 3d", {X3, .xs = {1, 1, 4, 5, 6}, .ws = {2, 1, 3, 3, 3}, .n_pad = 1, .lo = {1}, .hi = {1}},
     OK(5, 1, 2, 4, 5, 6), 1, {1, 1, 1}, {1, 1, 1}},
    {"per-axis ints 2d", {X2, .xs = {1, 2, 8, 9}, .ws = {3, 2, 3, 3}, .n_pad = 2, .lo = {1, 0}, .hi = {1, 0}},
     OK(4, 1, 3, 8, 7), 1, {1, 0}, {1, 0}},
    {"per-axis lo/hi 3d", {X3, .xs = {1, 1, 5, 6, 7}, .ws = {1, 1, 2, 2, 2}, .n_pad = 3, .lo = {0, 1, 2}, .hi = {1, 0, 3}},
     OK(5, 1, 1, 5, 6, 11), 1, {0, 1, 2}, {1, 0, 3}},
    {"valid", {X1, .xs = {1, 1, 10}, .ws = {1, 1, 3}, .pk = CV_PAD_VALID}, OK(3, 1, 1, 8), 1, {0}, {0}},
    {"same odd", {X1, .xs = {1, 1, 10}, .ws = {1, 1, 3}, .pk = CV_PAD_SAME}, OK(3, 1, 1, 10), 1, {1}, {1}},
    {"same even: extra right", {X1, .xs = {1, 1, 10}, .ws = {1, 1, 4}, .pk = CV_PAD_SAME}, OK(3, 1, 1, 10), 1, {1}, {2}},
    {"same even flip: extra left", {X1, .xs = {1, 1, 10}, .ws = {1, 1, 4}, .pk = CV_PAD_SAME, .flip = true},
     OK(3, 1, 1, 10), 1, {2}, {1}},
    {"same dilated", {X1, .xs = {1, 1, 10}, .ws = {1, 1, 4}, .pk = CV_PAD_SAME, .n_dil = 1, .dil = {2}},
     OK(3, 1, 1, 10), 1, {3}, {3}},
    {"same stride 3 = ceil", {X1, .xs = {1, 1, 10}, .ws = {1, 1, 4}, .pk = CV_PAD_SAME, .n_stride = 1, .stride = {3}},
     OK(3, 1, 1, 4), 1, {1}, {2}},
    {"same stride 2 2d", {X2, .xs = {1, 1, 7, 8}, .ws = {1, 1, 3, 2}, .pk = CV_PAD_SAME, .n_stride = 1, .stride = {2}},
     OK(4, 1, 1, 4, 4), 1, {1, 0}, {1, 1}},
    {"same stride flip 3d", {X3, .xs = {1, 1, 5, 6, 7}, .ws = {1, 1, 2, 3, 4}, .pk = CV_PAD_SAME, .flip = true,
                             .n_stride = 3, .stride = {2, 4, 1}},
     OK(5, 1, 1, 3, 2, 7), 1, {1, 1, 2}, {0, 1, 1}},
    {"stride/dilation per axis", {X2, .xs = {1, 1, 20, 20}, .ws = {1, 1, 3, 3}, .n_stride = 2, .stride = {2, 3},
                                  .n_dil = 2, .dil = {1, 4}},
     OK(4, 1, 1, 9, 4)},
    {"groups", {X1, .xs = {1, 4, 5}, .ws = {6, 2, 3}, .groups = 2}, OK(3, 1, 6, 3)},
    {"depthwise multiplier", {X2, .xs = {1, 3, 5, 5}, .ws = {6, 1, 3, 3}, .groups = 3}, OK(4, 1, 6, 3, 3)},
    {"ndhwc", {X1, .xs = {2, 10, 3}, .ws = {4, 3, 3}, .layout = CV_LAYOUT_NDHWC}, OK(3, 2, 8, 4)},
    {"ndhwc 3d", {X3, .xs = {1, 4, 5, 6, 2}, .ws = {3, 2, 1, 2, 3}, .layout = CV_LAYOUT_NDHWC}, OK(5, 1, 4, 4, 4, 3)},
    {"empty batch", {X1, .xs = {0, 3, 10}, .ws = {4, 3, 3}}, OK(3, 0, 4, 8)},
    {"bias", {X1, .xs = {1, 3, 10}, .ws = {4, 3, 3}, .bnd = 1, .bs = {4}}, OK(3, 1, 4, 8)},
    {"reflect pad n-1", {X1, .xs = {1, 1, 5}, .ws = {1, 1, 3}, .n_pad = 1, .lo = {4}, .hi = {4}, .pm = CV_PADMODE_REFLECT},
     OK(3, 1, 1, 11)},
    {"replicate pad > n", {X1, .xs = {1, 1, 3}, .ws = {1, 1, 3}, .n_pad = 1, .lo = {7}, .hi = {0}, .pm = CV_PADMODE_REPLICATE},
     OK(3, 1, 1, 8)},
    {"float64", {X1, .xs = {1, 1, 5}, .ws = {1, 1, 3}, .xt = "float64"}, OK(3, 1, 1, 3)},
    {"bfloat16 + bias", {X1, .xs = {1, 1, 5}, .ws = {2, 1, 3}, .xt = "bfloat16", .bnd = 1, .bs = {2}}, OK(3, 1, 2, 3)},
    /* errors */
    {"x rank != w rank", {.xnd = 4, .wnd = 3, .xs = {1, 1, 5, 5}, .ws = {1, 1, 3}}, ERR(SHAPE_MISMATCH, "inputs.x")},
    {"w rank 2", {.xnd = 3, .wnd = 2, .xs = {1, 1, 5}, .ws = {1, 1}}, ERR(SHAPE_MISMATCH, "inputs.w")},
    {"w rank 6", {.xnd = 5, .wnd = 6, .xs = {1, 1, 5, 5, 5}, .ws = {1, 1, 1, 1, 1}}, ERR(SHAPE_MISMATCH, "inputs.w")},
    {"stride count", {X3, .xs = {1, 1, 5, 5, 5}, .ws = {1, 1, 1, 1, 1}, .n_stride = 2, .stride = {1, 1}}, ERR(INVALID_ARGUMENT, "stride")},
    {"stride 0", {X1, .xs = {1, 1, 5}, .ws = {1, 1, 1}, .n_stride = 1, .stride = {0}}, ERR(INVALID_ARGUMENT, "stride")},
    {"dilation count", {X1, .xs = {1, 1, 5}, .ws = {1, 1, 1}, .n_dil = 2, .dil = {1, 1}}, ERR(INVALID_ARGUMENT, "dilation")},
    {"dilation -1", {X2, .xs = {1, 1, 5, 5}, .ws = {1, 1, 1, 1}, .n_dil = 2, .dil = {1, -1}}, ERR(INVALID_ARGUMENT, "dilation")},
    {"padding count", {X3, .xs = {1, 1, 5, 5, 5}, .ws = {1, 1, 1, 1, 1}, .n_pad = 2}, ERR(INVALID_ARGUMENT, "padding")},
    {"padding < 0", {X1, .xs = {1, 1, 5}, .ws = {1, 1, 1}, .n_pad = 1, .lo = {-1}, .hi = {0}}, ERR(INVALID_ARGUMENT, "padding")},
    {"groups 0", {X1, .xs = {1, 2, 5}, .ws = {2, 2, 1}, .groups = G0}, ERR(INVALID_ARGUMENT, "groups")},
    {"groups ∤ C", {X1, .xs = {1, 4, 5}, .ws = {3, 1, 1}, .groups = 3}, ERR(SHAPE_MISMATCH, "groups")},
    {"groups ∤ Cout", {X1, .xs = {1, 4, 5}, .ws = {5, 2, 1}, .groups = 2}, ERR(SHAPE_MISMATCH, "groups")},
    {"w.shape[1] != C/groups", {X1, .xs = {1, 4, 5}, .ws = {4, 3, 1}}, ERR(SHAPE_MISMATCH, "inputs.w")},
    {"w.shape[1] with groups", {X1, .xs = {1, 4, 5}, .ws = {4, 4, 1}, .groups = 2}, ERR(SHAPE_MISMATCH, "inputs.w")},
    {"ndhwc channels", {X1, .xs = {1, 5, 3}, .ws = {4, 5, 1}, .layout = CV_LAYOUT_NDHWC}, ERR(SHAPE_MISMATCH, "inputs.w")},
    {"bias length", {X1, .xs = {1, 3, 5}, .ws = {4, 3, 1}, .bnd = 1, .bs = {3}}, ERR(SHAPE_MISMATCH, "inputs.b")},
    {"bias rank 2", {X1, .xs = {1, 3, 5}, .ws = {4, 3, 1}, .bnd = 2, .bs = {4, 1}}, ERR(SHAPE_MISMATCH, "inputs.b")},
    {"int32 x", {X1, .xs = {1, 1, 5}, .ws = {1, 1, 1}, .xt = "int32"}, ERR(UNSUPPORTED_DTYPE, "inputs.x")},
    {"complex64 x", {X1, .xs = {1, 1, 5}, .ws = {1, 1, 1}, .xt = "complex64"}, ERR(UNSUPPORTED_DTYPE, "inputs.x")},
    {"w float64, x float32", {X1, .xs = {1, 1, 5}, .ws = {1, 1, 1}, .wt = "float64"}, ERR(UNSUPPORTED_DTYPE, "inputs.w")},
    {"b float16, x float32", {X1, .xs = {1, 1, 5}, .ws = {1, 1, 1}, .bnd = 1, .bs = {1}, .bt = "float16"},
     ERR(UNSUPPORTED_DTYPE, "inputs.b")},
    {"reflect pad == n", {X1, .xs = {1, 1, 5}, .ws = {1, 1, 3}, .n_pad = 1, .lo = {5}, .hi = {5}, .pm = CV_PADMODE_REFLECT},
     ERR(INVALID_ARGUMENT, "padding")},
    {"circular pad == n", {X2, .xs = {1, 1, 9, 4}, .ws = {1, 1, 3, 3}, .n_pad = 2, .lo = {1, 0}, .hi = {1, 4},
                           .pm = CV_PADMODE_CIRCULAR},
     ERR(INVALID_ARGUMENT, "padding")},
    {"same + reflect too wide", {X1, .xs = {1, 1, 3}, .ws = {1, 1, 7}, .pk = CV_PAD_SAME, .pm = CV_PADMODE_REFLECT},
     ERR(INVALID_ARGUMENT, "padding")},
    {"kernel > input", {X1, .xs = {1, 1, 2}, .ws = {1, 1, 5}}, ERR(INVALID_ARGUMENT, "inputs.x")},
    {"dilated kernel > input", {X1, .xs = {1, 1, 5}, .ws = {1, 1, 3}, .n_dil = 1, .dil = {3}}, ERR(INVALID_ARGUMENT, "inputs.x")},
    {"empty spatial axis", {X1, .xs = {1, 1, 0}, .ws = {1, 1, 1}, .n_pad = 1, .lo = {1}, .hi = {1}}, ERR(INVALID_ARGUMENT, "inputs.x")},
    {"no channels", {X1, .xs = {1, 0, 4}, .ws = {1, 0, 1}}, ERR(INVALID_ARGUMENT, "inputs.x")},
    {"kernel size 0", {X1, .xs = {1, 1, 4}, .ws = {1, 1, 0}}, ERR(INVALID_ARGUMENT, "inputs.w")},
    {"Cout 0", {X1, .xs = {1, 1, 4}, .ws = {0, 1, 1}}, ERR(SHAPE_MISMATCH, "inputs.w")},
};

static void test_infer_table(void) {
  int n = (int)(sizeof infer_rows / sizeof infer_rows[0]);
  for (int r = 0; r < n; r++) {
    const infer_row_t *row = &infer_rows[r];
    cv_op_params_t op;
    make_params(&op, &row->s);
    cv_io_t in[3];
    int n_in = make_inputs(in, &row->s);
    cv_infer_t res;
    cv_error_t err;
    cv_error_clear(&err);
    int rc = cv_op_infer(&op, in, n_in, &res, &err);
    if (rc != -row->code || (row->code && strcmp(err.field, row->field) != 0))
      CV_FAIL_("row %d (%s): rc %d field '%s' (%s); want %d '%s'", r, row->name, rc, err.field, err.message,
               -row->code, row->field ? row->field : "");
    if (row->code) {
      CV_ASSERT(err.message[0] != 0);
      continue;
    }
    CV_ASSERT_EQ(res.n_out, 1);
    CV_ASSERT_STREQ(res.out[0].name, "y");
    CV_ASSERT_EQ(res.out[0].a.dtype, in[0].a.dtype);
    if (res.out[0].a.ndim != row->ynd) CV_FAIL_("row %d (%s): ndim %d", r, row->name, res.out[0].a.ndim);
    for (int i = 0; i < row->ynd; i++)
      if (res.out[0].a.shape[i] != row->ys[i])
        CV_FAIL_("row %d (%s): y.shape[%d] = %" PRId64 ", want %" PRId64, r, row->name, i, res.out[0].a.shape[i],
                 row->ys[i]);
    const cv_conv_params_t *p = &op.u.conv;
    CV_ASSERT_EQ(p->nsp, row->ynd - 2);
    for (int i = 0; row->check_pad && i < p->nsp; i++)
      if (p->pad_lo[i] != row->elo[i] || p->pad_hi[i] != row->ehi[i])
        CV_FAIL_("row %d (%s): pad[%d] = (%" PRId64 ", %" PRId64 "), want (%" PRId64 ", %" PRId64 ")", r, row->name, i,
                 p->pad_lo[i], p->pad_hi[i], row->elo[i], row->ehi[i]);
    /* resolving is idempotent: a second infer gives the same answer */
    cv_infer_t res2;
    CV_ASSERT_OK(cv_op_infer(&op, in, n_in, &res2, &err));
    CV_ASSERT_EQ(memcmp(res2.out[0].a.shape, res.out[0].a.shape, sizeof res.out[0].a.shape), 0);
    cv_infer_free(&res2);
    cv_infer_free(&res);
  }
}

static void test_infer_inputs(void) {
  spec_t s = {X1, .xs = {1, 1, 5}, .ws = {1, 1, 3}};
  cv_op_params_t op;
  cv_io_t in[3];
  cv_infer_t res;
  cv_error_t err;
  make_params(&op, &s);
  make_inputs(in, &s);
  CV_ASSERT_EQ(cv_op_infer(&op, in, 1, &res, &err), -CV_EINVALID_ARGUMENT);   /* no w */
  CV_ASSERT_STREQ(err.field, "inputs.w");
  CV_ASSERT_EQ(cv_op_infer(&op, in + 1, 1, &res, &err), -CV_EINVALID_ARGUMENT);   /* no x */
  CV_ASSERT_STREQ(err.field, "inputs.x");
  in[2] = in[1];
  strcpy(in[2].name, "z");
  CV_ASSERT_EQ(cv_op_infer(&op, in, 3, &res, &err), -CV_EINVALID_ARGUMENT);
  CV_ASSERT_STREQ(err.field, "inputs.z");
}

/* ---- naive reference (float64, NCDHW, any rank) ---- */

static int64_t ref_src(int64_t j, int64_t n, cv_padmode_t m) {
  if (j >= 0 && j < n) return j;
  switch (m) {
    case CV_PADMODE_ZEROS: return -1;
    case CV_PADMODE_REPLICATE: return j < 0 ? 0 : n - 1;
    case CV_PADMODE_CIRCULAR:
      while (j < 0) j += n;
      return j % n;
    case CV_PADMODE_REFLECT:
      while (j < 0 || j >= n) j = j < 0 ? -j : 2 * (n - 1) - j;
      return j;
    case CV_PADMODE_COUNT: break;
  }
  return -1;
}

/* y (NCDHW, shapes from the resolved params p) from x, w, b (NULL ok). */
static void ref_conv(const cv_conv_params_t *p, const int64_t *xs, const int64_t *ws, const double *x,
                     const double *w, const double *b, double *y, int64_t *ys) {
  int nsp = p->nsp;
  int64_t in[3] = {1, 1, 1}, k[3] = {1, 1, 1}, o[3] = {1, 1, 1}, st[3] = {1, 1, 1}, dl[3] = {1, 1, 1}, lo[3] = {0};
  for (int i = 0; i < nsp; i++) {
    int a = 3 - nsp + i;
    in[a] = xs[2 + i], k[a] = ws[2 + i], st[a] = p->stride[i], dl[a] = p->dilation[i], lo[a] = p->pad_lo[i];
    o[a] = (in[a] + p->pad_lo[i] + p->pad_hi[i] - dl[a] * (k[a] - 1) - 1) / st[a] + 1;
    ys[2 + i] = o[a];
  }
  int64_t N = xs[0], C = xs[1], CO = ws[0], G = p->groups, cg = C / G, cog = CO / G;
  ys[0] = N, ys[1] = CO;
  for (int64_t n = 0; n < N; n++)
    for (int64_t oc = 0; oc < CO; oc++)
      for (int64_t a = 0; a < o[0]; a++)
        for (int64_t bb = 0; bb < o[1]; bb++)
          for (int64_t c = 0; c < o[2]; c++) {
            double s = b ? b[oc] : 0;
            for (int64_t ic = 0; ic < cg; ic++)
              for (int64_t i = 0; i < k[0]; i++)
                for (int64_t j = 0; j < k[1]; j++)
                  for (int64_t l = 0; l < k[2]; l++) {
                    int64_t sd = ref_src(a * st[0] + i * dl[0] - lo[0], in[0], p->padding_mode);
                    int64_t sh = ref_src(bb * st[1] + j * dl[1] - lo[1], in[1], p->padding_mode);
                    int64_t sw = ref_src(c * st[2] + l * dl[2] - lo[2], in[2], p->padding_mode);
                    if (sd < 0 || sh < 0 || sw < 0) continue;
                    int64_t ki = p->flip ? k[0] - 1 - i : i, kj = p->flip ? k[1] - 1 - j : j,
                            kl = p->flip ? k[2] - 1 - l : l;
                    double xv = x[(((n * C + (oc / cog) * cg + ic) * in[0] + sd) * in[1] + sh) * in[2] + sw];
                    double wv = w[(((oc * cg + ic) * k[0] + ki) * k[1] + kj) * k[2] + kl];
                    s += xv * wv;
                  }
            y[(((n * CO + oc) * o[0] + a) * o[1] + bb) * o[2] + c] = s;
          }
}

/* ---- running cv_cpu_conv on a spec (x/w/b drawn from a fixed LCG) ---- */

static double lcg(uint64_t *s) {
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return (double)(*s >> 11) / (double)(1ull << 53) * 2 - 1;
}

/* (N, C, S) <-> (N, S, C) on doubles */
static void swap_cl(double *dst, const double *src, int64_t n, int64_t a, int64_t b) {
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < a; j++)
      for (int64_t k = 0; k < b; k++) dst[(i * b + k) * a + j] = src[(i * a + j) * b + k];
}

/* Runs spec s in dtype dt with algo and threads; checks against the reference
 * with tolerance rel·max|y| (+abs); returns the max abs error. */
static double check(const spec_t *s0, const char *dt, cv_conv_algo_t algo, int threads, double rel) {
  spec_t s = *s0;
  s.xt = s.wt = s.bt = dt;
  cv_op_params_t op;
  make_params(&op, &s);
  op.u.conv.algo = algo;
  cv_io_t in[3];
  int n_in = make_inputs(in, &s);
  cv_infer_t res;
  cv_error_t err;
  int rc = cv_op_infer(&op, in, n_in, &res, &err);
  if (rc) CV_FAIL_("infer: %d %s: %s", rc, err.field, err.message);
  const cv_conv_params_t *p = &op.u.conv;
  const int nsp = p->nsp, cl = s.layout == CV_LAYOUT_NDHWC;
  int64_t xs[5], ys[5];   /* NCDHW shapes */
  xs[0] = s.xs[0], xs[1] = cl ? s.xs[nsp + 1] : s.xs[1];
  for (int i = 0; i < nsp; i++) xs[2 + i] = s.xs[(cl ? 1 : 2) + i];
  int64_t nx = cv_shape_numel(s.xs, s.xnd), nw = cv_shape_numel(s.ws, s.wnd), sp = xs[0] * xs[1] != 0 ? nx / (xs[0] * xs[1]) : 1;
  double *x = malloc(nx * 8 + 8), *w = malloc(nw * 8), *b = malloc(s.ws[0] * 8), *xc = malloc(nx * 8 + 8);
  uint64_t seed = 42;
  cv_dtype_t t = dt_of(dt);
  for (int64_t i = 0; i < nx; i++) x[i] = lcg(&seed);
  for (int64_t i = 0; i < nw; i++) w[i] = lcg(&seed);
  for (int64_t i = 0; i < s.ws[0]; i++) b[i] = lcg(&seed);
  /* the reference sees exactly the values the kernel gets */
  void *xt = malloc(nx * 8 + 8), *wt = malloc(nw * 8), *bt = malloc(s.ws[0] * 8);
  cv_convert(xt, t, x, CV_DTYPE_F64, nx), cv_convert(x, CV_DTYPE_F64, xt, t, nx);
  cv_convert(wt, t, w, CV_DTYPE_F64, nw), cv_convert(w, CV_DTYPE_F64, wt, t, nw);
  cv_convert(bt, t, b, CV_DTYPE_F64, s.ws[0]), cv_convert(b, CV_DTYPE_F64, bt, t, s.ws[0]);
  if (cl) swap_cl(xc, x, xs[0], sp, xs[1]); /* x was drawn channels-last: reference wants NCDHW */
  else memcpy(xc, x, nx * 8);
  in[0].a.data = xt, in[1].a.data = wt;
  if (n_in == 3) in[2].a.data = bt;
  int64_t ny = cv_shape_numel(res.out[0].a.shape, res.out[0].a.ndim);
  void *yt = malloc(ny * 8 + 8);
  res.out[0].a.data = yt;
  rc = cv_cpu_conv(p, in, n_in, res.out, 1, threads, &err);
  if (rc) CV_FAIL_("cv_cpu_conv: %d %s: %s", rc, err.field, err.message);
  double *y = malloc(ny * 8 + 8), *yr = malloc(ny * 8 + 8), *yc = malloc(ny * 8 + 8);
  cv_convert(y, CV_DTYPE_F64, yt, t, ny);
  ref_conv(p, xs, s.ws, xc, w, n_in == 3 ? b : NULL, yr, ys);
  if (cl) swap_cl(yc, y, ys[0], ys[0] * ys[1] != 0 ? ny / (ys[0] * ys[1]) : 1, ys[1]);
  else memcpy(yc, y, ny * 8);
  double mx = 0, md = 0;
  int64_t worst = 0;
  for (int64_t i = 0; i < ny; i++) {
    mx = fmax(mx, fabs(yr[i]));
    if (fabs(yc[i] - yr[i]) > md) md = fabs(yc[i] - yr[i]), worst = i;
  }
  if (!(md <= rel * mx + 1e-300 || (ny == 0)))
    CV_FAIL_("%s algo %s: max error %.3g at %" PRId64 " (%.9g vs %.9g), max |y| %.3g", dt ? dt : "float32",
             cv_conv_algo_name(algo), md, worst, yc[worst], yr[worst], mx);
  free(x), free(w), free(b), free(xc), free(xt), free(wt), free(bt), free(yt), free(y), free(yr), free(yc);
  cv_infer_free(&res);
  return md;
}

/* every route: f64 (direct), f32 auto/direct/gemm, and for depthwise depthtap */
static void check_all(const spec_t *s) {
  check(s, "float64", CV_CONV_ALGO_AUTO, 2, 1e-13);
  check(s, "float64", CV_CONV_ALGO_DIRECT, 1, 1e-13);
  check(s, "float32", CV_CONV_ALGO_AUTO, 2, 2e-6);
  check(s, "float32", CV_CONV_ALGO_DIRECT, 2, 2e-6);
  check(s, "float32", CV_CONV_ALGO_GEMM, 2, 2e-6);
}

/* ---- exact small cases ---- */

static const spec_t cases[] = {
    /* 1-D: stride, asymmetric padding, dilation, bias, batch */
    {X1, .xs = {2, 3, 11}, .ws = {4, 3, 3}, .bnd = 1, .bs = {4}, .n_stride = 1, .stride = {2}, .n_pad = 1, .lo = {1},
     .hi = {2}, .n_dil = 1, .dil = {2}},
    /* 2-D groups, per-axis padding */
    {X2, .xs = {1, 4, 7, 6}, .ws = {6, 2, 3, 2}, .groups = 2, .n_pad = 2, .lo = {1, 0}, .hi = {1, 1}},
    /* depthwise, same, and with a channel multiplier and stride */
    {X2, .xs = {2, 3, 9, 8}, .ws = {3, 1, 3, 3}, .groups = 3, .pk = CV_PAD_SAME, .bnd = 1, .bs = {3}},
    {X2, .xs = {1, 3, 9, 8}, .ws = {6, 1, 2, 3}, .groups = 3, .n_stride = 2, .stride = {2, 3}, .n_pad = 1, .lo = {1}, .hi = {1}},
    /* 3-D: per-axis stride and lo/hi */
    {X3, .xs = {1, 2, 5, 6, 7}, .ws = {3, 2, 2, 3, 2}, .n_stride = 3, .stride = {1, 2, 1}, .n_pad = 3, .lo = {0, 1, 2},
     .hi = {1, 0, 1}, .bnd = 1, .bs = {3}},
    /* flip with same and even kernels (extra left) */
    {X2, .xs = {1, 2, 6, 7}, .ws = {2, 2, 4, 2}, .pk = CV_PAD_SAME, .flip = true},
    {X1, .xs = {1, 1, 9}, .ws = {1, 1, 4}, .pk = CV_PAD_SAME, .flip = true, .n_stride = 1, .stride = {2}},
    /* wide rows (several tiles), channel blocks with a remainder, stride 2 */
    {X2, .xs = {1, 5, 3, 600}, .ws = {7, 5, 2, 3}, .n_stride = 2, .stride = {1, 2}, .n_pad = 1, .lo = {1}, .hi = {0}},
    {X1, .xs = {1, 2, 1000}, .ws = {9, 2, 5}, .n_dil = 1, .dil = {3}, .pk = CV_PAD_SAME},
    /* channels that oneDNN blocks (16+) */
    {X2, .xs = {1, 16, 6, 7}, .ws = {32, 16, 3, 3}, .n_pad = 1, .lo = {1}, .hi = {1}, .bnd = 1, .bs = {32}},
    {X3, .xs = {1, 16, 4, 5, 6}, .ws = {16, 4, 3, 3, 3}, .groups = 4, .pk = CV_PAD_SAME},
    /* 3-D with channels in 16s: nCdhw16c blocks moved by own transposes */
    {X3, .xs = {2, 32, 5, 6, 7}, .ws = {16, 32, 3, 2, 3}, .n_stride = 3, .stride = {2, 1, 2}, .n_pad = 3,
     .lo = {1, 0, 2}, .hi = {0, 1, 1}, .bnd = 1, .bs = {16}},
};

static void test_cases(void) {
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fprintf(stderr, "# case %zu\n", i);
    check_all(&cases[i]);
  }
}

static void test_padding_modes(void) {
  static const cv_padmode_t modes[] = {CV_PADMODE_REFLECT, CV_PADMODE_REPLICATE, CV_PADMODE_CIRCULAR};
  for (int m = 0; m < 3; m++) {
    spec_t s1 = {X1, .xs = {2, 2, 7}, .ws = {3, 2, 3}, .n_pad = 1, .lo = {3}, .hi = {2}, .pm = modes[m]};
    spec_t s2 = {X2, .xs = {1, 2, 5, 6}, .ws = {2, 2, 3, 3}, .n_pad = 2, .lo = {2, 1}, .hi = {4, 5}, .pm = modes[m],
                 .bnd = 1, .bs = {2}};
    spec_t s3 = {X3, .xs = {1, 1, 4, 5, 3}, .ws = {2, 1, 3, 2, 3}, .pk = CV_PAD_SAME, .pm = modes[m], .flip = true};
    spec_t s4 = {X2, .xs = {1, 6, 5, 3}, .ws = {3, 1, 3, 3}, .groups = 3, .pk = CV_PAD_SAME, .pm = modes[m],
                 .layout = CV_LAYOUT_NDHWC};
    if (modes[m] != CV_PADMODE_REPLICATE) s2.hi[0] = 3, s2.hi[1] = 5;   /* < input size */
    check_all(&s1), check_all(&s2), check_all(&s3), check_all(&s4);
  }
  spec_t big = {X1, .xs = {1, 1, 3}, .ws = {1, 1, 2}, .n_pad = 1, .lo = {6}, .hi = {5}, .pm = CV_PADMODE_REPLICATE};
  check_all(&big);
}

static void test_layout_ndhwc(void) {
  spec_t s1 = {X1, .xs = {2, 9, 3}, .ws = {4, 3, 3}, .layout = CV_LAYOUT_NDHWC, .bnd = 1, .bs = {4}};
  spec_t s2 = {X2, .xs = {1, 6, 7, 16}, .ws = {16, 16, 3, 3}, .layout = CV_LAYOUT_NDHWC, .pk = CV_PAD_SAME};
  spec_t s3 = {X3, .xs = {2, 3, 4, 5, 4}, .ws = {6, 2, 2, 2, 3}, .groups = 2, .layout = CV_LAYOUT_NDHWC,
               .n_stride = 1, .stride = {2}, .n_pad = 1, .lo = {1}, .hi = {1}};
  check_all(&s1), check_all(&s2), check_all(&s3);
}

static void test_depthtap_and_algo_errors(void) {
  spec_t dw = {X3, .xs = {1, 4, 5, 6, 7}, .ws = {4, 1, 3, 3, 3}, .groups = 4, .pk = CV_PAD_SAME};
  check(&dw, "float32", CV_CONV_ALGO_DEPTHTAP, 2, 2e-6);
  check(&dw, "float64", CV_CONV_ALGO_DEPTHTAP, 2, 1e-13);
  static const struct {
    const char *dt;
    cv_conv_algo_t algo;
    int depthwise;
  } bad[] = {{"float32", CV_CONV_ALGO_FFT, 0}, {"float32", CV_CONV_ALGO_CUDNN, 0}, {"float64", CV_CONV_ALGO_GEMM, 0},
             {"float32", CV_CONV_ALGO_DEPTHTAP, 0}, {"float16", CV_CONV_ALGO_CUDNN, 1}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    spec_t s = {X2, .xs = {1, 2, 5, 5}, .ws = {2, 2, 3, 3}, .xt = bad[i].dt};
    if (bad[i].depthwise) s.ws[1] = 1, s.groups = 2;
    cv_op_params_t op;
    make_params(&op, &s);
    op.u.conv.algo = bad[i].algo;
    cv_io_t in[3];
    int n_in = make_inputs(in, &s);
    cv_infer_t res;
    cv_error_t err;
    CV_ASSERT_OK(cv_op_infer(&op, in, n_in, &res, &err));
    char buf[512];
    in[0].a.data = in[1].a.data = res.out[0].a.data = buf;
    memset(buf, 0, sizeof buf);
    CV_ASSERT_EQ(cv_cpu_conv(&op.u.conv, in, n_in, res.out, 1, 1, &err), -CV_EINVALID_ARGUMENT);
    CV_ASSERT_STREQ(err.field, "algo");
    cv_infer_free(&res);
  }
}

static void test_empty_batch(void) {
  spec_t s = {X2, .xs = {0, 3, 5, 5}, .ws = {4, 3, 3, 3}};
  check(&s, "float32", CV_CONV_ALGO_AUTO, 2, 0);
  check(&s, "float64", CV_CONV_ALGO_AUTO, 2, 0);
}

/* float32 y of spec s (x, w, b from the LCG) with algo; malloc'd. */
static float *run_f32(const spec_t *s, cv_conv_algo_t algo, int64_t *ny) {
  cv_op_params_t op;
  make_params(&op, s);
  op.u.conv.algo = algo;
  cv_io_t in[3];
  int n_in = make_inputs(in, s);
  cv_infer_t res;
  cv_error_t err;
  CV_ASSERT_OK(cv_op_infer(&op, in, n_in, &res, &err));
  int64_t n[3] = {cv_shape_numel(s->xs, s->xnd), cv_shape_numel(s->ws, s->wnd), s->ws[0]};
  uint64_t seed = 7;
  for (int i = 0; i < n_in; i++) {
    float *d = malloc(n[i] * 4);
    for (int64_t j = 0; j < n[i]; j++) d[j] = (float)lcg(&seed);
    in[i].a.data = d;
  }
  *ny = cv_shape_numel(res.out[0].a.shape, res.out[0].a.ndim);
  float *y = malloc(*ny * 4);
  res.out[0].a.data = y;
  int rc = cv_cpu_conv(&op.u.conv, in, n_in, res.out, 1, 2, &err);
  if (rc) CV_FAIL_("cv_cpu_conv: %d %s: %s", rc, err.field, err.message);
  for (int i = 0; i < n_in; i++) free(in[i].a.data);
  cv_infer_free(&res);
  return y;
}

/* x + y of 64 MiB and more with channel counts oneDNN runs blocked:
 * NCDHW data goes through slabs (cut along the outermost spatial axis, with
 * halos). Checked against own kernels, which the cases above check against
 * the reference loop. */
static void test_large_tensors(void) {
  spec_t s3 = {X3, .xs = {1, 16, 32, 128, 128}, .ws = {16, 16, 3, 3, 3}, .n_pad = 1, .lo = {1}, .hi = {1}, .bnd = 1,
               .bs = {16}};
  spec_t s3s = {X3, .xs = {1, 16, 67, 96, 128}, .ws = {32, 16, 3, 2, 3}, .n_stride = 3, .stride = {2, 1, 2},
                .n_dil = 3, .dil = {2, 1, 1}, .n_pad = 3, .lo = {3, 0, 1}, .hi = {0, 1, 2}};
  spec_t s2 = {X2, .xs = {2, 16, 1030, 512}, .ws = {16, 16, 5, 3}, .pk = CV_PAD_SAME, .flip = true};
  /* and whole tensors of 4 MiB and more, moved with streaming stores */
  spec_t w3 = {X3, .xs = {1, 32, 8, 64, 64}, .ws = {32, 32, 3, 3, 3}, .n_pad = 1, .lo = {1}, .hi = {1}};
  spec_t w2 = {X2, .xs = {1, 32, 128, 256}, .ws = {32, 32, 3, 3}, .pk = CV_PAD_SAME, .bnd = 1, .bs = {32}};
  const spec_t *all[] = {&s3, &s3s, &s2, &w3, &w2};
  for (int i = 0; i < 5; i++) {
    int64_t ny, ny2;
    float *a = run_f32(all[i], CV_CONV_ALGO_GEMM, &ny), *d = run_f32(all[i], CV_CONV_ALGO_DIRECT, &ny2);
    CV_ASSERT_EQ(ny, ny2);
    double md = 0, mx = 0;
    for (int64_t j = 0; j < ny; j++) md = fmax(md, fabs((double)a[j] - d[j])), mx = fmax(mx, fabs((double)d[j]));
    if (!(md <= 2e-6 * mx)) CV_FAIL_("slab case %d: max error %.3g, max |y| %.3g", i, md, mx);
    free(a), free(d);
  }
}

/* f64 and f32 agree to float32 precision on a larger case */
static void test_f64_vs_f32(void) {
  spec_t s = {X3, .xs = {1, 8, 6, 9, 10}, .ws = {12, 8, 3, 3, 3}, .n_pad = 1, .lo = {1}, .hi = {1}, .bnd = 1, .bs = {12}};
  double e64 = check(&s, "float64", CV_CONV_ALGO_AUTO, 2, 1e-13);
  double e32 = check(&s, "float32", CV_CONV_ALGO_AUTO, 2, 2e-6);
  CV_ASSERT(e64 < 1e-12);
  CV_ASSERT(e32 > e64);   /* float32 really ran in float32 */
}

/* half types: inputs exact in the type, compute in f32; the result is the
 * reference rounded once more (bf16 8 bits, f16 11 bits of mantissa) */
static void test_half_types(void) {
  spec_t s = {X2, .xs = {1, 16, 6, 7}, .ws = {16, 16, 3, 3}, .n_pad = 1, .lo = {1}, .hi = {1}, .bnd = 1, .bs = {16}};
  spec_t dw = {X2, .xs = {2, 3, 8, 9}, .ws = {3, 1, 3, 3}, .groups = 3, .pm = CV_PADMODE_REFLECT, .pk = CV_PAD_SAME};
  spec_t cl = {X1, .xs = {1, 9, 4}, .ws = {5, 4, 3}, .layout = CV_LAYOUT_NDHWC, .flip = true};
  const spec_t *all[] = {&s, &dw, &cl};
  for (int i = 0; i < 3; i++) {
    CV_ASSERT(check(all[i], "float16", CV_CONV_ALGO_AUTO, 2, 1.0 / 1024) > 0);
    check(all[i], "float16", CV_CONV_ALGO_DIRECT, 1, 1.0 / 1024);
    CV_ASSERT(check(all[i], "bfloat16", CV_CONV_ALGO_AUTO, 2, 1.0 / 128) > 0);
    check(all[i], "bfloat16", CV_CONV_ALGO_GEMM, 2, 1.0 / 128);
  }
}

/* threads = 1 runs on the calling thread only (a fresh child has no pool) */
static int count_tasks(void) {
  DIR *d = opendir("/proc/self/task");
  int n = 0;
  if (!d) return -1;
  for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

static void test_threads(void) {
  spec_t s = {X3, .xs = {1, 16, 8, 16, 16}, .ws = {16, 16, 3, 3, 3}, .n_pad = 1, .lo = {1}, .hi = {1}};
  spec_t s64 = s;
  int before = count_tasks();
  if (before < 0) CV_SKIP("no /proc/self/task");
  int max_before = omp_get_max_threads();
  check(&s, "float32", CV_CONV_ALGO_AUTO, 1, 2e-6);
  check(&s64, "float64", CV_CONV_ALGO_AUTO, 1, 1e-13);
  CV_ASSERT_EQ(count_tasks(), before);
  CV_ASSERT_EQ(omp_get_max_threads(), max_before);   /* the call restores the caller's setting */
  check(&s, "float32", CV_CONV_ALGO_AUTO, 2, 2e-6);
  CV_ASSERT_EQ(omp_get_max_threads(), max_before);
}

/* calls from several threads at once (the CPU backend runs small items in
 * parallel): per-thread workspaces, the once-created engine */
static void *concurrent_worker(void *arg) {
  const spec_t *s = arg;
  for (int r = 0; r < 3; r++) {
    check(s, "float32", CV_CONV_ALGO_AUTO, 1, 2e-6);
    check(s, "float64", CV_CONV_ALGO_AUTO, 1, 1e-13);
  }
  return NULL;
}

static void test_concurrent(void) {
  static const spec_t specs[4] = {
      {X3, .xs = {1, 16, 5, 8, 9}, .ws = {16, 16, 3, 3, 3}, .pk = CV_PAD_SAME, .bnd = 1, .bs = {16}},
      {X2, .xs = {2, 8, 20, 21}, .ws = {16, 8, 3, 3}, .n_pad = 1, .lo = {1}, .hi = {1}, .pm = CV_PADMODE_REFLECT},
      {X2, .xs = {1, 16, 9, 40}, .ws = {16, 1, 3, 3}, .groups = 16, .layout = CV_LAYOUT_NCDHW},
      {X1, .xs = {3, 4, 300}, .ws = {32, 4, 5}, .n_stride = 1, .stride = {2}, .flip = true},
  };
  pthread_t t[4];
  for (int i = 0; i < 4; i++) CV_ASSERT_EQ(pthread_create(&t[i], NULL, concurrent_worker, (void *)&specs[i]), 0);
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
}

#define CV_TEST_LIST(XX)                                                                     \
  XX(infer_table) XX(infer_inputs) XX(cases) XX(padding_modes) XX(layout_ndhwc)              \
  XX(depthtap_and_algo_errors) XX(empty_batch) XX(large_tensors) XX(f64_vs_f32) XX(half_types) XX(threads) \
  XX(concurrent)
CV_TEST_MAIN(CV_TEST_LIST)
