/* spec_params.c — each op's parameters from a JSON spec into cv_op_params_t:
 * dwt/idwt (wavelet, mode, level, axes, shape), sepconv (filters, flip), conv
 * (stride, dilation, padding, groups, padding_mode, flip, layout, algo).
 * Type and simple range checks only; cv_op_infer checks against the inputs.
 * Pure; any thread. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "spec_internal.h"

#define CV_SPEC_LEVEL_MAX 255   /* far above any transform's useful depth */
#define CV_SPEC_NAME_BUF 32     /* longest mode/algo name, lower-cased, fits */

/* ---- shared pieces ---- */

static const char *const PAD_WORDS[] = {"valid", "same", NULL};

static int parse_mode(const cJSON *v, const char *path, cv_mode_t *out, cv_error_t *err) {
  const char *s = NULL;
  int rc = cv__spec_string(v, path, &s, err);
  if (rc) return rc;
  char low[CV_SPEC_NAME_BUF];
  if (!cv__spec_lower(s, low, sizeof low) || cv_mode_parse(low, out))
    return cv_error_set(err, CV_EINVALID_ARGUMENT, path,
                        "unknown mode \"%.40s\"; one of zero, constant, symmetric, reflect, periodic, "
                        "smooth, antisymmetric, antireflect, periodization (or pywt's aliases)", s);
  return 0;
}

/* An int, or a list of 1..max ints, each in lo..hi: *n values into out. */
static int int_or_list(const cJSON *v, const char *path, int lo, int hi, int max, int *n, int *out,
                       cv_error_t *err) {
  if (!cJSON_IsArray(v)) {
    *n = 1;
    return cv__spec_int32(v, path, lo, hi, &out[0], err);
  }
  int k = cJSON_GetArraySize(v);
  if (k < 1 || k > max)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, path, "must be an integer or a list of 1 to %d", max);
  int i = 0;
  for (const cJSON *c = v->child; c; c = c->next, i++) {
    cv__path_t p;
    cv__spec_idx(p, path, i);
    int rc = cv__spec_int32(c, p, lo, hi, &out[i], err);
    if (rc) return rc;
  }
  *n = k;
  return 0;
}

/* ---- dwt / idwt ---- */

static int parse_taps(const cJSON *v, const char *path, double *taps, int *n, int max, cv_error_t *err) {
  if (!cJSON_IsArray(v)) return cv_error_set(err, CV_EINVALID_ARGUMENT, path, "must be a list of numbers");
  int k = cJSON_GetArraySize(v);
  if (k > max) return cv_error_set(err, CV_EINVALID_ARGUMENT, path, "has %d taps; at most %d", k, max);
  int i = 0;
  for (const cJSON *c = v->child; c; c = c->next, i++) {
    if (!cJSON_IsNumber(c) || !isfinite(c->valuedouble)) {
      cv__path_t p;
      cv__spec_idx(p, path, i);
      return cv_error_set(err, CV_EINVALID_ARGUMENT, p, "must be a finite number");
    }
    taps[i] = c->valuedouble;
  }
  *n = k;
  return 0;
}

static int parse_bank_object(const cJSON *v, const char *path, cv_wavelet_t *w, cv_error_t *err) {
  static const char *const KEYS[4] = {"dec_lo", "dec_hi", "rec_lo", "rec_hi"};
  double *dst[4] = {w->dec_lo, w->dec_hi, w->rec_lo, w->rec_hi};
  const cJSON *got[4] = {NULL, NULL, NULL, NULL};
  cv__path_t p;
  int rc = cv__spec_unique_keys(v, path, err);
  if (rc) return rc;
  for (const cJSON *c = v->child; c; c = c->next) {
    int k = 0;
    while (k < 4 && strcmp(c->string, KEYS[k])) k++;
    cv__spec_key(p, path, c->string);
    if (k == 4) return cv__spec_unknown_key(p, "a filter bank (dec_lo, dec_hi, rec_lo, rec_hi)", err);
    got[k] = c;
  }
  int len = -1;
  for (int k = 0; k < 4; k++) {
    cv__spec_key(p, path, KEYS[k]);
    if (!got[k]) return cv_error_set(err, CV_EINVALID_ARGUMENT, p, "is required in a custom filter bank");
    int n;
    if ((rc = parse_taps(got[k], p, dst[k], &n, CV_WAVELET_MAX_LEN, err))) return rc;
    if (n < 2) return cv_error_set(err, CV_EINVALID_ARGUMENT, p, "needs at least 2 taps");
    if (len >= 0 && n != len)
      return cv_error_set(err, CV_EINVALID_ARGUMENT, p, "has %d taps; dec_lo has %d (all four must match)", n, len);
    len = n;
  }
  snprintf(w->name, sizeof w->name, "custom");
  w->len = len;
  return 0;
}

static int parse_bank(const cJSON *v, const char *path, cv_wavelet_t *w, cv_error_t *err) {
  if (cJSON_IsObject(v)) return parse_bank_object(v, path, w, err);
  if (!cJSON_IsString(v))
    return cv_error_set(err, CV_EINVALID_ARGUMENT, path,
                        "must be a wavelet name, a {dec_lo, dec_hi, rec_lo, rec_hi} object, or a "
                        "per-axis list of those");
  const cv_wavelet_info_t *info = cv_wavelet_find(v->valuestring);
  if (!info)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, path, "unknown wavelet \"%.40s\" (see GET /v1/wavelets)",
                        v->valuestring);
  cv_wavelet_from_info(w, info);
  return 0;
}

static int parse_wavelet(const cJSON *v, cv_dwt_params_t *d, cv_error_t *err) {
  if (cJSON_IsNull(v)) {
    d->n_wavelets = 0;
    return 0;
  }
  if (!cJSON_IsArray(v)) {
    d->n_wavelets = 1;
    return parse_bank(v, "wavelet", &d->wavelets[0], err);
  }
  int n = cJSON_GetArraySize(v);
  if (n < 1 || n > CV_MAX_DIMS)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, "wavelet", "a per-axis list needs 1 to %d entries", CV_MAX_DIMS);
  int i = 0;
  for (const cJSON *c = v->child; c; c = c->next, i++) {
    cv__path_t p;
    cv__spec_idx(p, "wavelet", i);
    int rc = parse_bank(c, p, &d->wavelets[i], err);
    if (rc) return rc;
  }
  d->n_wavelets = n;
  return 0;
}

static int parse_modes(const cJSON *v, cv_dwt_params_t *d, cv_error_t *err) {
  if (cJSON_IsNull(v)) {
    d->n_modes = 1;
    d->modes[0] = CV_MODE_SYMMETRIC;
    return 0;
  }
  if (!cJSON_IsArray(v)) {
    d->n_modes = 1;
    return parse_mode(v, "mode", &d->modes[0], err);
  }
  int n = cJSON_GetArraySize(v);
  if (n < 1 || n > CV_MAX_DIMS)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, "mode", "a per-axis list needs 1 to %d entries", CV_MAX_DIMS);
  int i = 0;
  for (const cJSON *c = v->child; c; c = c->next, i++) {
    cv__path_t p;
    cv__spec_idx(p, "mode", i);
    int rc = parse_mode(c, p, &d->modes[i], err);
    if (rc) return rc;
  }
  d->n_modes = n;
  return 0;
}

static int parse_axes(const cJSON *v, cv_dwt_params_t *d, cv_error_t *err) {
  if (cJSON_IsNull(v)) {
    d->n_axes = -1;
    return 0;
  }
  if (!cJSON_IsArray(v)) {
    d->n_axes = 1;
    return cv__spec_int32(v, "axes", INT_MIN, INT_MAX, &d->axes[0], err);
  }
  int n = cJSON_GetArraySize(v);
  if (n > CV_MAX_DIMS)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, "axes", "lists %d axes; at most %d", n, CV_MAX_DIMS);
  int i = 0;
  for (const cJSON *c = v->child; c; c = c->next, i++) {
    cv__path_t p;
    cv__spec_idx(p, "axes", i);
    int rc = cv__spec_int32(c, p, INT_MIN, INT_MAX, &d->axes[i], err);
    if (rc) return rc;
  }
  d->n_axes = n;
  return 0;
}

static int parse_crop(const cJSON *v, cv_dwt_params_t *d, cv_error_t *err) {
  if (cJSON_IsNull(v)) {
    d->n_shape = 0;
    return 0;
  }
  int n = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 0;
  if (n < 1 || n > CV_MAX_DIMS)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, "shape", "must be a list of 1 to %d sizes", CV_MAX_DIMS);
  int i = 0;
  for (const cJSON *c = v->child; c; c = c->next, i++) {
    cv__path_t p;
    cv__spec_idx(p, "shape", i);
    int rc = cv__spec_int(c, p, 0, INT64_MAX, &d->shape[i], err);
    if (rc) return rc;
  }
  d->n_shape = n;
  return 0;
}

static int dwt_param(cv_dwt_params_t *d, bool idwt, const cJSON *m, cv_error_t *err) {
  const char *k = m->string;
  if (strcmp(k, "wavelet") == 0) return parse_wavelet(m, d, err);
  if (strcmp(k, "mode") == 0) return parse_modes(m, d, err);
  if (strcmp(k, "axes") == 0) return parse_axes(m, d, err);
  if (strcmp(k, "level") == 0) {
    if (cJSON_IsNull(m)) {
      d->level = CV_LEVEL_AUTO;
      return 0;
    }
    return cv__spec_int32(m, "level", 0, CV_SPEC_LEVEL_MAX, &d->level, err);
  }
  if (idwt && strcmp(k, "shape") == 0) return parse_crop(m, d, err);
  return 1;
}

/* ---- sepconv ---- */

/* "valid" | "same" | int >= 0 | [lo, hi] */
static int parse_filter_padding(const cJSON *v, const char *path, cv_sepconv_filter_t *f, cv_error_t *err) {
  int rc;
  if (cJSON_IsString(v)) {
    int w;
    if ((rc = cv__spec_word(v, path, PAD_WORDS, &w, err))) return rc;
    f->pad_kind = w == 0 ? CV_PAD_VALID : CV_PAD_SAME;
    return 0;
  }
  int64_t lo = 0, hi = 0;
  if (cJSON_IsArray(v)) {
    if (cJSON_GetArraySize(v) != 2)
      return cv_error_set(err, CV_EINVALID_ARGUMENT, path, "a padding list is [lo, hi]");
    cv__path_t p;
    cv__spec_idx(p, path, 0);
    if ((rc = cv__spec_int(v->child, p, 0, INT32_MAX, &lo, err))) return rc;
    cv__spec_idx(p, path, 1);
    if ((rc = cv__spec_int(v->child->next, p, 0, INT32_MAX, &hi, err))) return rc;
  } else if (cJSON_IsNumber(v)) {
    if ((rc = cv__spec_int(v, path, 0, INT32_MAX, &lo, err))) return rc;
    hi = lo;
  } else {
    return cv_error_set(err, CV_EINVALID_ARGUMENT, path, "must be \"valid\", \"same\", an integer or [lo, hi]");
  }
  f->pad_kind = CV_PAD_EXPLICIT;
  f->pad_lo = lo;
  f->pad_hi = hi;
  return 0;
}

static int parse_filter(const cJSON *v, const char *path, cv_sepconv_filter_t *f, cv_error_t *err) {
  if (!cJSON_IsObject(v))
    return cv_error_set(err, CV_EINVALID_ARGUMENT, path, "must be a filter object {axis, taps, …}");
  int rc = cv__spec_unique_keys(v, path, err);
  if (rc) return rc;
  memset(f, 0, sizeof *f);
  f->stride = 1;
  f->dilation = 1;
  f->pad_kind = CV_PAD_VALID;
  f->mode = CV_MODE_ZERO;
  f->flip = -1;
  bool has_axis = false, has_taps = false;
  for (const cJSON *c = v->child; c && !rc; c = c->next) {
    cv__path_t p;
    cv__spec_key(p, path, c->string);
    const char *k = c->string;
    const bool null = cJSON_IsNull(c);
    if (strcmp(k, "axis") == 0) {
      rc = cv__spec_int32(c, p, INT_MIN, INT_MAX, &f->axis, err);
      has_axis = true;
    } else if (strcmp(k, "taps") == 0) {
      rc = parse_taps(c, p, f->taps, &f->ntaps, CV_SEPCONV_MAX_TAPS, err);
      if (!rc && f->ntaps < 1) rc = cv_error_set(err, CV_EINVALID_ARGUMENT, p, "needs at least one tap");
      has_taps = true;
    } else if (strcmp(k, "stride") == 0) {
      if (!null) rc = cv__spec_int32(c, p, 1, INT_MAX, &f->stride, err);
    } else if (strcmp(k, "dilation") == 0) {
      if (!null) rc = cv__spec_int32(c, p, 1, INT_MAX, &f->dilation, err);
    } else if (strcmp(k, "padding") == 0) {
      if (!null) rc = parse_filter_padding(c, p, f, err);
    } else if (strcmp(k, "mode") == 0) {
      if (!null) rc = parse_mode(c, p, &f->mode, err);
      if (!rc && f->mode == CV_MODE_PERIODIZATION)
        rc = cv_error_set(err, CV_EINVALID_ARGUMENT, p, "periodization changes lengths; sepconv takes the other modes");
    } else if (strcmp(k, "flip") == 0) {
      bool b;
      if (!null && !(rc = cv__spec_bool(c, p, &b, err))) f->flip = b;
    } else {
      rc = cv__spec_unknown_key(p, "a filter (axis, taps, stride, dilation, padding, mode, flip)", err);
    }
  }
  if (rc) return rc;
  cv__path_t p;
  if (!has_axis || !has_taps) {
    cv__spec_key(p, path, has_axis ? "taps" : "axis");
    return cv_error_set(err, CV_EINVALID_ARGUMENT, p, "is required");
  }
  return 0;
}

static int sepconv_param(cv_sepconv_params_t *s, const cJSON *m, cv_error_t *err) {
  const char *k = m->string;
  if (strcmp(k, "flip") == 0) return cJSON_IsNull(m) ? 0 : cv__spec_bool(m, "flip", &s->flip, err);
  if (strcmp(k, "filters") != 0) return 1;
  if (!cJSON_IsArray(m))
    return cv_error_set(err, CV_EINVALID_ARGUMENT, "filters",
                        "must be a list of filter objects (send it as JSON or multipart)");
  int n = cJSON_GetArraySize(m);
  if (n > CV_SEPCONV_MAX_FILTERS)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, "filters", "has %d filters; at most %d", n,
                        CV_SEPCONV_MAX_FILTERS);
  int i = 0;
  for (const cJSON *c = m->child; c; c = c->next, i++) {
    cv__path_t p;
    cv__spec_idx(p, "filters", i);
    int rc = parse_filter(c, p, &s->filters[i], err);
    if (rc) return rc;
  }
  s->n_filters = n;
  return 0;
}

/* ---- conv ---- */

static int conv_padding(cv_conv_params_t *c, const cJSON *v, cv_error_t *err) {
  int rc;
  if (cJSON_IsString(v)) {
    int w;
    if ((rc = cv__spec_word(v, "padding", PAD_WORDS, &w, err))) return rc;
    c->pad_kind = w == 0 ? CV_PAD_VALID : CV_PAD_SAME;
    c->n_pad = 0;
    return 0;
  }
  int64_t x = 0;
  c->pad_kind = CV_PAD_EXPLICIT;
  if (cJSON_IsNumber(v)) {
    if ((rc = cv__spec_int(v, "padding", 0, INT32_MAX, &x, err))) return rc;
    c->n_pad = 1;
    c->pad_lo[0] = c->pad_hi[0] = x;
    return 0;
  }
  int n = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 0;
  if (n < 1 || n > CV_CONV_MAX_SPATIAL)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, "padding",
                        "must be \"valid\", \"same\", an integer, or a per-axis list (1 to %d) of "
                        "integers or [lo, hi] pairs", CV_CONV_MAX_SPATIAL);
  int i = 0;
  for (const cJSON *e = v->child; e; e = e->next, i++) {
    cv__path_t p;
    cv__spec_idx(p, "padding", i);
    if (cJSON_IsArray(e)) {
      if (cJSON_GetArraySize(e) != 2)
        return cv_error_set(err, CV_EINVALID_ARGUMENT, p, "a per-axis pair is [lo, hi]");
      cv__path_t q;
      cv__spec_idx(q, p, 0);
      if ((rc = cv__spec_int(e->child, q, 0, INT32_MAX, &c->pad_lo[i], err))) return rc;
      cv__spec_idx(q, p, 1);
      if ((rc = cv__spec_int(e->child->next, q, 0, INT32_MAX, &c->pad_hi[i], err))) return rc;
    } else {
      if ((rc = cv__spec_int(e, p, 0, INT32_MAX, &x, err))) return rc;
      c->pad_lo[i] = c->pad_hi[i] = x;
    }
  }
  c->n_pad = n;
  return 0;
}

static int conv_layout(cv_conv_params_t *c, const cJSON *v, cv_error_t *err) {
  static const char *const WORDS[] = {"ncdhw", "nchw", "ncw", "ndhwc", "nhwc", "nwc", NULL};
  int w, rc = cv__spec_word(v, "layout", WORDS, &w, err);
  if (rc) return rc;
  c->layout = w < 3 ? CV_LAYOUT_NCDHW : CV_LAYOUT_NDHWC;
  return 0;
}

static int conv_named(const cJSON *v, const char *path, int (*parse)(const char *, int *), int *out,
                      const char *choices, cv_error_t *err) {
  const char *s = NULL;
  int rc = cv__spec_string(v, path, &s, err);
  if (rc) return rc;
  char low[CV_SPEC_NAME_BUF];
  if (!cv__spec_lower(s, low, sizeof low) || parse(low, out))
    return cv_error_set(err, CV_EINVALID_ARGUMENT, path, "unknown value \"%.40s\"; one of %s", s, choices);
  return 0;
}

static int padmode_parse(const char *s, int *out) {
  cv_padmode_t m;
  int rc = cv_padmode_parse(s, &m);
  *out = (int)m;
  return rc;
}

static int algo_parse(const char *s, int *out) {
  cv_conv_algo_t a;
  int rc = cv_conv_algo_parse(s, &a);
  *out = (int)a;
  return rc;
}

static int conv_param(cv_conv_params_t *c, const cJSON *m, cv_error_t *err) {
  const char *k = m->string;
  const bool null = cJSON_IsNull(m);
  int v = 0, rc;
  if (strcmp(k, "stride") == 0) {
    if (null) return c->n_stride = 0;
    return int_or_list(m, "stride", 1, INT_MAX, CV_CONV_MAX_SPATIAL, &c->n_stride, c->stride, err);
  }
  if (strcmp(k, "dilation") == 0) {
    if (null) return c->n_dilation = 0;
    return int_or_list(m, "dilation", 1, INT_MAX, CV_CONV_MAX_SPATIAL, &c->n_dilation, c->dilation, err);
  }
  if (strcmp(k, "padding") == 0) {
    if (!null) return conv_padding(c, m, err);
    c->pad_kind = CV_PAD_EXPLICIT;
    return c->n_pad = 0;
  }
  if (strcmp(k, "groups") == 0) return null ? 0 : cv__spec_int32(m, "groups", 1, INT_MAX, &c->groups, err);
  if (strcmp(k, "flip") == 0) return null ? 0 : cv__spec_bool(m, "flip", &c->flip, err);
  if (strcmp(k, "layout") == 0) return null ? 0 : conv_layout(c, m, err);
  if (strcmp(k, "padding_mode") == 0) {
    if (null) return 0;
    rc = conv_named(m, "padding_mode", padmode_parse, &v, "zeros, reflect, replicate, circular", err);
    if (!rc) c->padding_mode = (cv_padmode_t)v;
    return rc;
  }
  if (strcmp(k, "algo") == 0) {
    if (null) return 0;
    rc = conv_named(m, "algo", algo_parse, &v, "auto, direct, gemm, fft, cudnn, depthtap", err);
    if (!rc) c->algo = (cv_conv_algo_t)v;
    return rc;
  }
  return 1;
}

/* ---- dispatch ---- */

int cv__spec_param(cv_op_params_t *p, const cJSON *member, cv_error_t *err) {
  switch (p->op) {
    case CV_OP_DWT: return dwt_param(&p->u.dwt, false, member, err);
    case CV_OP_IDWT: return dwt_param(&p->u.dwt, true, member, err);
    case CV_OP_SEPCONV: return sepconv_param(&p->u.sepconv, member, err);
    case CV_OP_CONV: return conv_param(&p->u.conv, member, err);
    case CV_OP_COUNT: break;
  }
  return 1;
}

int cv__spec_params_done(const cv_op_params_t *p, cv_error_t *err) {
  switch (p->op) {
    case CV_OP_DWT:
    case CV_OP_IDWT:
      if (p->u.dwt.n_wavelets == 0)
        return cv_error_set(err, CV_EINVALID_ARGUMENT, "wavelet", "is required (a name such as \"db4\", or a filter bank)");
      return 0;
    case CV_OP_SEPCONV:
      if (p->u.sepconv.n_filters == 0)
        return cv_error_set(err, CV_EINVALID_ARGUMENT, "filters", "is required: a list of at least one filter");
      return 0;
    case CV_OP_CONV: return 0;
    case CV_OP_COUNT: break;
  }
  return cv_error_set(err, CV_EUNSUPPORTED_OP, "op", "unknown op");
}
