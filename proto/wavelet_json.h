/* wavelet_json.h — JSON bodies of GET /v1/wavelets and GET /v1/wavelets/{name}
 * (design.md §2) from the generated wavelet table. Float64 taps are printed
 * with the fewest of 15-17 significant digits that parse back to the same
 * bits (-0 as "-0.0"). Pure; any thread. */
#ifndef CV_WAVELET_JSON_H
#define CV_WAVELET_JSON_H

#include "../kernels/wavelet.h"

/* {"wavelets":[{"name":"haar","family":"haar"},…]} in pywt's order.
 * Returns a malloc'd string made by cJSON_PrintUnformatted (free with free(),
 * which is cJSON_free under cJSON's default hooks), or NULL when out of memory. */
char *cv_wavelets_list_json(void);

/* {"name","family","filters":{"dec_lo","dec_hi","rec_lo","rec_hi"},"orthogonal",
 *  "biorthogonal","symmetry","vanishing_moments_psi","dec_len"} for one row;
 * vanishing_moments_psi is null when pywt has None. Same ownership as above;
 * NULL when w is NULL or out of memory. */
char *cv_wavelet_json(const cv_wavelet_info_t *w);

#endif
