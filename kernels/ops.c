/* ops.c — the op registry: names of ops, modes, padding modes and conv algos,
 * parameter defaults, and cv_op_infer's dispatch to the per-op infer_*.c.
 * Pure functions over const tables; any thread. */
#include "ops.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

/* ---- name tables ---- */

static const char *const op_names[] = {
#define XX(uc, lc) #lc,
    CV_OP_MAP(XX)
#undef XX
};
_Static_assert(sizeof op_names / sizeof op_names[0] == CV_OP_COUNT, "op names");

static const char *const mode_names[] = {
#define XX(uc, lc) #lc,
    CV_MODE_MAP(XX)
#undef XX
};
_Static_assert(sizeof mode_names / sizeof mode_names[0] == CV_MODE_COUNT, "mode names");

static const char *const padmode_names[] = {
#define XX(uc, lc) #lc,
    CV_PADMODE_MAP(XX)
#undef XX
};
_Static_assert(sizeof padmode_names / sizeof padmode_names[0] == CV_PADMODE_COUNT, "padmode names");

static const char *const algo_names[] = {
#define XX(uc, lc) #lc,
    CV_CONV_ALGO_MAP(XX)
#undef XX
};
_Static_assert(sizeof algo_names / sizeof algo_names[0] == CV_CONV_ALGO_COUNT, "algo names");

/* pywt's old mode names (pywt/_extensions/_pywt.pyx Modes.from_object). */
static const struct {
  const char *alias;
  cv_mode_t mode;
} mode_aliases[] = {
    {"zpd", CV_MODE_ZERO},      {"cpd", CV_MODE_CONSTANT},      {"sym", CV_MODE_SYMMETRIC},
    {"ppd", CV_MODE_PERIODIC},  {"sp1", CV_MODE_SMOOTH},        {"per", CV_MODE_PERIODIZATION},
};

static int lookup(const char *const *names, int n, const char *name, bool nocase) {
  if (!name) return -1;
  for (int i = 0; i < n; i++)
    if ((nocase ? strcasecmp : strcmp)(names[i], name) == 0) return i;
  return -1;
}

const char *cv_op_name(cv_op_t op) { return (unsigned)op < CV_OP_COUNT ? op_names[op] : "?"; }

int cv_op_parse(const char *name, cv_op_t *out) {
  int i = lookup(op_names, CV_OP_COUNT, name, false);
  if (i < 0) return -CV_EUNSUPPORTED_OP;
  *out = (cv_op_t)i;
  return 0;
}

const char *cv_mode_name(cv_mode_t m) { return (unsigned)m < CV_MODE_COUNT ? mode_names[m] : "?"; }

int cv_mode_parse(const char *name, cv_mode_t *out) {
  int i = lookup(mode_names, CV_MODE_COUNT, name, true);
  if (i >= 0) {
    *out = (cv_mode_t)i;
    return 0;
  }
  for (size_t k = 0; name && k < sizeof mode_aliases / sizeof mode_aliases[0]; k++)
    if (strcasecmp(mode_aliases[k].alias, name) == 0) {
      *out = mode_aliases[k].mode;
      return 0;
    }
  return -CV_EINVALID_ARGUMENT;
}

const char *cv_padmode_name(cv_padmode_t m) {
  return (unsigned)m < CV_PADMODE_COUNT ? padmode_names[m] : "?";
}

int cv_padmode_parse(const char *name, cv_padmode_t *out) {
  int i = lookup(padmode_names, CV_PADMODE_COUNT, name, true);
  if (i < 0) return -CV_EINVALID_ARGUMENT;
  *out = (cv_padmode_t)i;
  return 0;
}

const char *cv_conv_algo_name(cv_conv_algo_t a) {
  return (unsigned)a < CV_CONV_ALGO_COUNT ? algo_names[a] : "?";
}

int cv_conv_algo_parse(const char *name, cv_conv_algo_t *out) {
  int i = lookup(algo_names, CV_CONV_ALGO_COUNT, name, true);
  if (i < 0) return -CV_EINVALID_ARGUMENT;
  *out = (cv_conv_algo_t)i;
  return 0;
}

/* ---- defaults ---- */

/* Zeroes everything but the big per-slot arrays (wavelet banks, filters):
 * a slot is written whole before it counts (n_wavelets, n_filters), and
 * hashing, equality and copies read only counted slots. Clearing 33 KiB per
 * request showed up in the HTTP profile. */
static void params_clear(cv_op_params_t *p, cv_op_t op) {
  memset(p, 0, offsetof(cv_op_params_t, u));
  switch (op) {
    case CV_OP_DWT:
    case CV_OP_IDWT: {
      cv_dwt_params_t *d = &p->u.dwt;
      memset(d, 0, offsetof(cv_dwt_params_t, wavelets));
      for (int i = 0; i < CV_MAX_DIMS; i++) {
        memset(d->wavelets[i].name, 0, sizeof d->wavelets[i].name);
        d->wavelets[i].len = 0;
      }
      return;
    }
    case CV_OP_SEPCONV:
      p->u.sepconv.n_filters = 0;
      p->u.sepconv.flip = false;
      return;
    case CV_OP_CONV:
      memset(&p->u.conv, 0, sizeof p->u.conv);
      return;
    case CV_OP_COUNT:
      break;
  }
  memset(&p->u.conv, 0, sizeof p->u.conv);
}

void cv_op_params_copy(cv_op_params_t *dst, const cv_op_params_t *src) {
  memcpy(dst, src, offsetof(cv_op_params_t, u));
  switch (src->op) {
    case CV_OP_DWT:
    case CV_OP_IDWT: {
      const cv_dwt_params_t *s = &src->u.dwt;
      cv_dwt_params_t *d = &dst->u.dwt;
      memcpy(d, s, offsetof(cv_dwt_params_t, wavelets));
      int n = s->n_wavelets < 0 ? 0 : s->n_wavelets > CV_MAX_DIMS ? CV_MAX_DIMS : s->n_wavelets;
      memcpy(d->wavelets, s->wavelets, (size_t)n * sizeof s->wavelets[0]);
      return;
    }
    case CV_OP_SEPCONV: {
      const cv_sepconv_params_t *s = &src->u.sepconv;
      cv_sepconv_params_t *d = &dst->u.sepconv;
      int n = s->n_filters < 0 ? 0 : s->n_filters > CV_SEPCONV_MAX_FILTERS ? CV_SEPCONV_MAX_FILTERS : s->n_filters;
      d->n_filters = s->n_filters;
      d->flip = s->flip;
      memcpy(d->filters, s->filters, (size_t)n * sizeof s->filters[0]);
      return;
    }
    case CV_OP_CONV:
      dst->u.conv = src->u.conv;
      return;
    case CV_OP_COUNT:
      break;
  }
  dst->u.conv = src->u.conv;
}

size_t cv_op_params_size(const cv_op_params_t *src, int max_slots) {
  const size_t u = offsetof(cv_op_params_t, u);
  switch (src->op) {
    case CV_OP_DWT:
    case CV_OP_IDWT: {
      int n = src->u.dwt.n_wavelets > max_slots ? src->u.dwt.n_wavelets : max_slots;
      if (n < 1) n = 1;
      if (n > CV_MAX_DIMS) n = CV_MAX_DIMS;
      return u + offsetof(cv_dwt_params_t, wavelets) + (size_t)n * sizeof(cv_wavelet_t);
    }
    case CV_OP_SEPCONV: {
      int n = src->u.sepconv.n_filters;
      if (n < 1) n = 1;
      if (n > CV_SEPCONV_MAX_FILTERS) n = CV_SEPCONV_MAX_FILTERS;
      return u + offsetof(cv_sepconv_params_t, filters) + (size_t)n * sizeof(cv_sepconv_filter_t);
    }
    case CV_OP_CONV:
    case CV_OP_COUNT:
      break;
  }
  return sizeof(cv_op_params_t) < u + sizeof(cv_conv_params_t) ? sizeof(cv_op_params_t) : u + sizeof(cv_conv_params_t);
}

void cv_op_params_default(cv_op_params_t *p, cv_op_t op) {
  params_clear(p, op);
  p->op = op;
  switch (op) {
    case CV_OP_DWT:
    case CV_OP_IDWT:
      p->u.dwt.n_axes = -1;
      p->u.dwt.level = CV_LEVEL_AUTO;
      p->u.dwt.n_modes = 1;
      p->u.dwt.modes[0] = CV_MODE_SYMMETRIC;
      return;
    case CV_OP_SEPCONV:
      return;
    case CV_OP_CONV:
      p->u.conv.pad_kind = CV_PAD_EXPLICIT;
      p->u.conv.groups = 1;
      p->u.conv.padding_mode = CV_PADMODE_ZEROS;
      p->u.conv.layout = CV_LAYOUT_NCDHW;
      p->u.conv.algo = CV_CONV_ALGO_AUTO;
      return;
    case CV_OP_COUNT:
      break;
  }
}

/* ---- batch-key hashing ---- */

static uint64_t mix(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (; n >= 8; n -= 8, b += 8) {
    uint64_t w;
    memcpy(&w, b, 8);
    h = (h ^ w) * 0x100000001b3ull;
    h ^= h >> 29;
  }
  for (; n; n--, b++) h = (h ^ *b) * 0x100000001b3ull;
  return h;
}

/* The meaningful prefix of each op's params, as (pointer, length) spans. */
typedef struct span_s {
  const void *p;
  size_t n;
} span_t;

static int param_spans(const cv_op_params_t *p, span_t *sp, int cap) {
  int k = 0;
#define SPAN(ptr, len) \
  do {                 \
    if (k < cap) {     \
      sp[k].p = (ptr); \
      sp[k].n = (len); \
    }                  \
    k++;               \
  } while (0)
  switch (p->op) {
    case CV_OP_DWT:
    case CV_OP_IDWT: {
      const cv_dwt_params_t *d = &p->u.dwt;
      SPAN(d, offsetof(cv_dwt_params_t, wavelets));
      for (int i = 0; i < d->n_wavelets && i < CV_MAX_DIMS; i++) {
        const cv_wavelet_t *w = &d->wavelets[i];
        size_t taps = (size_t)(w->len > 0 && w->len <= CV_WAVELET_MAX_LEN ? w->len : 0) * sizeof(double);
        SPAN(&w->len, sizeof w->len);
        SPAN(w->dec_lo, taps);
        SPAN(w->dec_hi, taps);
        SPAN(w->rec_lo, taps);
        SPAN(w->rec_hi, taps);
      }
      break;
    }
    case CV_OP_SEPCONV: {
      const cv_sepconv_params_t *s = &p->u.sepconv;
      SPAN(&s->n_filters, sizeof s->n_filters);
      SPAN(&s->flip, sizeof s->flip);
      for (int i = 0; i < s->n_filters && i < CV_SEPCONV_MAX_FILTERS; i++) {
        const cv_sepconv_filter_t *f = &s->filters[i];
        int nt = f->ntaps > 0 && f->ntaps <= CV_SEPCONV_MAX_TAPS ? f->ntaps : 0;
        SPAN(f, offsetof(cv_sepconv_filter_t, taps));
        SPAN(f->taps, (size_t)nt * sizeof(double));
        SPAN(&f->stride, sizeof *f - offsetof(cv_sepconv_filter_t, stride));
      }
      break;
    }
    case CV_OP_CONV:
      SPAN(&p->u.conv, sizeof p->u.conv);
      break;
    case CV_OP_COUNT:
      break;
  }
#undef SPAN
  return k;
}

#define CV_PARAM_SPANS_MAX (2 + 5 * CV_MAX_DIMS + 3 * CV_SEPCONV_MAX_FILTERS)

uint64_t cv_op_params_hash(const cv_op_params_t *p, uint64_t seed) {
  span_t sp[CV_PARAM_SPANS_MAX];
  int n = param_spans(p, sp, CV_PARAM_SPANS_MAX);
  uint64_t h = mix(seed, &p->op, sizeof p->op);
  for (int i = 0; i < n && i < CV_PARAM_SPANS_MAX; i++) h = mix(h, sp[i].p, sp[i].n);
  return h;
}

bool cv_op_params_equal(const cv_op_params_t *a, const cv_op_params_t *b) {
  if (a->op != b->op) return false;
  span_t sa[CV_PARAM_SPANS_MAX], sb[CV_PARAM_SPANS_MAX];
  int na = param_spans(a, sa, CV_PARAM_SPANS_MAX), nb = param_spans(b, sb, CV_PARAM_SPANS_MAX);
  if (na != nb) return false;
  for (int i = 0; i < na && i < CV_PARAM_SPANS_MAX; i++)
    if (sa[i].n != sb[i].n || memcmp(sa[i].p, sb[i].p, sa[i].n) != 0) return false;
  return true;
}

/* ---- inference ---- */

const cv_io_t *cv__find_input(const cv_io_t *in, int n_in, const char *name) {
  for (int i = 0; i < n_in; i++)
    if (strcmp(in[i].name, name) == 0) return &in[i];
  return NULL;
}

int cv__infer_alloc(cv_infer_t *res, int n, cv_error_t *err) {
  res->out = calloc(n > 0 ? (size_t)n : 1, sizeof *res->out);
  if (!res->out) return cv_error_set(err, CV_EOUT_OF_MEMORY, NULL, "no memory for %d outputs", n);
  res->n_out = n;
  return 0;
}

void cv__infer_warn(cv_infer_t *res, const char *fmt, ...) {
  if (res->n_warn >= CV_WARN_MAX) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(res->warn[res->n_warn++], CV_WARN_LEN, fmt, ap);
  va_end(ap);
}

int cv_op_infer(cv_op_params_t *p, const cv_io_t *in, int n_in, cv_infer_t *res, cv_error_t *err) {
  memset(res, 0, sizeof *res);
  int rc = -CV_EUNSUPPORTED_OP;
  switch (p->op) {
    case CV_OP_DWT: rc = cv__infer_dwt(&p->u.dwt, in, n_in, res, err); break;
    case CV_OP_IDWT: rc = cv__infer_idwt(&p->u.dwt, in, n_in, res, err); break;
    case CV_OP_SEPCONV: rc = cv__infer_sepconv(&p->u.sepconv, in, n_in, res, err); break;
    case CV_OP_CONV: rc = cv__infer_conv(&p->u.conv, in, n_in, res, err); break;
    case CV_OP_COUNT: return cv_error_set(err, CV_EUNSUPPORTED_OP, "op", "unknown op");
  }
  if (rc) cv_infer_free(res);
  return rc;
}

void cv_infer_free(cv_infer_t *res) {
  if (!res) return;
  free(res->out);
  res->out = NULL;
  res->n_out = 0;
}

/* ---- documentation for GET /v1/ops ---- */

const char *cv_op_inputs_doc(cv_op_t op) {
  switch (op) {
    case CV_OP_DWT: return "x";
    case CV_OP_IDWT: return "a,d{j}_{key}";
    case CV_OP_SEPCONV: return "x";
    case CV_OP_CONV: return "x,w,b";
    case CV_OP_COUNT: break;
  }
  return "";
}

const char *cv_op_outputs_doc(cv_op_t op) {
  switch (op) {
    case CV_OP_DWT: return "a,d{j}_{key}";
    case CV_OP_IDWT: return "x";
    case CV_OP_SEPCONV: return "y";
    case CV_OP_CONV: return "y";
    case CV_OP_COUNT: break;
  }
  return "";
}

static const cv_param_doc_t dwt_doc[] = {
    {"wavelet", "string|object|list", "null",
     "pywt discrete wavelet name, a {dec_lo,dec_hi,rec_lo,rec_hi} bank, or one per axis (required)"},
    {"mode", "string|list", "\"symmetric\"",
     "zero constant symmetric reflect periodic smooth antisymmetric antireflect periodization, or one per axis"},
    {"level", "integer|null", "null", "decomposition levels; null = pywt.dwtn_max_level"},
    {"axes", "integer|list|null", "null", "axes to transform; null = all; the others are batch axes"},
};
static const cv_param_doc_t idwt_doc[] = {
    {"wavelet", "string|object|list", "null", "as dwt (required)"},
    {"mode", "string|list", "\"symmetric\"", "as dwt"},
    {"level", "integer|null", "null", "levels to reconstruct; null = highest d{j} among the inputs"},
    {"axes", "integer|list|null", "null", "as dwt"},
    {"shape", "list|null", "null", "crop the result to this shape (the original shape round-trips odd sizes)"},
};
static const cv_param_doc_t sepconv_doc[] = {
    {"filters", "list", "[]",
     "[{axis, taps, stride=1, dilation=1, padding=\"valid\"|\"same\"|int|[lo,hi], mode=\"zero\", flip}], applied in order"},
    {"flip", "boolean", "false", "default flip of every filter (true = convolution, false = cross-correlation)"},
};
static const cv_param_doc_t conv_doc[] = {
    {"stride", "integer|list", "1", "per spatial axis"},
    {"padding", "string|integer|list", "0", "\"valid\", \"same\", int, per-axis ints, or per-axis [lo, hi]"},
    {"dilation", "integer|list", "1", "per spatial axis"},
    {"groups", "integer", "1", "channel groups (C = groups for depthwise)"},
    {"padding_mode", "string", "\"zeros\"", "zeros reflect replicate circular"},
    {"flip", "boolean", "false", "true = convolution (scipy), false = cross-correlation (PyTorch)"},
    {"layout", "string", "\"ncdhw\"", "ncdhw, or ndhwc (channels-last x and y)"},
    {"algo", "string", "\"auto\"", "auto direct gemm fft cudnn depthtap"},
    {"precision", "string", "\"default\"", "default, or tf32 (GPU only)"},
};
const cv_param_doc_t *cv_op_params_doc(cv_op_t op, int *n) {
  switch (op) {
    case CV_OP_DWT: *n = (int)(sizeof dwt_doc / sizeof dwt_doc[0]); return dwt_doc;
    case CV_OP_IDWT: *n = (int)(sizeof idwt_doc / sizeof idwt_doc[0]); return idwt_doc;
    case CV_OP_SEPCONV: *n = (int)(sizeof sepconv_doc / sizeof sepconv_doc[0]); return sepconv_doc;
    case CV_OP_CONV: *n = (int)(sizeof conv_doc / sizeof conv_doc[0]); return conv_doc;
    case CV_OP_COUNT: break;
  }
  *n = 0;
  return NULL;
}

static const char *const wavelet_dtypes[] = {"bool", "int8", "uint8", "int16", "uint16", "int32", "uint32",
                                             "int64", "uint64", "float16", "bfloat16", "float32", "float64",
                                             "complex64", "complex128"};
static const char *const conv_dtypes[] = {"float16", "bfloat16", "float32", "float64"};

const char *const *cv_op_dtypes_doc(cv_op_t op, int *n) {
  if (op == CV_OP_CONV) {
    *n = (int)(sizeof conv_dtypes / sizeof conv_dtypes[0]);
    return conv_dtypes;
  }
  *n = (int)(sizeof wavelet_dtypes / sizeof wavelet_dtypes[0]);
  return wavelet_dtypes;
}
