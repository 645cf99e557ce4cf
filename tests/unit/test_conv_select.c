/* test_conv_select.c — the GPU conv menu's plain C rules on the CPU
 * (kernels/cuda/conv_select.h): geometry against cv_op_infer, which
 * candidate applies to which groups/dilation/stride/padding/dtype, the
 * auto menu, cuFFT lengths and buffer sizes, and the plan-cache key. */
#include <ctype.h>

#include "../../kernels/cuda/conv_select.h"
#include "runner.h"

typedef struct spec_s {
  int nsp;
  int64_t n, c, cout, sp[3], k[3];
  int stride, dil;
  cv_pad_kind_t pk;
  int64_t pad;
  int groups;
  cv_dtype_t dt;
  bool cl, bias;
} spec_t;

/* Resolves s through cv_op_infer and builds its geometry; *y_shape gets y's shape. */
static void geom_of(const spec_t *s, cv_conv_geom_t *g, int64_t *y_shape) {
  cv_op_params_t *p = calloc(1, sizeof *p);
  cv_op_params_default(p, CV_OP_CONV);
  cv_conv_params_t *q = &p->u.conv;
  q->n_stride = q->n_dilation = 1;
  q->stride[0] = s->stride;
  q->dilation[0] = s->dil;
  q->pad_kind = s->pk;
  if (s->pk == CV_PAD_EXPLICIT) {
    q->n_pad = 1;
    q->pad_lo[0] = q->pad_hi[0] = s->pad;
  }
  q->groups = s->groups;
  q->layout = s->cl ? CV_LAYOUT_NDHWC : CV_LAYOUT_NCDHW;
  cv_io_t in[3];
  memset(in, 0, sizeof in);
  snprintf(in[0].name, sizeof in[0].name, "x");
  snprintf(in[1].name, sizeof in[1].name, "w");
  snprintf(in[2].name, sizeof in[2].name, "b");
  in[0].a.dtype = in[1].a.dtype = in[2].a.dtype = s->dt;
  in[0].a.ndim = in[1].a.ndim = s->nsp + 2;
  in[2].a.ndim = 1;
  in[0].a.shape[0] = s->n;
  in[0].a.shape[s->cl ? s->nsp + 1 : 1] = s->c;
  in[1].a.shape[0] = s->cout;
  in[1].a.shape[1] = s->c / s->groups;
  in[2].a.shape[0] = s->cout;
  for (int a = 0; a < s->nsp; a++) {
    in[0].a.shape[(s->cl ? 1 : 2) + a] = s->sp[a];
    in[1].a.shape[2 + a] = s->k[a];
  }
  cv_infer_t inf;
  cv_error_t err;
  int n_in = s->bias ? 3 : 2;
  if (cv_op_infer(p, in, n_in, &inf, &err) != 0) CV_FAIL_("infer: %s %s", err.field, err.message);
  const cv_io_t *x, *w, *b;
  CV_ASSERT_OK(cv_conv_geom(&p->u.conv, in, n_in, g, &x, &w, &b));
  CV_ASSERT(x == &in[0] && w == &in[1] && b == (s->bias ? &in[2] : NULL));
  if (y_shape) memcpy(y_shape, inf.out[0].a.shape, sizeof(int64_t) * (size_t)(s->nsp + 2));
  cv_infer_free(&inf);
  free(p);
}

static void test_geometry_matches_infer(void) {
  const spec_t rows[] = {
      {1, 2, 3, 4, {17}, {3}, 2, 1, CV_PAD_SAME, 0, 1, CV_DTYPE_F32, false, true},
      {2, 1, 4, 6, {9, 11}, {3, 2}, 1, 2, CV_PAD_EXPLICIT, 2, 2, CV_DTYPE_F16, true, false},
      {3, 2, 2, 2, {5, 6, 7}, {3, 3, 2}, 3, 1, CV_PAD_SAME, 0, 2, CV_DTYPE_BF16, false, true},
      {3, 1, 4, 5, {4, 5, 6}, {1, 1, 1}, 1, 1, CV_PAD_VALID, 0, 1, CV_DTYPE_F64, false, false},
  };
  for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
    const spec_t *s = &rows[r];
    cv_conv_geom_t g;
    int64_t ys[5];
    geom_of(s, &g, ys);
    CV_ASSERT_EQ(g.nsp, s->nsp);
    CV_ASSERT_EQ(g.dt, s->dt);
    CV_ASSERT_EQ(g.n, ys[0]);
    CV_ASSERT_EQ(g.cout, s->cl ? ys[s->nsp + 1] : ys[1]);
    CV_ASSERT_EQ(g.has_bias, s->bias);
    for (int a = 0; a < 3; a++) {
      int sa = a - (3 - s->nsp);
      CV_ASSERT_EQ(g.out[a], sa < 0 ? 1 : ys[(s->cl ? 1 : 2) + sa]);
      if (sa < 0) CV_ASSERT(g.in[a] == 1 && g.k[a] == 1 && g.lo[a] == 0 && g.hi[a] == 0 && g.stride[a] == 1);
    }
  }
}

static void test_geometry_rejects_unresolved(void) {
  cv_op_params_t *p = calloc(1, sizeof *p);
  cv_op_params_default(p, CV_OP_CONV);   /* infer never ran: nsp 0 */
  cv_io_t in[2];
  memset(in, 0, sizeof in);
  snprintf(in[0].name, sizeof in[0].name, "x");
  snprintf(in[1].name, sizeof in[1].name, "w");
  in[0].a.ndim = in[1].a.ndim = 3;
  cv_conv_geom_t g;
  CV_ASSERT_EQ(cv_conv_geom(&p->u.conv, in, 2, &g, NULL, NULL, NULL), -CV_EINVALID_ARGUMENT);
  snprintf(in[1].name, sizeof in[1].name, "q");
  CV_ASSERT_EQ(cv_conv_geom(&p->u.conv, in, 2, &g, NULL, NULL, NULL), -CV_EINVALID_ARGUMENT);
  free(p);
}

static const cv_conv_caps_t ALL = {true, true, true, (uint64_t)80 << 30}, NONE = {false, false, false, 0};

static void test_rules(void) {
  struct {
    spec_t s;
    cv_conv_algo_t a;
    const cv_conv_caps_t *caps;
    bool want;
  } rows[] = {
      /* direct: everything */
      {{3, 1, 3, 2, {5, 5, 5}, {3, 3, 3}, 2, 2, CV_PAD_SAME, 0, 1, CV_DTYPE_F64, true, true}, CV_CONV_ALGO_DIRECT, &NONE, true},
      /* gemm: pointwise, any stride; kernel == stride patchify; not padded, grouped, dilated or overlapping */
      {{3, 2, 8, 5, {4, 5, 6}, {1, 1, 1}, 1, 1, CV_PAD_VALID, 0, 1, CV_DTYPE_F32, false, true}, CV_CONV_ALGO_GEMM, &ALL, true},
      {{3, 2, 8, 5, {4, 5, 6}, {1, 1, 1}, 1, 1, CV_PAD_VALID, 0, 1, CV_DTYPE_F32, false, true}, CV_CONV_ALGO_GEMM, &NONE, false},
      {{2, 1, 3, 5, {9, 8}, {1, 1}, 2, 1, CV_PAD_VALID, 0, 1, CV_DTYPE_BF16, true, false}, CV_CONV_ALGO_GEMM, &ALL, true},
      {{2, 1, 3, 5, {9, 8}, {2, 2}, 2, 1, CV_PAD_VALID, 0, 1, CV_DTYPE_F16, false, false}, CV_CONV_ALGO_GEMM, &ALL, true},
      {{2, 1, 3, 5, {9, 8}, {2, 2}, 2, 1, CV_PAD_VALID, 0, 1, CV_DTYPE_F64, true, false}, CV_CONV_ALGO_GEMM, &ALL, true},
      {{2, 1, 3, 5, {9, 8}, {2, 2}, 2, 1, CV_PAD_EXPLICIT, 1, 1, CV_DTYPE_F32, false, false}, CV_CONV_ALGO_GEMM, &ALL, false},
      {{2, 1, 3, 5, {9, 8}, {2, 2}, 1, 1, CV_PAD_VALID, 0, 1, CV_DTYPE_F32, false, false}, CV_CONV_ALGO_GEMM, &ALL, false},
      {{2, 1, 4, 4, {9, 8}, {1, 1}, 1, 1, CV_PAD_VALID, 0, 2, CV_DTYPE_F32, false, false}, CV_CONV_ALGO_GEMM, &ALL, false},
      {{2, 1, 3, 5, {9, 8}, {2, 2}, 2, 2, CV_PAD_VALID, 0, 1, CV_DTYPE_F32, false, false}, CV_CONV_ALGO_GEMM, &ALL, false},
      /* fft: groups 1 only, with cuFFT, within the memory bound; any dtype */
      {{2, 1, 3, 4, {20, 20}, {7, 7}, 1, 1, CV_PAD_SAME, 0, 1, CV_DTYPE_F64, false, true}, CV_CONV_ALGO_FFT, &ALL, true},
      {{2, 1, 3, 4, {20, 20}, {3, 3}, 2, 2, CV_PAD_SAME, 0, 1, CV_DTYPE_BF16, true, true}, CV_CONV_ALGO_FFT, &ALL, true},
      {{2, 1, 4, 4, {20, 20}, {7, 7}, 1, 1, CV_PAD_SAME, 0, 2, CV_DTYPE_F32, false, true}, CV_CONV_ALGO_FFT, &ALL, false},
      {{2, 1, 3, 4, {20, 20}, {7, 7}, 1, 1, CV_PAD_SAME, 0, 1, CV_DTYPE_F32, false, true}, CV_CONV_ALGO_FFT, &NONE, false},
      /* cudnn: f32/f16/bf16, any groups, dilation, stride, padding; not f64 */
      {{3, 1, 8, 8, {5, 6, 7}, {3, 3, 3}, 2, 2, CV_PAD_SAME, 0, 4, CV_DTYPE_BF16, true, true}, CV_CONV_ALGO_CUDNN, &ALL, true},
      {{1, 1, 8, 8, {50}, {3}, 1, 1, CV_PAD_SAME, 0, 1, CV_DTYPE_F32, false, true}, CV_CONV_ALGO_CUDNN, &ALL, true},
      {{1, 1, 8, 8, {50}, {3}, 1, 1, CV_PAD_SAME, 0, 1, CV_DTYPE_F64, false, true}, CV_CONV_ALGO_CUDNN, &ALL, false},
      {{1, 1, 8, 8, {50}, {3}, 1, 1, CV_PAD_SAME, 0, 1, CV_DTYPE_F32, false, true}, CV_CONV_ALGO_CUDNN, &NONE, false},
      /* depthtap: 3-D with 2 <= kd <= 7, through cuDNN */
      {{3, 1, 8, 8, {5, 6, 7}, {3, 3, 3}, 1, 1, CV_PAD_SAME, 0, 1, CV_DTYPE_F16, false, true}, CV_CONV_ALGO_DEPTHTAP, &ALL, true},
      {{3, 1, 8, 8, {9, 6, 7}, {7, 3, 3}, 2, 1, CV_PAD_VALID, 0, 2, CV_DTYPE_F32, true, false}, CV_CONV_ALGO_DEPTHTAP, &ALL, true},
      {{3, 1, 8, 8, {9, 6, 7}, {1, 3, 3}, 1, 1, CV_PAD_VALID, 0, 1, CV_DTYPE_F32, false, false}, CV_CONV_ALGO_DEPTHTAP, &ALL, false},
      {{3, 1, 8, 8, {19, 6, 7}, {9, 3, 3}, 1, 1, CV_PAD_VALID, 0, 1, CV_DTYPE_F32, false, false}, CV_CONV_ALGO_DEPTHTAP, &ALL, false},
      {{2, 1, 8, 8, {9, 6}, {3, 3}, 1, 1, CV_PAD_VALID, 0, 1, CV_DTYPE_F32, false, false}, CV_CONV_ALGO_DEPTHTAP, &ALL, false},
      {{3, 1, 8, 8, {5, 6, 7}, {3, 3, 3}, 1, 1, CV_PAD_SAME, 0, 1, CV_DTYPE_F64, false, true}, CV_CONV_ALGO_DEPTHTAP, &ALL, false},
      /* auto is a menu, never a candidate */
      {{3, 1, 8, 8, {5, 6, 7}, {3, 3, 3}, 1, 1, CV_PAD_SAME, 0, 1, CV_DTYPE_F16, false, true}, CV_CONV_ALGO_AUTO, &ALL, false},
  };
  for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
    cv_conv_geom_t g;
    geom_of(&rows[r].s, &g, NULL);
    if (cv_conv_algo_applies(&g, rows[r].a, rows[r].caps) != rows[r].want)
      CV_FAIL_("row %zu: %s applies != %d", r, cv_conv_algo_name(rows[r].a), rows[r].want);
  }
  /* the FFT memory bound */
  cv_conv_geom_t g;
  spec_t big = {3, 4, 64, 64, {64, 64, 64}, {9, 9, 9}, 1, 1, CV_PAD_SAME, 0, 1, CV_DTYPE_F32, false, false};
  geom_of(&big, &g, NULL);
  cv_conv_caps_t small = ALL;
  small.mem_bytes = (uint64_t)1 << 30;
  CV_ASSERT(cv_conv_algo_applies(&g, CV_CONV_ALGO_FFT, &ALL));
  CV_ASSERT(!cv_conv_algo_applies(&g, CV_CONV_ALGO_FFT, &small));
}

static bool has(const cv_conv_algo_t *m, int n, cv_conv_algo_t a) {
  for (int i = 0; i < n; i++)
    if (m[i] == a) return true;
  return false;
}

static void test_menu(void) {
  cv_conv_algo_t m[CV_CONV_MENU_MAX];
  cv_conv_geom_t g;
  int n;
  /* depthwise 3x3x3 (C = 256): the own kernel first, cuDNN timed against it */
  spec_t dw = {3, 1, 256, 256, {16, 16, 16}, {3, 3, 3}, 1, 1, CV_PAD_SAME, 0, 256, CV_DTYPE_F32, false, false};
  geom_of(&dw, &g, NULL);
  n = cv_conv_menu(&g, &ALL, m, CV_CONV_MENU_MAX);
  CV_ASSERT(n >= 2 && m[0] == CV_CONV_ALGO_DIRECT && has(m, n, CV_CONV_ALGO_CUDNN));
  CV_ASSERT(!has(m, n, CV_CONV_ALGO_FFT));
  /* dense bf16 3x3x3: cuDNN and depth-tap, not the slow own kernel */
  spec_t dense = {3, 1, 256, 256, {17, 64, 64}, {3, 3, 3}, 1, 1, CV_PAD_SAME, 0, 1, CV_DTYPE_BF16, true, false};
  geom_of(&dense, &g, NULL);
  n = cv_conv_menu(&g, &ALL, m, CV_CONV_MENU_MAX);
  CV_ASSERT_EQ(n, 2);
  CV_ASSERT(m[0] == CV_CONV_ALGO_CUDNN && m[1] == CV_CONV_ALGO_DEPTHTAP);
  /* without libraries the own kernel runs everything */
  n = cv_conv_menu(&g, &NONE, m, CV_CONV_MENU_MAX);
  CV_ASSERT(n == 1 && m[0] == CV_CONV_ALGO_DIRECT);
  /* pointwise: the GEMM */
  spec_t pw = {3, 2, 64, 32, {8, 8, 8}, {1, 1, 1}, 1, 1, CV_PAD_VALID, 0, 1, CV_DTYPE_F32, false, true};
  geom_of(&pw, &g, NULL);
  n = cv_conv_menu(&g, &ALL, m, CV_CONV_MENU_MAX);
  CV_ASSERT(m[0] == CV_CONV_ALGO_GEMM && has(m, n, CV_CONV_ALGO_CUDNN) && !has(m, n, CV_CONV_ALGO_DIRECT));
  /* large kernels: FFT joins; f64 has no cuDNN, so the own kernel stays */
  spec_t lk = {2, 1, 16, 16, {64, 64}, {9, 9}, 1, 1, CV_PAD_SAME, 0, 1, CV_DTYPE_F64, false, true};
  geom_of(&lk, &g, NULL);
  n = cv_conv_menu(&g, &ALL, m, CV_CONV_MENU_MAX);
  CV_ASSERT(has(m, n, CV_CONV_ALGO_FFT) && !has(m, n, CV_CONV_ALGO_CUDNN));
  lk.k[1] = 5;   /* one small axis: no FFT in the menu (still forceable) */
  geom_of(&lk, &g, NULL);
  n = cv_conv_menu(&g, &ALL, m, CV_CONV_MENU_MAX);
  CV_ASSERT(!has(m, n, CV_CONV_ALGO_FFT) && cv_conv_algo_applies(&g, CV_CONV_ALGO_FFT, &ALL));
  /* every menu entry applies, and the bound on out[] holds */
  n = cv_conv_menu(&g, &ALL, m, 1);
  CV_ASSERT_EQ(n, 1);
  for (int i = 0; i < n; i++) CV_ASSERT(cv_conv_algo_applies(&g, m[i], &ALL));
}

static void test_fft_sizes(void) {
  const int64_t in[] = {1, 2, 7, 11, 13, 17, 97, 121, 1000, 1031};
  const int64_t want[] = {1, 2, 7, 12, 14, 18, 98, 125, 1000, 1050};
  for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) CV_ASSERT_EQ(cv_conv_fft_len(in[i]), want[i]);
  CV_ASSERT_EQ(cv_conv_fft_len(0), 0);
  CV_ASSERT_EQ(cv_conv_fft_len(-5), 0);
  /* 2-D 10x10 input, pad 1 each side: 12x12 → P = 144, F = 12·7 = 84; N=1, C=2, Cout=3, f32 */
  spec_t s = {2, 1, 2, 3, {10, 10}, {3, 3}, 1, 1, CV_PAD_EXPLICIT, 1, 1, CV_DTYPE_F32, false, false};
  cv_conv_geom_t g;
  geom_of(&s, &g, NULL);
  /* real: max(N·C, Cout·C, N·Cout) = 6 rows · 144 · 4; complex: (2 + 6 + 3) · 84 · 2 · 4 */
  CV_ASSERT_EQ(cv_conv_fft_bytes(&g), 6 * 144 * 4 + 11 * 84 * 2 * 4);
}

static void test_plan_key(void) {
  spec_t s = {3, 1, 8, 8, {5, 6, 7}, {3, 3, 3}, 1, 1, CV_PAD_SAME, 0, 1, CV_DTYPE_F16, false, true};
  cv_conv_geom_t g, h;
  geom_of(&s, &g, NULL);
  char k1[512], k2[512];
  CV_ASSERT_OK(cv_conv_plan_key(&g, "NVIDIA H100 80GB HBM3", k1, sizeof k1));
  for (const char *c = k1; *c; c++) CV_ASSERT(isgraph((unsigned char)*c));
  CV_ASSERT(strstr(k1, "NVIDIA_H100_80GB_HBM3") != NULL);
  CV_ASSERT_OK(cv_conv_plan_key(&g, "NVIDIA H100 80GB HBM3", k2, sizeof k2));
  CV_ASSERT_STREQ(k1, k2);
  /* every field that changes the winner changes the key */
  for (int v = 0; v < 8; v++) {
    h = g;
    switch (v) {
      case 0: h.dt = CV_DTYPE_BF16; break;
      case 1: h.tf32 = 1; break;
      case 2: h.channels_last = 1; break;
      case 3: h.n = 2; break;
      case 4: h.groups = 2; break;
      case 5: h.stride[2] = 2; break;
      case 6: h.padmode = CV_PADMODE_REFLECT; break;
      case 7: h.has_bias = 0; break;
    }
    CV_ASSERT_OK(cv_conv_plan_key(&h, "NVIDIA H100 80GB HBM3", k2, sizeof k2));
    if (strcmp(k1, k2) == 0) CV_FAIL_("variant %d: same key %s", v, k1);
  }
  CV_ASSERT_OK(cv_conv_plan_key(&g, "NVIDIA H200", k2, sizeof k2));
  CV_ASSERT(strcmp(k1, k2) != 0);
  CV_ASSERT_EQ(cv_conv_plan_key(&g, "x", k2, 16), -CV_EINVALID_ARGUMENT);
}

#define CV_TEST_LIST(XX)                                                                              \
  XX(geometry_matches_infer) XX(geometry_rejects_unresolved) XX(rules) XX(menu) XX(fft_sizes) XX(plan_key)
CV_TEST_MAIN(CV_TEST_LIST)
