/* dwt_math.h — index, length and boundary-extension math of the wavelet and
 * separable-filter ops, in plain C so the CPU and CUDA paths share it and the
 * CPU unit tests cover it. Matches PyWavelets (pywt 1.x C core) exactly.
 * Pure functions; any thread. CV_HD marks what CUDA device code may call. */
#ifndef CV_DWT_MATH_H
#define CV_DWT_MATH_H

#include <stdint.h>

#include "ops.h"

#ifdef __CUDACC__
#define CV_HD __host__ __device__
#else
#define CV_HD
#endif

/* pywt.dwt_coeff_len(n, filter_len, mode): periodization ceil(n/2), else
 * floor((n + filter_len − 1) / 2). n >= 1. */
int64_t cv_dwt_coeff_len(int64_t n, int filter_len, cv_mode_t mode);

/* pywt.dwt_max_level(n, filter_len): 0 when filter_len < 2 or n < filter_len − 1,
 * else floor(log2(n / (filter_len − 1))). */
int cv_dwt_max_level(int64_t n, int filter_len);

/* pywt's idwt output length for coefficients of length m:
 * periodization 2m, else 2m − filter_len + 2. */
int64_t cv_idwt_out_len(int64_t m, int filter_len, cv_mode_t mode);

/* Sample i (any integer, inside or outside [0, n)) of x[0..n) (elements
 * stride apart) extended by mode, as pywt.pad(x, width, mode) defines it for
 * any width (repeating the rule as often as needed when the extension is
 * longer than the signal). Not for periodization (which the dwt handles by
 * its own rule). n >= 1. */
double cv_ext_value_f64(const double *x, int64_t n, int64_t stride, int64_t i, cv_mode_t mode);
float cv_ext_value_f32(const float *x, int64_t n, int64_t stride, int64_t i, cv_mode_t mode);

#endif
