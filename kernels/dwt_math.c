/* dwt_math.c — PyWavelets' length rules (dwt_coeff_len, dwt_max_level, idwt
 * output length), its nine signal extensions as sparse linear terms, and the
 * dwt/idwt band names. Pure functions; any thread. The idwt's input layout
 * (cv_idwt_layout) lives with the rest of the validation in infer_dwt.c. */
#include "dwt_math.h"
#include "dwt_index.h"

#include <stdio.h>
#include <string.h>

/* ---- lengths ---- */

int64_t cv_dwt_coeff_len(int64_t n, int filter_len, cv_mode_t mode) {
  if (mode == CV_MODE_PERIODIZATION) return (n + 1) / 2;
  return (n + filter_len - 1) / 2;
}

int cv_dwt_max_level(int64_t n, int filter_len) {
  if (filter_len < 2 || n < filter_len - 1) return 0;
  uint64_t v = (uint64_t)(n / (filter_len - 1));   /* >= 1; pywt divides as integers */
  int level = 0;
  while (v > 1) {
    v >>= 1;
    level++;
  }
  return level;
}

int64_t cv_idwt_out_len(int64_t m, int filter_len, cv_mode_t mode) {
  if (mode == CV_MODE_PERIODIZATION) return 2 * m;
  return 2 * m - filter_len + 2;
}

/* The rules live once, in dwt_index.h (host- and device-callable). */
int cv_ext_terms(int64_t n, int64_t i, cv_mode_t mode, int64_t q[CV_EXT_MAX_TERMS],
                 double c[CV_EXT_MAX_TERMS]) {
  return cv_ix_ext_terms(n, i, mode, q, c);
}

double cv_ext_value_f64(const double *x, int64_t n, int64_t stride, int64_t i, cv_mode_t mode) {
  int64_t q[CV_EXT_MAX_TERMS];
  double c[CV_EXT_MAX_TERMS], v = 0.0;
  int nt = cv_ext_terms(n, i, mode, q, c);
  for (int t = 0; t < nt; t++) v += c[t] * x[q[t] * stride];
  return v;
}

float cv_ext_value_f32(const float *x, int64_t n, int64_t stride, int64_t i, cv_mode_t mode) {
  int64_t q[CV_EXT_MAX_TERMS];
  double c[CV_EXT_MAX_TERMS], v = 0.0;
  int nt = cv_ext_terms(n, i, mode, q, c);
  for (int t = 0; t < nt; t++) v += c[t] * (double)x[q[t] * stride];
  return (float)v;
}

/* ---- names ---- */

int cv_dwt_band_name(char *buf, size_t cap, int level, unsigned bits, int n) {
  if (level == 0) {
    if (cap < 2) return -CV_EINVALID_ARGUMENT;
    memcpy(buf, "a", 2);
    return 0;
  }
  char key[CV_MAX_DIMS + 1];
  if (n < 1 || n > CV_MAX_DIMS) return -CV_EINVALID_ARGUMENT;
  for (int t = 0; t < n; t++) key[t] = (bits >> (n - 1 - t)) & 1u ? 'd' : 'a';
  key[n] = 0;
  int w = snprintf(buf, cap, "d%d_%s", level, key);
  return w < 0 || (size_t)w >= cap ? -CV_EINVALID_ARGUMENT : 0;
}

int cv_dwt_parse_name(const char *name, int *level, unsigned *bits, int *n) {
  if (strcmp(name, "a") == 0) {
    *level = 0;
    *bits = 0;
    *n = 0;
    return 0;
  }
  if (name[0] != 'd' || name[1] < '1' || name[1] > '9') return -CV_EINVALID_ARGUMENT;
  const char *s = name + 1;
  int j = 0;
  for (; *s >= '0' && *s <= '9'; s++) {
    j = j * 10 + (*s - '0');
    if (j > CV_DWT_MAX_LEVEL * 1000) return -CV_EINVALID_ARGUMENT;
  }
  if (*s++ != '_') return -CV_EINVALID_ARGUMENT;
  unsigned b = 0;
  int len = 0;
  for (; *s; s++, len++) {
    if (len == CV_MAX_DIMS || (*s != 'a' && *s != 'd')) return -CV_EINVALID_ARGUMENT;
    b = (b << 1) | (*s == 'd');
  }
  if (len == 0 || b == 0) return -CV_EINVALID_ARGUMENT;
  *level = j;
  *bits = b;
  *n = len;
  return 0;
}
