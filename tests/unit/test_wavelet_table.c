/* test_wavelet_table.c — the generated wavelet table and its lookups:
 * count, pywt order, case-insensitive find over every row, known taps,
 * orthonormality of the orthogonal banks, copying into a cv_wavelet_t. */
#include <ctype.h>

#include "kernels/wavelet.h"
#include "runner.h"

static void test_count_and_order(void) {
  CV_ASSERT_EQ(cv_wavelet_count(), 106);
  CV_ASSERT_STREQ(cv_wavelet_get(0)->name, "bior1.1");   /* pywt's order starts with bior */
  CV_ASSERT(cv_wavelet_get(-1) == NULL);
  CV_ASSERT(cv_wavelet_get(106) == NULL);
}

static void test_find_every_row(void) {
  for (int i = 0; i < cv_wavelet_count(); i++) {
    const cv_wavelet_info_t *w = cv_wavelet_get(i);
    CV_ASSERT(cv_wavelet_find(w->name) == w);
    char up[32];
    size_t n = strlen(w->name);
    CV_ASSERT(n < sizeof up);
    for (size_t k = 0; k <= n; k++) up[k] = (char)toupper((unsigned char)w->name[k]);
    if (cv_wavelet_find(up) != w) CV_FAIL_("row %d: find(\"%s\") failed", i, up);
    CV_ASSERT_EQ(w->dec_len, w->rec_len);
    CV_ASSERT(w->dec_len >= 2 && w->dec_len <= CV_WAVELET_MAX_LEN);
  }
}

static void test_find_case_and_unknown(void) {
  const cv_wavelet_info_t *h = cv_wavelet_find("HAAR");
  CV_ASSERT(h != NULL);
  CV_ASSERT_STREQ(h->name, "haar");
  CV_ASSERT_STREQ(h->family, "haar");
  CV_ASSERT(cv_wavelet_find("Db4") == cv_wavelet_find("db4"));
  static const char *const unknown[] = {"", "db", "db0", "db39", "haar ", "sym1", "bior1.2",
                                        "dmeyy", "coif18", "zz", "a"};
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
    if (cv_wavelet_find(unknown[i]) != NULL) CV_FAIL_("\"%s\" should be unknown", unknown[i]);
  CV_ASSERT(cv_wavelet_find(NULL) == NULL);
}

static void test_haar_taps(void) {
  const cv_wavelet_info_t *h = cv_wavelet_find("haar");
  CV_ASSERT_EQ(h->dec_len, 2);
  double r = 1.0 / sqrt(2.0);
  CV_ASSERT_NEAR(h->dec_lo[0], r, 1e-15);
  CV_ASSERT_NEAR(h->dec_lo[1], r, 1e-15);
  CV_ASSERT_NEAR(h->dec_hi[0], -r, 1e-15);
  CV_ASSERT_NEAR(h->dec_hi[1], r, 1e-15);
  CV_ASSERT(h->orthogonal && h->biorthogonal);
  CV_ASSERT_EQ(h->vanishing_moments_psi, 1);
}

static void test_orthogonal_banks(void) {
  int n_orth = 0;
  for (int i = 0; i < cv_wavelet_count(); i++) {
    const cv_wavelet_info_t *w = cv_wavelet_get(i);
    if (!w->orthogonal || strcmp(w->family, "dmey") == 0) continue;   /* dmey is approximate */
    /* pywt stores some banks (sym, coif) to ~12 digits: 1e-10, db4 to 1e-14 below */
    n_orth++;
    double s = 0, shift = 0;
    for (int k = 0; k < w->dec_len; k++) s += w->dec_lo[k] * w->dec_lo[k];
    for (int k = 0; k + 2 < w->dec_len; k++) shift += w->dec_lo[k] * w->dec_lo[k + 2];
    if (fabs(s - 1.0) > 1e-10 || fabs(shift) > 1e-10)
      CV_FAIL_("%s: sum dec_lo^2 = %.17g, shift-2 product %.3g", w->name, s, shift);
  }
  CV_ASSERT(n_orth > 60);
  const cv_wavelet_info_t *d = cv_wavelet_find("db4");
  double s = 0;
  for (int k = 0; k < d->dec_len; k++) s += d->dec_lo[k] * d->dec_lo[k];
  CV_ASSERT_NEAR(s, 1.0, 1e-14);
  CV_ASSERT_EQ(d->dec_len, 8);
  CV_ASSERT_EQ(d->vanishing_moments_psi, 4);
}

static void test_dmey_and_bior_properties(void) {
  const cv_wavelet_info_t *d = cv_wavelet_find("dmey");
  CV_ASSERT_EQ(d->vanishing_moments_psi, -1);
  CV_ASSERT_EQ(d->vanishing_moments_phi, -1);
  const cv_wavelet_info_t *b = cv_wavelet_find("bior2.2");
  CV_ASSERT(!b->orthogonal && b->biorthogonal);
  CV_ASSERT_STREQ(b->symmetry, "symmetric");
  CV_ASSERT_STREQ(b->family, "bior");
  CV_ASSERT_STREQ(cv_wavelet_find("rbio3.1")->family, "rbio");
}

static void test_from_info(void) {
  cv_wavelet_t w;
  const cv_wavelet_info_t *info = cv_wavelet_find("sym5");
  cv_wavelet_from_info(&w, info);
  CV_ASSERT_STREQ(w.name, "sym5");
  CV_ASSERT_EQ(w.len, 10);
  CV_ASSERT(memcmp(w.dec_lo, info->dec_lo, 10 * sizeof(double)) == 0);
  CV_ASSERT(memcmp(w.rec_hi, info->rec_hi, 10 * sizeof(double)) == 0);
  CV_ASSERT(w.dec_lo[10] == 0.0);
}

#define CV_TEST_LIST(XX)                                                         \
  XX(count_and_order) XX(find_every_row) XX(find_case_and_unknown) XX(haar_taps) \
  XX(orthogonal_banks) XX(dmey_and_bior_properties) XX(from_info)
CV_TEST_MAIN(CV_TEST_LIST)
