/* dwt_index.h — header-only, host- and device-callable (CV_HD) versions of
 * the boundary-extension and padding index math: pywt's nine signal
 * extensions as sparse terms (the same rules as cv_ext_terms in dwt_math.c)
 * and PyTorch's conv padding modes. The CUDA kernels call these; the CPU unit
 * test tests/unit/test_dwt_index.c checks them against dwt_math.c. Pure. */
#ifndef CV_DWT_INDEX_H
#define CV_DWT_INDEX_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#include "dwt_math.h"
}
#else
#include "dwt_math.h"
#endif

static CV_HD inline int64_t cv_ix_mod(int64_t i, int64_t p) {
  int64_t r = i % p;
  return r < 0 ? r + p : r;
}

static CV_HD inline int cv_ix_one(int64_t q0, double c0, int64_t *q, double *c) {
  q[0] = q0;
  c[0] = c0;
  return 1;
}

/* Sample i (any integer) of x[0..n) extended by `mode` as Σ c[t]·x[q[t]]:
 * writes up to CV_EXT_MAX_TERMS terms and returns their count (0 = zero).
 * Same contract and results as cv_ext_terms; n >= 1. */
static CV_HD inline int cv_ix_ext_terms(int64_t n, int64_t i, cv_mode_t mode, int64_t *q, double *c) {
  if (i >= 0 && i < n) return cv_ix_one(i, 1.0, q, c);
  if (n == 1 && mode != CV_MODE_ZERO && mode != CV_MODE_ANTISYMMETRIC) return cv_ix_one(0, 1.0, q, c);
  switch (mode) {
    case CV_MODE_ZERO:
      return 0;
    case CV_MODE_CONSTANT:
      return cv_ix_one(i < 0 ? 0 : n - 1, 1.0, q, c);
    case CV_MODE_SYMMETRIC: {
      int64_t r = cv_ix_mod(i, 2 * n);
      return cv_ix_one(r < n ? r : 2 * n - 1 - r, 1.0, q, c);
    }
    case CV_MODE_ANTISYMMETRIC: {
      int64_t r = cv_ix_mod(i, 2 * n);
      return r < n ? cv_ix_one(r, 1.0, q, c) : cv_ix_one(2 * n - 1 - r, -1.0, q, c);
    }
    case CV_MODE_REFLECT: {
      int64_t r = cv_ix_mod(i, 2 * n - 2);
      return cv_ix_one(r < n ? r : 2 * n - 2 - r, 1.0, q, c);
    }
    case CV_MODE_PERIODIC:
      return cv_ix_one(cv_ix_mod(i, n), 1.0, q, c);
    case CV_MODE_PERIODIZATION: {
      int64_t r = cv_ix_mod(i, n + (n & 1));
      return cv_ix_one(r < n ? r : n - 1, 1.0, q, c);
    }
    case CV_MODE_SMOOTH: {
      int64_t k = i < 0 ? -i : i - (n - 1);
      q[0] = i < 0 ? 0 : n - 1;
      c[0] = 1.0 + (double)k;
      q[1] = i < 0 ? 1 : n - 2;
      c[1] = -(double)k;
      return 2;
    }
    case CV_MODE_ANTIREFLECT: {
      int64_t L = n - 1, r = cv_ix_mod(i, 2 * L), per = (i - r) / (2 * L);
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

/* Extended sample i of x[0..n) (elements `stride` apart), summed in double
 * as the CPU paths do. */
static CV_HD inline double cv_ix_ext_f32(const float *x, int64_t n, int64_t stride, int64_t i, cv_mode_t mode) {
  int64_t q[CV_EXT_MAX_TERMS];
  double c[CV_EXT_MAX_TERMS], v = 0.0;
  int nt = cv_ix_ext_terms(n, i, mode, q, c);
  for (int t = 0; t < nt; t++) v += c[t] * (double)x[q[t] * stride];
  return v;
}

static CV_HD inline double cv_ix_ext_f64(const double *x, int64_t n, int64_t stride, int64_t i, cv_mode_t mode) {
  int64_t q[CV_EXT_MAX_TERMS];
  double c[CV_EXT_MAX_TERMS], v = 0.0;
  int nt = cv_ix_ext_terms(n, i, mode, q, c);
  for (int t = 0; t < nt; t++) v += c[t] * x[q[t] * stride];
  return v;
}

/* conv padding (torch.nn.functional.pad): index into x[0..n) of padded
 * position i (i counts from the padded start, lo samples before x[0]);
 * -1 = a zero sample (padding_mode zeros). reflect and circular need
 * lo, hi < n (cv_op_infer checks); replicate takes any width. */
static CV_HD inline int64_t cv_ix_pad(int64_t i, int64_t lo, int64_t n, cv_padmode_t m) {
  int64_t j = i - lo;
  if (j >= 0 && j < n) return j;
  switch (m) {
    case CV_PADMODE_ZEROS:
      return -1;
    case CV_PADMODE_REFLECT:
      if (j < 0) j = -j;
      if (j >= n) j = 2 * (n - 1) - j;
      return j;
    case CV_PADMODE_REPLICATE:
      return j < 0 ? 0 : n - 1;
    case CV_PADMODE_CIRCULAR:
      return cv_ix_mod(j, n);
    case CV_PADMODE_COUNT:
      break;
  }
  return -1;
}

#endif
