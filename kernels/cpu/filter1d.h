/* filter1d.h — private to the CPU dwt/idwt: one axis' filter plan (which
 * input samples, with which weights, make each output pair, boundaries
 * folded by the extension mode) and the typed kernels that apply it
 * (float and double; complex runs as pairs of reals). Plans are built once
 * per level and axis and then read by every thread. */
#ifndef CV_CPU_FILTER1D_H
#define CV_CPU_FILTER1D_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../dwt_math.h"

/* Most terms one unit may have (the boundary units of a short signal merge
 * to at most the signal's length, and never exceed 3 per tap). */
#define CV_FTERM_MAX (3 * CV_WAVELET_MAX_LEN + 8)

/* One term: input src (dwt: 0; idwt: 0 = approximation, 1 = detail) at
 * position `pos` (interior: step·u + pos; boundary: pos itself), weighted w0
 * into the unit's first output and w1 into its second. */
typedef struct cv_fterm_s {
  int src;
  int64_t pos;
  double w0, w1;
} cv_fterm_t;

/* An extended sample as input samples: Σ c[t]·x[q[t]] (dwt rows). */
typedef struct cv_fext_s {
  int nt;
  int64_t q[CV_EXT_MAX_TERMS];
  double c[CV_EXT_MAX_TERMS];
} cv_fext_t;

/* A unit is one output pair: dwt coefficient u of both bands (lo, hi);
 * idwt samples 2u and 2u+1 of the result. */
typedef struct cv_fplan_s {
  int64_t n_in;              /* input length along the axis */
  int64_t n_units;           /* dwt: coefficients per band; idwt: output pairs */
  int step;                  /* interior unit u reads step·u + pos: dwt 2, idwt 1 */
  int64_t int_lo, int_hi;    /* interior units [int_lo, int_hi): no boundary */
  int n_terms;
  int64_t min_pos, max_pos;  /* range of the interior terms' pos */
  cv_fterm_t *terms;         /* n_terms of them (owned; dwt ≤ F, idwt ≤ 2·F before merging) */
  int64_t n_bnd;             /* boundary units: [0, int_lo) then [int_hi, n_units) */
  int64_t *bnd_first;        /* n_bnd + 1 offsets into bnd */
  cv_fterm_t *bnd;
  cv_mode_t mode;
  /* dwt: the extended samples the units read left of 0 (positions
   * min_pos … −1) and from n_in on (n_in … 2·(n_units−1) + max_pos) */
  int64_t n_ext_lo, n_ext_hi;
  cv_fext_t *ext;            /* n_ext_lo left ones, then n_ext_hi right ones */
} cv_fplan_t;

/* dwt along an axis of n samples: pywt's downsampling convolution with
 * dec_lo (w0) and dec_hi (w1). f32_taps rounds the taps to float first, as
 * pywt does for float32 data. 0 or -CV_EOUT_OF_MEMORY. */
int cv_fplan_dwt(cv_fplan_t *pl, int64_t n, const cv_wavelet_t *w, cv_mode_t mode, bool f32_taps);
/* idwt along an axis of m coefficients (pywt's upsampling convolution with
 * rec_lo on src 0 and rec_hi on src 1). The filter length must be even and
 * the result non-empty (cv_idwt_layout checks both). */
int cv_fplan_idwt(cv_fplan_t *pl, int64_t m, const cv_wavelet_t *w, cv_mode_t mode, bool f32_taps);
void cv_fplan_free(cv_fplan_t *pl);

/* The terms of unit u as pointers: base[src] + pos·stride bytes (a NULL base
 * = a zero input, its terms dropped). Returns the count; writes p, w0, w1. */
int cv_fplan_unit(const cv_fplan_t *pl, int64_t u, const char *const base[2], int64_t stride,
                  const void **p, double *w0, double *w1);

/* ---- typed kernels ---- */

typedef struct cv_fk_s {
  size_t es;   /* bytes per element */
  /* o0[i] = Σ_t w0[t]·p[t][i], o1[i] = Σ_t w1[t]·p[t][i], i < len; t in order. */
  void (*mac2)(int nt, const void *const *p, const double *w0, const double *w1, int64_t len, void *o0,
               void *o1);
  /* The extended samples p0..p1 of row x under dwt plan pl, those at even
   * p − p0 into e, odd into o (e[k] is sample p0 + 2k, o[k] p0 + 2k + 1). */
  void (*padsplit)(const struct cv_fplan_s *pl, const void *x, int64_t p0, int64_t p1, void *e, void *o);
  /* e[k] = x[2k], o[k] = x[2k+1] for the n samples of x. */
  void (*deint)(const void *x, int64_t n, void *e, void *o);
  /* out[2k] = e[k], out[2k+1] = o[k] for the n samples of out. */
  void (*inter)(const void *e, const void *o, int64_t n, void *out);
} cv_fk_t;

extern const cv_fk_t cv_fk_f32, cv_fk_f64;

/* Elements of ws that a row kernel needs with this plan. */
int64_t cv_frow_ws(const cv_fplan_t *pl);
/* dwt of units [u0, u1) of one contiguous row x (n_in samples) into lo[u],
 * hi[u]; ws holds cv_frow_ws elements. */
void cv_frow_dwt(const cv_fplan_t *pl, const cv_fk_t *fk, const void *x, int64_t u0, int64_t u1,
                 void *lo, void *hi, void *ws);
/* Complex rows (pairs of reals) through the real row kernels: the rows are
 * split into real and imaginary runs in ws (cv_fcrow_ws elements) and
 * merged back. Same ranges and arguments as cv_frow_dwt / cv_frow_idwt. */
int64_t cv_fcrow_ws(const cv_fplan_t *pl);
void cv_fcrow_dwt(const cv_fplan_t *pl, const cv_fk_t *fk, const void *x, int64_t u0, int64_t u1,
                  void *lo, void *hi, void *ws);
void cv_fcrow_idwt(const cv_fplan_t *pl, const cv_fk_t *fk, const void *a, const void *d, int64_t u0,
                   int64_t u1, void *out, int64_t out_len, void *ws);
/* idwt of pairs [u0, u1) from rows a, d (NULL = zeros; n_in samples each)
 * into out[2u], out[2u+1] for indexes < out_len; ws holds cv_frow_ws elements. */
void cv_frow_idwt(const cv_fplan_t *pl, const cv_fk_t *fk, const void *a, const void *d, int64_t u0,
                  int64_t u1, void *out, int64_t out_len, void *ws);

/* ---- shared by dwt.c and idwt.c ---- */

#define CV_DWT_RANK (CV_MAX_DIMS + 1)        /* complex adds a trailing (re, im) axis */
#define CV_DWT_MAX_BANDS (1 << CV_MAX_DIMS)  /* bands of one level, all-'a' included */
#define CV_DWT_PAR_MIN 32768                 /* elements below which a level runs on one thread */
#define CV_DWT_ROW_CHUNK_MIN 2048            /* fewest units of one row handed to a thread */

/* How many pieces each of B items is cut into so that `threads` threads
 * have work: 1 unless the pass runs by rows and there are fewer than two
 * items a thread; never pieces below CV_DWT_ROW_CHUNK_MIN units. */
static inline int64_t cv__dwt_row_chunks(int row, int64_t B, int threads, int64_t units) {
  if (!row || B >= 2 * threads) return 1;
  int64_t chunks = (2 * threads + B - 1) / (B > 0 ? B : 1), most = units / CV_DWT_ROW_CHUNK_MIN;
  return chunks > most ? (most > 0 ? most : 1) : chunks;
}

/* An array as the kernels see it: real elements, complex as a trailing 2. */
typedef struct cv_fgeom_s {
  int rank;
  int row_dim;         /* the axis rows run along: rank − 1, or rank − 2 for complex */
  int64_t shape[CV_DWT_RANK];
  const cv_fk_t *fk;   /* float kernels for f32/c64, double for f64/c128 */
} cv_fgeom_t;

void cv_fgeom(cv_fgeom_t *g, const int64_t *shape, int ndim, cv_dtype_t dt);

/* Scratch arrays for a level's approximation and promoted inputs: large
 * ones are 2 MiB-aligned and advised into huge pages (fewer faults).
 * NULL when out of memory; cv_fbuf_free(NULL) is a no-op. */
#define CV_FBUF_HUGE_MIN ((size_t)4 << 20)
void *cv_fbuf_alloc(size_t bytes);
void cv_fbuf_free(void *p);

/* dwt_haar.c: one dwt level in a single fused pass when every transformed
 * axis has a 2-tap filter and even length and they are the last 1–3 axes
 * (plan[d] NULL for batch axes; bit[d] the band bit of axis d; band[] by
 * band bits). Returns 1 when it ran the level, 0 when it does not fit. */
int cv_dwt_haar(const cv_fk_t *fk, int rank, const int64_t *shape, const cv_fplan_t *const *plan,
                const unsigned *bit, char *const *band, const void *x, int threads);
/* The same for an idwt level (bands b_shape → out o_shape), when nothing is
 * cropped and no band is missing. 1 when it ran, 0 when it does not fit. */
int cv_idwt_haar(const cv_fk_t *fk, int rank, const int64_t *b_shape, const int64_t *o_shape,
                 const cv_fplan_t *const *plan, const unsigned *bit, const char *const *band, char *out,
                 int threads);

#endif
