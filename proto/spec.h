/* spec.h — the job spec (design.md §2 "The spec", "Wire details", "Ops"):
 * JSON or x-npy query pairs → cv_spec_t, strictly (unknown keys, wrong types
 * and strings for numbers fail with the field's dotted path). Value checks
 * that need the inputs' shapes (axes in range, per-axis counts) are left to
 * cv_op_infer. Owns what it allocates; pure otherwise; any thread. */
#ifndef CV_SPEC_H
#define CV_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../engine/tensor.h"
#include "../kernels/ops.h"
#include "errors.h"

typedef struct cv_spec_limits_s {
  size_t max_tensor_bytes;   /* one inline tensor; 0 = no cap */
} cv_spec_limits_t;

typedef enum { CV_INPUT_INLINE, CV_INPUT_TENSOR, CV_INPUT_FILE } cv_input_kind_t;

typedef struct cv_spec_input_s {
  char name[CV_NAME_MAX];
  cv_input_kind_t kind;
  cv_tensor_t *tensor;   /* INLINE: decoded; one reference, owned */
  char *ref;             /* TENSOR: the id after "tensor:"; FILE: the path after "file:"; malloc'd */
} cv_spec_input_t;

#define CV_SPEC_PRIORITY_DEFAULT 5
#define CV_SPEC_PRIORITY_MAX 9

typedef struct cv_spec_s {
  cv_op_params_t params;            /* cv_op_params_default, then the spec's parameters */
  int n_inputs;
  cv_spec_input_t *inputs;          /* malloc'd */
  int priority;                     /* 0 (highest) .. 9, default 5 */
  int64_t timeout_ms;               /* 0 = none */
  bool async, keep;
  bool result_b64;                  /* "result_encoding": "b64" ("json" is the default) */
  cv_precision_t precision;         /* "precision" for every op (conv also has it in params) */
  /* "output": {"path": "a/b.npz"} → output_path, output_npy false;
   *           {"dir": "a/", "format": "npy"|"npz"} → output_dir, output_npy = format is npy
   *           (dir defaults to npy); "overwrite": true in either. Paths are as
   *           given, checked lexically only (not empty, not absolute, no ".."
   *           component); the server resolves them under data_dir/outputs. */
  bool has_output;
  char *output_path, *output_dir;   /* malloc'd; one of them when has_output */
  bool output_npy, overwrite;
  int n_select;                     /* 0 = every output */
  char (*select)[CV_NAME_MAX];      /* malloc'd */
} cv_spec_t;

/* Parses a JSON spec of len bytes (not necessarily NUL-terminated). lim may
 * be NULL (no caps). On failure *out is left empty (cv_spec_free is still
 * safe) and err says why: invalid_json (message with the byte offset),
 * invalid_argument, unsupported_op, shape_mismatch, payload_too_large,
 * out_of_memory.
 * Accepted (design.md): op; inputs {name: tensor object | "tensor:<id>" |
 * "file:<path>"}; priority 0..9; timeout_ms >= 0; async, keep (booleans);
 * result_encoding "json"|"b64"; select [names]; output (above); precision
 * "default"|"highest"|"fp32"|"ieee" (all strict float32) or "tf32" (only when
 * asked for); and the op's parameters:
 *   dwt, idwt: wavelet (name, {dec_lo, dec_hi, rec_lo, rec_hi} of equal length
 *     2..CV_WAVELET_MAX_LEN, or a per-axis list of those), mode (name, pywt
 *     aliases, or a per-axis list), level (int 0..255 or null = auto), axes
 *     (int, list, or null = all); idwt also shape (list of sizes).
 *   sepconv: filters [{axis, taps, stride, dilation, padding ("valid", "same",
 *     int, [lo, hi]), mode (not periodization), flip}], flip.
 *   conv: stride, dilation (int or per-axis list), padding ("valid", "same",
 *     int, per-axis ints, per-axis [lo, hi]), groups, padding_mode, flip,
 *     layout ("ncdhw"/"ndhwc", also ncw nchw / nwc nhwc; any case), algo.
 * Integers accept integral numbers (3 or 3.0), never strings; booleans only
 * true/false; null means "the default" for every optional field; names
 * (wavelet, mode, padding, layout, precision) are case-insensitive; a key may
 * appear once. */
int cv_spec_parse(const char *json, size_t len, const cv_spec_limits_t *lim, cv_spec_t *out,
                  cv_error_t *err);
/* The same on a buffer the parser may rewrite (strings are unescaped in
 * place, json_parse.h; nothing in out points into it afterwards): saves the
 * copy cv_spec_parse makes. For request bodies the caller frees next. */
int cv_spec_parse_mut(char *json, size_t len, const cv_spec_limits_t *lim, cv_spec_t *out,
                      cv_error_t *err);

/* The x-npy form: n decoded query pairs (scalars; comma lists; an empty value
 * is null; inputs.NAME=tensor:ID|file:PATH; output.path=, output.dir=,
 * output.format=, output.overwrite=) mapped onto the same fields with the
 * same checks, and the body x as input "x" (when x is not NULL; the spec takes
 * its own reference). Repeated keys → invalid_argument naming the key. Pass
 * only the spec's pairs: query parameters of the route itself (wait_s, …)
 * would be unknown keys. Values are already URL-decoded. */
int cv_spec_from_query(const char *const *keys, const char *const *vals, int n, cv_tensor_t *x,
                       const cv_spec_limits_t *lim, cv_spec_t *out, cv_error_t *err);

/* Adds (or replaces, by name) an inline input; takes its own reference to t
 * (the caller keeps its one). Names are 1..CV_NAME_MAX-1 of [A-Za-z0-9_].
 * 0, -CV_EINVALID_ARGUMENT (field "inputs.<name>"), -CV_EOUT_OF_MEMORY. */
int cv_spec_add_input(cv_spec_t *s, const char *name, cv_tensor_t *t, cv_error_t *err);

/* Finds an input by name; NULL when absent. */
const cv_spec_input_t *cv_spec_find_input(const cv_spec_t *s, const char *name);

/* Releases everything the spec owns and empties it; safe twice, and after a
 * failed parse. */
void cv_spec_free(cv_spec_t *s);

#endif
