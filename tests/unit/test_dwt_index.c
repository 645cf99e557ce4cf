/* test_dwt_index.c — the device-callable index math of kernels/dwt_index.h,
 * checked on the CPU: extension terms stay inside the signal, and the
 * device-side sums cv_ix_ext_* equal dwt_math.c's cv_ext_value_* for every
 * mode, short and long signals and far-out positions; conv padding indexes against padded arrays built the
 * way torch.nn.functional.pad describes them. */
#include "../../kernels/dwt_index.h"
#include "runner.h"

#define N_MAX 9
#define I_RANGE 45

/* cv_ext_terms is now this same function (dwt_math.c calls it), so terms
 * are checked against pywt in test_dwt_math; here: every term indexes
 * inside the signal, for any position. */
static void test_terms_in_range(void) {
  for (int m = 0; m < CV_MODE_COUNT; m++)
    for (int64_t n = 1; n <= N_MAX; n++)
      for (int64_t i = -I_RANGE; i <= I_RANGE; i++) {
        int64_t q[CV_EXT_MAX_TERMS];
        double c[CV_EXT_MAX_TERMS];
        int k = cv_ix_ext_terms(n, i, (cv_mode_t)m, q, c);
        CV_ASSERT(k >= 0 && k <= CV_EXT_MAX_TERMS);
        for (int t = 0; t < k; t++) CV_ASSERT(q[t] >= 0 && q[t] < n);
      }
}

static void test_values_match_dwt_math(void) {
  double x[2 * N_MAX];
  float xf[2 * N_MAX];
  for (int k = 0; k < 2 * N_MAX; k++) {
    x[k] = 0.37 * k * k - 1.5 * k + 0.25 * (k % 3);
    xf[k] = (float)x[k];
  }
  for (int m = 0; m < CV_MODE_COUNT; m++)
    for (int64_t n = 1; n <= N_MAX; n++)
      for (int64_t stride = 1; stride <= 2; stride++)
        for (int64_t i = -I_RANGE; i <= I_RANGE; i++) {
          cv_mode_t md = (cv_mode_t)m;
          double want = cv_ext_value_f64(x, n, stride, i, md);
          CV_ASSERT_NEAR(cv_ix_ext_f64(x, n, stride, i, md), want, 0.0);
          float wantf = cv_ext_value_f32(xf, n, stride, i, md);
          CV_ASSERT_NEAR((float)cv_ix_ext_f32(xf, n, stride, i, md), wantf, 0.0);
        }
}

/* A few hand-checked points (pywt.pad([1,2,3], w, mode) by hand). */
static void test_known_points(void) {
  const double x[3] = {1, 2, 3};
  struct {
    cv_mode_t m;
    int64_t i;
    double v;
  } rows[] = {
      {CV_MODE_ZERO, -1, 0},          {CV_MODE_CONSTANT, -2, 1},     {CV_MODE_CONSTANT, 5, 3},
      {CV_MODE_SYMMETRIC, -1, 1},     {CV_MODE_SYMMETRIC, -2, 2},    {CV_MODE_SYMMETRIC, 3, 3},
      {CV_MODE_REFLECT, -1, 2},       {CV_MODE_REFLECT, 3, 2},       {CV_MODE_PERIODIC, -1, 3},
      {CV_MODE_PERIODIC, 3, 1},       {CV_MODE_SMOOTH, -1, 0},       {CV_MODE_SMOOTH, 4, 5},
      {CV_MODE_ANTISYMMETRIC, -1, -1}, {CV_MODE_ANTISYMMETRIC, 3, -3}, {CV_MODE_ANTIREFLECT, -1, 0},
      {CV_MODE_ANTIREFLECT, 3, 4},    {CV_MODE_PERIODIZATION, 3, 3}, {CV_MODE_PERIODIZATION, 4, 1},
  };
  for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
    double v = cv_ix_ext_f64(x, 3, 1, rows[r].i, rows[r].m);
    if (v != rows[r].v)
      CV_FAIL_("row %zu (%s, i=%lld): %g != %g", r, cv_mode_name(rows[r].m), (long long)rows[r].i, v, rows[r].v);
  }
}

/* Reference padding: torch pads reflect without repeating the edge,
 * replicate with the edge, circular by wrapping (widths < n). */
static int64_t ref_pad(int64_t i, int64_t lo, int64_t n, cv_padmode_t m) {
  int64_t j = i - lo;
  if (j >= 0 && j < n) return j;
  if (m == CV_PADMODE_ZEROS) return -1;
  if (m == CV_PADMODE_REPLICATE) return j < 0 ? 0 : n - 1;
  if (m == CV_PADMODE_CIRCULAR) return j < 0 ? j + n : j - n;
  return j < 0 ? -j : 2 * n - 2 - j; /* reflect */
}

static void test_conv_pad(void) {
  for (int m = 0; m < CV_PADMODE_COUNT; m++)
    for (int64_t n = 2; n <= 7; n++)
      for (int64_t lo = 0; lo < n; lo++)
        for (int64_t i = 0; i < lo + n + (n - 1); i++) {
          int64_t want = ref_pad(i, lo, n, (cv_padmode_t)m), got = cv_ix_pad(i, lo, n, (cv_padmode_t)m);
          if (want != got)
            CV_FAIL_("%s n %lld lo %lld i %lld: %lld != %lld", cv_padmode_name((cv_padmode_t)m), (long long)n,
                     (long long)lo, (long long)i, (long long)got, (long long)want);
        }
  /* replicate takes any width */
  CV_ASSERT_EQ(cv_ix_pad(0, 10, 3, CV_PADMODE_REPLICATE), 0);
  CV_ASSERT_EQ(cv_ix_pad(20, 10, 3, CV_PADMODE_REPLICATE), 2);
}

#define CV_TEST_LIST(XX) XX(terms_in_range) XX(values_match_dwt_math) XX(known_points) XX(conv_pad)
CV_TEST_MAIN(CV_TEST_LIST)
