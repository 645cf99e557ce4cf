/* wavelet.c — lookups into the generated wavelet table (wavelets_table.c):
 * by index in pywt's order, and by name (case-insensitive binary search over
 * the generated name index), and copying a row into a job's filter bank.
 * Pure reads of const tables; any thread. */
#include <string.h>

#include "internal.h"

_Static_assert(CV_WAVELET_MAX_LEN >= 102, "the longest pywt filter (dmey) has 102 taps");

int cv_wavelet_count(void) { return cv__wavelet_table_len; }

const cv_wavelet_info_t *cv_wavelet_get(int i) {
  if (i < 0 || i >= cv__wavelet_table_len) return NULL;
  return &cv__wavelet_table[i];
}

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; }

/* Compares name (any case) with a table name (all lower case) in byte order. */
static int cmp_lower(const char *name, const char *row) {
  const unsigned char *a = (const unsigned char *)name, *b = (const unsigned char *)row;
  for (;; a++, b++) {
    int ca = lower(*a), cb = *b;
    if (ca != cb || ca == 0) return ca - cb;
  }
}

const cv_wavelet_info_t *cv_wavelet_find(const char *name) {
  if (!name) return NULL;
  int lo = 0, hi = cv__wavelet_table_len - 1;
  while (lo <= hi) {
    int mid = lo + (hi - lo) / 2;
    const cv_wavelet_info_t *row = &cv__wavelet_table[cv__wavelet_by_name[mid]];
    int c = cmp_lower(name, row->name);
    if (c == 0) return row;
    if (c < 0)
      hi = mid - 1;
    else
      lo = mid + 1;
  }
  return NULL;
}

void cv_wavelet_from_info(cv_wavelet_t *w, const cv_wavelet_info_t *info) {
  memset(w, 0, sizeof *w);
  size_t n = strlen(info->name);
  if (n >= sizeof w->name) n = sizeof w->name - 1;
  memcpy(w->name, info->name, n);
  int len = info->dec_len < CV_WAVELET_MAX_LEN ? info->dec_len : CV_WAVELET_MAX_LEN;
  w->len = len;
  memcpy(w->dec_lo, info->dec_lo, (size_t)len * sizeof(double));
  memcpy(w->dec_hi, info->dec_hi, (size_t)len * sizeof(double));
  memcpy(w->rec_lo, info->rec_lo, (size_t)len * sizeof(double));
  memcpy(w->rec_hi, info->rec_hi, (size_t)len * sizeof(double));
}
