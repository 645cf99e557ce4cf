/* internal.h — declarations shared between kernels/ files only (cv__ prefix).
 * Per-op shape inference lives in infer_<op>.c; ops.c dispatches to it. */
#ifndef CV_KERNELS_INTERNAL_H
#define CV_KERNELS_INTERNAL_H

#include "ops.h"

int cv__infer_dwt(cv_dwt_params_t *p, const cv_io_t *in, int n_in, cv_infer_t *res, cv_error_t *err);
int cv__infer_idwt(cv_dwt_params_t *p, const cv_io_t *in, int n_in, cv_infer_t *res, cv_error_t *err);
int cv__infer_sepconv(cv_sepconv_params_t *p, const cv_io_t *in, int n_in, cv_infer_t *res,
                      cv_error_t *err);
int cv__infer_conv(cv_conv_params_t *p, const cv_io_t *in, int n_in, cv_infer_t *res, cv_error_t *err);

/* Finds a named input; NULL when absent. */
const cv_io_t *cv__find_input(const cv_io_t *in, int n_in, const char *name);
/* Allocates res->out with n entries (zeroed). 0 or -CV_EOUT_OF_MEMORY. */
int cv__infer_alloc(cv_infer_t *res, int n, cv_error_t *err);
/* Adds a warning line to res (dropped past CV_WARN_MAX). */
void cv__infer_warn(cv_infer_t *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The generated wavelet table (wavelets_table.c, tools/gen_wavelets.py): rows in
 * pywt's order, and their indices sorted by name for binary search. */
extern const cv_wavelet_info_t cv__wavelet_table[];
extern const int cv__wavelet_table_len;
extern const unsigned char cv__wavelet_by_name[];

#endif
