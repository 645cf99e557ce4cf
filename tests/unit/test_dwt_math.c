/* test_dwt_math.c — kernels/dwt_math.c against PyWavelets 1.1.1: coefficient
 * lengths (pywt.dwt_coeff_len), maximum levels (pywt.dwt_max_level), idwt
 * output lengths (len(pywt.idwt(...))), the nine extensions far outside the
 * signal (pywt.pad rows), and the band names. Expected rows were produced
 * once with pywt and pasted here. */
#include "../../kernels/dwt_math.h"
#include "runner.h"

/* ---- lengths ---- */

static void test_coeff_len(void) {
  static const struct {
    int64_t n;
    int f;
    cv_mode_t mode;
    int64_t want;
  } rows[] = {
      {1, 2, CV_MODE_ZERO, 1}, {1, 2, CV_MODE_CONSTANT, 1}, {1, 2, CV_MODE_SYMMETRIC, 1},
      {1, 2, CV_MODE_REFLECT, 1}, {1, 2, CV_MODE_PERIODIC, 1}, {1, 2, CV_MODE_SMOOTH, 1},
      {1, 2, CV_MODE_ANTISYMMETRIC, 1}, {1, 2, CV_MODE_ANTIREFLECT, 1}, {1, 2, CV_MODE_PERIODIZATION, 1},
      {1, 8, CV_MODE_ZERO, 4}, {1, 8, CV_MODE_CONSTANT, 4}, {1, 8, CV_MODE_SYMMETRIC, 4},
      {1, 8, CV_MODE_REFLECT, 4}, {1, 8, CV_MODE_PERIODIC, 4}, {1, 8, CV_MODE_SMOOTH, 4},
      {1, 8, CV_MODE_ANTISYMMETRIC, 4}, {1, 8, CV_MODE_ANTIREFLECT, 4}, {1, 8, CV_MODE_PERIODIZATION, 1},
      {2, 2, CV_MODE_ZERO, 1}, {2, 2, CV_MODE_SYMMETRIC, 1}, {2, 2, CV_MODE_PERIODIZATION, 1},
      {3, 2, CV_MODE_ZERO, 2}, {3, 2, CV_MODE_CONSTANT, 2}, {3, 2, CV_MODE_SYMMETRIC, 2},
      {3, 2, CV_MODE_REFLECT, 2}, {3, 2, CV_MODE_PERIODIC, 2}, {3, 2, CV_MODE_SMOOTH, 2},
      {3, 2, CV_MODE_ANTISYMMETRIC, 2}, {3, 2, CV_MODE_ANTIREFLECT, 2}, {3, 2, CV_MODE_PERIODIZATION, 2},
      {3, 8, CV_MODE_ZERO, 5}, {3, 8, CV_MODE_CONSTANT, 5}, {3, 8, CV_MODE_SYMMETRIC, 5},
      {3, 8, CV_MODE_REFLECT, 5}, {3, 8, CV_MODE_PERIODIC, 5}, {3, 8, CV_MODE_SMOOTH, 5},
      {3, 8, CV_MODE_ANTISYMMETRIC, 5}, {3, 8, CV_MODE_ANTIREFLECT, 5}, {3, 8, CV_MODE_PERIODIZATION, 2},
      {7, 4, CV_MODE_ZERO, 5}, {7, 4, CV_MODE_SYMMETRIC, 5}, {7, 4, CV_MODE_PERIODIZATION, 4},
      {8, 4, CV_MODE_ZERO, 5}, {8, 4, CV_MODE_SMOOTH, 5}, {8, 4, CV_MODE_PERIODIZATION, 4},
      {17, 20, CV_MODE_REFLECT, 18}, {17, 20, CV_MODE_PERIODIC, 18}, {17, 20, CV_MODE_PERIODIZATION, 9},
      {1000001, 8, CV_MODE_ANTIREFLECT, 500004}, {1000001, 8, CV_MODE_PERIODIZATION, 500001},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    int64_t got = cv_dwt_coeff_len(rows[i].n, rows[i].f, rows[i].mode);
    if (got != rows[i].want)
      CV_FAIL_("row %zu: coeff_len(%lld, %d, %s) = %lld, want %lld", i, (long long)rows[i].n, rows[i].f,
               cv_mode_name(rows[i].mode), (long long)got, (long long)rows[i].want);
  }
}

static void test_max_level(void) {
  static const struct {
    int64_t n;
    int f, want;
  } rows[] = {
      {1, 2, 0},     {1, 4, 0},     {1, 8, 0},     {1, 102, 0},   {2, 2, 1},     {2, 4, 0},
      {2, 8, 0},     {3, 2, 1},     {3, 4, 0},     {4, 2, 2},     {4, 4, 0},     {7, 2, 2},
      {7, 4, 1},     {7, 8, 0},     {8, 2, 3},     {8, 4, 1},     {8, 8, 0},     {15, 2, 3},
      {15, 4, 2},    {15, 8, 1},    {16, 2, 4},    {16, 4, 2},    {16, 8, 1},    {255, 2, 7},
      {255, 4, 6},   {255, 8, 5},   {255, 102, 1}, {256, 2, 8},   {256, 4, 6},   {256, 8, 5},
      {256, 102, 1}, {1000, 2, 9},  {1000, 4, 8},  {1000, 8, 7},  {1000, 102, 3},
      {1, 1, 0},     {100, 1, 0},   /* pywt rejects 1 tap; convoy answers 0 levels */
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    int got = cv_dwt_max_level(rows[i].n, rows[i].f);
    if (got != rows[i].want)
      CV_FAIL_("row %zu: max_level(%lld, %d) = %d, want %d", i, (long long)rows[i].n, rows[i].f, got,
               rows[i].want);
  }
}

static void test_idwt_len(void) {
  static const struct {
    int64_t m;
    int f;
    cv_mode_t mode;
    int64_t want;
  } rows[] = {
      {1, 2, CV_MODE_SYMMETRIC, 2},  {1, 2, CV_MODE_PERIODIZATION, 2}, {1, 2, CV_MODE_ZERO, 2},
      {13, 2, CV_MODE_SYMMETRIC, 26}, {13, 2, CV_MODE_PERIODIZATION, 26},
      {2, 4, CV_MODE_SYMMETRIC, 2},  {2, 4, CV_MODE_PERIODIZATION, 4}, {3, 4, CV_MODE_ZERO, 4},
      {13, 4, CV_MODE_SYMMETRIC, 24}, {13, 4, CV_MODE_PERIODIZATION, 26},
      {4, 8, CV_MODE_SYMMETRIC, 2},  {4, 8, CV_MODE_PERIODIZATION, 8}, {5, 8, CV_MODE_ZERO, 4},
      {13, 8, CV_MODE_SYMMETRIC, 20}, {13, 8, CV_MODE_PERIODIZATION, 26},
      {31, 62, CV_MODE_SYMMETRIC, 2}, {31, 62, CV_MODE_PERIODIZATION, 62}, {32, 62, CV_MODE_ZERO, 4},
      {13, 62, CV_MODE_PERIODIZATION, 26},
      {3, 8, CV_MODE_SYMMETRIC, 0},  /* pywt: "Invalid coefficient arrays length" */
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    int64_t got = cv_idwt_out_len(rows[i].m, rows[i].f, rows[i].mode);
    if (got != rows[i].want)
      CV_FAIL_("row %zu: idwt_out_len(%lld, %d, %s) = %lld, want %lld", i, (long long)rows[i].m,
               rows[i].f, cv_mode_name(rows[i].mode), (long long)got, (long long)rows[i].want);
  }
}

/* ---- extension: pywt.pad(x, 9, mode), positions −9 … n+8 ---- */

#define EXT_W 9
static const double ext_x[5][4] = {{0}, {5}, {1, 3}, {1, 3, 7}, {2, -1, 4, 8}};
static const struct {
  cv_mode_t mode;
  int n;
  double want[4 + 2 * EXT_W];
} ext_rows[] = {
    {CV_MODE_ZERO, 1, {0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
    {CV_MODE_ZERO, 2, {0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
    {CV_MODE_ZERO, 3, {0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
    {CV_MODE_ZERO, 4, {0, 0, 0, 0, 0, 0, 0, 0, 0, 2, -1, 4, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
    {CV_MODE_CONSTANT, 1, {5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5}},
    {CV_MODE_CONSTANT, 2, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3}},
    {CV_MODE_CONSTANT, 3, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7}},
    {CV_MODE_CONSTANT, 4, {2, 2, 2, 2, 2, 2, 2, 2, 2, 2, -1, 4, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8}},
    {CV_MODE_SYMMETRIC, 1, {5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5}},
    {CV_MODE_SYMMETRIC, 2, {1, 1, 3, 3, 1, 1, 3, 3, 1, 1, 3, 3, 1, 1, 3, 3, 1, 1, 3, 3}},
    {CV_MODE_SYMMETRIC, 3, {7, 3, 1, 1, 3, 7, 7, 3, 1, 1, 3, 7, 7, 3, 1, 1, 3, 7, 7, 3, 1}},
    {CV_MODE_SYMMETRIC, 4, {2, 2, -1, 4, 8, 8, 4, -1, 2, 2, -1, 4, 8, 8, 4, -1, 2, 2, -1, 4, 8, 8}},
    {CV_MODE_REFLECT, 1, {5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5}},
    {CV_MODE_REFLECT, 2, {3, 1, 3, 1, 3, 1, 3, 1, 3, 1, 3, 1, 3, 1, 3, 1, 3, 1, 3, 1}},
    {CV_MODE_REFLECT, 3, {3, 1, 3, 7, 3, 1, 3, 7, 3, 1, 3, 7, 3, 1, 3, 7, 3, 1, 3, 7, 3}},
    {CV_MODE_REFLECT, 4, {8, 4, -1, 2, -1, 4, 8, 4, -1, 2, -1, 4, 8, 4, -1, 2, -1, 4, 8, 4, -1, 2}},
    {CV_MODE_PERIODIC, 1, {5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5}},
    {CV_MODE_PERIODIC, 2, {3, 1, 3, 1, 3, 1, 3, 1, 3, 1, 3, 1, 3, 1, 3, 1, 3, 1, 3, 1}},
    {CV_MODE_PERIODIC, 3, {1, 3, 7, 1, 3, 7, 1, 3, 7, 1, 3, 7, 1, 3, 7, 1, 3, 7, 1, 3, 7}},
    {CV_MODE_PERIODIC, 4, {8, 2, -1, 4, 8, 2, -1, 4, 8, 2, -1, 4, 8, 2, -1, 4, 8, 2, -1, 4, 8, 2}},
    {CV_MODE_SMOOTH, 1, {5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5}},
    {CV_MODE_SMOOTH, 2, {-17, -15, -13, -11, -9, -7, -5, -3, -1, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21}},
    {CV_MODE_SMOOTH, 3, {-17, -15, -13, -11, -9, -7, -5, -3, -1, 1, 3, 7, 11, 15, 19, 23, 27, 31, 35, 39, 43}},
    {CV_MODE_SMOOTH, 4, {29, 26, 23, 20, 17, 14, 11, 8, 5, 2, -1, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44}},
    {CV_MODE_ANTISYMMETRIC, 1, {-5, 5, -5, 5, -5, 5, -5, 5, -5, 5, -5, 5, -5, 5, -5, 5, -5, 5, -5}},
    {CV_MODE_ANTISYMMETRIC, 2, {-1, 1, 3, -3, -1, 1, 3, -3, -1, 1, 3, -3, -1, 1, 3, -3, -1, 1, 3, -3}},
    {CV_MODE_ANTISYMMETRIC, 3, {-7, -3, -1, 1, 3, 7, -7, -3, -1, 1, 3, 7, -7, -3, -1, 1, 3, 7, -7, -3, -1}},
    {CV_MODE_ANTISYMMETRIC, 4, {-2, 2, -1, 4, 8, -8, -4, 1, -2, 2, -1, 4, 8, -8, -4, 1, -2, 2, -1, 4, 8, -8}},
    {CV_MODE_ANTIREFLECT, 1, {5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5}},
    {CV_MODE_ANTIREFLECT, 2, {-17, -15, -13, -11, -9, -7, -5, -3, -1, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21}},
    {CV_MODE_ANTIREFLECT, 3, {-25, -23, -21, -17, -13, -11, -9, -5, -1, 1, 3, 7, 11, 13, 15, 19, 23, 25, 27, 31, 35}},
    {CV_MODE_ANTIREFLECT, 4, {-16, -12, -7, -10, -13, -8, -4, 0, 5, 2, -1, 4, 8, 12, 17, 14, 11, 16, 20, 24, 29, 26}},
    {CV_MODE_PERIODIZATION, 1, {5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5}},
    {CV_MODE_PERIODIZATION, 2, {3, 1, 3, 1, 3, 1, 3, 1, 3, 1, 3, 1, 3, 1, 3, 1, 3, 1, 3, 1}},
    {CV_MODE_PERIODIZATION, 3, {7, 1, 3, 7, 7, 1, 3, 7, 7, 1, 3, 7, 7, 1, 3, 7, 7, 1, 3, 7, 7}},
    {CV_MODE_PERIODIZATION, 4, {8, 2, -1, 4, 8, 2, -1, 4, 8, 2, -1, 4, 8, 2, -1, 4, 8, 2, -1, 4, 8, 2}},
};

static void test_ext_value(void) {
  for (size_t r = 0; r < sizeof ext_rows / sizeof ext_rows[0]; r++) {
    int n = ext_rows[r].n;
    const double *x = ext_x[n];
    float xf[8];   /* the same signal at stride 2, as float */
    for (int i = 0; i < n; i++) {
      xf[2 * i] = (float)x[i];
      xf[2 * i + 1] = -1000.0f;
    }
    for (int k = 0; k < n + 2 * EXT_W; k++) {
      int64_t i = k - EXT_W;
      double got = cv_ext_value_f64(x, n, 1, i, ext_rows[r].mode);
      float gotf = cv_ext_value_f32(xf, n, 2, i, ext_rows[r].mode);
      if (got != ext_rows[r].want[k] || gotf != (float)ext_rows[r].want[k])
        CV_FAIL_("row %zu (%s, n=%d) at %lld: %g / %g, want %g", r, cv_mode_name(ext_rows[r].mode), n,
                 (long long)i, got, (double)gotf, ext_rows[r].want[k]);
    }
  }
}

/* Far outside: the rule repeats (a period of 2n, 2n − 2 or n) or grows
 * affinely (smooth, antireflect); and the terms stay few. */
static void test_ext_far(void) {
  const double x[3] = {1, 3, 7};
  CV_ASSERT_EQ(cv_ext_value_f64(x, 3, 1, -6000000001, CV_MODE_SYMMETRIC), 1);    /* ≡ −1 → x[0] */
  CV_ASSERT_EQ(cv_ext_value_f64(x, 3, 1, 4000000000, CV_MODE_PERIODIC), 3);      /* 4e9 mod 3 = 1 */
  CV_ASSERT_EQ(cv_ext_value_f64(x, 3, 1, 4000000002, CV_MODE_REFLECT), 7);       /* period 4: ≡ 2 */
  CV_ASSERT_EQ(cv_ext_value_f64(x, 3, 1, 6000000003, CV_MODE_ANTISYMMETRIC), -7); /* ≡ 3 → −x[2] */
  CV_ASSERT_EQ(cv_ext_value_f64(x, 3, 1, 1000002, CV_MODE_SMOOTH), 7 + 1000000.0 * 4);
  /* antireflect grows by 2(x[2] − x[0]) = 12 every 4 samples */
  CV_ASSERT_EQ(cv_ext_value_f64(x, 3, 1, 4002, CV_MODE_ANTIREFLECT), 7 + 12.0 * 1000);
  CV_ASSERT_EQ(cv_ext_value_f64(x, 3, 1, -4000, CV_MODE_ANTIREFLECT), 1 - 12.0 * 1000);
  int64_t q[CV_EXT_MAX_TERMS];
  double c[CV_EXT_MAX_TERMS];
  for (int m = 0; m < CV_MODE_COUNT; m++)
    for (int64_t i = -50; i < 60; i++) {
      int nt = cv_ext_terms(3, i, (cv_mode_t)m, q, c);
      CV_ASSERT(nt >= 0 && nt <= CV_EXT_MAX_TERMS);
      for (int t = 0; t < nt; t++) CV_ASSERT(q[t] >= 0 && q[t] < 3);
    }
  CV_ASSERT_EQ(cv_ext_terms(3, 5, CV_MODE_ZERO, q, c), 0);
  CV_ASSERT_EQ(cv_ext_terms(3, 1, CV_MODE_ZERO, q, c), 1);
}

/* ---- names ---- */

static void test_names(void) {
  char buf[CV_NAME_MAX];
  CV_ASSERT_OK(cv_dwt_band_name(buf, sizeof buf, 0, 0, 3));
  CV_ASSERT_STREQ(buf, "a");
  CV_ASSERT_OK(cv_dwt_band_name(buf, sizeof buf, 3, 1, 3));
  CV_ASSERT_STREQ(buf, "d3_aad");
  CV_ASSERT_OK(cv_dwt_band_name(buf, sizeof buf, 12, 4, 3));
  CV_ASSERT_STREQ(buf, "d12_daa");
  CV_ASSERT_OK(cv_dwt_band_name(buf, sizeof buf, 1, 1, 1));
  CV_ASSERT_STREQ(buf, "d1_d");
  CV_ASSERT_EQ(cv_dwt_band_name(buf, 4, 1, 1, 3), -CV_EINVALID_ARGUMENT);

  static const struct {
    const char *name;
    int ok, level;
    unsigned bits;
    int n;
  } rows[] = {
      {"a", 1, 0, 0, 0},          {"d1_d", 1, 1, 1, 1},     {"d2_ad", 1, 2, 1, 2},
      {"d10_dda", 1, 10, 6, 3},   {"d1_aaaaaaad", 1, 1, 1, 8},
      {"d1_a", 0, 0, 0, 0},       {"d1_aa", 0, 0, 0, 0},    {"d0_d", 0, 0, 0, 0},
      {"d01_d", 0, 0, 0, 0},      {"d1_", 0, 0, 0, 0},      {"d1_dx", 0, 0, 0, 0},
      {"d_d", 0, 0, 0, 0},        {"x", 0, 0, 0, 0},        {"d1d", 0, 0, 0, 0},
      {"d1_aaaaaaaad", 0, 0, 0, 0}, {"A", 0, 0, 0, 0},      {"d1_D", 0, 0, 0, 0},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    int level = -1, n = -1;
    unsigned bits = 99;
    int rc = cv_dwt_parse_name(rows[i].name, &level, &bits, &n);
    if ((rc == 0) != rows[i].ok)
      CV_FAIL_("row %zu (%s): rc %d, want %s", i, rows[i].name, rc, rows[i].ok ? "ok" : "error");
    if (rows[i].ok && (level != rows[i].level || bits != rows[i].bits || n != rows[i].n))
      CV_FAIL_("row %zu (%s): level %d bits %u n %d", i, rows[i].name, level, bits, n);
  }
}

#define CV_TEST_LIST(XX) XX(coeff_len) XX(max_level) XX(idwt_len) XX(ext_value) XX(ext_far) XX(names)
CV_TEST_MAIN(CV_TEST_LIST)
