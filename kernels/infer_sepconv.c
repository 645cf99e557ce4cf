/* infer_sepconv.c — validation and shape inference of the sepconv op (design.md §2).
 * Normalises axis and flip (-1 → the op-level flip), resolves "valid"/"same"
 * into pad_lo/pad_hi in place, describes the one output `y`. "same": total
 * d·(k−1), lo = total//2 (flip: total − total//2, scipy's "same"), giving
 * ceil(n/stride) samples: the stride-1 "same" result taken every stride
 * samples, so hi never needs adjusting. Pure but for res; any thread. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* Padding beyond this is a mistake, not a request (and keeps sums in int64). */
#define CV_SEPCONV_MAX_PAD ((int64_t)1 << 40)
/* Largest element count of y: leaves headroom for bytes = numel × 16. */
#define CV_SEPCONV_MAX_NUMEL (INT64_MAX / 32)

/* Resolves f's padding for an axis of n samples (flip already 0/1). */
static int resolve_padding(cv_sepconv_filter_t *f, int i, cv_error_t *err) {
  char field[48];
  snprintf(field, sizeof field, "filters[%d].padding", i);
  int64_t total = (int64_t)f->dilation * (f->ntaps - 1);
  switch (f->pad_kind) {
    case CV_PAD_EXPLICIT:
      if (f->pad_lo < 0 || f->pad_hi < 0)
        return cv_error_set(err, CV_EINVALID_ARGUMENT, field, "padding must be >= 0 (got [%lld, %lld])",
                            (long long)f->pad_lo, (long long)f->pad_hi);
      if (f->pad_lo > CV_SEPCONV_MAX_PAD || f->pad_hi > CV_SEPCONV_MAX_PAD)
        return cv_error_set(err, CV_EINVALID_ARGUMENT, field, "padding must be <= %lld (got [%lld, %lld])",
                            (long long)CV_SEPCONV_MAX_PAD, (long long)f->pad_lo, (long long)f->pad_hi);
      return 0;
    case CV_PAD_VALID:
      f->pad_lo = f->pad_hi = 0;
      return 0;
    case CV_PAD_SAME:
      /* total = d·(k−1) makes the output ceil(n/stride) for every stride
       * (floor((n−1)/s) + 1), so hi never needs adjusting; the result is the
       * stride-1 "same" output sampled every `stride` samples. */
      f->pad_lo = f->flip ? total - total / 2 : total / 2;
      f->pad_hi = total - f->pad_lo;
      return 0;
  }
  return cv_error_set(err, CV_EINVALID_ARGUMENT, field, "unknown padding kind %d", (int)f->pad_kind);
}

/* Checks one filter and applies it to shape[] (the running shape). */
static int infer_filter(cv_sepconv_params_t *p, int i, int ndim, int64_t *shape, cv_error_t *err) {
  cv_sepconv_filter_t *f = &p->filters[i];
  char field[48];

  snprintf(field, sizeof field, "filters[%d].axis", i);
  if (f->axis < -ndim || f->axis >= ndim)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, field, "axis %d is out of range for a %d-d input",
                        f->axis, ndim);
  if (f->axis < 0) f->axis += ndim;

  snprintf(field, sizeof field, "filters[%d].taps", i);
  if (f->ntaps < 1 || f->ntaps > CV_SEPCONV_MAX_TAPS)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, field, "a filter needs 1 to %d taps (got %d)",
                        CV_SEPCONV_MAX_TAPS, f->ntaps);
  for (int t = 0; t < f->ntaps; t++)
    if (!isfinite(f->taps[t]))
      return cv_error_set(err, CV_EINVALID_ARGUMENT, field, "tap %d is not finite", t);

  snprintf(field, sizeof field, "filters[%d].stride", i);
  if (f->stride < 1)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, field, "stride must be >= 1 (got %d)", f->stride);
  snprintf(field, sizeof field, "filters[%d].dilation", i);
  if (f->dilation < 1)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, field, "dilation must be >= 1 (got %d)", f->dilation);

  snprintf(field, sizeof field, "filters[%d].mode", i);
  if ((unsigned)f->mode >= CV_MODE_COUNT)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, field, "unknown mode %d", (int)f->mode);
  if (f->mode == CV_MODE_PERIODIZATION)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, field,
                        "periodization changes lengths and is not a sepconv mode");

  snprintf(field, sizeof field, "filters[%d].flip", i);
  if (f->flip < -1 || f->flip > 1)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, field, "flip must be true or false");
  if (f->flip == -1) f->flip = p->flip ? 1 : 0;

  int rc = resolve_padding(f, i, err);
  if (rc) return rc;

  int64_t n = shape[f->axis];
  if (n < 1)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, "inputs.x", "filters[%d] runs along axis %d, which is empty",
                        i, f->axis);
  int64_t span = (int64_t)f->dilation * (f->ntaps - 1);
  int64_t q = n + f->pad_lo + f->pad_hi - span - 1;
  if (q < 0) {
    snprintf(field, sizeof field, "filters[%d]", i);
    return cv_error_set(err, CV_EINVALID_ARGUMENT, field,
                        "output would be empty: axis %d has %lld samples, padding %lld + %lld, "
                        "and the dilated filter spans %lld",
                        f->axis, (long long)n, (long long)f->pad_lo, (long long)f->pad_hi,
                        (long long)span + 1);
  }
  shape[f->axis] = q / f->stride + 1;
  return 0;
}

int cv__infer_sepconv(cv_sepconv_params_t *p, const cv_io_t *in, int n_in, cv_infer_t *res,
                      cv_error_t *err) {
  const cv_io_t *x = cv__find_input(in, n_in, "x");
  if (!x) return cv_error_set(err, CV_EINVALID_ARGUMENT, "inputs.x", "sepconv needs an input named x");
  for (int i = 0; i < n_in; i++)
    if (strcmp(in[i].name, "x") != 0) {
      char field[CV_NAME_MAX + 8];
      snprintf(field, sizeof field, "inputs.%s", in[i].name);
      return cv_error_set(err, CV_EINVALID_ARGUMENT, field, "sepconv takes one input, x");
    }
  int ndim = x->a.ndim;
  if (ndim < 1)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, "inputs.x", "x must have at least one axis (got a 0-d array)");
  if (ndim > CV_MAX_DIMS)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, "inputs.x", "x has %d axes; at most %d", ndim, CV_MAX_DIMS);
  if ((unsigned)x->a.dtype >= CV_DTYPE_COUNT)
    return cv_error_set(err, CV_EUNSUPPORTED_DTYPE, "inputs.x", "unknown dtype %d", (int)x->a.dtype);
  for (int d = 0; d < ndim; d++)
    if (x->a.shape[d] < 0)
      return cv_error_set(err, CV_EINVALID_ARGUMENT, "inputs.x", "negative extent on axis %d", d);
  if (p->n_filters < 1)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, "filters", "sepconv needs at least one filter");
  if (p->n_filters > CV_SEPCONV_MAX_FILTERS)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, "filters", "at most %d filters (got %d)",
                        CV_SEPCONV_MAX_FILTERS, p->n_filters);

  int64_t shape[CV_MAX_DIMS];
  memcpy(shape, x->a.shape, sizeof(int64_t) * (size_t)ndim);
  for (int i = 0; i < p->n_filters; i++) {
    int rc = infer_filter(p, i, ndim, shape, err);
    if (rc) return rc;
  }
  int64_t numel = 1;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] != 0 && numel > CV_SEPCONV_MAX_NUMEL / shape[d])
      return cv_error_set(err, CV_EINVALID_ARGUMENT, "filters", "the output would be too large");
    numel *= shape[d];
  }

  int rc = cv__infer_alloc(res, 1, err);
  if (rc) return rc;
  cv_io_t *y = &res->out[0];
  snprintf(y->name, sizeof y->name, "y");
  y->a.dtype = cv_dtype_promote_wavelet(x->a.dtype);
  y->a.ndim = ndim;
  memcpy(y->a.shape, shape, sizeof(int64_t) * (size_t)ndim);
  y->a.data = NULL;
  return 0;
}
