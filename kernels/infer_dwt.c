/* infer_dwt.c — validation and shape inference of dwt (pywt.wavedecn) and
 * idwt (pywt.waverecn), resolving params in place (axes, one wavelet and mode
 * per axis, level), and cv_idwt_layout, which every backend's idwt shares.
 * dwt outputs: `a`, then d{L}_* … d1_*, keys in itertools.product('ad')
 * order without the all-'a' key, letter t for axes[t]. Pure; any thread. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "dwt_math.h"
#include "internal.h"

/* ---- params shared by dwt and idwt ---- */

static int resolve_axes(cv_dwt_params_t *p, int ndim, cv_error_t *err) {
  if (p->n_axes < 0) {
    p->n_axes = ndim;
    for (int i = 0; i < ndim; i++) p->axes[i] = i;
    return 0;
  }
  if (p->n_axes == 0) return cv_error_set(err, CV_EINVALID_ARGUMENT, "axes", "axes must not be empty");
  if (p->n_axes > ndim)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, "axes", "%d axes for an input of rank %d", p->n_axes,
                        ndim);
  bool seen[CV_MAX_DIMS] = {false};
  for (int i = 0; i < p->n_axes; i++) {
    int a = p->axes[i];
    if (a < -ndim || a >= ndim)
      return cv_error_set(err, CV_EINVALID_ARGUMENT, "axes", "axis %d is out of range for rank %d", a,
                          ndim);
    if (a < 0) a += ndim;
    if (seen[a]) return cv_error_set(err, CV_EINVALID_ARGUMENT, "axes", "axis %d is repeated", a);
    seen[a] = true;
    p->axes[i] = a;
  }
  return 0;
}

static int resolve_filters(cv_dwt_params_t *p, cv_error_t *err) {
  int n = p->n_axes;
  if (p->n_wavelets < 1)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, "wavelet", "a wavelet is required");
  if (p->n_wavelets != 1 && p->n_wavelets != n)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, "wavelet",
                        "%d wavelets for %d axes: give one, or one per axis", p->n_wavelets, n);
  for (int i = 0; i < p->n_wavelets; i++) {
    cv_wavelet_t *w = &p->wavelets[i];
    if (w->len < 1 || w->len > CV_WAVELET_MAX_LEN)
      return cv_error_set(err, CV_EINVALID_ARGUMENT, "wavelet", "filter length %d is not in 1..%d", w->len,
                          CV_WAVELET_MAX_LEN);
    if (w->len % 2) {
      /* pywt pads an odd custom bank with a trailing zero (blank_discrete_wavelet) */
      w->dec_lo[w->len] = w->dec_hi[w->len] = w->rec_lo[w->len] = w->rec_hi[w->len] = 0.0;
      w->len++;
    }
  }
  if (p->n_wavelets == 1)
    for (int i = 1; i < n; i++) p->wavelets[i] = p->wavelets[0];
  p->n_wavelets = n;

  if (p->n_modes < 1) {
    p->n_modes = 1;
    p->modes[0] = CV_MODE_SYMMETRIC;
  }
  if (p->n_modes != 1 && p->n_modes != n)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, "mode",
                        "%d modes for %d axes: give one, or one per axis", p->n_modes, n);
  for (int i = 0; i < p->n_modes; i++)
    if ((int)p->modes[i] < 0 || p->modes[i] >= CV_MODE_COUNT)
      return cv_error_set(err, CV_EINVALID_ARGUMENT, "mode", "unknown mode %d", (int)p->modes[i]);
  if (p->n_modes == 1)
    for (int i = 1; i < n; i++) p->modes[i] = p->modes[0];
  p->n_modes = n;
  return 0;
}

/* ---- dwt ---- */

int cv__infer_dwt(cv_dwt_params_t *p, const cv_io_t *in, int n_in, cv_infer_t *res, cv_error_t *err) {
  const cv_io_t *x = NULL;
  for (int i = 0; i < n_in; i++) {
    if (strcmp(in[i].name, "x") != 0 || x) {
      char f[CV_NAME_MAX + 8];
      snprintf(f, sizeof f, "inputs.%s", in[i].name);
      return cv_error_set(err, CV_EINVALID_ARGUMENT, f, "dwt takes one input, x");
    }
    x = &in[i];
  }
  if (!x) return cv_error_set(err, CV_EINVALID_ARGUMENT, "inputs.x", "input x is required");
  int ndim = x->a.ndim;
  if (ndim < 1 || ndim > CV_MAX_DIMS)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, "inputs.x", "x must have 1 to %d dimensions",
                        CV_MAX_DIMS);
  int rc = resolve_axes(p, ndim, err);
  if (rc == 0) rc = resolve_filters(p, err);
  if (rc) return rc;
  int n = p->n_axes, max_level = CV_DWT_MAX_LEVEL;
  for (int i = 0; i < n; i++) {
    int64_t len = x->a.shape[p->axes[i]];
    if (len < 1)
      return cv_error_set(err, CV_EINVALID_ARGUMENT, "inputs.x", "transformed axis %d is empty",
                          p->axes[i]);
    int ml = cv_dwt_max_level(len, p->wavelets[i].len);
    if (ml < max_level) max_level = ml;
  }
  if (p->level == CV_LEVEL_AUTO) p->level = max_level;
  if (p->level < 0 || p->level > CV_DWT_MAX_LEVEL)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, "level", "level must be in 0..%d", CV_DWT_MAX_LEVEL);

  int per = (1 << n) - 1, n_out = 1 + p->level * per;
  rc = cv__infer_alloc(res, n_out, err);
  if (rc) return rc;
  if (p->level > max_level)
    cv__infer_warn(res, "Level value of %d is too high: all coefficients will experience boundary effects.",
                   p->level);
  cv_dtype_t dt = cv_dtype_promote_wavelet(x->a.dtype);
  int64_t shape[CV_MAX_DIMS];
  memcpy(shape, x->a.shape, sizeof shape);
  for (int j = 1; j <= p->level; j++) {
    for (int i = 0; i < n; i++)
      shape[p->axes[i]] = cv_dwt_coeff_len(shape[p->axes[i]], p->wavelets[i].len, p->modes[i]);
    for (int b = 1; b <= per; b++) {
      cv_io_t *o = &res->out[1 + (p->level - j) * per + (b - 1)];
      cv_dwt_band_name(o->name, sizeof o->name, j, (unsigned)b, n);
      o->a.dtype = dt;
      o->a.ndim = ndim;
      memcpy(o->a.shape, shape, sizeof shape);
    }
  }
  cv_io_t *a = &res->out[0];
  memcpy(a->name, "a", 2);
  a->a.dtype = dt;
  a->a.ndim = ndim;
  memcpy(a->a.shape, shape, sizeof shape);
  return 0;
}

/* ---- idwt: the input layout ---- */

#define NONE_DT CV_DTYPE_COUNT

static int in_field_err(cv_error_t *err, cv_err_t code, const char *name, const char *fmt, const char *a) {
  char f[CV_NAME_MAX + 8];
  snprintf(f, sizeof f, "inputs.%s", name);
  return cv_error_set(err, code, f, fmt, a);
}

/* pywt's dtype rule where idwtn joins two bands (missing = NONE_DT). */
static cv_dtype_t merge_dtype(cv_dtype_t l, cv_dtype_t h) {
  if (l == NONE_DT && h == NONE_DT) return NONE_DT;
  if (l == NONE_DT) return cv_dtype_promote_wavelet(h);
  if (h == NONE_DT || l == h) return cv_dtype_promote_wavelet(l);
  return cv_dtype_is_complex(l) || cv_dtype_is_complex(h) ? CV_DTYPE_C128 : CV_DTYPE_F64;
}

static bool same_shape(const int64_t *a, const int64_t *b, int ndim) {
  for (int k = 0; k < ndim; k++)
    if (a[k] != b[k]) return false;
  return true;
}

/* Result shape of one level from band shape b; 0 or an error naming `who`. */
static int level_result(const cv_dwt_params_t *p, const int64_t *b, int64_t *r, int ndim, const char *who,
                        cv_error_t *err) {
  memcpy(r, b, sizeof(int64_t) * (size_t)ndim);
  for (int i = 0; i < p->n_axes; i++) {
    int ax = p->axes[i];
    if (b[ax] > (INT64_MAX / 16) / 2)
      return cv_error_set(err, CV_EPAYLOAD_TOO_LARGE, "level",
                          "reconstructing that many levels makes axis %d of the result too long", ax);
    r[ax] = cv_idwt_out_len(b[ax], p->wavelets[i].len, p->modes[i]);
    if (r[ax] <= 0) {
      char f[CV_NAME_MAX + 8];
      snprintf(f, sizeof f, "inputs.%s", who);
      return cv_error_set(err, CV_EINVALID_ARGUMENT, who[0] ? f : "level",
                          "%" PRId64 " coefficients along axis %d are too few for a %d-tap filter "
                          "(the result would have %" PRId64 " samples)",
                          b[ax], ax, p->wavelets[i].len, r[ax]);
    }
  }
  return 0;
}

int cv_idwt_layout(const cv_dwt_params_t *p, const cv_io_t *in, int n_in, cv_idwt_layout_t *lay,
                   cv_error_t *err) {
  memset(lay, 0, sizeof *lay);
  if (n_in < 1)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, "inputs", "idwt needs `a` or detail coefficients");
  int ndim = in[0].a.ndim, nkey = p->n_axes, top = 0;
  lay->ndim = ndim;
  lay->nkey = nkey;
  lay->a_index = -1;
  for (int i = 0; i < n_in; i++) {
    int j, n;
    unsigned bits;
    if (cv_dwt_parse_name(in[i].name, &j, &bits, &n) != 0 || j > CV_DWT_MAX_LEVEL)
      return in_field_err(err, CV_EINVALID_ARGUMENT, in[i].name,
                          "%s: inputs are `a` and d{j}_{key} (key of letters a/d, not all a)", in[i].name);
    if (j > 0 && n != nkey)
      return in_field_err(err, CV_EINVALID_ARGUMENT, in[i].name,
                          "%s: the key needs one letter per transformed axis", in[i].name);
    for (int k = 0; k < i; k++)
      if (strcmp(in[k].name, in[i].name) == 0)
        return in_field_err(err, CV_EINVALID_ARGUMENT, in[i].name, "%s is given twice", in[i].name);
    if (in[i].a.ndim < 1 || in[i].a.ndim != ndim)
      return in_field_err(err, in[i].a.ndim < 1 ? CV_EINVALID_ARGUMENT : CV_ESHAPE_MISMATCH, in[i].name,
                          "%s: every coefficient array needs the same rank >= 1", in[i].name);
    if (j == 0) lay->a_index = i;
    if (j > top) top = j;
  }
  int L = p->level == CV_LEVEL_AUTO ? top : p->level;
  if (L < top || L > CV_DWT_MAX_LEVEL)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, "level", "level %d is not in %d..%d (the inputs' levels)",
                        L, top, CV_DWT_MAX_LEVEL);
  lay->level = L;
  const cv_io_t *a = lay->a_index >= 0 ? &in[lay->a_index] : NULL;

  if (L == 0) {
    if (!a) return cv_error_set(err, CV_EINVALID_ARGUMENT, "inputs.a", "level 0 needs `a`");
    memcpy(lay->x_shape, a->a.shape, sizeof lay->x_shape);
    lay->dtype = cv_dtype_promote_wavelet(a->a.dtype);
  } else {
    /* shapes, from the coarsest level that runs down to level 1 */
    lay->start = a ? L : top;
    cv_dtype_t cur_dt = a ? a->a.dtype : NONE_DT;
    const int64_t *prev = NULL;   /* previous level's result */
    for (int j = lay->start; j >= 1; j--) {
      const cv_io_t *ref = NULL;
      cv_dtype_t leaf[1u << CV_MAX_DIMS];
      int nb = 1 << nkey;
      for (int b = 0; b < nb; b++) leaf[b] = NONE_DT;
      for (int i = 0; i < n_in; i++) {
        int jj, n;
        unsigned bits;
        cv_dwt_parse_name(in[i].name, &jj, &bits, &n);
        if (jj != j) continue;
        leaf[bits] = in[i].a.dtype;
        if (!ref) {
          ref = &in[i];
          continue;
        }
        if (!same_shape(ref->a.shape, in[i].a.shape, ndim))
          return in_field_err(err, CV_ESHAPE_MISMATCH, in[i].name,
                              "%s: the details of one level must all have the same shape", in[i].name);
      }
      const char *who = ref ? ref->name : (j == L && a ? "a" : "");
      if (j == lay->start && a) {
        if (ref && !same_shape(ref->a.shape, a->a.shape, ndim))
          return in_field_err(err, CV_ESHAPE_MISMATCH, ref->name,
                              "%s: the coarsest details must have the shape of `a`", ref->name);
        memcpy(lay->band[j], a->a.shape, sizeof lay->band[j]);
      } else if (!prev) {
        memcpy(lay->band[j], ref->a.shape, sizeof lay->band[j]);
      } else if (ref) {
        /* pywt's _match_coeff_dims: the approximation may be 1 longer */
        for (int k = 0; k < ndim; k++) {
          int64_t d = prev[k] - ref->a.shape[k];
          if (d < 0 || d > 1)
            return in_field_err(err, CV_ESHAPE_MISMATCH, ref->name,
                                "%s: shape does not match the approximation reconstructed from the "
                                "coarser levels (pywt: incompatible coefficient array sizes)",
                                ref->name);
        }
        memcpy(lay->res[j + 1], ref->a.shape, sizeof lay->res[j + 1]);
        memcpy(lay->band[j], ref->a.shape, sizeof lay->band[j]);
      } else {
        memcpy(lay->band[j], prev, sizeof lay->band[j]);
      }
      int rc = level_result(p, lay->band[j], lay->res[j], ndim, who, err);
      if (rc) return rc;
      prev = lay->res[j];
      /* dtype: idwtn's pairwise joins, last axis first */
      leaf[0] = cur_dt;
      for (int len = nkey - 1; len >= 0; len--)
        for (int k = 0; k < (1 << len); k++) leaf[k] = merge_dtype(leaf[2 * k], leaf[2 * k + 1]);
      cur_dt = leaf[0];
    }
    memcpy(lay->x_shape, lay->res[1], sizeof lay->x_shape);
    lay->dtype = cur_dt;
  }

  if (p->n_shape > 0) {
    if (p->n_shape != ndim)
      return cv_error_set(err, CV_EINVALID_ARGUMENT, "shape", "shape needs %d entries (the rank), got %d",
                          ndim, p->n_shape);
    for (int k = 0; k < ndim; k++)
      if (p->shape[k] < 1 || p->shape[k] > lay->x_shape[k])
        return cv_error_set(err, CV_EINVALID_ARGUMENT, "shape",
                            "shape[%d] = %" PRId64 " is not in 1..%" PRId64 " (the reconstruction)", k,
                            p->shape[k], lay->x_shape[k]);
    memcpy(lay->x_shape, p->shape, sizeof(int64_t) * (size_t)ndim);
    if (L > 0) memcpy(lay->res[1], p->shape, sizeof(int64_t) * (size_t)ndim);
  }
  return 0;
}

/* ---- idwt ---- */

int cv__infer_idwt(cv_dwt_params_t *p, const cv_io_t *in, int n_in, cv_infer_t *res, cv_error_t *err) {
  if (n_in < 1)
    return cv_error_set(err, CV_EINVALID_ARGUMENT, "inputs", "idwt needs `a` or detail coefficients");
  int ndim = in[0].a.ndim;
  if (ndim < 1 || ndim > CV_MAX_DIMS)
    return in_field_err(err, CV_EINVALID_ARGUMENT, in[0].name, "%s must have 1 or more dimensions",
                        in[0].name);
  int rc = resolve_axes(p, ndim, err);
  if (rc == 0) rc = resolve_filters(p, err);
  if (rc) return rc;
  cv_idwt_layout_t lay;
  rc = cv_idwt_layout(p, in, n_in, &lay, err);
  if (rc) return rc;
  p->level = lay.level;
  rc = cv__infer_alloc(res, 1, err);
  if (rc) return rc;
  cv_io_t *x = &res->out[0];
  memcpy(x->name, "x", 2);
  x->a.dtype = lay.dtype;
  x->a.ndim = ndim;
  memcpy(x->a.shape, lay.x_shape, sizeof x->a.shape);
  return 0;
}
