/* ops.h — the op registry: op enum and names, each op's parameter struct,
 * extension modes, and shape inference/validation (kernels/ops.c and the
 * per-op infer_*.c files). Knows nothing of JSON or HTTP: proto/ fills these
 * structs, kernels validate them and report the offending field path. */
#ifndef CV_OPS_H
#define CV_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "../proto/errors.h"
#include "types.h"
#include "wavelet.h"

/* ---- ops ---- */

#define CV_OP_MAP(XX) XX(DWT, dwt) XX(IDWT, idwt) XX(SEPCONV, sepconv) XX(CONV, conv)

typedef enum {
#define XX(uc, lc) CV_OP_##uc,
  CV_OP_MAP(XX)
#undef XX
  CV_OP_COUNT
} cv_op_t;

const char *cv_op_name(cv_op_t op);
int cv_op_parse(const char *name, cv_op_t *out);   /* 0 or -CV_EUNSUPPORTED_OP */

/* ---- signal extension modes (pywt's nine) ---- */

#define CV_MODE_MAP(XX)                                                   \
  XX(ZERO, zero) XX(CONSTANT, constant) XX(SYMMETRIC, symmetric)          \
  XX(REFLECT, reflect) XX(PERIODIC, periodic) XX(SMOOTH, smooth)          \
  XX(ANTISYMMETRIC, antisymmetric) XX(ANTIREFLECT, antireflect)           \
  XX(PERIODIZATION, periodization)

typedef enum {
#define XX(uc, lc) CV_MODE_##uc,
  CV_MODE_MAP(XX)
#undef XX
  CV_MODE_COUNT
} cv_mode_t;

const char *cv_mode_name(cv_mode_t m);
/* Case-insensitive; takes pywt's aliases (per sp1 zpd cpd ppd sym). */
int cv_mode_parse(const char *name, cv_mode_t *out);   /* 0 or -CV_EINVALID_ARGUMENT */

/* ---- padding (sepconv and conv) ---- */

typedef enum {
  CV_PAD_EXPLICIT = 0,   /* pad_lo / pad_hi as given */
  CV_PAD_VALID,          /* 0, 0 */
  CV_PAD_SAME,           /* total d·(k−1); lo = total//2 (flip: total − total//2) */
} cv_pad_kind_t;

/* ---- dwt / idwt: pywt.wavedecn / waverecn ---- */

#define CV_LEVEL_AUTO (-1)   /* dwt: pywt.dwtn_max_level; idwt: from the inputs */

typedef struct cv_dwt_params_s {
  int n_axes;                      /* -1 = all axes (resolved by infer) */
  int axes[CV_MAX_DIMS];           /* as given (negative allowed); infer normalises */
  int level;                       /* >= 0 or CV_LEVEL_AUTO */
  int n_modes;                     /* 1 = every axis; else one per axis */
  cv_mode_t modes[CV_MAX_DIMS];
  int n_shape;                     /* idwt only: crop shape, 0 = none */
  int64_t shape[CV_MAX_DIMS];
  int n_wavelets;                  /* 1 = every axis; else one per axis */
  cv_wavelet_t wavelets[CV_MAX_DIMS];   /* last: a job allocates only the slots it can use */
} cv_dwt_params_t;                 /* dwt and idwt share it */

/* ---- sepconv ---- */

#define CV_SEPCONV_MAX_FILTERS 16
#define CV_SEPCONV_MAX_TAPS 256

typedef struct cv_sepconv_filter_s {
  int axis;                        /* as given; infer normalises negatives */
  int ntaps;
  double taps[CV_SEPCONV_MAX_TAPS];
  int stride, dilation;            /* >= 1 */
  cv_pad_kind_t pad_kind;
  int64_t pad_lo, pad_hi;          /* explicit; infer resolves valid/same into them */
  cv_mode_t mode;                  /* any but periodization */
  int flip;                        /* -1 = inherit the op-level flip, 0, 1 */
} cv_sepconv_filter_t;

typedef struct cv_sepconv_params_s {
  int n_filters;
  bool flip;                       /* op-level default for every filter */
  cv_sepconv_filter_t filters[CV_SEPCONV_MAX_FILTERS];
} cv_sepconv_params_t;

/* ---- conv: PyTorch conv1d/2d/3d ---- */

#define CV_PADMODE_MAP(XX) XX(ZEROS, zeros) XX(REFLECT, reflect) XX(REPLICATE, replicate) XX(CIRCULAR, circular)
typedef enum {
#define XX(uc, lc) CV_PADMODE_##uc,
  CV_PADMODE_MAP(XX)
#undef XX
  CV_PADMODE_COUNT
} cv_padmode_t;
const char *cv_padmode_name(cv_padmode_t m);
int cv_padmode_parse(const char *name, cv_padmode_t *out);

#define CV_CONV_ALGO_MAP(XX) XX(AUTO, auto) XX(DIRECT, direct) XX(GEMM, gemm) XX(FFT, fft) XX(CUDNN, cudnn) XX(DEPTHTAP, depthtap)
typedef enum {
#define XX(uc, lc) CV_CONV_ALGO_##uc,
  CV_CONV_ALGO_MAP(XX)
#undef XX
  CV_CONV_ALGO_COUNT
} cv_conv_algo_t;
const char *cv_conv_algo_name(cv_conv_algo_t a);
int cv_conv_algo_parse(const char *name, cv_conv_algo_t *out);

typedef enum { CV_LAYOUT_NCDHW = 0, CV_LAYOUT_NDHWC } cv_layout_t;
typedef enum { CV_PRECISION_DEFAULT = 0, CV_PRECISION_TF32 } cv_precision_t;

#define CV_CONV_MAX_SPATIAL 3

typedef struct cv_conv_params_s {
  /* n_* = how many values were given: 0 = default, 1 = every axis, else per axis.
   * infer resolves everything into the per-axis arrays and sets nsp. */
  int nsp;                                  /* spatial dims, from w's rank (set by infer) */
  int n_stride, stride[CV_CONV_MAX_SPATIAL];
  int n_dilation, dilation[CV_CONV_MAX_SPATIAL];
  cv_pad_kind_t pad_kind;
  int n_pad;                                /* explicit padding values given */
  int64_t pad_lo[CV_CONV_MAX_SPATIAL], pad_hi[CV_CONV_MAX_SPATIAL];
  int groups;                               /* >= 1 */
  cv_padmode_t padding_mode;
  bool flip;
  cv_layout_t layout;
  cv_conv_algo_t algo;
  cv_precision_t precision;
} cv_conv_params_t;

/* ---- the tagged union a job carries ---- */

typedef struct cv_op_params_s {
  cv_op_t op;
  union {
    cv_dwt_params_t dwt;            /* CV_OP_DWT and CV_OP_IDWT */
    cv_sepconv_params_t sepconv;
    cv_conv_params_t conv;
  } u;
} cv_op_params_t;

/* Fills an op's defaults (what a spec that names only the op means):
 * dwt/idwt: all axes, level auto, no wavelet (n_wavelets 0: required),
 * one mode symmetric, no crop; sepconv: no filters, flip false;
 * conv: stride/dilation/padding given 0 times (→ 1, 1, 0), groups 1,
 * padding_mode zeros, flip false, ncdhw, algo auto, default precision. */
void cv_op_params_default(cv_op_params_t *p, cv_op_t op);
/* Copies the parameters that count (counted wavelet slots and filters, not
 * the whole 33 KiB): what a job keeps of a spec's params. */
void cv_op_params_copy(cv_op_params_t *dst, const cv_op_params_t *src);
/* Bytes of a cv_op_params_t that hold src's counted slots and room for
 * max_slots wavelet slots (dwt/idwt: infer fills one per transformed axis);
 * the big slot arrays are the last members, so a shorter allocation works
 * for every reader that stays within the counted slots. */
size_t cv_op_params_size(const cv_op_params_t *src, int max_slots);

/* Hash and equality over the parameters that matter (resolved params: the
 * used wavelets and taps, not the unused tail of fixed arrays), for batch
 * keys. Cheap: a few hundred bytes for typical jobs. */
uint64_t cv_op_params_hash(const cv_op_params_t *p, uint64_t seed);
bool cv_op_params_equal(const cv_op_params_t *a, const cv_op_params_t *b);

/* ---- shape inference ---- */

#define CV_WARN_MAX 4
#define CV_WARN_LEN 256

typedef struct cv_infer_s {
  int n_out;
  cv_io_t *out;                    /* malloc'd by cv_op_infer; data NULL; cv_infer_free frees */
  int n_warn;
  char warn[CV_WARN_MAX][CV_WARN_LEN];
} cv_infer_t;

/* Validates p against the named inputs (shapes and dtypes; data unused),
 * resolves defaults in place (axes, level, padding, broadcast per-axis
 * lists), and describes every output (name, dtype, shape) in res.
 * Errors name the field: "level", "inputs.x", "filters[0].taps", "padding".
 * Returns 0 or -CV_E…; on error res holds nothing to free. */
int cv_op_infer(cv_op_params_t *p, const cv_io_t *in, int n_in, cv_infer_t *res, cv_error_t *err);
void cv_infer_free(cv_infer_t *res);

/* One documented parameter of an op, for GET /v1/ops and `convoy ops`.
 * default_json is the default as a JSON literal ("null", "5", "\"symmetric\""). */
typedef struct cv_param_doc_s {
  const char *name, *type, *default_json, *help;
} cv_param_doc_t;
const cv_param_doc_t *cv_op_params_doc(cv_op_t op, int *n);
/* Input dtypes the op accepts (promoted ones too), as wire names. */
const char *const *cv_op_dtypes_doc(cv_op_t op, int *n);

/* Names of an op's inputs and outputs, for GET /v1/ops and `convoy ops`. */
const char *cv_op_inputs_doc(cv_op_t op);    /* "x" | "a,d{j}_{key}" | "x,w,b" */
const char *cv_op_outputs_doc(cv_op_t op);   /* "a,d{j}_{key}" | "x" | "y" */

#endif
