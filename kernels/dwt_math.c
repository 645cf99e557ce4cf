/* dwt_math.c — PyWavelets' length rules (dwt_coeff_len, dwt_max_level, idwt
 * output length), its nine signal extensions as sparse linear terms, and the
 * dwt/idwt band names. Pure functions; any thread. The idwt's input layout
 * (cv_idwt_layout) lives with the rest of the validation in infer_dwt.c. */
#include "dwt_math.h"

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

/* ---- extension ---- */

static int64_t mod_pos(int64_t i, int64_t p) {
  int64_t r = i % p;
  return r < 0 ? r + p : r;
}

/* i = p·c + r with 0 <= r < p; returns c (floor division). */
static int64_t floor_div(int64_t i, int64_t p) { return (i - mod_pos(i, p)) / p; }

static int one(int64_t q0, double c0, int64_t q[], double c[]) {
  q[0] = q0;
  c[0] = c0;
  return 1;
}

int cv_ext_terms(int64_t n, int64_t i, cv_mode_t mode, int64_t q[CV_EXT_MAX_TERMS],
                 double c[CV_EXT_MAX_TERMS]) {
  if (i >= 0 && i < n) return one(i, 1.0, q, c);
  if (n == 1 && mode != CV_MODE_ZERO && mode != CV_MODE_ANTISYMMETRIC) return one(0, 1.0, q, c);
  switch (mode) {
    case CV_MODE_ZERO:
      return 0;
    case CV_MODE_CONSTANT:
      return one(i < 0 ? 0 : n - 1, 1.0, q, c);
    case CV_MODE_SYMMETRIC: {
      int64_t r = mod_pos(i, 2 * n);
      return one(r < n ? r : 2 * n - 1 - r, 1.0, q, c);
    }
    case CV_MODE_ANTISYMMETRIC: {
      int64_t r = mod_pos(i, 2 * n);
      return r < n ? one(r, 1.0, q, c) : one(2 * n - 1 - r, -1.0, q, c);
    }
    case CV_MODE_REFLECT: {
      int64_t r = mod_pos(i, 2 * n - 2);
      return one(r < n ? r : 2 * n - 2 - r, 1.0, q, c);
    }
    case CV_MODE_PERIODIC:
      return one(mod_pos(i, n), 1.0, q, c);
    case CV_MODE_PERIODIZATION: {
      int64_t r = mod_pos(i, n + (n & 1));
      return one(r < n ? r : n - 1, 1.0, q, c);
    }
    case CV_MODE_SMOOTH: {
      /* left: x0 + k·(x0 − x1), k = −i; right: x[n−1] + k·(x[n−1] − x[n−2]) */
      int64_t k = i < 0 ? -i : i - (n - 1);
      int64_t e = i < 0 ? 0 : n - 1, e2 = i < 0 ? 1 : n - 2;
      q[0] = e;
      c[0] = 1.0 + (double)k;
      q[1] = e2;
      c[1] = -(double)k;
      return 2;
    }
    case CV_MODE_ANTIREFLECT: {
      /* g(i + 2L) = g(i) + 2(x[L] − x[0]) with L = n − 1; within a period
       * g(r) = x[r] for r <= L and 2·x[L] − x[2L − r] above. */
      int64_t L = n - 1, per = floor_div(i, 2 * L), r = mod_pos(i, 2 * L);
      double s = 1.0, cl = 2.0 * (double)per, c0 = -2.0 * (double)per;
      int64_t qr = r;
      if (r > L) {
        s = -1.0;
        qr = 2 * L - r;
        cl += 2.0;
      }
      int nt = 0;
      q[nt] = qr;
      c[nt++] = s;
      if (cl != 0.0) {
        q[nt] = L;
        c[nt++] = cl;
      }
      if (c0 != 0.0) {
        q[nt] = 0;
        c[nt++] = c0;
      }
      return nt;
    }
    case CV_MODE_COUNT:
      break;
  }
  return 0;
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
