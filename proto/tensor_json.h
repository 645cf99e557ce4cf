/* tensor_json.h — the tensor object of design.md, both ways:
 * {"dtype","shape","data":[…]} or {"dtype","shape","data_b64":"…"}.
 * Decoding validates with field paths and makes a refcounted tensor;
 * encoding appends canonical text (flat data, shortest round-trip numbers,
 * complex as re, im, non-finite as "NaN"/"Infinity"/"-Infinity") to a
 * cv_strbuf_t. Pure apart from allocation; any thread. */
#ifndef CV_TENSOR_JSON_H
#define CV_TENSOR_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "../engine/tensor.h"
#include "errors.h"
#include "strbuf.h"

/* Decodes the tensor object obj; field is its path for errors ("inputs.x").
 * max_bytes caps the tensor (0 = none). On success *out holds one reference
 * the caller owns. Rules (design.md "Wire details"):
 * - keys: dtype (a types.h name, "bfloat16" included), shape (list of integral
 *   numbers >= 0, rank <= CV_MAX_DIMS; 3.0 counts, "3" does not), and exactly
 *   one of data / data_b64; any other key → invalid_argument naming it.
 * - data: any nesting; its row-major leaves are the elements (complex: two
 *   leaves each, re then im); their count must equal numel (×2 for complex),
 *   else shape_mismatch "<field>.data". A number alone is a one-leaf list.
 *   float/complex take numbers and "NaN", "Infinity", "-Infinity"; values
 *   beyond a float type's range round to ±inf, as NumPy does (float16 and
 *   bfloat16 are rounded once from the double, ties to even); integer
 *   dtypes take integral numbers within range (int64/uint64 only up to 2^53 in
 *   magnitude, as JSON numbers are doubles here: send larger ones as
 *   data_b64); bool takes true/false or 0/1 (0.0, 1.0 too); any other leaf →
 *   invalid_argument "<field>.data".
 * - data_b64: standard base64, padding optional, of the little-endian bytes;
 *   its decoded length must equal the tensor's bytes (shape_mismatch); bad
 *   characters → invalid_argument "<field>.data_b64"; bool bytes must be 0/1.
 * - errors: invalid_argument (field), shape_mismatch, payload_too_large (over
 *   max_bytes or the address space, field <field>), out_of_memory. */
int cv_tensor_from_json(const cJSON *obj, const char *field, size_t max_bytes, cv_tensor_t **out,
                        cv_error_t *err);

/* Appends {"dtype":…,"shape":[…],"data":[…]} (or "data_b64":"…" when b64).
 * 0, or the strbuf's -CV_EPAYLOAD_TOO_LARGE / -CV_EOUT_OF_MEMORY (the
 * buffer is then emptied, as strbuf.h says). */
int cv_tensor_to_json_buf(const cv_array_t *a, bool b64, cv_strbuf_t *sb);
/* Appends only the data value: the flat list, or the quoted base64 text. */
int cv_tensor_data_json(const cv_array_t *a, bool b64, cv_strbuf_t *sb);

#endif
