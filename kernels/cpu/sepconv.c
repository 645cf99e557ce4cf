/* sepconv.c — the CPU backend's sepconv entry (design.md §2 "sepconv").
 * Promotes x as pywt does (bool/ints → float64, float16/bfloat16 → float32),
 * views complex data as real pairs (re and im filtered alike), checks the
 * resolved params against y and hands a plan to the typed executors
 * (sepconv_f32.c / sepconv_f64.c). Called on the CPU device worker thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../internal.h"
#include "cpu.h"
#include "sepconv_kern.h"

/* Numerics: float32 data is accumulated in float32 with the taps rounded to
 * float32 (as PyTorch's float32 conv), taps summed in order t = 0, 1, …;
 * padded samples are pywt.pad's (cv_ext_terms, any width), summed in double
 * and rounded once, as cv_ext_value_* does. Filters on different axes
 * commute, so the executor applies those of the outermost filtered axis
 * first and fuses the rest per block of output rows; only rounding can
 * differ from the literal order. Filters on one axis keep their order. */

/* Fills plan from validated params for input shape (ndim, shape). */
static int make_plan(const cv_sepconv_params_t *p, int ndim, const int64_t *shape, bool cplx,
                     cv__sc_plan_t *plan, cv_error_t *err) {
  plan->ndim = ndim + (cplx ? 1 : 0);
  memcpy(plan->shape, shape, sizeof(int64_t) * (size_t)ndim);
  if (cplx) plan->shape[ndim] = 2;
  if (p->n_filters < 1 || p->n_filters > CV_SEPCONV_MAX_FILTERS)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, "filters", "1 to %d filters", CV_SEPCONV_MAX_FILTERS);
  plan->nf = p->n_filters;
  int64_t cur[CV__SC_MAX_DIMS];
  memcpy(cur, plan->shape, sizeof(int64_t) * (size_t)plan->ndim);
  for (int i = 0; i < p->n_filters; i++) {
    const cv_sepconv_filter_t *f = &p->filters[i];
    cv__sc_filter_t *g = &plan->f[i];
    int axis = f->axis < 0 ? f->axis + ndim : f->axis;
    /* cv_op_infer has validated all of this; a plan that slipped past it is
     * still refused rather than run. */
    if (axis < 0 || axis >= ndim || f->ntaps < 1 || f->ntaps > CV_SEPCONV_MAX_TAPS || f->stride < 1 ||
        f->dilation < 1 || f->pad_lo < 0 || f->pad_hi < 0 || (unsigned)f->mode >= CV_MODE_COUNT ||
        f->mode == CV_MODE_PERIODIZATION || cur[axis] < 1) {
      char field[32];
      snprintf(field, sizeof field, "filters[%d]", i);
      return cv_error_set(err, CV_EINVALID_ARGUMENT, field, "filter not resolved by shape inference");
    }
    g->axis = axis;
    g->ntaps = f->ntaps;
    g->stride = f->stride;
    g->dilation = f->dilation;
    g->flip = f->flip < 0 ? (p->flip ? 1 : 0) : (f->flip != 0);
    g->lo = f->pad_lo;
    g->hi = f->pad_hi;
    g->mode = f->mode;
    g->taps = f->taps;
    g->n = cur[axis];
    int64_t q = g->n + g->lo + g->hi - (int64_t)g->dilation * (g->ntaps - 1) - 1;
    if (q < 0) {
      char field[32];
      snprintf(field, sizeof field, "filters[%d]", i);
      return cv_error_set(err, CV_EINVALID_ARGUMENT, field, "output would be empty");
    }
    g->m = q / g->stride + 1;
    cur[axis] = g->m;
  }
  return 0;
}

int cv_cpu_sepconv(const cv_sepconv_params_t *p, const cv_io_t *in, int n_in, cv_io_t *out, int n_out,
                   int threads, cv_error_t *err) {
  const cv_io_t *xio = cv__find_input(in, n_in, "x");
  if (!xio) return cv_error_set(err, CV_EINVALID_ARGUMENT, "inputs.x", "sepconv needs an input named x");
  if (n_out < 1) return cv_error_set(err, CV_EINTERNAL, NULL, "sepconv: no output array");
  const cv_array_t *x = &xio->a;
  cv_array_t *y = &out[0].a;
  if (x->ndim < 1 || x->ndim > CV_MAX_DIMS)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, "inputs.x", "x must have 1 to %d axes", CV_MAX_DIMS);
  cv_dtype_t pt = cv_dtype_promote_wavelet(x->dtype);
  if (y->dtype != pt || y->ndim != x->ndim)
    return cv_error_set(err, CV_EINTERNAL, NULL, "sepconv: output is %s with %d axes, expected %s with %d",
                        cv_dtype_name(y->dtype), y->ndim, cv_dtype_name(pt), x->ndim);
  bool cplx = cv_dtype_is_complex(pt);
  cv__sc_plan_t plan;
  int rc = make_plan(p, x->ndim, x->shape, cplx, &plan, err);
  if (rc) return rc;

  int64_t oshape[CV__SC_MAX_DIMS];
  memcpy(oshape, plan.shape, sizeof(int64_t) * (size_t)plan.ndim);
  for (int i = 0; i < plan.nf; i++) oshape[plan.f[i].axis] = plan.f[i].m;
  for (int d = 0; d < x->ndim; d++)
    if (oshape[d] != y->shape[d])
      return cv_error_set(err, CV_EINTERNAL, NULL, "sepconv: output axis %d has %lld samples, expected %lld",
                          d, (long long)y->shape[d], (long long)oshape[d]);
  int64_t numel = cv_shape_numel(x->shape, x->ndim);
  if (numel == 0 || cv_shape_numel(y->shape, y->ndim) == 0) return 0;
  if (!x->data || !y->data) return cv_error_set(err, CV_EINTERNAL, NULL, "sepconv: missing data");

  const void *src = x->data;
  void *conv = NULL;
  if (x->dtype != pt) {
    conv = malloc((size_t)numel * cv_dtype_size(pt));
    if (!conv)
      return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "sepconv: cannot convert x from %s to %s",
                          cv_dtype_name(x->dtype), cv_dtype_name(pt));
    cv_convert(conv, pt, x->data, x->dtype, (size_t)numel);
    src = conv;
  }
  if (pt == CV_DTYPE_F32 || pt == CV_DTYPE_C64)
    rc = cv__sepconv_exec_f32(&plan, src, y->data, threads, err);
  else
    rc = cv__sepconv_exec_f64(&plan, src, y->data, threads, err);
  free(conv);
  return rc;
}
