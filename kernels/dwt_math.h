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

/* ---- extension as terms, band names, the idwt's input layout ---- */

#define CV_DWT_MAX_LEVEL 64   /* highest dwt/idwt level accepted ("level") */
#define CV_EXT_MAX_TERMS 3    /* an extended sample combines at most 3 input samples */

/* Sample i (any integer) of x[0..n) extended by mode, as a linear combination
 * of input samples: writes q[t], c[t] with ext(i) = Σ c[t]·x[q[t]] and
 * returns the count (0 = a zero sample). The rules are those of pywt's C
 * core (= pywt.pad), repeated for any distance: symmetric and antisymmetric
 * have period 2n, reflect 2n−2, periodic n; smooth and antireflect are
 * affine in the edge samples. Where pywt has no rule we take the natural
 * one: n = 1 makes reflect, antireflect and smooth constant (pywt's dwt does
 * so for smooth, np.pad for reflect; pywt's dwt never returns there).
 * periodization is pywt.pad's: an odd n repeats its last sample once, then
 * the signal wraps. n >= 1. */
int cv_ext_terms(int64_t n, int64_t i, cv_mode_t mode, int64_t q[CV_EXT_MAX_TERMS],
                 double c[CV_EXT_MAX_TERMS]);

/* Output names: "a" and "d{level}_{key}"; key has n letters, letter t is 'd'
 * when bit (n−1−t) of bits is set, so bits 0 … 2^n−1 run in
 * itertools.product('ad', repeat=n) order. 0, or -CV_EINVALID_ARGUMENT when
 * buf is too small. */
int cv_dwt_band_name(char *buf, size_t cap, int level, unsigned bits, int n);
/* Parses "a" (level 0, n 0) or "d{j}_{key}" (j >= 1 without leading zeros,
 * key of 1..CV_MAX_DIMS letters a/d, not all 'a'). 0 or -CV_EINVALID_ARGUMENT. */
int cv_dwt_parse_name(const char *name, int *level, unsigned *bits, int *n);

/* pywt.waverecn's view of an idwt's inputs: which levels run, each level's
 * coefficient shape and its result trimmed as pywt trims (an approximation
 * one sample longer than the next level's details loses its last sample) or
 * cropped by `shape`, and x's dtype as pywt forms it. */
typedef struct cv_idwt_layout_s {
  int ndim;                   /* rank of every input and of x */
  int nkey;                   /* transformed axes = letters per key */
  int level;                  /* resolved level L (0: x = a) */
  int start;                  /* first level that runs: L, or without `a` the top detail level */
  int a_index;                /* index of input "a" in in[], -1 when absent */
  cv_dtype_t dtype;           /* x's dtype */
  int64_t band[CV_DWT_MAX_LEVEL + 1][CV_MAX_DIMS];  /* coefficient shape at level j */
  int64_t res[CV_DWT_MAX_LEVEL + 1][CV_MAX_DIMS];   /* level j's result, trimmed/cropped */
  int64_t x_shape[CV_MAX_DIMS];                     /* x = res[1] (level 0: a, cropped) */
} cv_idwt_layout_t;

/* Validates an idwt's inputs against params whose axes, wavelets and modes
 * cv_op_infer resolved (level may still be CV_LEVEL_AUTO) and fills lay.
 * Implemented in infer_dwt.c; every backend's idwt uses it. Errors name the
 * field ("inputs.d2_ad", "level", "shape", "wavelet"). 0 or -CV_E…. */
int cv_idwt_layout(const cv_dwt_params_t *p, const cv_io_t *in, int n_in, cv_idwt_layout_t *lay,
                   cv_error_t *err);

#endif
