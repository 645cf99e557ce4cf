/* sepconv_kern.h — internal to the CPU sepconv: the resolved plan that
 * sepconv.c builds from validated params (complex inputs viewed as real with a
 * trailing axis of 2) and the typed executors that sepconv_f32.c and
 * sepconv_f64.c stamp from sepconv_tmpl.h. Called on the device worker thread. */
#ifndef CV_CPU_SEPCONV_KERN_H
#define CV_CPU_SEPCONV_KERN_H

#include <stdint.h>

#include "../../proto/errors.h"
#include "../ops.h"

#define CV__SC_MAX_DIMS (CV_MAX_DIMS + 1) /* + the re/im axis of complex data */

typedef struct cv__sc_filter_s {
  int axis, ntaps, stride, dilation;
  int flip;                /* 0/1: apply taps reversed */
  int64_t lo, hi;          /* resolved padding */
  int64_t n, m;            /* axis length before and after this filter */
  cv_mode_t mode;          /* any but periodization */
  const double *taps;      /* ntaps values as given (the params own them) */
} cv__sc_filter_t;

typedef struct cv__sc_plan_s {
  int ndim;
  int64_t shape[CV__SC_MAX_DIMS];   /* input shape, real view */
  int nf;
  cv__sc_filter_t f[CV_SEPCONV_MAX_FILTERS];
} cv__sc_plan_t;

/* y (dense, the plan's output shape) = the filters applied to x; x and y must
 * not overlap. threads >= 1. 0 or -CV_EOUT_OF_MEMORY (err filled). */
int cv__sepconv_exec_f32(const cv__sc_plan_t *p, const float *x, float *y, int threads, cv_error_t *err);
int cv__sepconv_exec_f64(const cv__sc_plan_t *p, const double *x, double *y, int threads, cv_error_t *err);

#endif
