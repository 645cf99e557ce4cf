/* wavelet.h — the discrete wavelet table (all 106 PyWavelets names, generated
 * from PyWavelets into wavelets_table.c by tools/gen_wavelets.py) and the
 * filter bank a job carries by value. Read-only tables; any thread. */
#ifndef CV_WAVELET_H
#define CV_WAVELET_H

#include <stdbool.h>

#define CV_WAVELET_MAX_LEN 128   /* longest filter accepted (coif17, the longest in pywt, has 102) */

/* A filter bank as a job carries it: a table wavelet copied in, or custom. */
typedef struct cv_wavelet_s {
  char name[24];                 /* table name, or "custom" */
  int len;                       /* taps in each of the four filters */
  double dec_lo[CV_WAVELET_MAX_LEN], dec_hi[CV_WAVELET_MAX_LEN];
  double rec_lo[CV_WAVELET_MAX_LEN], rec_hi[CV_WAVELET_MAX_LEN];
} cv_wavelet_t;

/* One row of the generated table, with pywt's values and properties. */
typedef struct cv_wavelet_info_s {
  const char *name;              /* "db4" */
  const char *family;            /* pywt short family name: haar db sym coif bior rbio dmey */
  int dec_len, rec_len;
  const double *dec_lo, *dec_hi, *rec_lo, *rec_hi;
  bool orthogonal, biorthogonal;
  const char *symmetry;          /* "asymmetric", "near symmetric", "symmetric" */
  int vanishing_moments_psi;     /* -1 when pywt gives None */
  int vanishing_moments_phi;     /* -1 when pywt gives None */
} cv_wavelet_info_t;

int cv_wavelet_count(void);                               /* 106 */
const cv_wavelet_info_t *cv_wavelet_get(int i);           /* NULL when out of range */
const cv_wavelet_info_t *cv_wavelet_find(const char *name);  /* case-insensitive; NULL if unknown */
/* Copies a table row into a job's filter bank. */
void cv_wavelet_from_info(cv_wavelet_t *w, const cv_wavelet_info_t *info);

#endif
