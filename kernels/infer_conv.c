/* infer_conv.c — shape inference and validation of the conv op (PyTorch
 * conv1d/2d/3d, design.md §2 "conv"): resolves stride/dilation/padding into
 * per-axis values in place and describes the output `y`. Pure; any thread.
 * Dtype rule: x, w and b must share one dtype (float32, float64, float16,
 * bfloat16); a w or b of another dtype → unsupported_dtype naming that input. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* ---- per-axis lists ---- */

/* Broadcasts an int list given `n` times (0 → dflt) to nsp axes, each >= 1. */
static int resolve_list(int *n, int *v, int nsp, int dflt, const char *field, cv_error_t *err) {
  if (*n == 0) {
    for (int i = 0; i < nsp; i++) v[i] = dflt;
  } else if (*n == 1) {
    for (int i = 1; i < nsp; i++) v[i] = v[0];
  } else if (*n != nsp) {
    return cv_error_set(err, CV_EINVALID_ARGUMENT, field,
                        "%s has %d values; give 1 or one per spatial axis (%d)", field, *n, nsp);
  }
  for (int i = 0; i < nsp; i++)
    if (v[i] < 1) return cv_error_set(err, CV_EINVALID_ARGUMENT, field, "%s must be >= 1, got %d", field, v[i]);
  *n = nsp;
  return 0;
}

static int resolve_padding(cv_conv_params_t *p, const int64_t *k, cv_error_t *err) {
  int nsp = p->nsp;
  switch (p->pad_kind) {
    case CV_PAD_EXPLICIT:
      if (p->n_pad == 0) {
        for (int i = 0; i < nsp; i++) p->pad_lo[i] = p->pad_hi[i] = 0;
      } else if (p->n_pad == 1) {
        for (int i = 1; i < nsp; i++) p->pad_lo[i] = p->pad_lo[0], p->pad_hi[i] = p->pad_hi[0];
      } else if (p->n_pad != nsp) {
        return cv_error_set(err, CV_EINVALID_ARGUMENT, "padding",
                            "padding has %d values; give 1 or one per spatial axis (%d)", p->n_pad, nsp);
      }
      for (int i = 0; i < nsp; i++)
        if (p->pad_lo[i] < 0 || p->pad_hi[i] < 0)
          return cv_error_set(err, CV_EINVALID_ARGUMENT, "padding", "padding must be >= 0");
      break;
    case CV_PAD_VALID:
      for (int i = 0; i < nsp; i++) p->pad_lo[i] = p->pad_hi[i] = 0;
      break;
    case CV_PAD_SAME:
      for (int i = 0; i < nsp; i++) {
        int64_t total = (int64_t)p->dilation[i] * (k[i] - 1);
        p->pad_lo[i] = p->flip ? total - total / 2 : total / 2;
        p->pad_hi[i] = total - p->pad_lo[i];
      }
      break;
  }
  p->n_pad = nsp;
  return 0;
}

/* ---- inputs ---- */

static int check_dtype(const cv_io_t *io, cv_dtype_t want, const char *field, cv_error_t *err) {
  if (io->a.dtype == want) return 0;
  return cv_error_set(err, CV_EUNSUPPORTED_DTYPE, field,
                      "%s is %s but x is %s; x, w and b must share one dtype", field,
                      cv_dtype_name(io->a.dtype), cv_dtype_name(want));
}

static bool conv_dtype_ok(cv_dtype_t t) {
  return t == CV_DTYPE_F32 || t == CV_DTYPE_F64 || t == CV_DTYPE_F16 || t == CV_DTYPE_BF16;
}

int cv__infer_conv(cv_conv_params_t *p, const cv_io_t *in, int n_in, cv_infer_t *res, cv_error_t *err) {
  memset(res, 0, sizeof *res);
  for (int i = 0; i < n_in; i++)
    if (strcmp(in[i].name, "x") && strcmp(in[i].name, "w") && strcmp(in[i].name, "b")) {
      char field[CV_NAME_MAX + 8];
      snprintf(field, sizeof field, "inputs.%s", in[i].name);
      return cv_error_set(err, CV_EINVALID_ARGUMENT, field, "conv takes inputs x, w and b only");
    }
  const cv_io_t *x = cv__find_input(in, n_in, "x");
  const cv_io_t *w = cv__find_input(in, n_in, "w");
  const cv_io_t *b = cv__find_input(in, n_in, "b");
  if (!x) return cv_error_set(err, CV_EINVALID_ARGUMENT, "inputs.x", "conv needs an input x");
  if (!w) return cv_error_set(err, CV_EINVALID_ARGUMENT, "inputs.w", "conv needs a weight input w");
  if (!conv_dtype_ok(x->a.dtype))
    return cv_error_set(err, CV_EUNSUPPORTED_DTYPE, "inputs.x",
                        "conv takes float32, float64, float16 or bfloat16, not %s", cv_dtype_name(x->a.dtype));
  int rc = check_dtype(w, x->a.dtype, "inputs.w", err);
  if (rc == 0 && b) rc = check_dtype(b, x->a.dtype, "inputs.b", err);
  if (rc) return rc;

  /* w: (Cout, C/groups, *k), rank 3..5 picks conv1d/2d/3d */
  if (w->a.ndim < 3 || w->a.ndim > 2 + CV_CONV_MAX_SPATIAL)
    return cv_error_set(err, CV_ESHAPE_MISMATCH, "inputs.w",
                        "w must have rank 3, 4 or 5 (Cout, C/groups, *kernel), got %d", w->a.ndim);
  int nsp = w->a.ndim - 2;
  p->nsp = nsp;
  if (x->a.ndim != nsp + 2)
    return cv_error_set(err, CV_ESHAPE_MISMATCH, "inputs.x",
                        "x must have rank %d (N, C, %d spatial axes) to match w, got %d", nsp + 2, nsp,
                        x->a.ndim);
  bool cl = p->layout == CV_LAYOUT_NDHWC;
  int64_t n = x->a.shape[0], c = cl ? x->a.shape[nsp + 1] : x->a.shape[1];
  const int64_t *xs = cl ? x->a.shape + 1 : x->a.shape + 2;   /* spatial sizes */
  int64_t cout = w->a.shape[0], cg = w->a.shape[1];
  const int64_t *k = w->a.shape + 2;
  if (c < 1) return cv_error_set(err, CV_EINVALID_ARGUMENT, "inputs.x", "x has no channels");
  for (int i = 0; i < nsp; i++) {
    if (xs[i] < 1)
      return cv_error_set(err, CV_EINVALID_ARGUMENT, "inputs.x", "x has an empty spatial axis");
    if (k[i] < 1) return cv_error_set(err, CV_EINVALID_ARGUMENT, "inputs.w", "kernel sizes must be >= 1");
  }
  if (cout < 1) return cv_error_set(err, CV_ESHAPE_MISMATCH, "inputs.w", "w has no output channels");
  if (p->groups < 1) return cv_error_set(err, CV_EINVALID_ARGUMENT, "groups", "groups must be >= 1");
  if (c % p->groups || cout % p->groups)
    return cv_error_set(err, CV_ESHAPE_MISMATCH, "groups",
                        "groups (%d) must divide the input channels (%" PRId64 ") and the output channels (%" PRId64 ")",
                        p->groups, c, cout);
  if (cg * p->groups != c)
    return cv_error_set(err, CV_ESHAPE_MISMATCH, "inputs.w",
                        "w.shape[1] is %" PRId64 " but x has %" PRId64 " channels in %d groups (expected %" PRId64 ")",
                        cg, c, p->groups, c / p->groups);
  if (b && (b->a.ndim != 1 || b->a.shape[0] != cout))
    return cv_error_set(err, CV_ESHAPE_MISMATCH, "inputs.b", "b must have shape (%" PRId64 ",)", cout);

  /* parameters */
  if ((rc = resolve_list(&p->n_stride, p->stride, nsp, 1, "stride", err))) return rc;
  if ((rc = resolve_list(&p->n_dilation, p->dilation, nsp, 1, "dilation", err))) return rc;
  if ((rc = resolve_padding(p, k, err))) return rc;

  int64_t out[CV_CONV_MAX_SPATIAL];
  for (int i = 0; i < nsp; i++) {
    if ((p->padding_mode == CV_PADMODE_REFLECT || p->padding_mode == CV_PADMODE_CIRCULAR) &&
        (p->pad_lo[i] >= xs[i] || p->pad_hi[i] >= xs[i]))
      return cv_error_set(err, CV_EINVALID_ARGUMENT, "padding",
                          "%s padding (%" PRId64 ", %" PRId64 ") must be smaller than the input size %" PRId64
                          " on spatial axis %d", cv_padmode_name(p->padding_mode), p->pad_lo[i], p->pad_hi[i],
                          xs[i], i);
    int64_t padded = xs[i] + p->pad_lo[i] + p->pad_hi[i];
    int64_t span = (int64_t)p->dilation[i] * (k[i] - 1) + 1;
    if (padded < span)
      return cv_error_set(err, CV_EINVALID_ARGUMENT, "inputs.x",
                          "padded input size %" PRId64 " on spatial axis %d is smaller than the dilated kernel (%" PRId64 ")",
                          padded, i, span);
    out[i] = (padded - span) / p->stride[i] + 1;
  }

  if ((rc = cv__infer_alloc(res, 1, err))) return rc;
  cv_io_t *y = &res->out[0];
  snprintf(y->name, sizeof y->name, "y");
  y->a.dtype = x->a.dtype;
  y->a.ndim = nsp + 2;
  y->a.data = NULL;
  y->a.shape[0] = n;
  y->a.shape[cl ? nsp + 1 : 1] = cout;
  for (int i = 0; i < nsp; i++) y->a.shape[(cl ? 1 : 2) + i] = out[i];
  return 0;
}
